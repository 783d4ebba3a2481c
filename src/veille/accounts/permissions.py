"""One place that says who may do what; pages and API both ask it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from veille.accounts.models import Role

ALL_ROLES = frozenset(Role)
# Roles allowed to read posts and streams. Every role of a workspace reads its posts.
READ_POSTS = ALL_ROLES
MANAGE_SOURCES = frozenset({Role.ADMIN, Role.COMMUNITY_MANAGER})
CORRECT_LABELS = frozenset({Role.ADMIN, Role.COMMUNITY_MANAGER, Role.AGENT})


def has_role(request: HttpRequest, roles: Iterable[str]) -> bool:
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role in set(roles)


def workspace_required(roles: Iterable[str] = ALL_ROLES) -> Callable:
    """A page needs a signed-in member of a workspace with one of ``roles``."""
    allowed = frozenset(str(role) for role in roles)

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request.user, "must_change_password", False):
                return redirect("password_change")
            if not has_role(request, allowed):
                raise PermissionDenied("Your role in this workspace does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
