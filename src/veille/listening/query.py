"""The listening query language: parse once, then match live (Python) or search history (SQL).

Grammar (see docs/queries.md)::

    query   := or
    or      := and ( "OR" and )*
    and     := unary ( ["AND"] unary )*          -- juxtaposition is AND
    unary   := ("NOT" | "-") unary | near
    near    := atom ( "NEAR/" n atom )*
    atom    := "(" or ")" | PHRASE | WORD["*"] | "#"tag | "@"handle | field ":" value

Text is compared word by word after lower-casing and accent folding
(``veille.ingest.search.fold``); a word is a run of letters and digits. The same compiled query
gives three things: a Python predicate over a :class:`Doc`, the "anchor" keys the live matcher
indexes saved searches by, and a full-text pre-filter (FTS5 MATCH / tsquery) plus SQL filters
for historical search, whose candidates are re-checked with the predicate so both agree.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.utils.translation import gettext_noop

from veille.ingest.search import WORD as WORD_RE
from veille.ingest.search import fold as _fold
from veille.ingest.search import fold_word, lowered_words, phrase_tsquery

MAX_QUERY_CHARS = 1000
MAX_DEPTH = 32
MAX_TERMS = 100
MAX_NEAR = 50

FIELDS = ("from", "list", "lang", "sentiment", "source")
SENTIMENTS = ("negative", "neutral", "positive")

# Length of the word beginnings ``Doc.has_prefix`` groups words by (prefixes have 2 letters or more).
STEM = 2
HASHTAG_RE = re.compile(r"#(\w+)")
MENTION_RE = re.compile(r"@(\w+(?:[.\-]\w+)*)")


_EMPTY: frozenset = frozenset()


def fold(text: str) -> str:
    # Exactly the folding the full-text indexes use (no Unicode normalisation here: text stored
    # in decomposed form would otherwise match live but not in PostgreSQL's index).
    return _fold(text)


def words(text: str) -> list[str]:
    return lowered_words(text.lower())


def fold_handle(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


class QuerySyntaxError(ValueError):
    """A malformed query: ``position`` is the 0-based character offset, ``expected`` what would fit.

    ``message`` and ``expected`` are English; ``localized()`` gives them in the active language
    (their templates are marked for translation with ``gettext_noop``)."""

    def __init__(self, message: str, position: int, expected: str = "", **params) -> None:
        self.template, self.expected_template, self.params = message, expected, params
        self.message = message % params if params else message
        self.position = position
        self.expected = expected % params if params else expected
        super().__init__(f"{self.message} at position {position + 1}" + (f" (expected {self.expected})" if self.expected else ""))

    def localized(self) -> tuple[str, str]:
        from django.utils.translation import gettext

        message = gettext(self.template) % self.params if self.params else gettext(self.template)
        expected = ""
        if self.expected_template:
            expected = gettext(self.expected_template) % self.params if self.params else gettext(self.expected_template)
        return message, expected


# --- syntax tree ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # one word, or several that must follow each other (a phrase)
    prefix: bool = False  # the last word is a prefix (``term*``)


@dataclasses.dataclass(frozen=True)
class Tag:
    kind: str  # "#" or "@"
    value: str  # folded


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    value: str


@dataclasses.dataclass(frozen=True)
class Not:
    child: Any


@dataclasses.dataclass(frozen=True)
class And:
    children: tuple


@dataclasses.dataclass(frozen=True)
class Or:
    children: tuple


@dataclasses.dataclass(frozen=True)
class Near:
    left: Term
    right: Term
    distance: int


# --- lexer ------------------------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class Token:
    kind: str  # WORD PHRASE LPAREN RPAREN AND OR NOT MINUS NEAR FIELD TAG END
    value: str
    position: int
    extra: Any = None


_SPECIAL = set('()"')
_NEAR_RE = re.compile(r"NEAR/(\d+)")


def _tokens(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            out.append(Token("LPAREN", ch, i))
            i += 1
            continue
        if ch == ")":
            out.append(Token("RPAREN", ch, i))
            i += 1
            continue
        if ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError(gettext_noop("unterminated phrase"), i, gettext_noop('a closing quote (")'))
            out.append(Token("PHRASE", text[i + 1:end], i))
            i = end + 1
            continue
        if ch == "-" and (i + 1 < n and not text[i + 1].isspace()) and (not out or out[-1].kind != "WORD" or text[i - 1].isspace()):
            out.append(Token("MINUS", ch, i))
            i += 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in _SPECIAL:
            i += 1
        raw = text[start:i]
        if raw in ("AND", "OR", "NOT"):
            out.append(Token(raw, raw, start))
            continue
        near = _NEAR_RE.fullmatch(raw)
        if near:
            out.append(Token("NEAR", raw, start, int(near.group(1))))
            continue
        if raw.startswith("NEAR/") or raw == "NEAR":
            raise QuerySyntaxError(gettext_noop("NEAR needs a distance"), start, gettext_noop("NEAR/n with n a number, e.g. NEAR/3"))
        name, colon, value = raw.partition(":")
        if colon and name.isascii() and name.isalpha():
            lowered = name.lower()
            if lowered not in FIELDS and value.startswith("/"):
                out.append(Token("WORD", raw, start))
                continue
            if lowered not in FIELDS:
                raise QuerySyntaxError(gettext_noop("unknown field “%(name)s”"), start, gettext_noop("one of %(fields)s"), name=name, fields=", ".join(f + ":" for f in FIELDS))
            if not value and i < n and text[i] == '"':
                end = text.find('"', i + 1)
                if end < 0:
                    raise QuerySyntaxError(gettext_noop("unterminated phrase"), i, gettext_noop('a closing quote (")'))
                value = text[i + 1:end]
                i = end + 1
            if not value.strip():
                raise QuerySyntaxError(gettext_noop("%(field)s: needs a value"), start + len(name) + 1, gettext_noop("a value after %(field)s:"), field=lowered)
            out.append(Token("FIELD", lowered, start, value.strip()))
            continue
        if raw[0] in "#@":
            out.append(Token("TAG", raw, start))
            continue
        out.append(Token("WORD", raw, start))
    out.append(Token("END", "", n))
    return out


# --- parser -----------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.terms = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Any:
        if self.peek().kind == "END":
            raise QuerySyntaxError(gettext_noop("empty query"), 0, gettext_noop("a term"))
        node = self.parse_or(0)
        token = self.peek()
        if token.kind != "END":
            if token.kind == "RPAREN":
                raise QuerySyntaxError(gettext_noop("unbalanced ')'"), token.position, gettext_noop("a term or the end of the query"))
            raise QuerySyntaxError(gettext_noop("unexpected “%(token)s”"), token.position, gettext_noop("a term or the end of the query"), token=token.value)
        return node

    def parse_or(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise QuerySyntaxError(gettext_noop("query nested too deeply"), self.peek().position, gettext_noop("at most %(n)s levels of parentheses"), n=MAX_DEPTH)
        children = [self.parse_and(depth)]
        while self.peek().kind == "OR":
            self.take()
            children.append(self.parse_and(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self, depth: int) -> Any:
        children = [self.parse_unary(depth)]
        while True:
            token = self.peek()
            if token.kind == "AND":
                self.take()
                children.append(self.parse_unary(depth))
            elif token.kind in ("WORD", "PHRASE", "LPAREN", "NOT", "MINUS", "FIELD", "TAG"):
                children.append(self.parse_unary(depth))
            else:
                break
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self, depth: int) -> Any:
        token = self.peek()
        if token.kind in ("NOT", "MINUS"):
            self.take()
            if depth > MAX_DEPTH:
                raise QuerySyntaxError(gettext_noop("query nested too deeply"), token.position, gettext_noop("fewer NOT"))
            return Not(self.parse_unary(depth + 1))
        return self.parse_near(depth)

    def parse_near(self, depth: int) -> Any:
        left = self.parse_atom(depth)
        while self.peek().kind == "NEAR":
            token = self.take()
            if not isinstance(left, Term):
                raise QuerySyntaxError(gettext_noop("NEAR joins two words or phrases"), token.position, gettext_noop("a word or a phrase before NEAR"))
            if token.extra > MAX_NEAR:
                raise QuerySyntaxError(gettext_noop("NEAR distance %(n)s is too large"), token.position, gettext_noop("at most NEAR/%(max)s"), n=token.extra, max=MAX_NEAR)
            right_token = self.peek()
            right = self.parse_atom(depth)
            if not isinstance(right, Term):
                raise QuerySyntaxError(gettext_noop("NEAR joins two words or phrases"), right_token.position, gettext_noop("a word or a phrase after NEAR"))
            left = Near(left, right, token.extra)
            if self.peek().kind == "NEAR":
                raise QuerySyntaxError(gettext_noop("NEAR cannot be chained"), self.peek().position, gettext_noop("AND between two NEAR groups"))
        return left

    def count(self, token: Token) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QuerySyntaxError(gettext_noop("too many terms"), token.position, gettext_noop("at most %(n)s terms"), n=MAX_TERMS)

    def parse_atom(self, depth: int) -> Any:
        token = self.take()
        kind = token.kind
        if kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise QuerySyntaxError(gettext_noop("empty parentheses"), self.peek().position, gettext_noop("a term"))
            node = self.parse_or(depth + 1)
            closing = self.take()
            if closing.kind != "RPAREN":
                raise QuerySyntaxError(gettext_noop("missing ')'"), closing.position, "')'")
            return node
        if kind == "PHRASE":
            self.count(token)
            found = tuple(words(token.value))
            if not found:
                raise QuerySyntaxError(gettext_noop("phrase without words"), token.position, gettext_noop("letters or digits inside the quotes"))
            return Term(found)
        if kind == "WORD":
            self.count(token)
            raw = token.value
            prefix = raw.endswith("*")
            found = tuple(words(raw))
            if not found:
                raise QuerySyntaxError(gettext_noop("“%(token)s” has no letters or digits"), token.position, gettext_noop("a word"), token=raw)
            if prefix and len(found[-1]) < 2:
                raise QuerySyntaxError(gettext_noop("prefix too short"), token.position, gettext_noop("at least 2 letters before *"))
            return Term(found, prefix)
        if kind == "TAG":
            self.count(token)
            value = token.value[1:]
            pattern = HASHTAG_RE if token.value[0] == "#" else MENTION_RE
            match = pattern.fullmatch(token.value)
            if not match:
                what = gettext_noop("invalid hashtag “%(token)s”") if token.value[0] == "#" else gettext_noop("invalid account name “%(token)s”")
                raise QuerySyntaxError(what, token.position, gettext_noop("%(sign)s followed by letters or digits"), token=token.value, sign=token.value[0])
            value = fold(value) if token.value[0] == "#" else fold_handle(value)
            return Tag(token.value[0], value)
        if kind == "FIELD":
            self.count(token)
            name, value = token.value, token.extra
            if name == "sentiment":
                value = value.lower()
                if value not in SENTIMENTS:
                    raise QuerySyntaxError(gettext_noop("unknown sentiment “%(value)s”"), token.position, gettext_noop("negative, neutral or positive"), value=value)
            elif name == "lang":
                value = value.lower()
                if not re.fullmatch(r"[a-z]{2,3}", value):
                    raise QuerySyntaxError(gettext_noop("invalid language “%(value)s”"), token.position, gettext_noop("a 2-letter language code such as fr"), value=value)
            elif name == "from":
                value = fold_handle(value)
                if not value:
                    raise QuerySyntaxError(gettext_noop("from: needs an account"), token.position, "from:handle")
            elif name == "source":
                value = value.lower()
            return Field(name, value)
        if kind == "END":
            raise QuerySyntaxError(gettext_noop("unexpected end of query"), token.position, gettext_noop("a term, a phrase or '('"))
        if kind == "RPAREN":
            raise QuerySyntaxError(gettext_noop("unexpected ')'"), token.position, gettext_noop("a term, a phrase or '('"))
        raise QuerySyntaxError(gettext_noop("unexpected “%(token)s”"), token.position, gettext_noop("a term, a phrase or '('"), token=token.value)


def parse(text: str) -> Any:
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(gettext_noop("query too long"), MAX_QUERY_CHARS, gettext_noop("at most %(n)s characters"), n=MAX_QUERY_CHARS)
    if "\x00" in text:
        raise QuerySyntaxError(gettext_noop("NUL character"), text.index("\x00"), gettext_noop("printable text"))
    return _Parser(text).parse()


# --- documents and the Python matcher ---------------------------------------------------------

def _marked_words(lowered: str, marker: str, pattern: re.Pattern) -> frozenset[str]:
    """The folded words after ``marker`` (hashtags, mentions) in lower-cased text."""
    return frozenset(fold_word(word) for word in pattern.findall(lowered)) if marker in lowered else _EMPTY


class Doc:
    """What the matcher looks at in a post: computed once per post, shared by all searches."""

    __slots__ = ("tokens", "token_set", "language", "sentiment", "platform", "handle", "lists",
                 "_lowered", "_hashtags", "_mentions", "_by_stem")

    def __init__(self, text: str, *, language: str = "", sentiment: str = "", platform: str = "", handle: str = "",
                 lists: frozenset[str] = frozenset()) -> None:
        lowered = text.lower()
        tokens = lowered_words(lowered)
        self.tokens = tokens
        self.token_set = frozenset(tokens)
        # Hashtags and mentions are found when a search asks for them (most posts are never
        # tested against one).
        self._lowered = lowered
        self._hashtags: frozenset[str] | None = None
        self._mentions: frozenset[str] | None = None
        self.language = (language or "").lower()
        self.sentiment = sentiment or ""
        self.platform = (platform or "").lower()
        self.handle = fold_handle(handle or "")
        self.lists = lists  # folded names of the author lists the author is in
        self._by_stem: dict[str, list[str]] | None = None

    @property
    def hashtags(self) -> frozenset[str]:
        if self._hashtags is None:
            self._hashtags = _marked_words(self._lowered, "#", HASHTAG_RE)
        return self._hashtags

    @property
    def mentions(self) -> frozenset[str]:
        if self._mentions is None:
            self._mentions = _marked_words(self._lowered, "@", MENTION_RE)
        return self._mentions

    def has_prefix(self, prefix: str) -> bool:
        """Whether a word starts with ``prefix`` (at least ``STEM`` letters, as queries require).

        A post is often tested against many prefix searches (all those anchored on
        ``sentiment:negative``, say): its words are grouped by their first letters once, and each
        test then looks at a word or two instead of all of them."""
        if len(prefix) < STEM:
            return any(token.startswith(prefix) for token in self.token_set)
        if self._by_stem is None:
            table: dict[str, list[str]] = {}
            for token in self.token_set:
                table.setdefault(token[:STEM], []).append(token)
            self._by_stem = table
        return any(token.startswith(prefix) for token in self._by_stem.get(prefix[:STEM], ()))

    def positions(self, word: str) -> list[int]:
        """Indexes of ``word`` among the tokens. Scanned by ``list.count`` and ``list.index``, in C:
        a post is tested for a phrase or two at most, and a table of every word's positions,
        built in Python, cost more than the tests it served."""
        tokens = self.tokens
        found: list[int] = []
        start = -1
        for _ in range(tokens.count(word)):
            start = tokens.index(word, start + 1)
            found.append(start)
        return found

    def spans(self, term: Term) -> list[tuple[int, int]]:
        """(first, last) token index of every occurrence of ``term``."""
        first, length = term.words[0], len(term.words)
        if length == 1 and not term.prefix:
            return [(i, i) for i in self.positions(first)]
        out = []
        tokens = self.tokens
        starts = range(len(tokens)) if (length == 1 and term.prefix) else self.positions(first)
        for i in starts:
            if i + length > len(tokens):
                continue
            ok = True
            for k, word in enumerate(term.words):
                token = tokens[i + k]
                if k == length - 1 and term.prefix:
                    if not token.startswith(word):
                        ok = False
                        break
                elif token != word:
                    ok = False
                    break
            if ok:
                out.append((i, i + length - 1))
        return out


Predicate = Callable[[Doc], bool]


def _compile(node: Any) -> Predicate:
    if isinstance(node, Term):
        if len(node.words) == 1 and not node.prefix:
            word = node.words[0]
            return lambda doc: word in doc.token_set
        if len(node.words) == 1:
            prefix = node.words[0]
            return lambda doc: doc.has_prefix(prefix)
        needed = frozenset(node.words[:-1] if node.prefix else node.words)
        return lambda doc: needed <= doc.token_set and bool(doc.spans(node))
    if isinstance(node, Tag):
        value = node.value
        if node.kind == "#":
            return lambda doc: value in doc.hashtags
        return lambda doc: value in doc.mentions
    if isinstance(node, Field):
        value = node.value
        if node.name == "lang":
            return lambda doc: doc.language == value
        if node.name == "sentiment":
            return lambda doc: doc.sentiment == value
        if node.name == "source":
            return lambda doc: doc.platform == value
        if node.name == "from":
            return lambda doc: doc.handle == value
        if node.name == "list":
            key = value.lower()
            return lambda doc: key in doc.lists
    if isinstance(node, Not):
        inner = _compile(node.child)
        return lambda doc: not inner(doc)
    # Two operands are the usual case (``word lang:fr``, ``pref* sentiment:negative``, ``a -b``):
    # a plain ``and``/``or`` spares a generator per test, a good part of a cheap predicate's cost.
    if isinstance(node, And):
        parts = [_compile(child) for child in node.children]
        if len(parts) == 2:
            first, second = parts
            return lambda doc: first(doc) and second(doc)
        return lambda doc: all(part(doc) for part in parts)
    if isinstance(node, Or):
        parts = [_compile(child) for child in node.children]
        if len(parts) == 2:
            first, second = parts
            return lambda doc: first(doc) or second(doc)
        return lambda doc: any(part(doc) for part in parts)
    if isinstance(node, Near):
        left_first, right_first = _compile(node.left), _compile(node.right)
        distance = node.distance

        def near(doc: Doc) -> bool:
            if not (left_first(doc) and right_first(doc)):
                return False
            for a_start, a_end in doc.spans(node.left):
                for b_start, b_end in doc.spans(node.right):
                    if max(b_start - a_end, a_start - b_end) - 1 <= distance:
                        return True
            return False

        return near
    raise TypeError(f"unknown node {node!r}")


def anchors(node: Any) -> frozenset | None:
    """Keys such that a matching post always has one of them; None if no such set is known.

    Keys are words (str) or ("lang"|"sentiment"|"source"|"from"|"#"|"@", value) pairs.
    """
    if isinstance(node, Term):
        if len(node.words) == 1 and node.prefix:
            return None
        candidates = node.words[:-1] if node.prefix else node.words
        return frozenset({max(candidates, key=len)})
    if isinstance(node, Tag):
        return frozenset({(node.kind, node.value)})
    if isinstance(node, Field):
        if node.name == "list":
            return None
        return frozenset({(node.name, node.value)})
    if isinstance(node, Not):
        return None
    if isinstance(node, Near):
        return anchors(node.left)
    if isinstance(node, And):
        best = None
        for child in node.children:
            found = anchors(child)
            if found is not None and (best is None or _anchor_cost(found) < _anchor_cost(best)):
                best = found
        return best
    if isinstance(node, Or):
        union: set = set()
        for child in node.children:
            found = anchors(child)
            if found is None:
                return None
            union |= found
        return frozenset(union)
    return None


def _anchor_cost(keys: frozenset) -> float:
    # Field values (a language, a sentiment) are shared by many posts: prefer words and tags.
    return sum(1000 if isinstance(key, tuple) and key[0] in ("lang", "sentiment", "source") else (10 - min(len(key), 9) if isinstance(key, str) else 1) for key in keys)


def list_names(node: Any) -> set[str]:
    if isinstance(node, Field):
        return {node.value.lower()} if node.name == "list" else set()
    if isinstance(node, Not):
        return list_names(node.child)
    if isinstance(node, And | Or):
        return set().union(*(list_names(child) for child in node.children))
    return set()


@dataclasses.dataclass
class Compiled:
    text: str
    tree: Any
    predicate: Predicate
    anchors: frozenset | None
    lists: set[str]

    def matches(self, doc: Doc) -> bool:
        return self.predicate(doc)


def compile_query(text: str) -> Compiled:
    tree = parse(text)
    return Compiled(text, tree, _compile(tree), anchors(tree), list_names(tree))


# --- the live matcher: hundreds of saved searches against each new post -----------------------

class Matcher:
    """Saved searches indexed by their anchor keys: a post is evaluated only against the searches
    one of whose anchors it carries (plus the few that have none)."""

    def __init__(self, searches: Iterable[tuple[int, Compiled]]) -> None:
        self.index: dict[Any, list[tuple[int, Compiled]]] = {}
        self.always: list[tuple[int, Compiled]] = []
        self.lists: set[str] = set()
        for search_id, compiled in searches:
            self.lists |= compiled.lists
            if compiled.anchors is None:
                self.always.append((search_id, compiled))
            else:
                for key in compiled.anchors:
                    self.index.setdefault(key, []).append((search_id, compiled))
        self.words = frozenset(key for key in self.index if isinstance(key, str))
        self.field_kinds = frozenset(key[0] for key in self.index if isinstance(key, tuple))

    def __len__(self) -> int:
        return len({sid for entries in self.index.values() for sid, _ in entries}) + len(self.always)

    def match(self, doc: Doc) -> list[int]:
        found: list[int] = []
        seen: set[int] = set()
        index = self.index
        keys = self.words.intersection(doc.token_set)
        if self.field_kinds:
            keys = [*keys, *_field_keys(doc, self.field_kinds)]
        for key in keys:
            entries = index.get(key)
            if entries is None:
                continue
            for search_id, compiled in entries:
                if search_id not in seen:
                    seen.add(search_id)
                    if compiled.predicate(doc):
                        found.append(search_id)
        for search_id, compiled in self.always:
            if compiled.predicate(doc):
                found.append(search_id)
        return found


def _field_keys(doc: Doc, kinds: frozenset[str]) -> list:
    """The document's non-word keys, of the kinds some search is indexed by."""
    keys: list = []
    if "#" in kinds:
        keys += [("#", tag) for tag in doc.hashtags]
    if "@" in kinds:
        keys += [("@", mention) for mention in doc.mentions]
    for kind, value in (("lang", doc.language), ("sentiment", doc.sentiment), ("source", doc.platform), ("from", doc.handle)):
        if value and kind in kinds:
            keys.append((kind, value))
    return keys


# --- historical search: full-text pre-filter + SQL filters ------------------------------------

def _fts_quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _ts_word(word: str) -> str:
    # Words are runs of letters and digits: nothing a tsquery could read as an operator; these
    # characters are dropped all the same, as they would end or escape a quoted lexeme.
    return word.replace("'", "").replace("\\", "")


def _tag_words(node: Tag) -> list[str]:
    return WORD_RE.findall(node.value)


def prefilter(node: Any, dialect: str) -> str | None:
    """A full-text expression every matching post satisfies (a superset; None if there is none).

    Only positive words go to the index; NOT is left to the re-check. Phrases stay phrases for
    FTS5 (it tokenises like the matcher) and become the AND of their adjacent word pairs on
    PostgreSQL; NEAR becomes the AND of its sides everywhere.
    """
    if isinstance(node, Term):
        parts = list(node.words)
        if dialect == "sqlite":
            # FTS5 splits words like the matcher (letters and digits, accents folded): a phrase
            # is a phrase there too, which keeps re-checks few for common word pairs.
            phrase = '"' + " ".join(w.replace('"', '""') for w in parts) + '"'
            return phrase + "*" if node.prefix else phrase
        # The index holds the words, split like the matcher splits them, and each pair of
        # adjacent words (ingest migration 0006): a phrase is the AND of its pairs.
        return phrase_tsquery([_ts_word(w) for w in parts], node.prefix)
    if isinstance(node, Tag):
        parts = _tag_words(node)
        if not parts:
            return None
        return prefilter(Term(tuple(parts)), dialect)
    if isinstance(node, Near):
        return prefilter(And((node.left, node.right)), dialect)
    if isinstance(node, And):
        found = [expr for expr in (prefilter(child, dialect) for child in node.children) if expr]
        if not found:
            return None
        joiner = " AND " if dialect == "sqlite" else " & "
        return found[0] if len(found) == 1 else "(" + joiner.join(found) + ")"
    if isinstance(node, Or):
        found = [prefilter(child, dialect) for child in node.children]
        if any(expr is None for expr in found):
            return None
        joiner = " OR " if dialect == "sqlite" else " | "
        return "(" + joiner.join(found) + ")"
    return None


def sql_filters(node: Any) -> list[Field]:
    """Field conditions every match satisfies (top-level AND), pushed down to SQL as they are."""
    if isinstance(node, Field) and node.name != "list":
        return [node]
    if isinstance(node, And):
        return [found for child in node.children for found in sql_filters(child)]
    return []
