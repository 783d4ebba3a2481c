"""The enrich step: language, sentiment, complaint and abuse for a batch of texts."""

from __future__ import annotations

from collections.abc import Sequence

from veille.ingest.store import PostRow


def enrich(rows: Sequence[PostRow], *, full: bool = True) -> None:
    """Fill the enrichment columns of ``rows`` in place (one batched call to the models)."""
    if not rows:
        return
    from veille.nlp.analyzer import get_analyzer

    analyzer = get_analyzer()
    texts = [row.text for row in rows]
    if not full:
        for row, (language, score) in zip(rows, analyzer.detect_languages(texts), strict=True):
            row.language, row.language_score = language, score
        return
    version = analyzer.model_version
    for row, analysis in zip(rows, analyzer.analyze(texts), strict=True):
        row.language = analysis.language
        row.language_score = analysis.language_score
        row.sentiment = analysis.sentiment
        row.sentiment_score = analysis.sentiment_score
        row.complaint = analysis.complaint
        row.abuse = analysis.abuse
        row.model_version = version
