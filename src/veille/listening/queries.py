"""Reads shared by the listening pages, exports and API. Dashboards read rollups only."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncMinute
from django.utils import timezone

from veille.ingest import sql
from veille.ingest.models import Author, Post
from veille.listening.models import (
    ALL_POSTS,
    Alert,
    AuthorList,
    EventWindow,
    HourRollup,
    SavedSearch,
    SearchMatch,
    TagRollup,
)
from veille.listening.query import WORD_RE, fold

SENTIMENTS = ("negative", "neutral", "positive", "")
# Top terms are counted over the latest matching posts only (a bounded read, not a scan).
TERMS_SAMPLE = 1000
STOPWORDS = frozenset("""
a an and are as at be but by for from has have i in is it its me my no not of on or our so that the this to was we
were what with you your le la les un une des de du et en est que qui pas pour sur au aux ce ces il elle je tu nous vous
ils on ne se sa son ses mon ma mes ton ta plus par avec dans mais ou y a der die das und ist nicht ein eine zu den dem
mit von im auf es ich du sie wir ihr fur bei auch aus noch wie il lo gli le di da in con su per non che e un una ma mi ti
ci si sono ho ha http https www com co amp rt
""".split())


def searches_of(workspace_id: int):
    return SavedSearch.objects.filter(workspace_id=workspace_id)


def lists_of(workspace_id: int, user_id: int):
    """Public lists of the workspace and this user's private ones."""
    return AuthorList.objects.filter(Q(is_private=False) | Q(owner_id=user_id), workspace_id=workspace_id)


def period(days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return end - timedelta(days=days), end


def _bucket(value: datetime, by_day: bool) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(hour=0, minute=0, second=0, microsecond=0) if by_day else value.replace(minute=0, second=0, microsecond=0)


def _axis(start: datetime, end: datetime, by_day: bool) -> list[datetime]:
    step = timedelta(days=1) if by_day else timedelta(hours=1)
    out, t = [], _bucket(start, by_day)
    while t < end:
        out.append(t)
        t += step
    return out


def hour_rows(workspace_id: int, search_id: int, start: datetime, end: datetime):
    return HourRollup.objects.filter(workspace_id=workspace_id, search_id=search_id, hour__gte=start, hour__lt=end)


def volume_series(workspace_id: int, search_id: int, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    by_day = (end - start) > timedelta(days=2)
    counts: Counter = Counter()
    for hour, total in hour_rows(workspace_id, search_id, start, end).values("hour").annotate(n=Sum("count")).values_list("hour", "n"):
        counts[_bucket(hour, by_day)] += total
    return [(t, counts.get(t, 0)) for t in _axis(start, end, by_day)]


def sentiment_series(workspace_id: int, search_id: int, start: datetime, end: datetime) -> list[tuple[datetime, dict[str, int]]]:
    by_day = (end - start) > timedelta(days=2)
    table: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SENTIMENTS, 0))
    rows = hour_rows(workspace_id, search_id, start, end).values("hour", "sentiment").annotate(n=Sum("count"))
    for hour, sentiment, total in rows.values_list("hour", "sentiment", "n"):
        table[_bucket(hour, by_day)][sentiment if sentiment in SENTIMENTS else ""] += total
    return [(t, dict(table[t]) if t in table else dict.fromkeys(SENTIMENTS, 0)) for t in _axis(start, end, by_day)]


def language_split(workspace_id: int, search_id: int, start: datetime, end: datetime) -> list[tuple[str, int]]:
    rows = hour_rows(workspace_id, search_id, start, end).values("language").annotate(n=Sum("count")).order_by("-n", "language")
    return [(language or "?", total) for language, total in rows.values_list("language", "n")]


def sentiment_totals(workspace_id: int, search_id: int, start: datetime, end: datetime) -> dict[str, int]:
    totals = dict.fromkeys(SENTIMENTS, 0)
    rows = hour_rows(workspace_id, search_id, start, end).values("sentiment").annotate(n=Sum("count"))
    for sentiment, total in rows.values_list("sentiment", "n"):
        totals[sentiment if sentiment in totals else ""] += total
    return totals


def share_of_voice(workspace_id: int, searches: list[SavedSearch], start: datetime, end: datetime) -> list[tuple[SavedSearch, int, float]]:
    ids = [s.id for s in searches]
    rows = HourRollup.objects.filter(workspace_id=workspace_id, search_id__in=ids, hour__gte=start, hour__lt=end)
    totals = dict(rows.values("search_id").annotate(n=Sum("count")).values_list("search_id", "n"))
    whole = sum(totals.values()) or 1
    return [(s, totals.get(s.id, 0), totals.get(s.id, 0) / whole) for s in searches]


def top_authors(workspace_id: int, search_id: int, start: datetime, end: datetime, *, by: str = "volume", limit: int = 10) -> list[dict]:
    """Authors by number of posts, or by reach (followers) among those who posted, in the period."""
    order = "n DESC, a.id" if by == "volume" else "COALESCE(a.followers, 0) DESC, n DESC, a.id"
    first_day, last_day = start.date(), (end - timedelta(microseconds=1)).date()
    as_date = (lambda d: d.isoformat()) if sql.is_sqlite() else (lambda d: d)
    rows = sql.execute(
        "SELECT a.id, a.handle, a.name, a.platform, a.followers, SUM(r.count) AS n FROM listening_authorrollup r "
        "JOIN ingest_author a ON a.id = r.author_id WHERE r.workspace_id = %s AND r.search_id = %s AND r.day >= %s AND r.day <= %s "
        f"GROUP BY a.id, a.handle, a.name, a.platform, a.followers ORDER BY {order} LIMIT %s",
        [workspace_id, search_id, as_date(first_day), as_date(last_day), limit],
    )
    return [{"id": r[0], "handle": r[1], "name": r[2], "platform": r[3], "followers": r[4] or 0, "posts": r[5]} for r in rows]


def top_hashtags(workspace_id: int, search_id: int, start: datetime, end: datetime, limit: int = 15) -> list[tuple[str, int]]:
    rows = (TagRollup.objects.filter(workspace_id=workspace_id, search_id=search_id, day__gte=start.date(),
                                     day__lte=(end - timedelta(microseconds=1)).date())
            .values("tag").annotate(n=Sum("count")).order_by("-n", "tag")[:limit])
    return [(tag, total) for tag, total in rows.values_list("tag", "n")]


def top_terms(workspace_id: int, search_id: int, limit: int = 15, sample: int = TERMS_SAMPLE) -> list[tuple[str, int]]:
    """Frequent words of the latest ``sample`` matching posts (hashtags, mentions and stop words aside)."""
    if search_id == ALL_POSTS:
        texts = Post.objects.filter(workspace_id=workspace_id).order_by("-id").values_list("text", flat=True)[:sample]
    else:
        ids = SearchMatch.objects.filter(search_id=search_id).order_by("-post_id").values_list("post_id", flat=True)[:sample]
        texts = Post.objects.filter(workspace_id=workspace_id, id__in=list(ids)).values_list("text", flat=True)
    counts: Counter = Counter()
    for text in texts:
        folded = re.sub(r"[#@]\w+|https?://\S+", " ", fold(text))
        counts.update({w for w in WORD_RE.findall(folded) if len(w) > 2 and w not in STOPWORDS and not w.isdigit()})
    return counts.most_common(limit)


def matching_posts(workspace_id: int, search_id: int, limit: int = 20, before_id: int | None = None) -> list[int]:
    matches = SearchMatch.objects.filter(search_id=search_id, search__workspace_id=workspace_id)
    if before_id:
        matches = matches.filter(post_id__lt=before_id)
    return list(matches.order_by("-post_id").values_list("post_id", flat=True)[:limit])


def recent_alerts(workspace_id: int, limit: int = 20, search_id: int | None = None) -> list[Alert]:
    alerts = Alert.objects.filter(workspace_id=workspace_id).select_related("search", "acknowledged_by")
    if search_id:
        alerts = alerts.filter(search_id=search_id)
    return list(alerts.order_by("-created_at")[:limit])


def open_alert_count(workspace_id: int) -> int:
    return Alert.objects.filter(workspace_id=workspace_id, acknowledged_at__isnull=True).count()


# --- event mode -------------------------------------------------------------------------------

def event_stats(event: EventWindow, now: datetime | None = None) -> dict:
    """Counter, posts per minute, top authors and top posts of a saved search during an event."""
    now = now or timezone.now()
    search = event.search
    end = min(event.ends_at, now) if event.starts_at <= now else event.ends_at
    # The window's posts through the posts' (workspace, created_at) index, each probed in the
    # match index: bounded by the event's window, not by the search's history. (Minute rollups
    # are kept for alerting searches only; an event may follow any search, past windows included.)
    window = Post.objects.filter(workspace_id=search.workspace_id, created_at__gte=event.starts_at, created_at__lt=event.ends_at)
    matches = SearchMatch.objects.filter(search=search, post__in=window.values("id"))
    per_minute = dict(matches.annotate(minute=TruncMinute("post__created_at", tzinfo=UTC)).values("minute")
                      .annotate(n=Count("post_id")).order_by().values_list("minute", "n"))
    start_minute = event.starts_at.astimezone(UTC).replace(second=0, microsecond=0)
    axis, t = [], start_minute
    last = max(end, start_minute + timedelta(minutes=1))
    while t < last and len(axis) < 24 * 60:
        axis.append((t, per_minute.get(t, 0)))
        t += timedelta(minutes=1)
    total = sum(per_minute.values())
    top_author_rows = list(matches.values(author=F("post__author_id")).annotate(n=Count("post_id")).order_by("-n", "author")[:10])
    authors = {a.id: a for a in Author.objects.filter(id__in=[r["author"] for r in top_author_rows])}
    top_authors_ = [{"author": authors.get(r["author"]), "posts": r["n"]} for r in top_author_rows if r["author"] in authors]
    # Top posts: the most replied-to in the window, then the widest reach.
    post_ids = list(matches.order_by("-post_id").values_list("post_id", flat=True)[:5000])
    replies = dict(Post.objects.filter(reply_to_id__in=post_ids).values("reply_to_id").annotate(n=Count("id")).values_list("reply_to_id", "n")) if post_ids else {}
    reach = dict(Post.objects.filter(id__in=post_ids).values_list("id", "author__followers")) if post_ids else {}
    ranked = sorted(post_ids, key=lambda pid: (-(replies.get(pid, 0)), -(reach.get(pid) or 0), -pid))[:5]
    last_minute_count = per_minute.get(now.astimezone(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1), 0)
    return {
        "total": total, "per_minute": axis, "top_authors": top_authors_, "top_post_ids": ranked, "replies": replies,
        "peak": max((c for _, c in axis), default=0), "last_minute": last_minute_count,
        "live": event.starts_at <= now < event.ends_at,
    }


def recompute_hour_rollup(workspace_id: int, search_id: int) -> dict[tuple[datetime, str, str], int]:
    """The hour rollup recomputed from matches (or posts): for tests and repair, not for pages."""
    if search_id == ALL_POSTS:
        rows = Post.objects.filter(workspace_id=workspace_id).values_list("created_at", "sentiment", "language")
    else:
        rows = SearchMatch.objects.filter(search_id=search_id).values_list("post__created_at", "post__sentiment", "post__language")
    out: Counter = Counter()
    for created, sentiment, language in rows.iterator():
        out[(_bucket(created, False), sentiment or "", (language or "")[:8])] += 1
    return dict(out)


def days_between(start: datetime, end: datetime) -> list[date]:
    return [start.date() + timedelta(days=i) for i in range((end.date() - start.date()).days + 1)]
