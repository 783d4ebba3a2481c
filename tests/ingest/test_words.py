"""Word splitting: the C splitter, its Python path and the definition they both follow."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veille.ingest import search
from veille.ingest.search import WORD, fold, lowered_words, python_words
from veille.listening.query import Doc


def by_definition(text: str) -> list[str]:
    return WORD.findall(fold(text))


def test_the_c_splitter_was_built():
    # setup.py builds it where a C compiler is; without it veille is slower, not wrong.
    assert search._c_words is not None, "veille.ingest._words was not compiled: is gcc installed?"


@pytest.mark.parametrize("text, expected", [
    ("Réseau MOBILE: en panne!", ["reseau", "mobile", "en", "panne"]),
    ("e-mail box_2 ÉTÉ", ["e", "mail", "box", "2", "ete"]),
    ("Straße über ŒUVRE", ["strase", "uber", "ouvre"]),
    ("½ ٣ 五 ok", ["½", "٣", "五", "ok"]),
    ("😡 #panne @orange_fr", ["panne", "orange", "fr"]),
    ("", []),
    ("!!! ...", []),
    ("İstanbul", ["i", "stanbul"]),  # lower() gives i + a combining dot, which is no letter
])
def test_words_of_hand_picked_texts(text, expected):
    assert by_definition(text) == expected
    assert lowered_words(text.lower()) == expected
    assert python_words(text.lower()) == expected


# Every plane, surrogates and combining marks included: the splitter must agree with the
# regular expression on whatever a post holds.
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=60) | st.text(
    st.sampled_from("aàÄéÈßœŒçÇñ İı_-'#@ 0½٣五😡\u0301\u00a0\t"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_c_and_python_splitters_agree_with_the_definition(text):
    expected = by_definition(text)
    assert lowered_words(text.lower()) == expected
    assert python_words(text.lower()) == expected


def test_documents_are_the_same_without_the_c_splitter(monkeypatch):
    text = "Panne réseau à Paris, l'ÉTÉ: #4G über-lent 😡"
    with_c = Doc(text)
    monkeypatch.setattr(search, "_c_words", None)
    without_c = Doc(text)
    assert with_c.tokens == without_c.tokens == ["panne", "reseau", "a", "paris", "l", "ete", "4g", "uber", "lent"]
    assert with_c.token_set == without_c.token_set


def test_the_splitter_rejects_what_is_not_text():
    if search._c_words is None:
        pytest.skip("the C splitter was not built")
    with pytest.raises(TypeError):
        search._c_words(b"bytes", search._FOLD_BY_CODE_POINT)
    with pytest.raises(TypeError):
        search._c_words("text")
