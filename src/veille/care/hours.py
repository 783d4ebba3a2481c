"""Business-hours calendars: add working minutes to an instant.

A calendar is ``{"timezone": "Europe/Zurich", "hours": {"0": [["09:00", "18:00"]], ...}}`` with
Monday = 0; an empty calendar (or no hours at all) means around the clock.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DAYS = 400  # a calendar with no open hours at all must not loop forever


def _parse(value: str) -> time:
    hours, _, minutes = str(value).partition(":")
    hour = int(hours)
    if hour == 24:
        return time(23, 59, 59, 999999)
    return time(hour, int(minutes or 0))


def windows(calendar: dict) -> dict[int, list[tuple[time, time]]]:
    result: dict[int, list[tuple[time, time]]] = {}
    for day, spans in (calendar.get("hours") or {}).items():
        try:
            weekday = int(day)
            parsed = sorted((_parse(start), _parse(end)) for start, end in spans)
        except (TypeError, ValueError):
            continue
        if 0 <= weekday <= 6:
            result[weekday] = [(start, end) for start, end in parsed if start < end]
    return result


def validate(calendar: dict) -> None:
    """Raise ValueError when a calendar cannot be read."""
    if not isinstance(calendar, dict):
        raise ValueError("a calendar is an object")
    zone = calendar.get("timezone") or "UTC"
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {zone!r}") from None
    hours = calendar.get("hours") or {}
    if not isinstance(hours, dict):
        raise ValueError("hours is an object of weekday → [[start, end], …]")
    for day, spans in hours.items():
        if str(day) not in {"0", "1", "2", "3", "4", "5", "6"}:
            raise ValueError(f"weekday {day!r} is not 0 (Monday) … 6 (Sunday)")
        if not isinstance(spans, list):
            raise ValueError("each weekday has a list of [start, end]")
        for span in spans:
            if not isinstance(span, list | tuple) or len(span) != 2:
                raise ValueError("each span is [start, end]")
            start, end = (_parse(value) for value in span)
            if not 0 <= start.hour <= 23 or start >= end:
                raise ValueError(f"span {span!r} is empty or reversed")


def add_business_minutes(start: datetime, minutes: float, calendar: dict | None) -> datetime:
    """The instant ``minutes`` working minutes after ``start`` (timezone-aware in, UTC-aware out)."""
    spans = windows(calendar or {})
    if not spans:
        return start + timedelta(minutes=minutes)
    try:
        zone = ZoneInfo(str((calendar or {}).get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    remaining = timedelta(minutes=minutes)
    local = start.astimezone(zone)
    day = local.date()
    for _ in range(MAX_DAYS):
        for open_at, close_at in spans.get(day.weekday(), []):
            window_start = datetime.combine(day, open_at, tzinfo=zone)
            window_end = datetime.combine(day, close_at, tzinfo=zone)
            begin = max(window_start, local)
            if begin >= window_end:
                continue
            available = window_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= available
        day += timedelta(days=1)
        local = datetime.combine(day, time(0, 0), tzinfo=zone)
    return start + timedelta(minutes=minutes)
