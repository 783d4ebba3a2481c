"""Every write to sources, one named verb each: manage sources, poll them, send outbound actions.

Polling is durable: a page's records and the cursor that follows it are committed together,
so a crash re-reads at most one page (deduplicated downstream) and never skips one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from veille.accounts.actions import record_audit
from veille.accounts.models import User, Workspace
from veille.ingest import queue
from veille.sources.base import BadRecord, RawRecord
from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
    Unsupported,
)
from veille.sources.connector import (
    OutboundAction as ConnectorAction,
)
from veille.sources.crypto import CredentialsUnreadable
from veille.sources.models import OutboundAction, OutboundStatus, Source, SourceStatus
from veille.sources.registry import CONNECTORS, connector_class

log = logging.getLogger("veille.sources")

# After this many failed polls in a row, the failure itself is kept as a dead-letter item so it
# shows in the rejected list; the source keeps polling with back-off.
DEAD_LETTER_AFTER_FAILURES = 5
MAX_BACKOFF_S = 900
OUTBOX_MAX_ATTEMPTS = 8


# --- managing sources -------------------------------------------------------------------------

@transaction.atomic
def create_source(workspace: Workspace, actor: User | None, *, name: str, platform: str, account_handle: str = "",
                  settings_data: dict[str, Any] | None = None, credentials: dict[str, Any] | None = None,
                  poll_interval_s: int = 60) -> Source:
    source = Source(workspace=workspace, name=name, platform=platform, account_handle=account_handle,
                    settings=settings_data or {}, poll_interval_s=poll_interval_s)
    source.set_credentials(credentials or {})
    source.save()
    record_audit(workspace, actor, "create_source", name, platform=platform)
    return source


@transaction.atomic
def update_source(source: Source, actor: User | None, *, name: str, account_handle: str, settings_data: dict[str, Any],
                  poll_interval_s: int, credentials: dict[str, Any] | None = None) -> Source:
    source.name = name
    source.account_handle = account_handle
    source.settings = settings_data
    source.poll_interval_s = poll_interval_s
    fields = ["name", "account_handle", "settings", "poll_interval_s"]
    if credentials is not None:
        source.set_credentials(credentials)
        fields.append("credentials_encrypted")
        if source.status == SourceStatus.NEEDS_RECONNECTION:
            # New credentials are the reconnection: poll again at once.
            source.status = SourceStatus.ACTIVE
            source.next_poll_at = None
            source.consecutive_failures = 0
            fields += ["status", "next_poll_at", "consecutive_failures"]
    source.save(update_fields=fields)
    record_audit(source.workspace, actor, "update_source", source.name, credentials_changed=credentials is not None)
    return source


def set_source_status(source: Source, actor: User | None, status: SourceStatus) -> Source:
    source.status = status
    source.next_poll_at = None
    source.save(update_fields=["status", "next_poll_at"])
    record_audit(source.workspace, actor, f"source_{status}", source.name)
    return source


# --- polling -----------------------------------------------------------------------------------

def build_connector(source: Source) -> Any:
    """A connector for ``source``; refreshed tokens are written back (encrypted) as they change."""
    cls = connector_class(source.platform)
    options: dict[str, Any] = {}
    base_url = (source.settings or {}).get("base_url")
    if base_url:
        options["base_url"] = base_url

    def save_credentials(credentials: dict[str, Any]) -> None:
        Source.objects.filter(pk=source.pk).update(credentials_encrypted=_encrypted(credentials))

    try:
        return cls(source.settings or {}, source.get_credentials(), on_credentials=save_credentials, **options)
    except TypeError:
        # Connectors whose platform never rotates tokens take no callback.
        return cls(source.settings or {}, source.get_credentials(), **options)


# Connectors live between polls (sessions, rate-limit state; Bluesky allows few logins a day),
# rebuilt when the source's settings or credentials change.
_connector_cache: dict[int, tuple[tuple[str, str], Any]] = {}


def connector_for(source: Source) -> Any:
    fingerprint = (source.credentials_encrypted, json.dumps(source.settings or {}, sort_keys=True))
    cached = _connector_cache.get(source.pk)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    connector = build_connector(source)
    _connector_cache[source.pk] = (fingerprint, connector)
    return connector


def _encrypted(credentials: dict[str, Any]) -> str:
    from veille.sources.crypto import encrypt_credentials

    return encrypt_credentials(credentials)


def claim_due_sources(owner: str, limit: int = 5, lease_s: int = 120) -> list[int]:
    """Lease sources whose next poll is due (SKIP LOCKED on PostgreSQL: pollers never collide)."""
    now = timezone.now()
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    platforms = list(CONNECTORS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sources_source SET poll_owner = %s, poll_lease_until = %s WHERE id IN ("
            "SELECT id FROM sources_source WHERE status = 'active' AND platform IN ("
            + ",".join(["%s"] * len(platforms))
            + ") AND (next_poll_at IS NULL OR next_poll_at <= %s) AND (poll_lease_until IS NULL OR poll_lease_until < %s)"
            # A source a live reader holds is streamed, not polled (sources.live).
            " AND (live_lease_until IS NULL OR live_lease_until < %s)"
            " ORDER BY next_poll_at LIMIT %s" + lock + ") RETURNING id",
            [owner, now + timedelta(seconds=lease_s), *platforms, now, now, now, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _backoff_s(failures: int, base: int) -> float:
    return min(MAX_BACKOFF_S, max(base, 5) * (2 ** min(failures, 8)) / 2)


def poll_source(source: Source, connector: Any | None = None, max_pages: int = 20) -> int:
    """Poll once (following ``more`` up to ``max_pages``); returns how many records were taken in."""
    taken = 0
    try:
        connector = connector or connector_for(source)
    except CredentialsUnreadable as error:
        _mark_needs_reconnection(source, str(error))
        return 0
    try:
        for _ in range(max_pages):
            result = connector.poll(source.cursor or None)
            store_batch(source, result.records, result.cursor,
                        next_poll_in_s=0 if result.more else source.poll_interval_s)
            taken += len(result.records)
            if not result.more:
                break
    except NeedsReconnection as error:
        _mark_needs_reconnection(source, str(error))
    except RateLimited as error:
        now = timezone.now()
        source.rate_limited_until = now + timedelta(seconds=max(1.0, error.retry_after_s))
        source.next_poll_at = source.rate_limited_until
        source.last_error, source.last_error_at = f"rate limited: {error}", now
        source.save(update_fields=["rate_limited_until", "next_poll_at", "last_error", "last_error_at"])
    except Unsupported as error:
        now = timezone.now()
        source.last_error, source.last_error_at = f"not available: {error}", now
        source.next_poll_at = now + timedelta(seconds=max(source.poll_interval_s, 3600))
        source.save(update_fields=["last_error", "last_error_at", "next_poll_at"])
    except (TransientError, ConnectorError, OSError, ValueError) as error:
        _record_failure(source, f"{type(error).__name__}: {error}")
    finally:
        Source.objects.filter(pk=source.pk).update(poll_owner="", poll_lease_until=None)
    return taken


def store_batch(source: Source, records: Sequence[RawRecord | BadRecord], cursor: dict[str, Any], *,
                next_poll_in_s: float, live_owner: str | None = None) -> bool:
    """Persist a batch of records and the cursor that follows them in one transaction, and
    record the sync on the source (shared by the poller and the live readers).

    With ``live_owner`` the write is fenced: it happens only while that reader still holds the
    source's live lease and the source is active, so a reader whose lease was taken over, or
    whose source was paused, cannot write behind the new owner's back. Returns False (nothing
    written) when the fence refuses.
    """
    now = timezone.now()
    fields: dict[str, Any] = {"cursor": cursor, "last_sync_at": now, "consecutive_failures": 0,
                              "rate_limited_until": None, "next_poll_at": now + timedelta(seconds=next_poll_in_s)}
    rows = Source.objects.filter(pk=source.pk)
    if live_owner is not None:
        rows = rows.filter(live_owner=live_owner, status=SourceStatus.ACTIVE)
    with transaction.atomic():
        if not rows.update(**fields):
            return False
        if records:
            queue.intake(source.id, source.platform, records, now)
    for name, value in fields.items():
        setattr(source, name, value)
    return True


def _mark_needs_reconnection(source: Source, reason: str) -> None:
    now = timezone.now()
    source.status = SourceStatus.NEEDS_RECONNECTION
    source.last_error, source.last_error_at = f"needs reconnection: {reason}", now
    source.save(update_fields=["status", "last_error", "last_error_at"])
    record_audit(source.workspace, None, "source_needs_reconnection", source.name, reason=reason[:500])
    log.warning("source %s needs reconnection: %s", source.pk, reason)


def _record_failure(source: Source, reason: str, what: str = "polling") -> None:
    now = timezone.now()
    source.consecutive_failures += 1
    source.last_error, source.last_error_at = reason[:2000], now
    source.next_poll_at = now + timedelta(seconds=_backoff_s(source.consecutive_failures, source.poll_interval_s))
    with transaction.atomic():
        source.save(update_fields=["consecutive_failures", "last_error", "last_error_at", "next_poll_at"])
        if source.consecutive_failures == DEAD_LETTER_AFTER_FAILURES:
            queue.intake(source.id, source.platform, [BadRecord(
                f"{what} failed {DEAD_LETTER_AFTER_FAILURES} times in a row; still retrying with back-off: {reason}",
                reason[:10000], location="poll" if what == "polling" else "stream")], now)
    log.warning("source %s %s failed (%s in a row): %s", source.pk, what, source.consecutive_failures, reason)


def poll_due_sources(owner: str) -> int:
    taken = 0
    for source_id in claim_due_sources(owner):
        source = Source.objects.select_related("workspace").get(pk=source_id)
        taken += poll_source(source)
    return taken


# --- outbound actions --------------------------------------------------------------------------

def request_action(source: Source, actor: User | None, *, kind: str, idempotency_key: str, text: str = "",
                   target_external_id: str = "", recipient_external_id: str = "",
                   extra: dict[str, Any] | None = None) -> OutboundAction:
    """Queue a write to the platform; asking again with the same key returns the same action."""
    action, created = OutboundAction.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults=dict(workspace_id=source.workspace_id, source=source, kind=kind, text=text,
                      target_external_id=target_external_id, recipient_external_id=recipient_external_id,
                      extra=extra or {}, requested_by=actor),
    )
    if created:
        record_audit(source.workspace, actor, f"request_{kind}", source.name, key=idempotency_key)
    return action


def claim_due_actions(owner: str, limit: int = 20, lease_s: int = 120) -> list[int]:
    now = timezone.now()
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sources_outboundaction SET lease_owner = %s, lease_until = %s, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM sources_outboundaction WHERE status = 'pending' "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) AND (lease_until IS NULL OR lease_until < %s) "
            "ORDER BY id LIMIT %s" + lock + ") RETURNING id",
            [owner, now + timedelta(seconds=lease_s), now, now, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def send_action(action: OutboundAction, connector: Any | None = None) -> OutboundAction:
    """Send one claimed action and record the outcome. Retries hand the platform the same key."""
    source = action.source
    now = timezone.now()
    fields = ["status", "error", "lease_owner", "lease_until", "next_attempt_at", "result_external_id", "result_detail", "sent_at"]
    action.lease_owner, action.lease_until = "", None
    if source.status != SourceStatus.ACTIVE:
        action.next_attempt_at = now + timedelta(seconds=60)
        action.error = f"source is {source.get_status_display()}; waiting"
        action.save(update_fields=fields)
        return action
    try:
        connector = connector or connector_for(source)
        result = connector.act(ConnectorAction(
            kind=action.kind, idempotency_key=action.idempotency_key, text=action.text,
            target_external_id=action.target_external_id or None,
            recipient_external_id=action.recipient_external_id or None,
            extra={**action.extra, "attempt": action.attempts},
        ))
    except Unsupported as error:
        action.status, action.error = OutboundStatus.UNSUPPORTED, str(error)
    except NeedsReconnection as error:
        _mark_needs_reconnection(source, str(error))
        action.error = f"needs reconnection: {error}"
        action.next_attempt_at = now + timedelta(seconds=60)
    except RateLimited as error:
        action.error = f"rate limited: {error}"
        action.next_attempt_at = now + timedelta(seconds=max(1.0, error.retry_after_s))
    except (TransientError, ConnectorError, OSError, ValueError) as error:
        action.error = f"{type(error).__name__}: {error}"
        if action.attempts >= OUTBOX_MAX_ATTEMPTS:
            action.status = OutboundStatus.FAILED
        else:
            action.next_attempt_at = now + timedelta(seconds=_backoff_s(action.attempts, 10))
    else:
        action.status = OutboundStatus.SENT
        action.result_external_id = result.external_id or ""
        action.result_detail = result.detail or {}
        action.sent_at = now
        action.error = ""
    action.save(update_fields=fields)
    return action


def send_due_actions(owner: str) -> int:
    sent = 0
    for action_id in claim_due_actions(owner):
        action = OutboundAction.objects.select_related("source", "source__workspace").get(pk=action_id)
        if send_action(action).status == OutboundStatus.SENT:
            sent += 1
    return sent

