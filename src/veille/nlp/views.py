"""The correction form on a post (thread page)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from veille.accounts.permissions import CORRECT_LABELS, workspace_required
from veille.ingest.models import Post
from veille.nlp.actions import InvalidCorrection, correct_post


@workspace_required(CORRECT_LABELS)
@require_POST
def correct(request: HttpRequest, post_id: int) -> HttpResponse:
    try:
        post = Post.objects.get(pk=post_id, workspace_id=request.workspace.id)
    except Post.DoesNotExist:
        raise Http404(_("No such post in this workspace.")) from None
    changed = 0
    for field in ("sentiment", "complaint"):
        value = request.POST.get(field, "")
        current = post.sentiment if field == "sentiment" else ("" if post.complaint is None else ("1" if post.complaint >= 0.5 else "0"))
        if value and value != current:
            try:
                correct_post(post, request.user, field, value)
                changed += 1
            except InvalidCorrection as error:
                messages.error(request, str(error))
    if changed:
        messages.success(request, _("Thank you: the correction is saved and will teach the models."))
    return redirect("thread", post_id=post.thread_root_id or post.id)
