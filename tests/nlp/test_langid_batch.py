"""The vectorised language identifier answers exactly like py3langid's own classifier."""

from __future__ import annotations

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from veille.nlp import langid_batch
from veille.nlp.analyzer import DECOY_LANGUAGES, RECOGNISED_LANGUAGES
from veille.nlp.langid_batch import get_identifier

from .samples import LANGID_AGREEMENT_TEXTS

LANGS = RECOGNISED_LANGUAGES + DECOY_LANGUAGES


@pytest.fixture(scope="module")
def reference():
    ref = LanguageIdentifier.from_model_file(MODEL_FILE)
    ref.set_languages(list(LANGS))
    return ref


@pytest.fixture(scope="module")
def reference_probs():
    ref = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ref.set_languages(list(LANGS))
    return ref


def _assert_same(batch, expected):
    assert len(batch) == len(expected)
    for text, (lang, score), (ref_lang, ref_score) in zip(LANGID_AGREEMENT_TEXTS, batch, expected):
        assert lang == ref_lang, text[:40]
        assert score == pytest.approx(ref_score, rel=1e-4, abs=1e-3), text[:40]


def test_same_answers_as_py3langid(reference):
    ident = get_identifier(LANGS)
    expected = [reference.classify(t) for t in LANGID_AGREEMENT_TEXTS]
    _assert_same(ident.classify_raw(LANGID_AGREEMENT_TEXTS), expected)


def test_same_answers_in_small_chunks_and_tail_walk(reference, monkeypatch):
    # force several chunks and the Python tail walk for the long texts
    monkeypatch.setattr(langid_batch, "CHUNK", 5)
    monkeypatch.setattr(langid_batch, "MIN_ACTIVE", 3)
    ident = get_identifier(LANGS)
    expected = [reference.classify(t) for t in LANGID_AGREEMENT_TEXTS]
    _assert_same(ident.classify_raw(LANGID_AGREEMENT_TEXTS), expected)


def test_probabilities_match_norm_probs(reference_probs):
    ident = get_identifier(LANGS)
    encoded = [langid_batch.encode_like_py3langid(t) for t in LANGID_AGREEMENT_TEXTS]
    probs = ident.probabilities(encoded)
    for text, row in zip(LANGID_AGREEMENT_TEXTS, probs):
        ref_lang, ref_conf = reference_probs.classify(text)
        assert ident.labels[int(row.argmax())] == ref_lang
        assert float(row.max()) == pytest.approx(ref_conf, abs=1e-4)
        assert float(row.sum()) == pytest.approx(1.0)


def test_order_and_batch_composition_do_not_matter():
    ident = get_identifier(LANGS)
    texts = LANGID_AGREEMENT_TEXTS
    forward = ident.classify_raw(texts)
    backward = ident.classify_raw(texts[::-1])[::-1]
    singles = [ident.classify_raw([t])[0] for t in texts]
    for a, b, c in zip(forward, backward, singles):
        assert a[0] == b[0] == c[0]
        assert a[1] == pytest.approx(b[1], rel=1e-5) and a[1] == pytest.approx(c[1], rel=1e-5)


def test_empty_batch():
    assert get_identifier(LANGS).classify_raw([]) == []


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="xx"):
        langid_batch.BatchLanguageIdentifier(["fr", "xx"])


def test_tables_are_cached_between_processes_and_a_damaged_cache_is_rebuilt(reference, settings, tmp_path, monkeypatch):
    """The uncompressed tables are written under var/ by the first process and mapped read-only
    by the next (a fresh identifier here); the answers are the same, and a damaged file is replaced."""
    settings.CACHE_DIR = tmp_path / "cache"
    languages = list(LANGS)
    expected = [reference.classify(t) for t in LANGID_AGREEMENT_TEXTS]
    first = langid_batch.BatchLanguageIdentifier(languages)
    (cached,) = (tmp_path / "cache").glob("langid-*")
    assert sorted(path.name for path in cached.iterdir()) == sorted(f"{name}.npy" for name in langid_batch.TABLE_NAMES)
    unpacking = langid_batch._load_py3langid_model

    def refuse():
        raise AssertionError("the compressed model was unpacked again")

    monkeypatch.setattr(langid_batch, "_load_py3langid_model", refuse)
    assert isinstance(langid_batch.load_tables(languages)["nextmove"], np.memmap)  # shared, not copied
    second = langid_batch.BatchLanguageIdentifier(languages)  # from the cache alone
    _assert_same(second.classify_raw(LANGID_AGREEMENT_TEXTS), expected)
    assert second.columns == first.columns
    monkeypatch.setattr(langid_batch, "_load_py3langid_model", unpacking)
    damaged = cached / "nextmove.npy"
    damaged.write_bytes(b"not a numpy array")
    third = langid_batch.BatchLanguageIdentifier(languages)
    _assert_same(third.classify_raw(LANGID_AGREEMENT_TEXTS), expected)
    assert damaged.stat().st_size > 1_000_000  # written again, whole
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [cached.name]  # nothing left behind
