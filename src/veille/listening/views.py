"""Listening pages: thin — parse, authorize, call one query or action, render."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from veille.accounts.models import Role
from veille.accounts.permissions import has_role, workspace_required
from veille.ingest import queries as post_queries
from veille.ingest.models import Post
from veille.listening import actions, care_bridge, charts, queries
from veille.listening.care_bridge import care_available
from veille.listening.columns import COLUMN_KINDS, UNREAD_CAP
from veille.listening.forms import (
    AuthorListForm,
    EventForm,
    HandlesForm,
    SavedSearchForm,
    query_error_message,
)
from veille.listening.models import (
    ALL_POSTS,
    Alert,
    AuthorList,
    Column,
    EventWindow,
    SavedSearch,
    SearchMatch,
)
from veille.listening.query import QuerySyntaxError, compile_query
from veille.listening.search import search_ids
from veille.web.live import bus, event_stream

MANAGE_LISTENING = frozenset({Role.ADMIN, Role.COMMUNITY_MANAGER, Role.ANALYST})
ACT_ON_POSTS = frozenset({Role.ADMIN, Role.COMMUNITY_MANAGER, Role.AGENT})
# Who may declare a care incident from an alert (the care desk's supervisors).
DECLARE_INCIDENTS = frozenset({Role.ADMIN, Role.COMMUNITY_MANAGER})
# Columns that are not post lists (care queues) are re-checked at least this often even when
# the live bus stays quiet: their writers may be other processes (imports, workers on SQLite).
LIVE_COLUMN_RECHECK_S = 5.0
PERIODS = (1, 7, 30, 90)
COLUMN_POSTS = 20
EXPORT_MAX_POSTS = 100_000
CSV_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


# --- helpers ----------------------------------------------------------------------------------

def _days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", 7))
    except ValueError:
        days = 7
    return days if days in PERIODS else 7


def _search(request: HttpRequest, search_id: int) -> SavedSearch:
    return get_object_or_404(SavedSearch, pk=search_id, workspace=request.workspace)


def _require(request: HttpRequest, roles) -> None:
    if not has_role(request, roles):
        raise PermissionDenied(_("Your role in this workspace does not allow this."))


def csv_cell(value) -> object:
    """A CSV cell a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value.startswith(CSV_DANGEROUS):
        return "'" + value
    return value


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(header)
        for row in rows:
            yield writer.writerow([csv_cell(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _post_context(request: HttpRequest, posts: list[Post]) -> dict:
    platforms = {post.source.platform for post in posts}
    can_act = has_role(request, ACT_ON_POSTS)
    available = can_act and care_available()
    return {"capabilities": {p: actions.capabilities(p) for p in platforms}, "can_act": can_act, "care_available": available,
            # Posts already in a care conversation show a link to it instead of "Send to care".
            "care_links": care_bridge.conversations_for_posts(request.workspace.id, [p.id for p in posts]) if available else {}}


def _alert_context(request: HttpRequest, alerts: list[Alert]) -> dict:
    return {"alert_incidents": care_bridge.incidents_for_alerts(request.workspace.id, [a.id for a in alerts]),
            "can_declare": has_role(request, DECLARE_INCIDENTS) and care_available()}


def _export_urls(search_id: int, days: int) -> dict[str, str]:
    tables = [*EXPORTS, "posts"] + ([] if search_id else ["sov"])
    if search_id:
        return {t: reverse("listening:search_export", args=[search_id, t]) + f"?days={days}" for t in tables}
    return {t: reverse("listening:export", args=[t]) + f"?days={days}" for t in tables}


def _dashboard(workspace_id: int, search_id: int, days: int, now: datetime | None = None) -> dict:
    start, end = queries.period(days, now)
    by_day = days > 2
    volume = queries.volume_series(workspace_id, search_id, start, end)
    sentiment = queries.sentiment_series(workspace_id, search_id, start, end)
    languages = queries.language_split(workspace_id, search_id, start, end)
    totals = queries.sentiment_totals(workspace_id, search_id, start, end)
    return {
        "days": days, "periods": PERIODS, "start": start, "end": end,
        "total": sum(v for _, v in volume), "sentiment_totals": totals,
        "volume_chart": charts.bars(_("Posts over time"), volume, by_day=by_day),
        "sentiment_chart": charts.stacked_share(_("Sentiment share over time"), sentiment, ("negative", "neutral", "positive", ""), by_day=by_day),
        "language_chart": charts.hbars(_("Languages"), languages[:10]),
        "languages": languages,
        "authors_volume": queries.top_authors(workspace_id, search_id, start, end, by="volume"),
        "authors_reach": queries.top_authors(workspace_id, search_id, start, end, by="reach"),
        "hashtags": queries.top_hashtags(workspace_id, search_id, start, end),
        "terms": queries.top_terms(workspace_id, search_id),
        "exports": _export_urls(search_id, days),
    }


# --- overview and saved searches --------------------------------------------------------------

@workspace_required()
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    workspace_id = request.workspace.id
    days = _days(request)
    context = _dashboard(workspace_id, ALL_POSTS, days)
    searches = list(queries.searches_of(workspace_id))
    sov = queries.share_of_voice(workspace_id, searches, context["start"], context["end"]) if searches else []
    context.update({
        "searches": searches, "sov": sov,
        "sov_chart": charts.hbars(_("Share of voice"), [(s.name, n) for s, n, _share in sov]) if sov else "",
        "alerts": queries.recent_alerts(workspace_id, limit=10), "can_manage": has_role(request, MANAGE_LISTENING),
    })
    context.update(_alert_context(request, list(context["alerts"])))
    return render(request, "listening/overview.html", context)


@workspace_required(MANAGE_LISTENING)
def search_edit(request: HttpRequest, search_id: int | None = None) -> HttpResponse:
    search = _search(request, search_id) if search_id else None
    form = SavedSearchForm(request.POST or None, instance=search)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if search is None:
                name, query = values.pop("name"), values.pop("query")
                search = actions.create_search(request.workspace, request.user, name=name, query=query, **values)
            else:
                actions.update_search(search, request.user, **values)
        except IntegrityError:
            form.add_error("name", _("A saved search with this name already exists."))
        else:
            messages.success(request, _("Saved search saved."))
            return redirect("listening:search", search.id)
    return render(request, "listening/search_form.html", {"form": form, "search": search})


@workspace_required(MANAGE_LISTENING)
@require_POST
def search_delete(request: HttpRequest, search_id: int) -> HttpResponse:
    actions.delete_search(_search(request, search_id), request.user)
    messages.success(request, _("Saved search deleted."))
    return redirect("listening:overview")


@workspace_required()
@require_GET
def search_detail(request: HttpRequest, search_id: int) -> HttpResponse:
    search = _search(request, search_id)
    workspace_id = request.workspace.id
    context = _dashboard(workspace_id, search.id, _days(request))
    try:
        before = int(request.GET.get("before", 0)) or None
    except ValueError:
        before = None
    posts = post_queries.posts_by_ids(workspace_id, queries.matching_posts(workspace_id, search.id, limit=20, before_id=before))
    context.update({
        "search": search, "posts": posts, **_post_context(request, posts),
        "alerts": queries.recent_alerts(workspace_id, limit=10, search_id=search.id),
        "events": list(search.events.all()[:10]), "can_manage": has_role(request, MANAGE_LISTENING),
        "next_before": posts[-1].id if len(posts) == 20 else None,
    })
    context.update(_alert_context(request, list(context["alerts"])))
    return render(request, "listening/search_detail.html", context)


EXPORTS = {
    "volume": (["period_start", "posts"], lambda w, s, a, b: [(t.isoformat(), n) for t, n in queries.volume_series(w, s, a, b)]),
    "sentiment": (["period_start", "negative", "neutral", "positive", "unknown"],
                  lambda w, s, a, b: [(t.isoformat(), v["negative"], v["neutral"], v["positive"], v[""]) for t, v in queries.sentiment_series(w, s, a, b)]),
    "languages": (["language", "posts"], lambda w, s, a, b: queries.language_split(w, s, a, b)),
    "authors_volume": (["handle", "name", "platform", "followers", "posts"],
                       lambda w, s, a, b: [(x["handle"], x["name"], x["platform"], x["followers"], x["posts"]) for x in queries.top_authors(w, s, a, b, by="volume", limit=100)]),
    "authors_reach": (["handle", "name", "platform", "followers", "posts"],
                      lambda w, s, a, b: [(x["handle"], x["name"], x["platform"], x["followers"], x["posts"]) for x in queries.top_authors(w, s, a, b, by="reach", limit=100)]),
    "hashtags": (["hashtag", "posts"], lambda w, s, a, b: [("#" + t, n) for t, n in queries.top_hashtags(w, s, a, b, limit=100)]),
    "terms": (["term", "posts"], lambda w, s, a, b: queries.top_terms(w, s, limit=100)),
}


@workspace_required()
@require_GET
def export(request: HttpRequest, table: str, search_id: int | None = None) -> HttpResponse:
    workspace_id = request.workspace.id
    search = _search(request, search_id) if search_id else None
    start, end = queries.period(_days(request))
    target = search.id if search else ALL_POSTS
    slug = f"search-{search.id}" if search else "workspace"
    if table == "sov":
        searches = list(queries.searches_of(workspace_id))
        rows = [(s.name, n, round(share * 100, 2)) for s, n, share in queries.share_of_voice(workspace_id, searches, start, end)]
        return csv_response(f"{slug}-share-of-voice.csv", ["search", "posts", "share_percent"], rows)
    if table == "posts":
        return _export_posts(request, search)
    if table not in EXPORTS:
        raise Http404(_("No such table."))
    header, read = EXPORTS[table]
    return csv_response(f"{slug}-{table}.csv", header, read(workspace_id, target, start, end))


def _export_posts(request: HttpRequest, search: SavedSearch | None) -> StreamingHttpResponse:
    workspace_id = request.workspace.id
    start, end = queries.period(_days(request))
    if search is not None:
        matched = SearchMatch.objects.filter(search=search).values("post_id")
        posts = Post.objects.filter(workspace_id=workspace_id, id__in=matched, created_at__gte=start, created_at__lt=end)
    else:
        posts = Post.objects.filter(workspace_id=workspace_id, created_at__gte=start, created_at__lt=end)
    posts = posts.select_related("author", "source").only(
        "id", "created_at", "text", "language", "sentiment", "url", "author__handle", "author__followers", "source__platform", "source__name",
    ).order_by("-id")[:EXPORT_MAX_POSTS]
    rows = ((p.id, p.created_at.isoformat(), p.source.platform, p.source.name, p.author.handle, p.author.followers or 0,
             p.language, p.sentiment, p.text, p.url) for p in posts.iterator(chunk_size=2000))
    slug = f"search-{search.id}" if search else "workspace"
    return csv_response(f"{slug}-posts.csv", ["id", "created_at", "platform", "source", "author", "followers", "language", "sentiment", "text", "url"], rows)


@workspace_required()
@require_GET
def adhoc_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:1000]
    posts: list[Post] = []
    error = ""
    partial = False
    if query.strip():
        try:
            compiled = compile_query(query)
        except QuerySyntaxError as exc:
            error = query_error_message(exc)
        else:
            ids = search_ids(request.workspace.id, compiled, limit=50)
            partial = ids.partial
            posts = post_queries.posts_by_ids(request.workspace.id, list(ids))
    return render(request, "listening/adhoc_search.html", {"q": query, "posts": posts, "error": error, "partial": partial,
                                                            **_post_context(request, posts)})


@workspace_required()
@require_GET
def share_of_voice(request: HttpRequest) -> HttpResponse:
    workspace_id = request.workspace.id
    all_searches = list(queries.searches_of(workspace_id))
    chosen_ids = {int(v) for v in request.GET.getlist("s") if v.isdigit()}
    chosen = [s for s in all_searches if s.id in chosen_ids] or all_searches
    days = _days(request)
    start, end = queries.period(days)
    sov = queries.share_of_voice(workspace_id, chosen, start, end)
    series = {s.id: queries.volume_series(workspace_id, s.id, start, end) for s in chosen}
    return render(request, "listening/sov.html", {
        "searches": all_searches, "chosen": {s.id for s in chosen}, "sov": sov, "days": days, "periods": PERIODS,
        "chart": charts.hbars(_("Share of voice"), [(s.name, n) for s, n, _share in sov], css="sov"),
        "series_charts": [(s, charts.bars(s.name, series[s.id], by_day=days > 2)) for s in chosen],
    })


# --- author lists -----------------------------------------------------------------------------

def _list(request: HttpRequest, list_id: int, *, edit: bool = False) -> AuthorList:
    author_list = get_object_or_404(queries.lists_of(request.workspace.id, request.user.id), pk=list_id)
    if edit and author_list.owner_id != request.user.id and not has_role(request, {Role.ADMIN, Role.COMMUNITY_MANAGER}):
        raise PermissionDenied(_("Only the owner of this list can change it."))
    return author_list


@workspace_required()
def lists(request: HttpRequest) -> HttpResponse:
    form = AuthorListForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            author_list = actions.create_list(request.workspace, request.user, name=form.cleaned_data["name"],
                                              is_private=form.cleaned_data["is_private"])
        except IntegrityError:
            form.add_error("name", _("You already have a list with this name."))
        else:
            return redirect("listening:list", author_list.id)
    visible = queries.lists_of(request.workspace.id, request.user.id).select_related("owner")
    return render(request, "listening/lists.html", {"lists": visible, "form": form})


@workspace_required()
def list_detail(request: HttpRequest, list_id: int) -> HttpResponse:
    author_list = _list(request, list_id)
    can_edit = author_list.owner_id == request.user.id or has_role(request, {Role.ADMIN, Role.COMMUNITY_MANAGER})
    form = HandlesForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        _list(request, list_id, edit=True)
        if form.is_valid():
            handles = [h for line in form.cleaned_data["handles"].replace(",", "\n").splitlines() for h in [line.strip()] if h]
            upload = form.cleaned_data.get("csv_file")
            if upload:
                handles += actions.handles_from_csv(upload.read())
            added = actions.add_to_list(author_list, request.user, handles)
            messages.success(request, ngettext("%(count)s handle added.", "%(count)s handles added.", added) % {"count": added})
            return redirect("listening:list", author_list.id)
    members = list(author_list.members.all()[:actions.MAX_LIST_MEMBERS])
    return render(request, "listening/list_detail.html", {"list": author_list, "members": members, "form": form, "can_edit": can_edit})


@workspace_required()
@require_POST
def list_remove(request: HttpRequest, list_id: int) -> HttpResponse:
    author_list = _list(request, list_id, edit=True)
    actions.remove_from_list(author_list, request.user, request.POST.get("handle", ""))
    return redirect("listening:list", author_list.id)


@workspace_required()
@require_POST
def list_delete(request: HttpRequest, list_id: int) -> HttpResponse:
    actions.delete_list(_list(request, list_id, edit=True), request.user)
    messages.success(request, _("List deleted."))
    return redirect("listening:lists")


@workspace_required()
@require_GET
def list_export(request: HttpRequest, list_id: int) -> HttpResponse:
    author_list = _list(request, list_id)
    return csv_response(f"list-{author_list.id}.csv", ["handle"], ((m.handle,) for m in author_list.members.all()))


# --- the board of live columns ----------------------------------------------------------------

def _column_posts(request: HttpRequest, column: Column, **window) -> list[Post]:
    kind = COLUMN_KINDS.get(column.kind)
    if kind is None:
        return []
    return post_queries.posts_by_ids(request.workspace.id, kind.post_ids(column, request.workspace.id, limit=COLUMN_POSTS, **window))


BUILT_IN_KINDS = ("search", "list", "mentions")


@workspace_required()
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    board = actions.board_for(request.workspace, request.user)
    columns = []
    all_posts: list[Post] = []
    for column in board.columns.all():
        kind = COLUMN_KINDS.get(column.kind)
        valid = kind is not None and kind.is_valid(column, request.workspace.id, request.user.id)
        posts = _column_posts(request, column) if valid and kind.shows_posts else []
        body = kind.render_body(column, request) if valid and not kind.shows_posts else ""
        all_posts += posts
        unread = kind.unread(column, request.workspace.id) if valid else 0
        columns.append({"column": column, "posts": posts, "body": body, "shows_posts": kind is None or kind.shows_posts,
                        "valid": valid, "unread": unread, "unread_more": unread > UNREAD_CAP})
    last_id = Post.objects.filter(workspace_id=request.workspace.id).order_by("-id").values_list("id", flat=True).first() or 0
    from veille.sources.models import Source

    return render(request, "listening/board.html", {
        "columns": columns, "last_id": last_id, **_post_context(request, all_posts),
        "searches": queries.searches_of(request.workspace.id), "lists": queries.lists_of(request.workspace.id, request.user.id),
        "sources": Source.objects.filter(workspace=request.workspace).exclude(account_handle="").order_by("name"),
        "kinds": COLUMN_KINDS,
        # Kinds registered by other apps (care queues), each with what it can follow.
        "extra_kinds": [(kind, kind.choices(request.workspace.id, request.user.id)) for key, kind in COLUMN_KINDS.items()
                        if key not in BUILT_IN_KINDS],
    })


def _board_column(request: HttpRequest, column_id: int) -> Column:
    return get_object_or_404(Column, pk=column_id, board__user=request.user, board__workspace=request.workspace)


@workspace_required()
@require_POST
def column_add(request: HttpRequest) -> HttpResponse:
    board = actions.board_for(request.workspace, request.user)
    kind = request.POST.get("kind", "")
    raw_target = request.POST.get("target", "")[:100]
    try:
        target = int(raw_target)
    except ValueError:
        target = 0
    title = ""
    config: dict = {}
    if kind == "search":
        search = queries.searches_of(request.workspace.id).filter(pk=target).first()
        if search:
            title, config = search.name, {"search_id": search.id}
    elif kind == "list":
        author_list = queries.lists_of(request.workspace.id, request.user.id).filter(pk=target).first()
        if author_list:
            title, config = author_list.name, {"list_id": author_list.id}
    elif kind == "mentions":
        from veille.sources.models import Source

        source = Source.objects.filter(workspace=request.workspace, pk=target).exclude(account_handle="").first()
        if source:
            title, config = _("Mentions of %(handle)s") % {"handle": source.account_handle}, {"source_id": source.id}
    elif kind in COLUMN_KINDS:
        configured = COLUMN_KINDS[kind].configure(raw_target, request.workspace.id, request.user.id)
        if configured:
            title, config = configured
    if not config:
        messages.error(request, _("Choose what the column follows."))
    else:
        actions.add_column(board, kind=kind, title=title, config=config)
    return redirect("listening:board")


@workspace_required()
@require_POST
def column_remove(request: HttpRequest, column_id: int) -> HttpResponse:
    actions.remove_column(_board_column(request, column_id))
    return redirect("listening:board")


@workspace_required()
@require_POST
def column_move(request: HttpRequest, column_id: int) -> HttpResponse:
    actions.move_column(_board_column(request, column_id), -1 if request.POST.get("direction") == "left" else 1)
    return redirect("listening:board")


@workspace_required()
@require_POST
def column_read(request: HttpRequest, column_id: int) -> HttpResponse:
    column = _board_column(request, column_id)
    last = Post.objects.filter(workspace_id=request.workspace.id).order_by("-id").values_list("id", flat=True).first() or 0
    actions.mark_column_read(column, last)
    return redirect("listening:board")


def _sse_column_post(request: HttpRequest, column_id: int, post: Post, caps: dict, care: dict) -> str:
    html = render_to_string("listening/_column_post.html", {"post": post, "capabilities": caps, "next": reverse("listening:board"), **care},
                            request=request)
    return f"id: {post.id}\nevent: post\ndata: {json.dumps({'column': column_id, 'id': post.id, 'html': html})}\n\n"


def _sse_column_body(column: Column, kind, request: HttpRequest) -> str:
    unread = kind.unread(column, request.workspace.id)
    data = {"column": column.id, "html": kind.render_body(column, request), "unread": unread, "unread_more": unread > UNREAD_CAP}
    return f"event: column\ndata: {json.dumps(data)}\n\n"


@workspace_required()
@require_GET
def board_events(request: HttpRequest) -> StreamingHttpResponse:
    """One server-sent-event stream for the whole board: each new post, rendered, for each column
    it belongs to; and the whole body of columns that are not post lists (care queues) whenever
    what they show changes."""
    workspace_id = request.workspace.id
    board = actions.board_for(request.workspace, request.user)
    caps: dict[str, frozenset] = {}
    versions: dict[int, str] = {}
    watch = {"bus": -1, "at": 0.0}

    def live_columns(columns: list[Column]) -> list[str]:
        others = [(c, COLUMN_KINDS[c.kind]) for c in columns if c.kind in COLUMN_KINDS and not COLUMN_KINDS[c.kind].shows_posts]
        if not others:
            return []
        types = tuple(sorted({t for _c, kind in others for t in kind.live_types}))
        count, now = bus.count(workspace_id, types), time.monotonic()
        if count == watch["bus"] and now - watch["at"] < LIVE_COLUMN_RECHECK_S:
            return []
        watch["bus"], watch["at"] = count, now
        chunks = []
        for column, kind in others:
            if not kind.is_valid(column, workspace_id, request.user.id):
                continue
            version = kind.version(column, workspace_id)
            if versions.get(column.id) != version:
                versions[column.id] = version
                chunks.append(_sse_column_body(column, kind, request))
        return chunks

    def poll(after: int) -> tuple[list[str], int, bool]:
        columns = list(board.columns.all())
        chunks = live_columns(columns)
        top = Post.objects.filter(workspace_id=workspace_id).order_by("-id").values_list("id", flat=True).first() or 0
        if top <= after:
            return chunks, after, False
        care = {"can_act": has_role(request, ACT_ON_POSTS), "care_available": has_role(request, ACT_ON_POSTS) and care_available()}
        for column in columns:
            kind = COLUMN_KINDS.get(column.kind)
            if kind is None or not kind.shows_posts:
                continue
            ids = kind.post_ids(column, workspace_id, after_id=after, upto_id=top, limit=COLUMN_POSTS)
            posts = post_queries.posts_by_ids(workspace_id, ids)
            links = care_bridge.conversations_for_posts(workspace_id, ids) if care["care_available"] else {}
            for post in reversed(posts):
                platform = post.source.platform
                if platform not in caps:
                    caps[platform] = actions.capabilities(platform)
                chunks.append(_sse_column_post(request, column.id, post, caps, {**care, "care_links": links}))
        chunks.append(f"id: {top}\nevent: cursor\ndata: {top}\n\n")
        return chunks, top, False

    return event_stream(request, poll)


@workspace_required(ACT_ON_POSTS)
@require_POST
def post_act(request: HttpRequest, post_id: int) -> HttpResponse:
    post = get_object_or_404(Post.objects.select_related("source"), pk=post_id, workspace=request.workspace)
    kind = request.POST.get("kind", "")
    try:
        actions.act_on_post(post, request.user, kind, request.POST.get("text", "")[:5000])
    except actions.ActionUnavailable:
        messages.error(request, _("This platform does not allow that action."))
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Queued: it will be sent by the outbox."))
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/listening/") and "//" not in target else "listening:board")


# --- events -----------------------------------------------------------------------------------

@workspace_required(MANAGE_LISTENING)
def event_new(request: HttpRequest, search_id: int) -> HttpResponse:
    search = _search(request, search_id)
    now = timezone.localtime().replace(second=0, microsecond=0)
    form = EventForm(request.POST or None, initial={"name": search.name, "starts_at": now, "ends_at": now + timedelta(hours=2)})
    if request.method == "POST" and form.is_valid():
        event = actions.create_event(search, request.user, **form.cleaned_data)
        return redirect("listening:event", event.id)
    return render(request, "listening/event_form.html", {"form": form, "search": search})


def _event(request: HttpRequest, event_id: int) -> EventWindow:
    return get_object_or_404(EventWindow.objects.select_related("search"), pk=event_id, search__workspace=request.workspace)


def _event_chart(stats: dict):
    return charts.bars(_("Posts per minute"), stats["per_minute"], css="bar event")


@workspace_required()
@require_GET
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id)
    stats = queries.event_stats(event)
    posts = post_queries.posts_by_ids(request.workspace.id, stats["top_post_ids"])
    return render(request, "listening/event.html", {"event": event, "stats": stats, "chart": _event_chart(stats), "posts": posts,
                                                    **_post_context(request, posts)})


@workspace_required()
@require_GET
def event_live(request: HttpRequest, event_id: int) -> JsonResponse:
    stats = queries.event_stats(_event(request, event_id))
    return JsonResponse({"total": stats["total"], "last_minute": stats["last_minute"], "peak": stats["peak"],
                         "live": stats["live"], "chart": str(_event_chart(stats))})


# --- alerts -----------------------------------------------------------------------------------

@workspace_required()
@require_GET
def alerts(request: HttpRequest) -> HttpResponse:
    found = list(queries.recent_alerts(request.workspace.id, limit=100))
    return render(request, "listening/alerts.html", {"alerts": found, **_alert_context(request, found)})


@workspace_required(MANAGE_LISTENING | ACT_ON_POSTS)
@require_POST
def alert_ack(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.select_related("search__workspace"), pk=alert_id, workspace=request.workspace)
    actions.acknowledge_alert(alert, request.user)
    return redirect("listening:alerts")


# --- care desk --------------------------------------------------------------------------------

def _back_to(request: HttpRequest) -> str:
    """Where a form on a page of posts returns to: the page it came from, on this site."""
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("listening:board")


@workspace_required(ACT_ON_POSTS)
@require_POST
def send_to_care(request: HttpRequest, post_id: int) -> HttpResponse:
    """Open (or join) a care conversation for a post. Answers JSON to the page's script (which
    swaps the button for a link to the conversation) and redirects back otherwise."""
    post = get_object_or_404(Post.objects.select_related("source", "author"), pk=post_id, workspace=request.workspace)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if not care_available():
        if wants_json:
            return JsonResponse({"detail": _("The care desk is not available yet.")}, status=409)
        messages.error(request, _("The care desk is not available yet."))
        return redirect(_back_to(request))
    from veille.care import actions as care_actions

    try:
        conversation = care_actions.open_from_post(post, request.user)
    except care_actions.CareError as error:
        if wants_json:
            return JsonResponse({"detail": str(error), "code": error.code}, status=error.status)
        messages.error(request, str(error))
        return redirect(_back_to(request))
    label = _("In care: #%(id)s") % {"id": conversation.pk}
    url = reverse("care_conversation", args=[conversation.pk])
    if wants_json:
        return JsonResponse({"conversation_id": conversation.pk, "url": url, "label": label})
    messages.success(request, _("Sent to the care desk: conversation #%(id)s.") % {"id": conversation.pk})
    return redirect(_back_to(request))
