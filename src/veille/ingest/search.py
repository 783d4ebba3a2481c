"""Full-text search behind one interface: SQLite FTS5 or PostgreSQL ``tsvector`` + GIN.

Both are accent- and case-insensitive: FTS5 through its ``unicode61 remove_diacritics 2``
tokenizer, PostgreSQL through ``veille_fold()`` (lower + accent folding, created by the
migration) applied to the stored text and to the query alike. On PostgreSQL the ``words``
column of a post (GIN index ``post_words``) holds its words, split on each non-alphanumeric
character as FTS5 and the listening matcher split them, and each pair of adjacent words, so a
phrase is answered by the index (``index_words``); the search page and listening both query it.
"""

from __future__ import annotations

import re

from django.db import connection

# A word as the index sees it: letters and digits only ("e-mail" is two words, "box_2" too).
WORD = re.compile(r"[^\W_]+", re.UNICODE)


MAX_QUERY_WORDS = 16

# Accent folding table shared by the PostgreSQL function (see migrations) and Python code.
FOLD_FROM = "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňŉòóôõöøōŏőœŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżžß"
FOLD_TO = "aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnnoooooooooorrrsssstttuuuuuuuuuuwyyyzzzs"
assert len(FOLD_FROM) == len(FOLD_TO), "accent folding table is misaligned"


_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str) -> str:
    """Lowercase and strip accents exactly as ``veille_fold()`` does in PostgreSQL."""
    return text.lower().translate(_FOLD_TABLE)


# The folding table as the C word splitter takes it: the character each code point folds to.
_FOLD_BY_CODE_POINT = "".join(chr(code).translate(_FOLD_TABLE) for code in range(max(map(ord, FOLD_FROM)) + 1))


def fold_word(word: str) -> str:
    """Fold an already lower-cased word (most are ASCII and need no folding)."""
    return word if word.isascii() else word.translate(_FOLD_TABLE)


def python_words(lowered: str) -> list[str]:
    """``lowered_words`` in Python. Folding maps letters to letters, so the words can be found
    in the lower-cased text and folded one by one."""
    found = WORD.findall(lowered)
    if not lowered.isascii():
        found = [fold_word(word) for word in found]
    return found


try:
    # The same words in one pass of C, three to four times faster (a third of what matching a
    # post against the saved searches cost). Built at install where a C compiler is (setup.py).
    from veille.ingest._words import words as _c_words
except ImportError:  # pragma: no cover - depends on the machine veille was installed on
    _c_words = None


def lowered_words(lowered: str) -> list[str]:
    """The folded words of lower-cased text (``WORD.findall(fold(text))`` for ``text.lower()``),
    as the full-text indexes and the listening matcher split them."""
    if _c_words is not None:
        return _c_words(lowered, _FOLD_BY_CODE_POINT)
    return python_words(lowered)


# A sentiment or language value the indexes can hold as one word.
META_VALUE = re.compile(r"[a-z0-9]+")
# First character of a pair of words in ``index_words``: no word starts with it, so a prefix
# search (``tech*``) scans the words starting with "tech", not every pair they begin too.
PAIR = "~"
# A lexeme PostgreSQL can hold is shorter than 2,047 bytes; longer "words" are not indexed.
_MAX_LEXEME_BYTES = 2046


def index_words(text: str, sentiment: str | None = "", language: str | None = "") -> str:
    """A post's ``words`` column (PostgreSQL) as ``tsvector`` text: its folded words, each pair
    of adjacent words (``'reseau' 'mobile' '~reseau mobile'``), so that a phrase is an AND of
    pairs the index answers exactly, and its sentiment and language (``'s:negative' 'l:fr'``,
    ``meta_lexemes``), so that a search filtered on them is answered by the index too. Computed
    where posts are prepared; ``veille_words()`` (ingest migration 0006) is the same in SQL,
    for rows written by other paths and when a post is corrected."""
    lowered = text.lower()
    tokens = lowered_words(lowered)
    lexemes = set(tokens)
    lexemes.update([f"{PAIR}{a} {b}" for a, b in zip(tokens, tokens[1:])])
    if len(text) > 400:  # only a long text can hold a word too long for a lexeme
        lexemes = {lexeme for lexeme in lexemes if len(lexeme.encode()) <= _MAX_LEXEME_BYTES}
    lexemes.update(meta_lexemes(sentiment, language))
    # Lexemes are letters and digits with one space, tilde or colon: nothing to escape in quotes.
    return " ".join([f"'{lexeme}'" for lexeme in lexemes])


def meta_lexemes(sentiment: str | None, language: str | None) -> list[str]:
    """``s:<sentiment>`` and ``l:<language>`` for PostgreSQL's ``words`` (a colon never occurs in
    a word, so they cannot be confused with one); a value that is not one plain word is left out,
    and a search on it is answered by its SQL filter alone."""
    found = []
    for kind, value in (("s", sentiment or ""), ("l", (language or "").lower())):
        if META_VALUE.fullmatch(value):
            found.append(f"{kind}:{value}")
    return found


def phrase_tsquery(words: list[str], prefix: bool = False) -> str:
    """``tsquery`` text for words that must follow each other, against ``index_words``: one word
    alone, else the pairs of adjacent words (a pair is only indexed where both words are, so
    the words themselves would add nothing but the cost of reading their long posting lists)."""
    if len(words) == 1:
        return f"'{words[0]}'" + (":*" if prefix else "")
    items = [f"'{PAIR}{a} {b}'" for a, b in zip(words, words[1:])]
    if prefix:
        items[-1] += ":*"
    return items[0] if len(items) == 1 else "(" + " & ".join(items) + ")"


def search_meta(sentiment: str | None, language: str | None) -> str:
    """The ``meta`` column of a post in SQLite's FTS5 index: its sentiment and language as words
    (``snegative lfr``), so a search filtered on them is answered by the index itself instead of
    by reading every candidate post. ``SEARCH_META_SQL`` computes the same in SQL."""
    return f"s{sentiment or ''} l{(language or '').lower()}"


# search_meta() in SQL, over a row named ``{row}`` (new / old in a trigger, or a table alias).
SEARCH_META_SQL = "'s' || COALESCE({row}.sentiment, '') || ' l' || LOWER(COALESCE({row}.language, ''))"


def meta_term(kind: str, value: str) -> str | None:
    """An FTS5 condition on the ``meta`` column (kind ``s``: sentiment, ``l``: language), or None
    when the value is not one word the index can hold (the SQL filter alone applies then)."""
    value = value.lower()
    return f"meta : {kind}{value}" if META_VALUE.fullmatch(value) else None


def query_words(query: str) -> list[str]:
    return [fold(word) for word in WORD.findall(query)][:MAX_QUERY_WORDS]


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def search_post_ids(workspace_id: int, query: str, limit: int = 50, before_id: int | None = None) -> list[int]:
    """Ids of the workspace's posts containing every word of ``query``, newest first."""
    words = query_words(query)
    if not words:
        return []
    with connection.cursor() as cursor:
        if is_postgres():
            # Words are letters and digits only, so they cannot carry tsquery operators; the
            # last is a prefix.
            tsquery = " & ".join([f"'{word}'" for word in words[:-1]] + [f"'{words[-1]}':*"])
            sql = (
                "SELECT id FROM ingest_post WHERE workspace_id = %s AND words @@ %s::tsquery"
                + (" AND id < %s" if before_id else "")
                + " ORDER BY id DESC LIMIT %s"
            )
            params: list = [workspace_id, tsquery] + ([before_id] if before_id else []) + [limit]
        else:
            # Every word as a quoted FTS5 string (no operator injection); the last one as a prefix;
            # in the text column only.
            match = "text : (" + " ".join('"' + word.replace('"', '""') + '"' for word in words) + "*)"
            sql = (
                "SELECT p.id FROM ingest_post_fts f JOIN ingest_post p ON p.id = f.rowid "
                "WHERE ingest_post_fts MATCH %s AND p.workspace_id = %s"
                + (" AND p.id < %s" if before_id else "")
                + " ORDER BY f.rowid DESC LIMIT %s"
            )
            params = [match, workspace_id] + ([before_id] if before_id else []) + [limit]
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]
