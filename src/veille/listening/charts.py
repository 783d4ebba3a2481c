"""Server-rendered inline SVG charts (no script, no inline style: the CSP forbids both).

Every label is escaped here; colours come from classes styled in ``listening.css``.
"""

from __future__ import annotations

from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T = 640, 180, 40, 22, 8


def _label(t: datetime, by_day: bool) -> str:
    return t.strftime("%d.%m") if by_day else t.strftime("%d.%m %H:%M")


def _frame(title: str, body: list[str], height: int = HEIGHT) -> SafeString:
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>' + "".join(body) + "</svg>"
    )


def _axes(peak: int, height: int) -> list[str]:
    base = height - PAD_B
    return [
        f'<line class="axis" x1="{PAD_L}" y1="{base}" x2="{WIDTH}" y2="{base}"/>',
        f'<text class="tick" x="{PAD_L - 4}" y="{PAD_T + 8}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{PAD_L - 4}" y="{base}" text-anchor="end">0</text>',
    ]


def bars(title: str, series: list[tuple[datetime, int]], *, by_day: bool = False, css: str = "bar") -> SafeString:
    """Vertical bars over time (volume)."""
    peak = max((v for _, v in series), default=0) or 1
    inner_w, inner_h = WIDTH - PAD_L, HEIGHT - PAD_B - PAD_T
    step = inner_w / max(len(series), 1)
    body = _axes(peak, HEIGHT)
    for i, (t, value) in enumerate(series):
        h = inner_h * value / peak
        x = PAD_L + i * step
        body.append(
            f'<rect class="{css}" x="{x:.1f}" y="{HEIGHT - PAD_B - h:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}">'
            f"<title>{escape(_label(t, by_day))}: {value}</title></rect>"
        )
    for i in range(0, len(series), max(1, len(series) // 6)):
        body.append(f'<text class="tick" x="{PAD_L + i * step:.1f}" y="{HEIGHT - 6}">{escape(_label(series[i][0], by_day))}</text>')
    return _frame(title, body)


def stacked_share(title: str, series: list[tuple[datetime, dict[str, int]]], keys: tuple[str, ...], *, by_day: bool = False) -> SafeString:
    """100 % stacked bars (sentiment share over time)."""
    inner_w, inner_h = WIDTH - PAD_L, HEIGHT - PAD_B - PAD_T
    step = inner_w / max(len(series), 1)
    body = [f'<line class="axis" x1="{PAD_L}" y1="{HEIGHT - PAD_B}" x2="{WIDTH}" y2="{HEIGHT - PAD_B}"/>',
            f'<text class="tick" x="{PAD_L - 4}" y="{PAD_T + 8}" text-anchor="end">100%</text>']
    for i, (t, values) in enumerate(series):
        total = sum(values.get(k, 0) for k in keys)
        if not total:
            continue
        y = HEIGHT - PAD_B
        x = PAD_L + i * step
        for key in keys:
            value = values.get(key, 0)
            h = inner_h * value / total
            y -= h
            if value:
                body.append(
                    f'<rect class="share-{escape(key or "none")}" x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 1):.1f}" height="{h:.1f}">'
                    f"<title>{escape(_label(t, by_day))} {escape(key or '—')}: {value} ({100 * value / total:.0f}%)</title></rect>"
                )
    for i in range(0, len(series), max(1, len(series) // 6)):
        body.append(f'<text class="tick" x="{PAD_L + i * step:.1f}" y="{HEIGHT - 6}">{escape(_label(series[i][0], by_day))}</text>')
    return _frame(title, body)


def hbars(title: str, items: list[tuple[str, int]], *, css: str = "bar") -> SafeString:
    """Horizontal bars with labels (language split, share of voice, top lists)."""
    row_h = 22
    height = max(row_h * len(items) + 6, 30)
    peak = max((v for _, v in items), default=0) or 1
    label_w = 150
    body = []
    for i, (label, value) in enumerate(items):
        y = 3 + i * row_h
        w = (WIDTH - label_w - 60) * value / peak
        body.append(f'<text class="label" x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(str(label)[:24])}</text>')
        body.append(f'<rect class="{css} {css}-{i % 6}" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}"><title>{escape(str(label))}: {value}</title></rect>')
        body.append(f'<text class="value" x="{label_w + w + 4:.1f}" y="{y + 15}">{value}</text>')
    return _frame(title, body, height)
