"""Kinds of board column, pluggable: another app registers its own (the care app registers its
queues) with ``register(ColumnKind subclass instance)``.

A kind of post column answers one question: which posts of the workspace belong to a column,
newest first, between two ids; the board renders them and its stream sends new ones.

A kind that shows something else (care conversations) sets ``shows_posts = False`` and renders
its own body (``render_body``); the board stream re-sends that body whenever ``version`` changes,
checking when the live bus carries one of ``live_types`` for the workspace (and every few
seconds regardless, for writers in other processes). Such kinds also say what can be added
(``choices``) and how a choice becomes a column (``configure``)."""

from __future__ import annotations

from django.db.models import Q
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from veille.ingest.models import Author, Post
from veille.listening.models import AuthorList, AuthorListMember, Column, SavedSearch, SearchMatch
from veille.listening.query import QuerySyntaxError, compile_query
from veille.listening.search import search_ids

UNREAD_CAP = 99


class ColumnKind:
    key = ""
    label = ""
    shows_posts = True
    live_types: tuple[str, ...] = ()

    def is_valid(self, column: Column, workspace_id: int, user_id: int) -> bool:
        return True

    def choices(self, workspace_id: int, user_id: int) -> list[tuple[str, str]]:
        """(target, label) pairs offered in "Add a column" (for kinds registered by other apps)."""
        return []

    def configure(self, target: str, workspace_id: int, user_id: int) -> tuple[str, dict] | None:
        """The title and config of a new column for ``target``, or None when it is not valid."""
        return None

    def render_body(self, column: Column, request: HttpRequest) -> str:
        """The column's content, rendered and escaped (kinds that do not show posts)."""
        raise NotImplementedError

    def version(self, column: Column, workspace_id: int) -> str:
        """Changes whenever ``render_body`` would show something else (kinds that do not show posts)."""
        return ""

    def post_ids(self, column: Column, workspace_id: int, *, after_id: int | None = None, upto_id: int | None = None,
                 before_id: int | None = None, limit: int = 30) -> list[int]:
        raise NotImplementedError

    def unread(self, column: Column, workspace_id: int) -> int:
        return len(self.post_ids(column, workspace_id, after_id=column.last_seen_id, limit=UNREAD_CAP + 1))


def _window(queryset, field: str, after_id, upto_id, before_id):
    if after_id is not None:
        queryset = queryset.filter(**{f"{field}__gt": after_id})
    if upto_id is not None:
        queryset = queryset.filter(**{f"{field}__lte": upto_id})
    if before_id is not None:
        queryset = queryset.filter(**{f"{field}__lt": before_id})
    return queryset


class SearchColumn(ColumnKind):
    key = "search"
    label = _("Saved search")

    def is_valid(self, column, workspace_id, user_id):
        return SavedSearch.objects.filter(pk=column.config.get("search_id"), workspace_id=workspace_id).exists()

    def post_ids(self, column, workspace_id, *, after_id=None, upto_id=None, before_id=None, limit=30):
        matches = SearchMatch.objects.filter(search_id=column.config.get("search_id"), search__workspace_id=workspace_id)
        matches = _window(matches, "post_id", after_id, upto_id, before_id)
        return list(matches.order_by("-post_id").values_list("post_id", flat=True)[:limit])


def visible_lists(workspace_id: int, user_id: int):
    return AuthorList.objects.filter(Q(is_private=False) | Q(owner_id=user_id), workspace_id=workspace_id)


class ListColumn(ColumnKind):
    key = "list"
    label = _("Author list")

    def is_valid(self, column, workspace_id, user_id):
        return visible_lists(workspace_id, user_id).filter(pk=column.config.get("list_id")).exists()

    def post_ids(self, column, workspace_id, *, after_id=None, upto_id=None, before_id=None, limit=30):
        # The column belongs to one user's board: a private list there is that user's own.
        handles = list(AuthorListMember.objects.filter(
            author_list_id=column.config.get("list_id"), author_list__workspace_id=workspace_id,
        ).filter(Q(author_list__is_private=False) | Q(author_list__owner_id=column.board.user_id)).values_list("handle", flat=True))
        if not handles:
            return []
        variants = handles + ["@" + h for h in handles]
        # Handles compare without case (the list keeps them folded); bounded by the workspace's authors.
        author_ids = list(Author.objects.filter(workspace_id=workspace_id).annotate(folded=Lower("handle"))
                          .filter(folded__in=variants).values_list("id", flat=True))
        if not author_ids:
            return []
        posts = Post.objects.filter(workspace_id=workspace_id, author_id__in=author_ids)
        posts = _window(posts, "id", after_id, upto_id, before_id)
        return list(posts.order_by("-id").values_list("id", flat=True)[:limit])


def mention_handle(account_handle: str) -> str:
    """``@AlpinaCare@mastodon.social`` → ``alpinacare``; ``alpina.bsky.social`` stays whole."""
    handle = account_handle.strip().lstrip("@")
    return handle.split("@", 1)[0].lower()


class MentionsColumn(ColumnKind):
    key = "mentions"
    label = _("Mentions of an account")

    def _compiled(self, column, workspace_id):
        from veille.sources.models import Source

        source = Source.objects.filter(pk=column.config.get("source_id"), workspace_id=workspace_id).only("account_handle").first()
        handle = mention_handle(source.account_handle) if source else ""
        if not handle:
            return None
        try:
            return compile_query("@" + handle)
        except QuerySyntaxError:
            return None

    def is_valid(self, column, workspace_id, user_id):
        return self._compiled(column, workspace_id) is not None

    def post_ids(self, column, workspace_id, *, after_id=None, upto_id=None, before_id=None, limit=30):
        compiled = self._compiled(column, workspace_id)
        if compiled is None:
            return []
        ids = search_ids(workspace_id, compiled, limit=limit, after_id=after_id, before_id=(upto_id + 1) if upto_id is not None else before_id,
                         max_scanned=5000)
        if before_id is not None and upto_id is not None:
            ids = [i for i in ids if i < before_id]
        return list(ids)


COLUMN_KINDS: dict[str, ColumnKind] = {}


def register(kind: ColumnKind) -> None:
    COLUMN_KINDS[kind.key] = kind


for _kind in (SearchColumn(), ListColumn(), MentionsColumn()):
    register(_kind)
