"""The HTTP API (django-ninja; OpenAPI at /api/docs). Each app contributes a router."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.security import SessionAuth

from veille.accounts.permissions import has_role


class WorkspaceSessionAuth(SessionAuth):
    """A signed-in user with a membership; CSRF is checked on unsafe methods by SessionAuth."""

    def authenticate(self, request: HttpRequest, key):
        user = super().authenticate(request, key)
        if user is None or getattr(request, "membership", None) is None:
            return None
        return user


def require_role(request: HttpRequest, roles) -> None:
    if not has_role(request, roles):
        raise PermissionDenied("Your role in this workspace does not allow this.")


api = NinjaAPI(title="veille", version="1", auth=WorkspaceSessionAuth(), urls_namespace="api")


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied):
    return api.create_response(request, {"detail": str(exc) or "forbidden"}, status=403)


def _register_routers() -> None:
    from veille.ingest.api import router as posts_router

    api.add_router("/posts", posts_router)
    from veille.care.api import router as care_router
    from veille.listening.api import router as listening_router
    from veille.nlp.api import router as nlp_router

    api.add_router("/nlp", nlp_router)
    api.add_router("/care", care_router)
    api.add_router("/listening", listening_router)


_register_routers()
