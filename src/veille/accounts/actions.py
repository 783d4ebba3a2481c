"""Every write to accounts, one named verb each."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from veille.accounts.models import AuditEntry, LoginFailure, Membership, Role, User, Workspace


def record_audit(workspace: Workspace | None, actor: User | None, verb: str, target: str = "", **detail) -> None:
    AuditEntry.objects.create(workspace=workspace, actor=actor, verb=verb, target=target[:200], detail=detail)


def create_workspace(name: str, slug: str) -> Workspace:
    workspace, _ = Workspace.objects.get_or_create(slug=slug, defaults={"name": name})
    return workspace


@transaction.atomic
def add_member(workspace: Workspace, user: User, role: Role | str, actor: User | None = None) -> Membership:
    membership, _ = Membership.objects.update_or_create(workspace=workspace, user=user, defaults={"role": str(role)})
    record_audit(workspace, actor, "add_member", user.username, role=str(role))
    return membership


def ensure_first_admin(workspace: Workspace, username: str = "admin") -> str | None:
    """Create the first administrator if there is no user at all; return its one-time password."""
    if User.objects.exists():
        return None
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.must_change_password = True
        user.save(update_fields=["must_change_password"])
        add_member(workspace, user, Role.ADMIN)
    return password


def login_is_throttled(username: str, address: str | None) -> bool:
    since = timezone.now() - timedelta(seconds=settings.VEILLE_LOGIN_WINDOW_S)
    limit = settings.VEILLE_LOGIN_MAX_FAILURES
    recent = LoginFailure.objects.filter(at__gte=since)
    if recent.filter(username=username.lower()).count() >= limit:
        return True
    # An address gets more room than one account: an office shares one address.
    return bool(address) and recent.filter(address=address).count() >= limit * 4


def record_login_failure(username: str, address: str | None) -> None:
    now = timezone.now()
    LoginFailure.objects.create(username=username.lower()[:150], address=address or None, at=now)
    # Keep the table small: anything older than the window has no further use.
    LoginFailure.objects.filter(at__lt=now - timedelta(seconds=settings.VEILLE_LOGIN_WINDOW_S)).delete()


def clear_login_failures(username: str) -> None:
    LoginFailure.objects.filter(username=username.lower()).delete()
