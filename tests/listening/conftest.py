"""Listening tests run the real pipeline with a small deterministic stand-in for the NLP models:
the language comes from the post's ``lang`` hint, the sentiment from a few words."""

from __future__ import annotations

import pytest

NEGATIVE = ("panne", "outage", "störung", "guasto", "nul", "bad", "down", "fail")
POSITIVE = ("merci", "great", "super", "danke", "grazie", "love")


def fake_enrich(rows, *, full=True):
    for row in rows:
        lowered = row.text.lower()
        row.language = row.language or "fr"
        if any(word in lowered for word in NEGATIVE):
            row.sentiment = "negative"
        elif any(word in lowered for word in POSITIVE):
            row.sentiment = "positive"
        else:
            row.sentiment = "neutral"


@pytest.fixture(autouse=True)
def _deterministic_enrichment(monkeypatch):
    monkeypatch.setattr("veille.ingest.pipeline.enrich", fake_enrich)


@pytest.fixture(autouse=True)
def _english_pages(settings):
    """These tests read English messages; the desk's default language is French."""
    settings.LANGUAGE_CODE = "en"
