"""The query language: parsing (valid, invalid, unicode, hostile) and the Python matcher."""

from __future__ import annotations

import pytest

from veille.listening.query import (
    And,
    Doc,
    Field,
    Matcher,
    Near,
    Not,
    Or,
    QuerySyntaxError,
    Tag,
    Term,
    compile_query,
    parse,
    prefilter,
)


def matches(query: str, text: str, **doc) -> bool:
    return compile_query(query).matches(Doc(text, **doc))


@pytest.mark.parametrize("query, tree", [
    ("orange", Term(("orange",))),
    ("Orange swisscom", And((Term(("orange",)), Term(("swisscom",))))),
    ("a OR b c", Or((Term(("a",)), And((Term(("b",)), Term(("c",))))))),
    ("(a OR b) AND c", And((Or((Term(("a",)), Term(("b",)))), Term(("c",))))),
    ("a -b NOT c", And((Term(("a",)), Not(Term(("b",))), Not(Term(("c",)))))),
    ('"Service Client"', Term(("service", "client"))),
    ("résea*", Term(("resea",), prefix=True)),
    ("#AlpinaDown @Alpina_Care", And((Tag("#", "alpinadown"), Tag("@", "alpina_care")))),
    ("from:@Marie lang:FR sentiment:Negative source:mastodon", And((Field("from", "marie"), Field("lang", "fr"), Field("sentiment", "negative"), Field("source", "mastodon")))),
    ('list:"VIP clients"', Field("list", "VIP clients")),
    ('panne NEAR/3 "fibre optique"', Near(Term(("panne",)), Term(("fibre", "optique")), 3)),
    ("e-mail", Term(("e", "mail"))),
    ("and or not", And((Term(("and",)), Term(("or",)), Term(("not",))))),
    ("Störung 故障", And((Term(("storung",)), Term(("故障",))))),
])
def test_valid_queries(query, tree):
    assert parse(query) == tree


@pytest.mark.parametrize("query, position, expected", [
    ("", 0, "a term"),
    ("   ", 0, "a term"),
    ("orange AND", 10, "a term"),
    ("(orange", 7, "')'"),
    ("orange)", 6, "the end of the query"),
    ('"unterminated', 0, "closing quote"),
    ("foo:bar", 0, "one of from:"),
    ("sentiment:angry", 0, "negative, neutral or positive"),
    ("lang:french", 0, "language code"),
    ("a NEAR b", 2, "NEAR/n"),
    ("a NEAR/3 (b OR c)", 9, "a word or a phrase after NEAR"),
    ("a NEAR/999 b", 2, "at most NEAR/50"),
    ("()", 1, "a term"),
    ("OR a", 0, "a term"),
    ("a OR OR b", 5, "a term"),
    ("#", 0, "# followed by"),
    ("x*", 0, "2 letters"),
    ("!!!", 0, "a word"),
    ("from:", 5, "a value"),
])
def test_invalid_queries_name_position_and_expectation(query, position, expected):
    with pytest.raises(QuerySyntaxError) as info:
        parse(query)
    assert info.value.position == position
    assert expected in info.value.expected
    assert f"position {position + 1}" in str(info.value)


@pytest.mark.parametrize("query", [
    "(" * 200 + "a" + ")" * 200, "NOT " * 100 + "a", " OR ".join(["a"] * 500), "a" * 5000, "x\x00y",
    '"' * 7, "\u202e\u200b", "lang:" + "é" * 3, "a AND " * 50,
])
def test_hostile_input_is_rejected_cleanly(query):
    with pytest.raises(QuerySyntaxError):
        parse(query)


def test_matching_is_accent_and_case_insensitive():
    assert matches("reseau", "Le RÉSEAU est lent")
    assert matches("réseau", "le reseau est lent")
    assert matches("STORUNG", "Störung in Zürich")
    assert not matches("reseau", "les réseaux sociaux")
    assert matches("reseau*", "les réseaux sociaux")


def test_phrases_hashtags_mentions_and_near():
    text = "Grosse panne de la fibre optique à Lausanne #AlpinaDown @Alpina_Care @bob.smith"
    assert matches('"fibre optique"', text)
    assert not matches('"optique fibre"', text)
    assert matches("#alpinadown", text) and not matches("#alpina", text)
    assert matches("@alpina_care", text) and matches("@bob.smith", text) and not matches("@bob", text)
    assert matches("panne NEAR/3 fibre", text)
    assert matches("fibre NEAR/3 panne", text)
    assert not matches("panne NEAR/1 optique", text)
    assert matches('panne NEAR/2 "fibre optique"', text)
    assert not matches("alpinadown NEAR/0 lausanne", "lausanne x alpinadown")


def test_phrases_and_near_look_at_every_occurrence_of_a_repeated_word():
    text = "la fibre la fibre encore la fibre optique puis panne"
    assert matches('"fibre optique"', text) and matches('"la fibre optique"', text)
    assert not matches('"optique la"', text) and not matches('"panne fibre"', text)
    assert matches("fibre-opt*", text) and not matches("fibre-pan*", text)
    # The last "fibre" is the one near "panne"; the first ones are too far.
    assert matches("fibre NEAR/2 panne", text) and not matches("fibre NEAR/1 panne", text)
    assert matches("la NEAR/0 fibre", text) and not matches("encore NEAR/0 optique", text)


def test_boolean_logic_and_fields():
    doc = dict(language="fr", sentiment="negative", platform="mastodon", handle="marie", lists=frozenset({"vip"}))
    assert matches("(panne OR bug) -merci", "panne totale", **doc)
    assert not matches("(panne OR bug) -merci", "panne, merci quand même", **doc)
    assert matches("panne lang:fr sentiment:negative source:mastodon from:Marie list:VIP", "panne", **doc)
    assert not matches("panne lang:de", "panne", **doc)
    assert not matches("list:press", "panne", **doc)
    assert matches("NOT outage", "panne", **doc)


def test_matcher_index_agrees_with_evaluating_every_search():
    queries = ["panne", "panne OR outage", '"fibre optique" -merci', "lang:de", "NOT panne", "#alpinadown", "resea*",
               "from:marie", "(a OR b) c", "x NEAR/2 y", "fi* sentiment:negative", "pan* OR outa*", "fibre-opt*",
               "ré* lang:fr"]
    compiled = [(i, compile_query(q)) for i, q in enumerate(queries)]
    matcher = Matcher(compiled)
    texts = ["panne de fibre optique", "outage!", "#AlpinaDown merci", "les réseaux", "c a", "x z y", "nothing",
             "Fil coupé", "f fi fib"]
    for text in texts:
        for language in ("fr", "de"):
            for sentiment in ("negative", "neutral"):
                doc = Doc(text, language=language, sentiment=sentiment, handle="marie")
                expected = sorted(i for i, c in compiled if c.matches(doc))
                assert sorted(matcher.match(Doc(text, language=language, sentiment=sentiment, handle="marie"))) == expected


def test_prefilter_is_positive_only():
    tree = parse('"fibre optique" -merci (panne OR outage*)')
    assert prefilter(tree, "sqlite") == '("fibre optique" AND ("panne" OR "outage"*))'
    # PostgreSQL's index holds pairs of adjacent words: a phrase is its pairs.
    assert prefilter(tree, "postgres") == "('~fibre optique' & ('panne' | 'outage':*))"
    assert prefilter(parse('box-fib*'), "postgres") == "'~box fib':*"
    assert prefilter(parse("NOT a"), "sqlite") is None
    assert prefilter(parse("a OR NOT b"), "sqlite") is None
