"""Source pages for administrators and community managers: add, edit, pause, resume, remove, health."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from veille.accounts.permissions import MANAGE_SOURCES, workspace_required
from veille.sources import actions, queries
from veille.sources.forms import CREDENTIAL_FIELDS, SourceForm
from veille.sources.models import Source, SourceStatus
from veille.sources.registry import connector_class


def _source_or_404(request: HttpRequest, source_id: int) -> Source:
    try:
        return queries.source_of(request.workspace.id, source_id)
    except Source.DoesNotExist:
        raise Http404(_("No such source in this workspace.")) from None


@workspace_required(MANAGE_SOURCES)
def source_list(request: HttpRequest) -> HttpResponse:
    return render(request, "sources/list.html", {"health": queries.sources_with_health(request.workspace.id)})


@workspace_required(MANAGE_SOURCES)
def source_create(request: HttpRequest) -> HttpResponse:
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        platform = form.cleaned_data["platform"]
        try:
            source = actions.create_source(
                request.workspace, request.user, name=form.cleaned_data["name"], platform=platform,
                account_handle=form.cleaned_data["account_handle"], settings_data=form.source_settings(),
                credentials=form.credentials(platform), poll_interval_s=form.cleaned_data["poll_interval_s"],
            )
        except IntegrityError:
            form.add_error("name", _("A source with this name already exists."))
        else:
            messages.success(request, _("Source “%(name)s” added; its first sync starts now.") % {"name": source.name})
            return redirect("source_list")
    return render(request, "sources/form.html", {"form": form, "credential_fields": CREDENTIAL_FIELDS, "editing": False})


@workspace_required(MANAGE_SOURCES)
def source_edit(request: HttpRequest, source_id: int) -> HttpResponse:
    source = _source_or_404(request, source_id)
    form = SourceForm(request.POST or None, initial=SourceForm.initial_for(source), editing=True)
    if request.method == "POST" and form.is_valid():
        credentials = form.credentials(source.platform)
        if credentials:
            merged = {**source.get_credentials_or_empty(), **credentials}
        try:
            actions.update_source(
                source, request.user, name=form.cleaned_data["name"], account_handle=form.cleaned_data["account_handle"],
                settings_data=form.source_settings(), poll_interval_s=form.cleaned_data["poll_interval_s"],
                credentials=merged if credentials else None,
            )
        except IntegrityError:
            form.add_error("name", _("A source with this name already exists."))
        else:
            messages.success(request, _("Source “%(name)s” saved.") % {"name": source.name})
            return redirect("source_list")
    capabilities = sorted(getattr(connector_class(source.platform), "capabilities", ()))
    return render(request, "sources/form.html", {"form": form, "source": source, "editing": True,
                                                 "credential_fields": CREDENTIAL_FIELDS, "capabilities": capabilities})


@workspace_required(MANAGE_SOURCES)
@require_POST
def source_set_status(request: HttpRequest, source_id: int, verb: str) -> HttpResponse:
    source = _source_or_404(request, source_id)
    target = {"pause": SourceStatus.PAUSED, "resume": SourceStatus.ACTIVE, "remove": SourceStatus.REMOVED}.get(verb)
    if target is None:
        raise Http404()
    actions.set_source_status(source, request.user, target)
    done = {
        "pause": _("Source “%(name)s” paused."),
        "resume": _("Source “%(name)s” resumed."),
        "remove": _("Source “%(name)s” removed; the posts it brought stay."),
    }[verb]
    messages.success(request, done % {"name": source.name})
    return redirect("source_list")
