"""Reads about sources shared by pages and API: the list with each source's health."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from veille.ingest.models import RawStatus
from veille.sources.models import LiveState, Source, SourceStatus


@dataclasses.dataclass
class SourceHealth:
    source: Source
    pending: int
    rejected: int
    lag_s: float | None  # seconds since the last successful sync

    @property
    def rate_limited(self) -> bool:
        return bool(self.source.rate_limited_until and self.source.rate_limited_until > timezone.now())

    @property
    def rate_limited_until(self) -> datetime | None:
        return self.source.rate_limited_until if self.rate_limited else None

    @property
    def live_state(self) -> str:
        """``LiveState`` of the source's live reader, or "" when no reader holds it."""
        source = self.source
        if source.live_owner and source.live_lease_until and source.live_lease_until > timezone.now():
            return source.live_state or LiveState.CONNECTING
        return ""

    @property
    def live_state_label(self) -> str:
        return str(LiveState(self.live_state).label) if self.live_state else ""

    @property
    def polled_until(self) -> datetime | None:
        """Streaming failed and the source is polled until then (it is tried again after)."""
        retry_at = self.source.live_retry_at
        return retry_at if retry_at and retry_at > timezone.now() and not self.live_state else None


def sources_with_health(workspace_id: int) -> list[SourceHealth]:
    sources = (
        Source.objects.filter(workspace_id=workspace_id)
        .exclude(status=SourceStatus.REMOVED)
        .annotate(
            pending=Count("raw_items", filter=Q(raw_items__status=RawStatus.PENDING)),
            rejected=Count("raw_items", filter=Q(raw_items__status=RawStatus.DEAD)),
        )
        .order_by("name")
    )
    now = timezone.now()
    return [
        SourceHealth(source, source.pending, source.rejected,
                     (now - source.last_sync_at).total_seconds() if source.last_sync_at else None)
        for source in sources
    ]


def source_of(workspace_id: int, source_id: int) -> Source:
    return Source.objects.exclude(status=SourceStatus.REMOVED).get(workspace_id=workspace_id, pk=source_id)
