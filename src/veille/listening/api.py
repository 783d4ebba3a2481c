"""Listening through the API: saved searches, their matches, ad-hoc queries, alerts. Always the
caller's workspace. Mounted at ``/api/listening`` by ``veille.api``."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from veille.ingest import queries as post_queries
from veille.ingest.api import PostOut, post_out
from veille.listening import actions, queries
from veille.listening.models import SavedSearch
from veille.listening.query import QuerySyntaxError, compile_query
from veille.listening.search import search_ids

router = Router(tags=["listening"])


class SearchOut(Schema):
    id: int
    name: str
    query: str
    is_active: bool
    spike_enabled: bool
    dip_enabled: bool


class SearchIn(Schema):
    name: str
    query: str
    is_active: bool = True
    spike_enabled: bool = False
    dip_enabled: bool = False


class QueryError(Schema):
    detail: str
    position: int
    expected: str


class AlertOut(Schema):
    id: int
    search_id: int
    kind: str
    window_start: datetime
    window_end: datetime
    value: float
    baseline: float
    threshold: float
    created_at: datetime
    acknowledged_at: datetime | None


def _search_out(search: SavedSearch) -> SearchOut:
    return SearchOut(id=search.id, name=search.name, query=search.query, is_active=search.is_active,
                     spike_enabled=search.spike_enabled, dip_enabled=search.dip_enabled)


def _error(error: QuerySyntaxError) -> QueryError:
    return QueryError(detail=error.message, position=error.position + 1, expected=error.expected)


@router.get("/searches", response=list[SearchOut], summary="The workspace's saved searches")
def list_searches(request: HttpRequest):
    return [_search_out(s) for s in queries.searches_of(request.workspace.id)]


@router.post("/searches", response={201: SearchOut, 400: QueryError, 409: QueryError}, summary="Create a saved search")
def create_search(request: HttpRequest, payload: SearchIn):
    from veille.api import require_role
    from veille.listening.views import MANAGE_LISTENING

    require_role(request, MANAGE_LISTENING)
    try:
        search = actions.create_search(request.workspace, request.user, name=payload.name[:120], query=payload.query[:1000],
                                       is_active=payload.is_active, spike_enabled=payload.spike_enabled, dip_enabled=payload.dip_enabled)
    except QuerySyntaxError as error:
        return Status(400, _error(error))
    except IntegrityError:
        return Status(409, QueryError(detail="a saved search with this name already exists", position=0, expected="another name"))
    return Status(201, _search_out(search))


@router.get("/searches/{search_id}/posts", response=list[PostOut], summary="Posts matched by a saved search, newest first")
def search_posts(request: HttpRequest, search_id: int, limit: int = 50, before_id: int | None = None):
    search = get_object_or_404(SavedSearch, pk=search_id, workspace_id=request.workspace.id)
    ids = queries.matching_posts(request.workspace.id, search.id, limit=max(1, min(limit, 200)), before_id=before_id)
    return [post_out(p) for p in post_queries.posts_by_ids(request.workspace.id, ids)]


@router.get("/query", response={200: list[PostOut], 400: QueryError}, summary="Posts matching a query (the listening language), newest first")
def run_query(request: HttpRequest, q: str, limit: int = 20, before_id: int | None = None):
    try:
        compiled = compile_query(q[:1000])
    except QuerySyntaxError as error:
        return Status(400, _error(error))
    ids = search_ids(request.workspace.id, compiled, limit=max(1, min(limit, 200)), before_id=before_id)
    return Status(200, [post_out(p) for p in post_queries.posts_by_ids(request.workspace.id, list(ids))])


@router.get("/alerts", response=list[AlertOut], summary="Recent alerts of the workspace")
def list_alerts(request: HttpRequest, limit: int = 50):
    return [AlertOut(id=a.id, search_id=a.search_id, kind=a.kind, window_start=a.window_start, window_end=a.window_end,
                     value=a.value, baseline=a.baseline, threshold=a.threshold, created_at=a.created_at,
                     acknowledged_at=a.acknowledged_at) for a in queries.recent_alerts(request.workspace.id, limit=max(1, min(limit, 200)))]
