"""Tweet normalisation and the hashed features."""

from __future__ import annotations

import numpy as np

from veille.nlp.features import FeatureConfig, Featurizer
from veille.nlp.text import MAX_CHARS, for_language, for_models, safe_text


def test_for_models_normalises_tweets():
    out = for_models("RT @Brand_Help Sooooo GOOD &amp; cheap!!! https://t.co/abc #LoveIt 😍")
    assert "@user" in out and "brand_help" not in out
    assert "http" in out and "t.co" not in out
    assert "&amp;" not in out and "&" in out
    assert "#loveit" in out and "😍" in out
    assert "sooo " in out and "soooo" not in out
    assert out == out.lower()


def test_for_language_drops_links_and_mentions_keeps_case():
    out = for_language("@Someone Guten Morgen! http://example.com/x")
    assert out == "Guten Morgen!"


def test_safe_text_bounds_and_cleans():
    assert safe_text(None) == ""
    assert safe_text("a\x00b") == "a b"
    assert safe_text("x\ud800y") == "x\ufffdy"
    assert len(safe_text("z" * (MAX_CHARS + 10))) == MAX_CHARS


def test_features_do_not_depend_on_the_batch():
    f = Featurizer(FeatureConfig(n_bits=16))
    texts = ["great service, thanks!", "", "c'est nul 😡", "x"]
    together = f.transform(texts).toarray()
    alone = np.vstack([f.transform([t]).toarray() for t in texts])
    assert np.allclose(together, alone)
    assert together[1].sum() == 0  # empty text, empty row
    norms = np.linalg.norm(together[[0, 2, 3]], axis=1)
    assert np.all(norms > 0.9)


def test_features_are_deterministic_values():
    # Hashes are plain 64-bit arithmetic: the same indices on every run and machine.
    f = Featurizer(FeatureConfig(n_bits=18))
    a = f.transform(["bonjour"]).indices.tolist()
    b = Featurizer(FeatureConfig(n_bits=18)).transform(["bonjour"]).indices.tolist()
    assert a == b and len(a) > 10


def test_group_features_only_with_groups():
    f = Featurizer(FeatureConfig(n_bits=18, group_weight=0.5))
    plain = f.transform(["hello there"])
    grouped = f.transform(["hello there"], ["en"])
    other = f.transform(["hello there"], ["fr"])
    assert grouped.nnz > plain.nnz
    assert set(grouped.indices) != set(other.indices)
