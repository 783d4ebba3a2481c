"""Pages: thin — parse, authorize, call one query or action, render."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
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
from veille.accounts.models import Role
from veille.accounts.permissions import CORRECT_LABELS, MANAGE_SOURCES, has_role, workspace_required
from veille.ingest import queries
from veille.ingest.models import Post, Sentiment
from veille.ingest.search import search_post_ids
from veille.web.live import event_stream

CARE_SENDERS = frozenset({Role.ADMIN, Role.COMMUNITY_MANAGER, Role.AGENT})


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
    workspace_id = request.workspace.id

    def poll(after: int) -> tuple[list[str], int, bool]:
        posts = queries.recent_posts(workspace_id, limit=100, after_id=after)
        return [_sse_post(post) for post in posts], (posts[-1].id if posts else after), len(posts) == 100

    return event_stream(request, poll)


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
    from veille.listening import care_bridge

    # "Send to care" on each customer post: the people who act on posts (as in listening columns).
    can_send = has_role(request, CARE_SENDERS) and care_bridge.care_available()
    return render(request, "web/thread.html", {
        "focus": post, "members": members, "can_correct": has_role(request, CORRECT_LABELS),
        "sentiment_choices": [("", "—"), *Sentiment.choices], "can_send_to_care": can_send, "care_available": can_send,
        "care_links": care_bridge.conversations_for_posts(request.workspace.id, [m.id for m in members]) if can_send else {},
        "next": request.get_full_path(),
    })


@workspace_required(MANAGE_SOURCES)
@require_GET
def dead_letter(request: HttpRequest) -> HttpResponse:
    return render(request, "web/dead_letter.html", {"items": queries.dead_letters(request.workspace.id)})
