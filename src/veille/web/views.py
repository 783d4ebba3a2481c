"""Pages: thin — parse, authorize, call one query or action, render."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db import close_old_connections
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from veille.accounts import actions as account_actions
from veille.accounts.permissions import CORRECT_LABELS, MANAGE_SOURCES, has_role, workspace_required
from veille.ingest import queries
from veille.ingest.models import Post, Sentiment
from veille.ingest.search import search_post_ids
from veille.web.live import bus

# A stream connection is recycled after this long (the browser reconnects at once with
# Last-Event-ID), so server threads are never held forever by forgotten tabs.
STREAM_MAX_S = 300
STREAM_KEEPALIVE_S = 15


def client_address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")[:150]
        if account_actions.login_is_throttled(username, client_address(request)):
            form = self.get_form()
            form.errors.clear()
            context = self.get_context_data(form=form, throttled=True)
            return self.render_to_response(context, status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        account_actions.record_login_failure(self.request.POST.get("username", "")[:150], client_address(self.request))
        return super().form_invalid(form)

    def form_valid(self, form):
        account_actions.clear_login_failures(form.get_user().get_username())
        response = super().form_valid(form)
        if form.get_user().must_change_password:
            return HttpResponseRedirect(reverse("password_change"))
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "web/password_change.html"

    def form_valid(self, form):
        form.save()
        user = form.user
        user.must_change_password = False
        user.save(update_fields=["must_change_password"])
        update_session_auth_hash(self.request, user)
        messages.success(self.request, _("Your password has been changed."))
        return HttpResponseRedirect(reverse("stream"))


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    language = request.POST.get("language", "")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    if language in {code for code, _name in settings.LANGUAGES}:
        translation.activate(language)
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax", max_age=365 * 24 * 3600)
    return response


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("stream")


@workspace_required()
@require_GET
def stream(request: HttpRequest) -> HttpResponse:
    posts = queries.recent_posts(request.workspace.id, limit=50)
    last_id = max((post.id for post in posts), default=0)
    return render(request, "web/stream.html", {"posts": posts, "last_id": last_id})


def _sse_post(post: Post) -> str:
    html = render_to_string("web/_post.html", {"post": post})
    return f"id: {post.id}\nevent: post\ndata: {json.dumps({'id': post.id, 'html': html})}\n\n"


@workspace_required()
@require_GET
def stream_events(request: HttpRequest) -> StreamingHttpResponse:
    """Server-sent events: every new post of the workspace, rendered, in order."""
    try:
        after = int(request.headers.get("Last-Event-ID") or request.GET.get("after") or 0)
    except ValueError:
        after = 0
    workspace_id = request.workspace.id
    language = translation.get_language()

    def events() -> Iterator[str]:
        nonlocal after
        translation.activate(language)
        yield "retry: 3000\n: connected\n\n"
        deadline = time.monotonic() + STREAM_MAX_S
        generation = bus.generation
        last_sent = time.monotonic()
        try:
            while time.monotonic() < deadline:
                posts = queries.recent_posts(workspace_id, limit=100, after_id=after)
                for post in posts:
                    yield _sse_post(post)
                    after = post.id
                    last_sent = time.monotonic()
                if len(posts) == 100:
                    continue  # more are waiting
                if time.monotonic() - last_sent >= STREAM_KEEPALIVE_S:
                    yield ": keepalive\n\n"
                    last_sent = time.monotonic()
                generation = bus.wait(generation, timeout=2.0)
        finally:
            close_old_connections()

    response = StreamingHttpResponse(events(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@workspace_required()
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:500]
    posts: list[Post] = []
    if query.strip():
        ids = search_post_ids(request.workspace.id, query, limit=50)
        posts = queries.posts_by_ids(request.workspace.id, ids)
    return render(request, "web/search.html", {"query": query, "posts": posts})


@workspace_required()
@require_GET
def thread(request: HttpRequest, post_id: int) -> HttpResponse:
    try:
        post, members = queries.thread_of(request.workspace.id, post_id)
    except Post.DoesNotExist:
        raise Http404(_("No such post in this workspace.")) from None
    return render(request, "web/thread.html", {
        "focus": post, "members": members, "can_correct": has_role(request, CORRECT_LABELS),
        "sentiment_choices": [("", "—"), *Sentiment.choices],
    })


@workspace_required(MANAGE_SOURCES)
@require_GET
def dead_letter(request: HttpRequest) -> HttpResponse:
    return render(request, "web/dead_letter.html", {"items": queries.dead_letters(request.workspace.id)})
