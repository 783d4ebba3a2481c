"""The enrich step: language always; sentiment, complaint and abuse when enabled."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from veille.ingest.store import PostRow

log = logging.getLogger("veille.ingest")
_warned: list[bool] = []


@functools.cache
def _language_detector():
    # Language alone needs no trained model file: it runs py3langid's model, vectorised.
    from veille.nlp.analyzer import LanguageDetector

    return LanguageDetector()


def _analyzer():
    """The trained models, or None (language only) when their files are missing from this install."""
    from veille.nlp.analyzer import ModelFilesMissing, get_analyzer

    try:
        return get_analyzer()
    except ModelFilesMissing as error:
        if not _warned:
            log.error("sentiment, complaint and abuse are off: %s", error)
            _warned.append(True)
        return None


def enrich(rows: Sequence[PostRow], *, full: bool = True) -> None:
    """Fill the enrichment columns of ``rows`` in place (one batched call to the models)."""
    if not rows:
        return
    texts = [row.text for row in rows]
    analyzer = _analyzer() if full else None
    if analyzer is None:
        for row, (language, score) in zip(rows, _language_detector().detect(texts), strict=True):
            row.language, row.language_score = language, round(score, 4)
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


def warm_up(full: bool) -> None:
    """Load the models now, e.g. before forking a preparing process that then shares them."""
    if not full or _analyzer() is None:
        _language_detector()
