"""Care pages: thin — parse, authorize, call one query or action, render or redirect."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from veille.accounts.models import Membership, Role
from veille.accounts.permissions import workspace_required
from veille.care import actions, queries
from veille.care.models import (
    CannedResponse,
    Conversation,
    Incident,
    Macro,
    Presence,
    Priority,
    Reply,
    Status,
    Team,
)
from veille.care.queries import MAX_ID
from veille.listening.models import Alert
from veille.web.live import bus, event_stream

WORK = (Role.ADMIN, Role.COMMUNITY_MANAGER, Role.AGENT)
SUPERVISE = (Role.ADMIN, Role.COMMUNITY_MANAGER)
READ = (Role.ADMIN, Role.COMMUNITY_MANAGER, Role.AGENT, Role.ANALYST)


def _clean(value: str | None, limit: int = 20000) -> str:
    return (value or "").replace("\x00", "")[:limit]


def _int(value, default=None):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if -MAX_ID <= number <= MAX_ID else default


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    return queries.conversation_or_404(request.workspace.id, conversation_id)


def _back(conversation: Conversation) -> HttpResponse:
    return redirect("care_conversation", conversation.pk)


def _flash_error(request: HttpRequest, error: actions.CareError) -> None:
    messages.error(request, str(error))


def _queue_params(request: HttpRequest) -> dict:
    """The queue a page (and its live stream) shows, from the query string."""
    name = request.GET.get("queue") or "mine"
    if name not in queries.QUEUES:
        name = "mine"
    status = request.GET.get("status") or None
    if status not in Status.values:
        status = None
    team_id = _int(request.GET.get("team"))
    return {"queue": name, "status": status, "q": _clean(request.GET.get("q"), 200),
            "label": _clean(request.GET.get("label"), 60) or None, "team_id": team_id if team_id and team_id > 0 else None}


def _queue_rows(request: HttpRequest, params: dict) -> list[dict]:
    conversations = queries.queue(request.workspace.id, request.user.pk, params["queue"], status=params["status"],
                                  q=params["q"] or None, label=params["label"], team_id=params["team_id"], limit=100)
    now = timezone.now()
    rows = []
    for c in conversations:
        due = _due(c)
        rows.append({"c": c, "due": due, "overdue": due is not None and due <= now})
    return rows


@workspace_required(READ)
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    params = _queue_params(request)
    partial = bool(request.GET.get("partial"))
    version = queries.queue_version(request.workspace.id)
    if partial:
        # The fallback refresh (when the live stream is down) every few seconds: 304 when
        # nothing changed.
        actions.seen(request.workspace.id, request.user)
        etag = f'"{version}-{request.LANGUAGE_CODE}"'
        if request.headers.get("If-None-Match") == etag:
            response = HttpResponse(status=304)
            response["ETag"] = etag
            return response
    name = params["queue"]
    stream_query = {key: value for key, value in (("queue", name), ("status", params["status"]), ("q", params["q"]),
                                                  ("label", params["label"]), ("team", params["team_id"])) if value}
    context = {"rows": _queue_rows(request, params), "queue": name, "status": params["status"] or "", "q": params["q"],
               "label": params["label"] or "", "now": timezone.now(),
               "counts": queries.queue_counts(request.workspace.id, request.user.pk), "statuses": Status.choices,
               "profile": actions.agent_profile(request.workspace.id, request.user) if request.membership.role in WORK else None,
               "presences": Presence.choices,
               "notifications": queries.notifications(request.user.pk, request.workspace.id, limit=10, unread_only=True),
               "tabs": [("mine", _("Mine")), ("unassigned", _("Unassigned")), ("all", _("All open")), ("closed", _("Done"))],
               "events_url": reverse("care_queue_events") + "?" + urlencode({**stream_query, "v": version})}
    if partial:
        response = render(request, "care/_queue_rows.html", context)
        response["ETag"] = etag
        response["Cache-Control"] = "no-cache"
        return response
    return render(request, "care/queue.html", context)


# Without a care event on this process's bus, a queue stream still re-reads the queue's version
# this often: changes written by other processes (imports, workers on SQLite) and SLA timers.
QUEUE_RECHECK_S = 5.0
# An agent whose queue is open is at the desk: the stream keeps their online presence fresh as
# the page's periodic refresh did (expire_presence turns silent agents away after 10 minutes).
PRESENCE_EVERY_S = 60.0
CARE_EVENT_TYPES = ("care", "care_notification", "care_approval")


@workspace_required(READ)
@require_GET
def queue_events(request: HttpRequest) -> StreamingHttpResponse:
    """Server-sent events for the queue page: its rows (rendered, escaped) and tab counts each
    time a conversation of the workspace is opened, assigned or changes status. The page starts
    with the version it was rendered at (``v``), so nothing is sent until something changes."""
    params = _queue_params(request)
    workspace_id = request.workspace.id
    state = {"version": _clean(request.GET.get("v"), 100), "bus": -1, "checked": 0.0, "seen": 0.0}

    def poll(after: int) -> tuple[list[str], int, bool]:
        now = time.monotonic()
        if now - state["seen"] >= PRESENCE_EVERY_S:
            state["seen"] = now
            actions.seen(workspace_id, request.user)
        count = bus.count(workspace_id, CARE_EVENT_TYPES)
        if count == state["bus"] and now - state["checked"] < QUEUE_RECHECK_S:
            return [], after, False
        state["bus"], state["checked"] = count, now
        version = queries.queue_version(workspace_id)
        if version == state["version"]:
            return [], after, False
        state["version"] = version
        html = render_to_string("care/_queue_rows.html", {"rows": _queue_rows(request, params)}, request=request)
        data = {"html": html, "counts": queries.queue_counts(workspace_id, request.user.pk)}
        return [f"event: rows\ndata: {json.dumps(data, default=str)}\n\n"], after, False

    return event_stream(request, poll)


def _due(c: Conversation) -> datetime | None:
    """The next SLA deadline of a conversation, shown as its timer in queues."""
    candidates = []
    if c.first_reply_at is None and c.first_response_due:
        candidates.append(c.first_response_due)
    if c.waiting_since is not None and c.next_response_due:
        candidates.append(c.next_response_due)
    if c.resolution_due and c.status in (Status.NEW, Status.OPEN, Status.PENDING, Status.SNOOZED):
        candidates.append(c.resolution_due)
    return min(candidates) if candidates else None


@workspace_required(READ)
@require_GET
def conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    return _render_conversation(request, c)


def _render_conversation(request: HttpRequest, c: Conversation, *, draft: str = "", warnings: list | None = None,
                         status: int = 200) -> HttpResponse:
    detail = queries.conversation_detail(c)
    workspace_id = request.workspace.id
    members = (Membership.objects.filter(workspace_id=workspace_id, role__in=WORK).select_related("user")
               .order_by("user__username"))
    context = {
        "c": c, **detail, "draft": draft, "warnings": warnings or [],
        "transitions": [(s, Status(s).label) for s in Status.values if s in _allowed(c.status)],
        "members": [m.user for m in members],
        "teams": list(Team.objects.filter(workspace_id=workspace_id).order_by("name")),
        "canned": list(CannedResponse.objects.filter(workspace_id=workspace_id).order_by("name")),
        "macros": list(Macro.objects.filter(workspace_id=workspace_id).order_by("name")),
        "priorities": Priority.choices,
        "viewers": actions.viewers(c, request.user),
        "can_work": request.membership.role in WORK,
        "can_supervise": request.membership.role in SUPERVISE,
        "due": _due(c),
        "linked_id": Conversation.objects.filter(pk=c.pk).values_list("linked_id", flat=True).first(),
    }
    return render(request, "care/conversation.html", context, status=status)


def _allowed(status: str) -> frozenset[str]:
    from veille.care.models import TRANSITIONS

    return TRANSITIONS[status]


@workspace_required(WORK)
@require_POST
def claim(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    try:
        actions.claim(c, request.user)
        messages.success(request, _("You took this conversation."))
    except actions.CareError as error:
        _flash_error(request, error)
    return _back(c)


@workspace_required(WORK)
@require_POST
def assign(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    user_id = _int(request.POST.get("user_id"))
    if request.membership.role not in SUPERVISE and c.assignee_id != request.user.pk:
        messages.error(request, _("Only a community manager can assign a conversation someone else holds."))
        return _back(c)
    expected = _int(request.POST.get("expected"), 0)
    try:
        actions.assign(c, request.user, user_id if user_id and user_id > 0 else None, expected=expected or None)
        messages.success(request, _("Assignment saved."))
    except actions.CareError as error:
        _flash_error(request, error)
    return _back(c)


@workspace_required(WORK)
@require_POST
def set_status(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    until = None
    if request.POST.get("snooze_until"):
        try:
            until = parse_datetime(_clean(request.POST.get("snooze_until"), 40))
        except ValueError:
            until = None
        if until is not None and timezone.is_naive(until):
            until = timezone.make_aware(until, timezone.get_current_timezone())
    elif request.POST.get("status") == Status.SNOOZED:
        hours = min(max(_int(request.POST.get("snooze_hours"), 4) or 4, 1), 24 * 365)
        until = timezone.now() + timedelta(hours=hours)
    try:
        actions.set_status(c, request.user, _clean(request.POST.get("status"), 20), snooze_until=until)
    except (actions.CareError, ValueError) as error:
        messages.error(request, str(error))
    return _back(c)


@workspace_required(WORK)
@require_POST
def change(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    try:
        if request.POST.get("priority", "") != "":
            actions.set_priority(c, request.user, _int(request.POST.get("priority"), -1))
        add = [label for label in _clean(request.POST.get("add_label"), 200).split(",") if label.strip()]
        remove = [label for label in request.POST.getlist("remove_label") if label.strip()]
        if add or remove:
            actions.set_labels(c, request.user, add=add, remove=[_clean(r, 60) for r in remove])
        if "team" in request.POST:
            team = _int(request.POST.get("team"), 0)
            if (team or None) != c.team_id:
                actions.set_team(c, request.user, team or None)
    except actions.CareError as error:
        _flash_error(request, error)
    return _back(c)


@workspace_required(WORK)
@require_POST
def note(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    try:
        actions.add_note(c, request.user, _clean(request.POST.get("text")))
    except actions.CareError as error:
        _flash_error(request, error)
    return _back(c)


@workspace_required(WORK)
@require_POST
def reply(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    text = _clean(request.POST.get("text"))
    try:
        sent = actions.send_reply(c, request.user, text, acknowledge_warnings=request.POST.get("acknowledge") == "1")
    except actions.ToneWarnings as error:
        return _render_conversation(request, _conversation(request, conversation_id), draft=text, warnings=error.warnings, status=409)
    except actions.CareError as error:
        messages.error(request, str(error))
        return _render_conversation(request, _conversation(request, conversation_id), draft=text, status=400)
    if sent.state == Reply.State.AWAITING_APPROVAL:
        messages.info(request, _("Your reply waits for a community manager's approval."))
    else:
        messages.success(request, _("Reply queued for sending."))
    return _back(c)


@workspace_required(WORK)
@require_POST
def macro(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    found = Macro.objects.filter(pk=_int(request.POST.get("macro_id"), 0) or 0, workspace_id=request.workspace.id).first()
    if found is None:
        raise Http404
    try:
        actions.apply_macro(c, request.user, found)
        messages.success(request, _("Macro applied: %(name)s") % {"name": found.name})
    except actions.CareError as error:
        _flash_error(request, error)
    return _back(c)


@workspace_required(WORK)
@require_POST
def move_to_private(request: HttpRequest, conversation_id: int) -> HttpResponse:
    c = _conversation(request, conversation_id)
    try:
        _reply, private = actions.move_to_private(c, request.user, _clean(request.POST.get("text"), 5000) or None)
    except actions.CareError as error:
        _flash_error(request, error)
        return _back(c)
    messages.success(request, _("Invitation to a private message sent; the private conversation is linked."))
    return redirect("care_conversation", private.pk)


@workspace_required(READ)
@require_POST
def presence_ping(request: HttpRequest, conversation_id: int) -> JsonResponse:
    c = _conversation(request, conversation_id)
    try:
        typing = bool(json.loads(request.body or b"{}").get("typing"))
    except (ValueError, AttributeError):
        typing = False
    actions.seen(request.workspace.id, request.user)
    version = Conversation.objects.filter(pk=c.pk).values_list("updated_at", flat=True).first()
    return JsonResponse({"viewers": actions.ping(c, request.user, typing), "version": version.isoformat() if version else ""})


@workspace_required(WORK)
@require_POST
def my_presence(request: HttpRequest) -> HttpResponse:
    try:
        actions.set_presence(request.workspace, request.user, _clean(request.POST.get("presence"), 20))
    except actions.CareError as error:
        _flash_error(request, error)
    return redirect("care_queue")


@workspace_required(READ)
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    actions.mark_notifications_read(request.user, request.workspace.id)
    return redirect("care_queue")


@workspace_required(WORK)
@require_GET
def canned_text(request: HttpRequest, conversation_id: int, canned_id: int) -> JsonResponse:
    c = _conversation(request, conversation_id)
    canned = CannedResponse.objects.filter(pk=canned_id if 0 < canned_id <= MAX_ID else 0, workspace_id=request.workspace.id).first()
    if canned is None:
        raise Http404
    return JsonResponse({"text": actions.render_template(canned.text, c, request.user)})


# --- approvals --------------------------------------------------------------------------------------

@workspace_required(SUPERVISE)
@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    return render(request, "care/approvals.html", {"replies": queries.pending_approvals(request.workspace.id)})


def _pending_reply(request: HttpRequest, reply_id: int) -> Reply:
    found = Reply.objects.filter(pk=reply_id if 0 < reply_id <= MAX_ID else 0, workspace_id=request.workspace.id).first()
    if found is None:
        raise Http404
    return found


@workspace_required(SUPERVISE)
@require_POST
def approve(request: HttpRequest, reply_id: int) -> HttpResponse:
    found = _pending_reply(request, reply_id)
    text = _clean(request.POST.get("text"))
    try:
        actions.approve_reply(found, request.user, text=text or None, note=_clean(request.POST.get("note"), 2000))
        messages.success(request, _("Reply approved and queued for sending."))
    except actions.CareError as error:
        _flash_error(request, error)
    return redirect("care_approvals")


@workspace_required(SUPERVISE)
@require_POST
def reject(request: HttpRequest, reply_id: int) -> HttpResponse:
    found = _pending_reply(request, reply_id)
    try:
        actions.reject_reply(found, request.user, note=_clean(request.POST.get("note"), 2000))
        messages.success(request, _("Reply rejected; the agent sees your note."))
    except actions.CareError as error:
        _flash_error(request, error)
    return redirect("care_approvals")


# --- SLA dashboard and export ----------------------------------------------------------------------

@workspace_required(READ)
@require_GET
def sla_dashboard(request: HttpRequest) -> HttpResponse:
    group = request.GET.get("group") or "agent"
    if group not in queries.GROUPS:
        group = "agent"
    return render(request, "care/sla.html", {
        "overview": queries.sla_overview(request.workspace.id), "report": queries.sla_report(request.workspace.id, group),
        "group": group, "groups": [("agent", _("Agent")), ("team", _("Team")), ("queue", _("Queue"))],
    })


@workspace_required(READ)
@require_GET
def sla_export(request: HttpRequest) -> StreamingHttpResponse:
    response = StreamingHttpResponse(queries.export_rows(request.workspace.id), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="conversations.csv"'
    return response


# --- incidents ----------------------------------------------------------------------------------------

def _alert(request: HttpRequest, value) -> Alert | None:
    alert_id = _int(value, 0) or 0
    if not 0 < alert_id <= MAX_ID:
        return None
    found = Alert.objects.select_related("search", "workspace").filter(pk=alert_id, workspace_id=request.workspace.id).first()
    if found is None:
        raise Http404(_("No such alert in this workspace."))
    return found


@workspace_required(READ)
def incidents(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if request.membership.role not in SUPERVISE:
            raise Http404
        alert = _alert(request, request.POST.get("alert"))
        try:
            if alert is not None:
                incident, _created = actions.declare_incident_from_alert(
                    alert, request.user, title=_clean(request.POST.get("title"), 200), query=_clean(request.POST.get("query"), 1000))
            else:
                incident = actions.declare_incident(request.workspace, request.user, title=_clean(request.POST.get("title"), 200),
                                                    query=_clean(request.POST.get("query"), 1000),
                                                    origin=_clean(request.POST.get("origin"), 200) or "manual")
        except actions.CareError as error:
            _flash_error(request, error)
            return redirect(reverse("care_incidents") + (f"?alert={alert.pk}" if alert is not None else ""))
        return redirect("care_incident", incident.pk)
    # From a listening alert: the form starts with the saved search's query and the alert's window.
    alert = _alert(request, request.GET.get("alert")) if request.membership.role in SUPERVISE else None
    if alert is not None:
        existing = Incident.objects.filter(alert=alert, workspace_id=request.workspace.id).first()
        if existing is not None:
            return redirect("care_incident", existing.pk)
    found = Incident.objects.filter(workspace_id=request.workspace.id).order_by("-id")[:100]
    return render(request, "care/incidents.html", {
        "incidents": found, "can_supervise": request.membership.role in SUPERVISE, "alert": alert,
        "defaults": actions.incident_defaults(alert) if alert is not None else {},
    })


def _incident(request: HttpRequest, incident_id: int) -> Incident:
    found = Incident.objects.filter(pk=incident_id if 0 < incident_id <= MAX_ID else 0, workspace_id=request.workspace.id).first()
    if found is None:
        raise Http404
    return found


@workspace_required(READ)
@require_GET
def incident(request: HttpRequest, incident_id: int) -> HttpResponse:
    found = _incident(request, incident_id)
    timeline = queries.incident_timeline(found)
    return render(request, "care/incident.html", {
        "incident": found, "events": timeline["events"], "volume": timeline["volume"],
        "summary": found.summary or queries.incident_summary(found),
        "conversations": queries.queue(request.workspace.id, request.user.pk, "incident", incident_id=found.pk, limit=50),
        "can_supervise": request.membership.role in SUPERVISE,
    })


@workspace_required(SUPERVISE)
@require_POST
def incident_action(request: HttpRequest, incident_id: int, verb: str) -> HttpResponse:
    found = _incident(request, incident_id)
    try:
        if verb == "message":
            actions.set_incident_message(found, request.user, _clean(request.POST.get("text")))
            messages.success(request, _("Incident message approved."))
        elif verb == "send":
            count = actions.send_incident_message(found, request.user)
            messages.success(request, ngettext("%(count)s reply queued.", "%(count)s replies queued.", count) % {"count": count})
        elif verb == "end":
            actions.end_incident(found, request.user)
            messages.success(request, _("Incident ended."))
        else:
            raise Http404
    except actions.CareError as error:
        _flash_error(request, error)
    return redirect(reverse("care_incident", args=[found.pk]))

