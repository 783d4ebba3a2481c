"""Attach the signed-in user's current workspace and role to every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from veille.accounts.models import Membership

SESSION_KEY = "veille_workspace_id"


class WorkspaceMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.membership = None  # type: ignore[attr-defined]
        request.workspace = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            memberships = Membership.objects.select_related("workspace").filter(user=user)
            chosen = request.session.get(SESSION_KEY)
            membership = None
            if chosen is not None:
                membership = memberships.filter(workspace_id=chosen).first()
            if membership is None:
                membership = memberships.order_by("workspace_id").first()
            if membership is not None:
                request.membership = membership  # type: ignore[attr-defined]
                request.workspace = membership.workspace  # type: ignore[attr-defined]
        return self.get_response(request)
