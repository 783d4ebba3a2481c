"""Multi-row inserts on the ingest hot path (``veille.ingest.sql``)."""

from __future__ import annotations

import pytest

from veille.ingest import queue
from veille.ingest.models import RawItem
from veille.ingest.sql import statement_sizes
from veille.sources.base import RawRecord


@pytest.mark.parametrize("largest", [1, 7, 400, 646])
def test_statement_sizes_cover_every_row_with_few_distinct_statements(largest):
    distinct: set[int] = set()
    for total in range(0, 3 * largest + 3):
        sizes = statement_sizes(total, largest)
        assert sum(sizes) == total
        assert all(0 < size <= largest for size in sizes)
        distinct.update(sizes)
    # A statement text per size: SQLite compiles each new text, the driver caches known ones.
    assert len(distinct) <= largest.bit_length() + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("count", [1, 645, 646, 1000, 1337])
def test_rows_inserted_over_several_statements_come_back_in_order(source, count):
    records = [RawRecord(payload={"id": f"x{i}"}, external_id=f"x{i}") for i in range(count)]
    ids = queue.intake(source.id, "ndjson", records)
    assert len(ids) == count == len(set(ids))
    stored = dict(RawItem.objects.filter(source=source).values_list("id", "external_id"))
    assert [stored[raw_id] for raw_id in ids] == [f"x{i}" for i in range(count)]
