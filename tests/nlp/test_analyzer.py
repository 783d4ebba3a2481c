"""The shipped models: loading, stable answers on clear texts, hostile inputs."""

from __future__ import annotations

import re
import socket

import pytest

from veille.nlp.analyzer import (
    SUPPORTED_LANGUAGES,
    Analysis,
    Analyzer,
    ModelFilesMissing,
    get_analyzer,
)

from .samples import (
    ABUSIVE_SAMPLES,
    CLEAN_SAMPLES,
    COMPLAINT_SAMPLES,
    LANGUAGE_SAMPLES,
    NEGATIVE_SAMPLES,
    NOT_COMPLAINT_SAMPLES,
    POSITIVE_SAMPLES,
    UND_SAMPLES,
)


def test_loads_from_package_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the nlp models must not touch the network")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    fresh = Analyzer()
    result = fresh.analyze(["Merci pour votre aide"])
    assert isinstance(result[0], Analysis)
    assert re.fullmatch(r"nlp-[0-9a-f]{12}", fresh.model_version)


def test_cached_and_versioned(analyzer):
    assert get_analyzer() is analyzer
    assert Analyzer().model_version == analyzer.model_version


def test_missing_model_files_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFilesMissing, match="veille nlp train"):
        Analyzer(tmp_path)


def test_supported_languages():
    assert SUPPORTED_LANGUAGES == ("fr", "de", "it", "en")


def test_languages_of_clear_sentences(analyzer):
    got = analyzer.detect_languages([t for t, _ in LANGUAGE_SAMPLES])
    for (text, expected), (lang, score) in zip(LANGUAGE_SAMPLES, got):
        assert lang == expected, text
        assert 0.5 < score <= 1.0


@pytest.mark.parametrize("text", UND_SAMPLES)
def test_und_for_texts_without_language(analyzer, text):
    lang, score = analyzer.detect_languages([text])[0]
    assert lang == "und"
    assert 0.0 <= score <= 1.0


def test_other_scripts_are_und(analyzer):
    langs = analyzer.detect_languages(["Привет, как у тебя дела сегодня?", "今日はとても良い天気ですね"])
    assert [lang for lang, _ in langs] == ["und", "und"]


def test_sentiment_of_clear_sentences(analyzer):
    neg = analyzer.analyze(NEGATIVE_SAMPLES)
    pos = analyzer.analyze(POSITIVE_SAMPLES)
    for text, a in zip(NEGATIVE_SAMPLES, neg):
        assert a.sentiment == "negative", text
        assert a.sentiment_score < 0
    for text, a in zip(POSITIVE_SAMPLES, pos):
        assert a.sentiment == "positive", text
        assert a.sentiment_score > 0


def test_complaint_and_abuse_rank_the_obvious_cases(analyzer):
    comp = analyzer.analyze(COMPLAINT_SAMPLES + NOT_COMPLAINT_SAMPLES)
    assert min(a.complaint for a in comp[:2]) > 0.5
    assert max(a.complaint for a in comp[2:]) < 0.5
    ab = analyzer.analyze(ABUSIVE_SAMPLES + CLEAN_SAMPLES)
    assert ab[0].abuse > 0.5 > ab[1].abuse


def test_outputs_are_stable_and_in_range(analyzer):
    texts = [t for t, _ in LANGUAGE_SAMPLES] + NEGATIVE_SAMPLES + POSITIVE_SAMPLES
    first = analyzer.analyze(texts)
    again = analyzer.analyze(list(reversed(texts)))[::-1]
    single = [analyzer.analyze([t])[0] for t in texts]
    assert first == again == single
    for a in first:
        assert a.sentiment in ("negative", "neutral", "positive")
        assert -1.0 <= a.sentiment_score <= 1.0
        assert 0.0 <= a.complaint <= 1.0 and 0.0 <= a.abuse <= 1.0
        assert 0.0 <= a.language_score <= 1.0


def test_empty_batch(analyzer):
    assert analyzer.analyze([]) == []
    assert analyzer.detect_languages([]) == []


HOSTILE = [
    "",
    " ",
    "\n\n\t  \r\n",
    "\x00",
    "a\x00b\x00c" * 50,
    "\ud800",
    "lone \udfff surrogate and \ud83d half emoji",
    "\ufffd\ufffd",
    "&amp;&lt;&#0;&#x110000;&#55296;&",
    "🏳️‍🌈👩🏽‍💻" * 100,
    "A" * 1_000_000,
    ("word " * 200_000),
    "@" * 1000,
    "http://" + "x" * 10000,
    "\u202e\u200b\u2060\ufeff",
    "#" * 500,
]


def test_hostile_inputs_never_crash(analyzer):
    results = analyzer.analyze(HOSTILE)
    assert len(results) == len(HOSTILE)
    for a in results:
        assert a.language in SUPPORTED_LANGUAGES + ("es", "pt", "ar", "hi", "und")
        assert a.sentiment in ("negative", "neutral", "positive")
        assert 0.0 <= a.complaint <= 1.0 and 0.0 <= a.abuse <= 1.0
    empty = results[0]
    assert (empty.language, empty.sentiment, empty.complaint, empty.abuse) == ("und", "neutral", 0.0, 0.0)


def test_non_string_items_are_treated_as_empty(analyzer):
    results = analyzer.analyze([None, 42, b"bytes"])  # type: ignore[list-item]
    assert [a.language for a in results] == ["und", "und", "und"]
