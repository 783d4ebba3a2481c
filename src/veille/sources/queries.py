"""Reads about sources shared by pages and API: the list with each source's health."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from veille.ingest.models import RawStatus
from veille.sources.models import Source, SourceStatus


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
