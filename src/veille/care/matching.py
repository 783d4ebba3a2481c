"""Incident matchers, pluggable: ``MATCHERS[name](query)`` returns
``match(text, *, language="", sentiment="", handle="", platform="") -> bool``.

The default "phrase" matcher: alternatives separated by `` OR `` (or commas); each alternative
matches when all its words (or its "quoted phrase") appear, ignoring case and accents; it looks
at the text only. Another app registers its own matcher with ``register`` (listening registers
"listening", its query language, which also reads the post's language, sentiment, author and
platform).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# match(text, language=..., sentiment=..., handle=..., platform=...): keyword fields may be absent.
Matcher = Callable[..., bool]
MATCHERS: dict[str, Callable[[str], Matcher]] = {}


def register(name: str, factory: Callable[[str], Matcher]) -> None:
    MATCHERS[name] = factory


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_WORD = re.compile(r"\w+", re.UNICODE)


def phrase_matcher(query: str) -> Matcher:
    alternatives: list[list[str]] = []
    for part in re.split(r"\s+OR\s+|,", query):
        part = part.strip()
        if not part:
            continue
        phrases = [fold(p) for p in re.findall(r'"([^"]+)"', part)]
        rest = re.sub(r'"[^"]*"', " ", part)
        terms = phrases + [fold(word) for word in _WORD.findall(rest)]
        if terms:
            alternatives.append(terms)

    def match(text: str, **_fields: str) -> bool:
        folded = fold(text or "")
        words = set(_WORD.findall(folded))
        for terms in alternatives:
            if all((term in folded) if " " in term else (term in words) for term in terms):
                return True
        return False

    return match


register("phrase", phrase_matcher)


def available() -> list[str]:
    return sorted(MATCHERS)


def matcher_for(name: str, query: str) -> Matcher:
    factory = MATCHERS.get(name) or MATCHERS["phrase"]
    return factory(query)
