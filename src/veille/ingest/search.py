"""Full-text search behind one interface: SQLite FTS5 or PostgreSQL ``tsvector`` + GIN.

Both are accent- and case-insensitive: FTS5 through its ``unicode61 remove_diacritics 2``
tokenizer, PostgreSQL through ``veille_fold()`` (lower + accent folding, created by the
migration) applied to the stored text and to the query alike. On PostgreSQL one GIN expression
index (``post_words``) holds the words of every post, split on each non-alphanumeric character
as FTS5 and the listening matcher split them; the search page and listening both query it.
"""

from __future__ import annotations

import re

from django.db import connection

# A word as the index sees it: letters and digits only ("e-mail" is two words, "box_2" too).
WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words_tsvector(column: str = "text") -> str:
    """The expression of the ``post_words`` index (PostgreSQL); a query must repeat it exactly."""
    return f"to_tsvector('simple'::regconfig, regexp_replace(veille_fold({column}), '[^[:alnum:]]+', ' ', 'g'))"


MAX_QUERY_WORDS = 16

# Accent folding table shared by the PostgreSQL function (see migrations) and Python code.
FOLD_FROM = "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňŉòóôõöøōŏőœŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżžß"
FOLD_TO = "aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnnoooooooooorrrsssstttuuuuuuuuuuwyyyzzzs"
assert len(FOLD_FROM) == len(FOLD_TO), "accent folding table is misaligned"


_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold(text: str) -> str:
    """Lowercase and strip accents exactly as ``veille_fold()`` does in PostgreSQL."""
    return text.lower().translate(_FOLD_TABLE)


def search_meta(sentiment: str | None, language: str | None) -> str:
    """The ``meta`` column of a post in SQLite's FTS5 index: its sentiment and language as words
    (``snegative lfr``), so a search filtered on them is answered by the index itself instead of
    by reading every candidate post. ``SEARCH_META_SQL`` computes the same in SQL."""
    return f"s{sentiment or ''} l{(language or '').lower()}"


# search_meta() in SQL, over a row named ``{row}`` (new / old in a trigger, or a table alias).
SEARCH_META_SQL = "'s' || COALESCE({row}.sentiment, '') || ' l' || LOWER(COALESCE({row}.language, ''))"
META_VALUE = re.compile(r"^[a-z0-9]+$")


def meta_term(kind: str, value: str) -> str | None:
    """An FTS5 condition on the ``meta`` column (kind ``s``: sentiment, ``l``: language), or None
    when the value is not one word the index can hold (the SQL filter alone applies then)."""
    value = value.lower()
    return f"meta : {kind}{value}" if META_VALUE.match(value) else None


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
            tsquery = " & ".join(words[:-1] + [words[-1] + ":*"])
            sql = (
                f"SELECT id FROM ingest_post WHERE workspace_id = %s AND {words_tsvector()} @@ to_tsquery('simple', %s)"
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
