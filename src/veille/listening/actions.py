"""Every write of the listening app, one named verb each.

Schedule ``evaluate_alerts`` (every minute) and ``deliver_alerts`` (every 15 s or so): alerts
are decided from the minute rollups (kept for searches with alerts on), stored as rows with one
delivery row per channel, and the deliveries (e-mail, signed webhook) are sent by the second
job, after commit, with retries.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import math
import secrets
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.db.models.functions import TruncMinute
from django.utils import timezone
from django.utils.translation import gettext as _

from veille.accounts.actions import record_audit
from veille.accounts.models import User, Workspace
from veille.ingest.models import Post
from veille.listening.models import (
    ALERTING,
    Alert,
    AlertDelivery,
    AlertKind,
    AuthorList,
    AuthorListMember,
    AuthorRollup,
    Board,
    Column,
    DeliveryStatus,
    EventWindow,
    HourRollup,
    MinuteRollup,
    SavedSearch,
    SearchMatch,
    TagRollup,
)
from veille.listening.query import compile_query, fold_handle

log = logging.getLogger("veille.listening")

SEARCH_FIELDS = (
    "name", "query", "is_active", "spike_enabled", "spike_window_min", "spike_baseline_windows", "spike_sensitivity",
    "spike_min_count", "cooldown_min", "dip_enabled", "dip_window_min", "dip_sensitivity", "dip_min_count",
    "alert_emails", "webhook_url",
)
MAX_LIST_MEMBERS = 5000
DELIVERY_MAX_ATTEMPTS = 8
WEBHOOK_TIMEOUT_S = 5
# A baseline needs at least this many past windows with data, so a new search does not alert
# on its first hour of ordinary traffic.
MIN_BASELINE_WINDOWS = 3


# --- saved searches ---------------------------------------------------------------------------

@transaction.atomic
def create_search(workspace: Workspace, actor: User | None, *, name: str, query: str, **options: Any) -> SavedSearch:
    compile_query(query)  # raises QuerySyntaxError
    search = SavedSearch(workspace=workspace, owner=actor, name=name, query=query, webhook_secret=secrets.token_hex(24))
    for key, value in options.items():
        if key in SEARCH_FIELDS:
            setattr(search, key, value)
    search.save()
    record_audit(workspace, actor, "create_saved_search", name, query=query)
    return search


@transaction.atomic
def update_search(search: SavedSearch, actor: User | None, **values: Any) -> SavedSearch:
    if "query" in values:
        compile_query(values["query"])
    was_alerting = search.alerts_on
    fields = []
    for key, value in values.items():
        if key in SEARCH_FIELDS:
            setattr(search, key, value)
            fields.append(key)
    search.save(update_fields=[*fields, "updated_at"])
    if search.alerts_on and not was_alerting:
        start_minute_counts(search)
    elif was_alerting and not search.alerts_on:
        # No longer kept up to date: stale counts must not become a later baseline.
        MinuteRollup.objects.filter(workspace_id=search.workspace_id, search_id=search.id).delete()
    record_audit(search.workspace, actor, "update_saved_search", search.name, fields=fields)
    return search


def alert_lookback(search: SavedSearch) -> timedelta:
    """How far back the spike and dip checks read: their current window and baseline windows."""
    windows = search.spike_baseline_windows + 1
    return timedelta(minutes=max(search.spike_window_min, search.dip_window_min) * windows)


def start_minute_counts(search: SavedSearch, now: datetime | None = None) -> int:
    """Fill a search's minute counts for its alert lookback from its matches, as alerts are
    switched on (ingest keeps minute counts for alerting searches only). Returns the minutes filled.

    Runs in the caller's transaction. On PostgreSQL it first takes the hour rollup in SHARE
    mode: every ingest batch writes that table before it reads which searches alert, so each
    batch either committed before this fill (and is counted here) or waits and then counts its
    own posts. On SQLite the single writer orders them the same way."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE listening_hourrollup IN SHARE MODE")
    MinuteRollup.objects.filter(workspace_id=search.workspace_id, search_id=search.id).delete()
    since = _minute(now - alert_lookback(search))
    window = Post.objects.filter(workspace_id=search.workspace_id, created_at__gte=since)
    rows = (SearchMatch.objects.filter(search_id=search.id, post__in=window.values("id"))
            .annotate(minute=TruncMinute("post__created_at", tzinfo=UTC)).values("minute")
            .annotate(n=Count("post_id"), negative=Count("post_id", filter=Q(post__sentiment="negative")),
                      positive=Count("post_id", filter=Q(post__sentiment="positive"))).order_by())
    buckets = [MinuteRollup(workspace_id=search.workspace_id, search_id=search.id, minute=row["minute"], count=row["n"],
                            negative=row["negative"], positive=row["positive"]) for row in rows]
    MinuteRollup.objects.bulk_create(buckets, batch_size=1000)
    return len(buckets)


@transaction.atomic
def delete_search(search: SavedSearch, actor: User | None) -> None:
    for model in (HourRollup, MinuteRollup, AuthorRollup, TagRollup):
        model.objects.filter(workspace_id=search.workspace_id, search_id=search.id).delete()
    record_audit(search.workspace, actor, "delete_saved_search", search.name)
    search.delete()


# --- author lists -----------------------------------------------------------------------------

@transaction.atomic
def create_list(workspace: Workspace, actor: User, *, name: str, is_private: bool = False) -> AuthorList:
    author_list = AuthorList.objects.create(workspace=workspace, owner=actor, name=name, is_private=is_private)
    record_audit(workspace, actor, "create_author_list", name, private=is_private)
    return author_list


def clean_handles(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        handle = fold_handle(value)[:200]
        if handle and not any(ch.isspace() for ch in handle) and handle not in out:
            out.append(handle)
    return out


@transaction.atomic
def add_to_list(author_list: AuthorList, actor: User, handles: list[str]) -> int:
    """Add handles (``@`` and case ignored); returns how many were new."""
    handles = clean_handles(handles)
    existing = set(AuthorListMember.objects.filter(author_list=author_list).values_list("handle", flat=True))
    new = [h for h in handles if h not in existing][: max(0, MAX_LIST_MEMBERS - len(existing))]
    AuthorListMember.objects.bulk_create([AuthorListMember(author_list=author_list, handle=h) for h in new], ignore_conflicts=True)
    record_audit(author_list.workspace, actor, "add_to_author_list", author_list.name, added=len(new))
    return len(new)


def handles_from_csv(data: bytes | str) -> list[str]:
    """Handles from a CSV file: the ``handle`` column if there is a header naming it, else the first column."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    column = 0
    if "handle" in header:
        column = header.index("handle")
        rows = rows[1:]
    return [row[column] for row in rows if len(row) > column and row[column].strip()]


@transaction.atomic
def remove_from_list(author_list: AuthorList, actor: User, handle: str) -> None:
    AuthorListMember.objects.filter(author_list=author_list, handle=fold_handle(handle)).delete()
    record_audit(author_list.workspace, actor, "remove_from_author_list", author_list.name, handle=handle)


@transaction.atomic
def delete_list(author_list: AuthorList, actor: User) -> None:
    record_audit(author_list.workspace, actor, "delete_author_list", author_list.name)
    author_list.delete()


# --- boards and columns -----------------------------------------------------------------------

def board_for(workspace: Workspace, user: User) -> Board:
    board, _ = Board.objects.get_or_create(workspace=workspace, user=user)
    return board


@transaction.atomic
def add_column(board: Board, *, kind: str, title: str, config: dict[str, Any]) -> Column:
    from veille.listening.columns import COLUMN_KINDS

    if kind not in COLUMN_KINDS:
        raise ValueError(f"unknown column kind {kind!r}")
    position = (board.columns.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    last = Post.objects.filter(workspace_id=board.workspace_id).order_by("-id").values_list("id", flat=True).first() or 0
    return Column.objects.create(board=board, kind=kind, title=title[:120], config=config, position=position, last_seen_id=last)


def remove_column(column: Column) -> None:
    column.delete()


@transaction.atomic
def move_column(column: Column, offset: int) -> None:
    columns = list(column.board.columns.all())
    index = next(i for i, c in enumerate(columns) if c.id == column.id)
    target = max(0, min(len(columns) - 1, index + offset))
    columns.insert(target, columns.pop(index))
    for position, item in enumerate(columns, start=1):
        if item.position != position:
            item.position = position
            item.save(update_fields=["position"])


def mark_column_read(column: Column, last_id: int) -> None:
    Column.objects.filter(pk=column.pk, last_seen_id__lt=last_id).update(last_seen_id=last_id)


# --- events -----------------------------------------------------------------------------------

@transaction.atomic
def create_event(search: SavedSearch, actor: User, *, name: str, starts_at: datetime, ends_at: datetime) -> EventWindow:
    if ends_at <= starts_at:
        raise ValueError(_("The event must end after it starts."))
    event = EventWindow.objects.create(search=search, name=name, starts_at=starts_at, ends_at=ends_at, created_by=actor)
    record_audit(search.workspace, actor, "create_event", name, search=search.name)
    return event


# --- acting on a post from a column -----------------------------------------------------------

ACTION_CAPABILITY = {"reply": "act.reply", "like": "act.like", "repost": "act.repost", "hide": "act.hide"}


def capabilities(platform: str) -> frozenset[str]:
    from veille.sources.registry import connector_class

    try:
        return frozenset(connector_class(platform).capabilities)
    except (ValueError, ImportError, AttributeError):
        return frozenset()


class ActionUnavailable(Exception):
    pass


def act_on_post(post: Post, actor: User, kind: str, text: str = ""):
    """Queue reply / like / repost / hide of ``post`` through its source's outbox."""
    from veille.sources.actions import request_action

    capability = ACTION_CAPABILITY.get(kind)
    if capability is None or capability not in capabilities(post.source.platform):
        raise ActionUnavailable(kind)
    text = text.strip()
    if kind == "reply" and not text:
        raise ValueError(_("A reply needs some text."))
    digest = hashlib.sha256(text.encode()).hexdigest()[:16] if kind == "reply" else ""
    key = f"listening:{kind}:{post.id}:{actor.id}:{digest}"[:100]
    return request_action(post.source, actor, kind=kind, idempotency_key=key, text=text, target_external_id=post.external_id)


# --- alerts -----------------------------------------------------------------------------------

def _minute(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(second=0, microsecond=0)


def _windows(search: SavedSearch, end: datetime, window_min: int, count: int) -> tuple[list[list[int]], datetime | None]:
    """Per window (0 = the current one, then older): [posts, negative, positive]."""
    width = timedelta(minutes=window_min)
    start = end - width * (count + 1)
    buckets = [[0, 0, 0] for _ in range(count + 1)]
    rows = MinuteRollup.objects.filter(workspace_id=search.workspace_id, search_id=search.id, minute__gte=start, minute__lt=end)
    for minute, posts, negative, positive in rows.values_list("minute", "count", "negative", "positive"):
        index = int((end - minute) / width - 1e-9)
        if 0 <= index <= count:
            bucket = buckets[index]
            bucket[0] += posts
            bucket[1] += negative
            bucket[2] += positive
    first = MinuteRollup.objects.filter(workspace_id=search.workspace_id, search_id=search.id).aggregate(first=Min("minute"))["first"]
    return buckets, first


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def _known(buckets: list, first: datetime | None, end: datetime, window_min: int) -> list[int]:
    """Indexes of the baseline windows that start after the search's first data."""
    if first is None:
        return []
    width = timedelta(minutes=window_min)
    start = _minute(first)
    return [i for i in range(1, len(buckets)) if end - width * (i + 1) >= start]


def check_spike(search: SavedSearch, now: datetime) -> dict | None:
    end = _minute(now)
    buckets, first = _windows(search, end, search.spike_window_min, search.spike_baseline_windows)
    known = _known(buckets, first, end, search.spike_window_min)
    if len(known) < MIN_BASELINE_WINDOWS:
        return None
    current = buckets[0][0]
    mean, std = _mean_std([buckets[i][0] for i in known])
    threshold = mean + search.spike_sensitivity * std
    if current >= search.spike_min_count and current > threshold:
        return {"kind": AlertKind.SPIKE, "value": float(current), "baseline": mean, "threshold": threshold,
                "window_start": end - timedelta(minutes=search.spike_window_min), "window_end": end}
    return None


def check_dip(search: SavedSearch, now: datetime) -> dict | None:
    end = _minute(now)
    buckets, first = _windows(search, end, search.dip_window_min, search.spike_baseline_windows)
    known = [i for i in _known(buckets, first, end, search.dip_window_min) if buckets[i][0] >= 5]
    if len(known) < MIN_BASELINE_WINDOWS or buckets[0][0] < search.dip_min_count:
        return None
    share = buckets[0][1] / buckets[0][0]
    mean, std = _mean_std([buckets[i][1] / buckets[i][0] for i in known])
    threshold = mean + search.dip_sensitivity * max(std, 0.05)
    if share > threshold:
        return {"kind": AlertKind.DIP, "value": share, "baseline": mean, "threshold": threshold,
                "window_start": end - timedelta(minutes=search.dip_window_min), "window_end": end}
    return None


def evaluate_alerts(now: datetime | None = None) -> list[Alert]:
    """Check every active search with alerts on; create at most one alert per search and kind per cooldown."""
    now = now or timezone.now()
    created: list[Alert] = []
    searches = SavedSearch.objects.filter(ALERTING, is_active=True).select_related("workspace")
    for search in searches.iterator(chunk_size=200):
        for enabled, check in ((search.spike_enabled, check_spike), (search.dip_enabled, check_dip)):
            if not enabled:
                continue
            found = check(search, now)
            if found is None:
                continue
            alert = _raise_alert(search, found, now)
            if alert is not None:
                created.append(alert)
    return created


@transaction.atomic
def _raise_alert(search: SavedSearch, found: dict, now: datetime) -> Alert | None:
    # Two schedulers (scale-out) evaluating at once: the row lock makes the cooldown check and
    # the insert one step, so they raise one alert between them.
    list(SavedSearch.objects.select_for_update().filter(pk=search.pk).values_list("pk", flat=True))
    cooldown_since = now - timedelta(minutes=search.cooldown_min)
    if Alert.objects.filter(search=search, kind=found["kind"], created_at__gt=cooldown_since).exists():
        return None
    alert = Alert.objects.create(workspace_id=search.workspace_id, search=search, created_at=now, **found)
    deliveries = []
    addresses = [a.strip() for a in search.alert_emails.replace(";", ",").split(",") if a.strip()]
    if addresses:
        deliveries.append(AlertDelivery(alert=alert, channel="email", target=",".join(addresses)[:500], next_attempt_at=now))
    if search.webhook_url:
        deliveries.append(AlertDelivery(alert=alert, channel="webhook", target=search.webhook_url, next_attempt_at=now))
    AlertDelivery.objects.bulk_create(deliveries)
    event = {"type": "alert", "alert": alert.id, "search": search.id}
    transaction.on_commit(lambda: _publish(search.workspace_id, event))
    return alert


def _publish(workspace_id: int, event: dict) -> None:
    from veille.web.live import publish

    publish(workspace_id, event)


def acknowledge_alert(alert: Alert, actor: User) -> None:
    Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now(), acknowledged_by=actor)
    record_audit(alert.search.workspace, actor, "acknowledge_alert", alert.search.name, alert=alert.id)


def alert_payload(alert: Alert) -> dict:
    return {
        "id": alert.id, "kind": alert.kind, "search": {"id": alert.search_id, "name": alert.search.name, "query": alert.search.query},
        "workspace": alert.search.workspace.slug, "window_start": alert.window_start.isoformat(),
        "window_end": alert.window_end.isoformat(), "value": alert.value, "baseline": round(alert.baseline, 4),
        "threshold": round(alert.threshold, 4), "created_at": alert.created_at.isoformat(),
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of ``timestamp.body`` with the search's secret, hex encoded."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _send_webhook(delivery: AlertDelivery, now: datetime) -> None:
    alert = delivery.alert
    body = json.dumps(alert_payload(alert), sort_keys=True).encode()
    timestamp = str(int(now.timestamp()))
    request = urllib.request.Request(delivery.target, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "veille-alerts",
        "X-Veille-Timestamp": timestamp, "X-Veille-Signature": "sha256=" + sign(alert.search.webhook_secret, timestamp, body),
        "X-Veille-Delivery": str(delivery.id),
    })
    if not delivery.target.lower().startswith(("https://", "http://")):
        raise ValueError("webhook URL must be http(s)")
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:  # noqa: S310 - scheme checked above
        if response.status >= 300:
            raise OSError(f"HTTP {response.status}")


def _send_email(delivery: AlertDelivery) -> None:
    alert = delivery.alert
    kind = AlertKind(alert.kind).label
    subject = f"[veille] {kind}: {alert.search.name}"
    lines = [
        f"{kind} — {alert.search.name}",
        f"{alert.window_start:%Y-%m-%d %H:%M} → {alert.window_end:%H:%M} UTC",
        f"value {alert.value:g}, baseline {alert.baseline:.2f}, threshold {alert.threshold:.2f}",
        f"query: {alert.search.query}",
    ]
    send_mail(subject, "\n".join(lines), getattr(settings, "DEFAULT_FROM_EMAIL", None), delivery.target.split(","))


def deliver_alerts(now: datetime | None = None, limit: int = 50) -> int:
    """Send due deliveries; failed ones are retried with exponential back-off. Returns how many were sent."""
    now = now or timezone.now()
    with transaction.atomic():
        due = AlertDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).order_by("next_attempt_at")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        # A lease: another process will not pick these for five minutes.
        AlertDelivery.objects.filter(id__in=ids).update(next_attempt_at=now + timedelta(minutes=5))
    sent = 0
    for delivery in AlertDelivery.objects.filter(id__in=ids).select_related("alert__search__workspace"):
        delivery.attempts += 1
        try:
            if delivery.channel == "webhook":
                _send_webhook(delivery, now)
            else:
                _send_email(delivery)
        except Exception as error:  # noqa: BLE001 - any failure is retried, then recorded
            delivery.last_error = f"{type(error).__name__}: {error}"[:2000]
            if delivery.attempts >= DELIVERY_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
            else:
                delivery.next_attempt_at = now + timedelta(seconds=min(3600, 30 * 2 ** (delivery.attempts - 1)))
        else:
            delivery.status = DeliveryStatus.SENT
            delivery.sent_at = now
            delivery.next_attempt_at = None
            sent += 1
        delivery.save(update_fields=["attempts", "status", "last_error", "next_attempt_at", "sent_at"])
    return sent


deliver_webhooks = deliver_alerts
