"""Historical search with the query language: full-text pre-filter + SQL filters, re-checked.

The full-text index finds a superset of the matches (only positive words and phrases go to it,
NEAR becomes AND, NOT is left out), SQL filters narrow it by language, sentiment, platform and
author, and every candidate is re-checked with the very predicate live matching uses, so an ad-hoc
search and the live matcher always give the same answer for the same post.
"""

from __future__ import annotations

from django.db import connection

from veille.ingest import sql
from veille.ingest.search import meta_lexemes, meta_term
from veille.listening.matching import list_memberships
from veille.listening.query import Compiled, Doc, prefilter, sql_filters

# How many candidates a search may re-check before it stops (a query made only of NOT or of
# rare-in-text conditions over a huge history): the page says the answer may be partial.
MAX_SCANNED = 50_000


class SearchResult(list):
    partial: bool = False
    scanned: int = 0


def _conditions(compiled: Compiled) -> tuple[list[str], list]:
    where: list[str] = []
    params: list = []
    for field in sql_filters(compiled.tree):
        if field.name == "lang":
            where.append("LOWER(p.language) = %s")
            params.append(field.value)
        elif field.name == "sentiment":
            where.append("p.sentiment = %s")
            params.append(field.value)
        elif field.name == "source":
            where.append("LOWER(s.platform) = %s")
            params.append(field.value)
        elif field.name == "from":
            where.append("LOWER(a.handle) IN (%s, %s)")
            params += [field.value, "@" + field.value]
    return where, params


def _fts_match(text: str | None, compiled: Compiled) -> str | None:
    """The FTS5 query (SQLite): the words in the text column, and the sentiment and language
    filters as words of the meta column, so the index answers both; None if it can answer neither."""
    terms = [f"text : ({text})"] if text else []
    for field in sql_filters(compiled.tree):
        if field.name in ("sentiment", "lang"):
            term = meta_term("s" if field.name == "sentiment" else "l", field.value)
            if term:
                terms.append(term)
    return " AND ".join(f"({term})" for term in terms) or None


def _tsquery(text: str | None, compiled: Compiled) -> str | None:
    """The ``tsquery`` (PostgreSQL): the words, and the sentiment and language filters as the
    ``s:`` / ``l:`` lexemes of the posts' ``words``; None if the index can answer neither."""
    terms = [text] if text else []
    for field in sql_filters(compiled.tree):
        if field.name == "sentiment":
            terms += [f"'{lexeme}'" for lexeme in meta_lexemes(field.value, None)]
        elif field.name == "lang":
            terms += [f"'{lexeme}'" for lexeme in meta_lexemes(None, field.value)]
    return " & ".join(terms) or None


def search_ids(workspace_id: int, compiled: Compiled, *, limit: int = 20, before_id: int | None = None,
               after_id: int | None = None, max_scanned: int = MAX_SCANNED) -> SearchResult:
    """Ids of the workspace's posts matching ``compiled``, newest first."""
    postgres = connection.vendor == "postgresql"
    text = prefilter(compiled.tree, "postgres" if postgres else "sqlite")
    where, params = _conditions(compiled)
    where = ["p.workspace_id = %s", *where]
    params = [workspace_id, *params]
    if after_id is not None:
        where.append("p.id > %s")
        params.append(after_id)
    base = "FROM ingest_post p JOIN ingest_author a ON a.id = p.author_id JOIN sources_source s ON s.id = p.source_id"
    tsquery = _tsquery(text, compiled) if postgres else None
    if tsquery:
        where.append("p.words @@ %s::tsquery")
        params.append(tsquery)
    match = None if postgres else _fts_match(text, compiled)
    if match:
        base = "FROM ingest_post_fts f JOIN ingest_post p ON p.id = f.rowid " + base[len("FROM ingest_post p "):]
        where.insert(0, "ingest_post_fts MATCH %s")
        params.insert(0, match)
    order_column = "f.rowid" if match else "p.id"
    memberships = list_memberships(workspace_id, compiled.lists)
    result = SearchResult()
    select = "SELECT p.id, p.text, p.language, p.sentiment, s.platform, a.handle " + base + " WHERE " + " AND ".join(where)

    def check(rows: list[tuple]) -> None:
        for post_id, body, language, sentiment, platform, handle in rows:
            folded_handle = (handle or "").lstrip("@").lower()
            doc = Doc(body, language=language, sentiment=sentiment, platform=platform, handle=folded_handle,
                      lists=memberships.get(folded_handle, frozenset()))
            if compiled.predicate(doc):
                result.append(post_id)
                if len(result) >= limit:
                    return
        result.scanned += len(rows)

    if tsquery:
        return _postgres_windows(select, params, check, result, limit=limit, before_id=before_id, after_id=after_id,
                                 max_scanned=max_scanned)
    cursor_id = before_id
    chunk = max(limit * 2, 50)
    while len(result) < limit:
        statement = select + (f" AND {order_column} < %s" if cursor_id is not None else "") + f" ORDER BY {order_column} DESC LIMIT %s"
        rows = sql.execute(statement, [*params, *([cursor_id] if cursor_id is not None else []), chunk])
        check(rows)
        if len(rows) < chunk:
            break
        cursor_id = rows[-1][0]
        if result.scanned >= max_scanned:
            result.partial = True
            break
        chunk = min(chunk * 4, 2000)
    return result


FIRST_WINDOW = 20_000


def _postgres_windows(select: str, params: list, check, result: SearchResult, *, limit: int, before_id: int | None,
                      after_id: int | None, max_scanned: int) -> SearchResult:
    """Newest first through id windows of growing width, each read through the full-text index.

    Left to itself, PostgreSQL walks the primary key backwards and tests the words of every
    post until it has enough (seconds for a rare word); on an id window, with plain index scans
    off, it intersects the word index with the id range instead and sorts the few candidates.
    """
    chunk = max(limit * 2, 50)
    with connection.cursor() as cursor:
        if before_id is not None:
            hi = before_id - 1
        else:
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM ingest_post")
            hi = cursor.fetchone()[0]
        floor = after_id or 0
        span = FIRST_WINDOW
        cursor.execute("SET enable_indexscan = off")
        try:
            while len(result) < limit and hi > floor:
                lo = max(floor, hi - span)
                cursor.execute(select + " AND p.id > %s AND p.id <= %s ORDER BY p.id DESC LIMIT %s", [*params, lo, hi, chunk])
                rows = cursor.fetchall()
                check(rows)
                if len(rows) == chunk:
                    hi = rows[-1][0] - 1  # more candidates in this window
                else:
                    hi = lo
                    # No candidate at all among the newest posts: the words are rare, and one
                    # look at the whole rest costs less than reading their index entries again
                    # for each wider window.
                    span = hi - floor if not rows else span * 4
                if result.scanned >= max_scanned:
                    result.partial = len(result) < limit
                    break
        finally:
            cursor.execute("RESET enable_indexscan")
    return result
