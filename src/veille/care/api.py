"""The care desk through the HTTP API (mounted at /api/care/). Thin: parse, authorize, call one
action or query, shape the answer. Refusals come back as ``{"detail", "code"}`` with 400, 404
or 409 (409 with ``warnings`` when the tone check wants a confirmation)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from veille.accounts.models import Role
from veille.api import require_role
from veille.care import actions, queries
from veille.care.models import (
    AgentProfile,
    CannedResponse,
    Conversation,
    Customer,
    Incident,
    Macro,
    Reply,
    RoutingRule,
    SlaPolicy,
    Team,
)
from veille.care.queries import MAX_ID
from veille.ingest.models import Post

router = Router(tags=["care"])

WORK = (Role.ADMIN, Role.COMMUNITY_MANAGER, Role.AGENT)
SUPERVISE = (Role.ADMIN, Role.COMMUNITY_MANAGER)
READ = (Role.ADMIN, Role.COMMUNITY_MANAGER, Role.AGENT, Role.ANALYST)


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    if isinstance(value, dict):
        return {_strip_nul(key): _strip_nul(item) for key, item in value.items()}
    return value


class In(Schema):
    """Input bodies: NUL characters (refused by PostgreSQL text columns) are dropped."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _strip_nul(value)


class ErrorOut(Schema):
    detail: str
    code: str = "invalid"
    warnings: list[dict] = []


def _error(error: actions.CareError) -> JsonResponse:
    body = {"detail": str(error), "code": error.code}
    if isinstance(error, actions.ToneWarnings):
        body["warnings"] = error.warnings
    return JsonResponse(body, status=error.status)


def care_errors(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except actions.CareError as error:
            return _error(error)

    return wrapped


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, timezone.get_current_timezone())
    return value


def _object(model, request: HttpRequest, object_id: int, **extra):
    if not 0 < object_id <= MAX_ID:
        raise Http404
    found = model.objects.filter(pk=object_id, workspace_id=request.workspace.id, **extra).first()
    if found is None:
        raise Http404
    return found


def _conversation(request: HttpRequest, conversation_id: int) -> Conversation:
    return queries.conversation_or_404(request.workspace.id, conversation_id)


# --- shapes --------------------------------------------------------------------------------------

class ConversationOut(Schema):
    id: int
    status: str
    priority: int
    labels: list[str]
    preview: str
    language: str
    is_private: bool
    platform: str
    source: str
    customer_handle: str
    assignee: str | None
    assignee_id: int | None
    team_id: int | None
    incident_id: int | None
    created_at: datetime
    last_customer_post_at: datetime
    waiting_since: datetime | None
    first_reply_at: datetime | None
    first_response_due: datetime | None
    next_response_due: datetime | None
    resolution_due: datetime | None

    @staticmethod
    def of(c: Conversation) -> dict:
        return {
            "id": c.pk, "status": c.status, "priority": c.priority, "labels": c.label_list(), "preview": c.preview,
            "language": c.language, "is_private": c.is_private, "platform": c.source.platform, "source": c.source.name,
            "customer_handle": c.author.handle, "assignee": c.assignee.username if c.assignee_id else None,
            "assignee_id": c.assignee_id, "team_id": c.team_id, "incident_id": c.incident_id, "created_at": c.created_at,
            "last_customer_post_at": c.last_customer_post_at, "waiting_since": c.waiting_since, "first_reply_at": c.first_reply_at,
            "first_response_due": c.first_response_due, "next_response_due": c.next_response_due, "resolution_due": c.resolution_due,
        }


class PostOut(Schema):
    id: int
    external_id: str
    author: str
    text: str
    created_at: datetime
    kind: str
    is_outbound: bool


class ReplyOut(Schema):
    id: int
    conversation_id: int
    author: str | None
    text: str
    kind: str
    state: str
    purpose: str
    tone_warnings: list[dict]
    review_note: str
    reviewed_by: str | None
    idempotency_key: str
    outbound_status: str | None
    result_external_id: str
    created_at: datetime

    @staticmethod
    def of(r: Reply) -> dict:
        return {
            "id": r.pk, "conversation_id": r.conversation_id, "author": r.author.username if r.author_id else None, "text": r.text,
            "kind": r.kind, "state": r.state, "purpose": r.purpose, "tone_warnings": r.tone_warnings, "review_note": r.review_note,
            "reviewed_by": r.reviewed_by.username if r.reviewed_by_id else None, "idempotency_key": r.idempotency_key,
            "outbound_status": r.outbound.status if r.outbound_id else None,
            "result_external_id": r.result_external_id or (r.outbound.result_external_id if r.outbound_id else ""),
            "created_at": r.created_at,
        }


class NoteOut(Schema):
    id: int
    author: str | None
    text: str
    mentions: list[int]
    created_at: datetime


class EventOut(Schema):
    kind: str
    actor: str | None
    at: datetime
    detail: dict


class CustomerOut(Schema):
    customer_id: int | None
    identities: list[dict]
    conversations: list[dict]
    post_count: int


class ConversationDetailOut(Schema):
    conversation: ConversationOut
    posts: list[PostOut]
    replies: list[ReplyOut]
    notes: list[NoteOut]
    events: list[EventOut]
    customer: CustomerOut
    linked_id: int | None


def _customer(profile: dict) -> dict:
    return {
        "customer_id": profile["customer_id"],
        "identities": [{"platform": a.platform, "handle": a.handle, "name": a.name} for a in profile["authors"]],
        "conversations": [{"id": c.pk, "status": c.status, "created_at": c.created_at.isoformat(), "source": c.source.name,
                           "preview": c.preview} for c in profile["history"]],
        "post_count": profile["post_count"],
    }


def _detail(conversation: Conversation) -> dict:
    detail = queries.conversation_detail(conversation)
    linked = conversation.linked_id
    return {
        "conversation": ConversationOut.of(conversation),
        "posts": [{"id": p.id, "external_id": p.external_id, "author": p.author.handle, "text": p.text, "created_at": p.created_at,
                   "kind": p.kind, "is_outbound": p.is_outbound} for p in detail["posts"]],
        "replies": [ReplyOut.of(r) for r in detail["replies"]],
        "notes": [{"id": n.pk, "author": n.author.username if n.author_id else None, "text": n.text, "mentions": n.mentions,
                   "created_at": n.created_at} for n in detail["notes"]],
        "events": [{"kind": e.kind, "actor": e.actor.username if e.actor_id else None, "at": e.at, "detail": e.detail}
                   for e in detail["events"]],
        "customer": _customer(detail["customer"]),
        "linked_id": linked,
    }


# --- conversations ------------------------------------------------------------------------------

class QueueFilter(Schema):
    queue: str = Field("mine", pattern="^(mine|unassigned|all|team|incident|closed)$")
    status: str | None = Field(None, pattern="^(new|open|pending|snoozed|resolved|closed)$")
    team_id: int | None = Field(None, ge=1, le=MAX_ID)
    incident_id: int | None = Field(None, ge=1, le=MAX_ID)
    label: str | None = Field(None, max_length=60)
    q: str | None = Field(None, max_length=200)
    limit: int = Field(50, ge=1, le=200)
    before_id: int | None = Field(None, ge=1, le=MAX_ID)


@router.get("/conversations", response=list[ConversationOut])
def list_conversations(request: HttpRequest, filters: Query[QueueFilter]):
    require_role(request, READ)
    found = queries.queue(request.workspace.id, request.user.pk, filters.queue, status=filters.status, team_id=filters.team_id,
                          incident_id=filters.incident_id, label=_strip_nul(filters.label), q=_strip_nul(filters.q),
                          limit=filters.limit, before_id=filters.before_id)
    return [ConversationOut.of(c) for c in found]


# Before "/conversations/{conversation_id}": its path parameter would also match "from-post".
class FromPostIn(In):
    post_id: int = Field(ge=1, le=MAX_ID)


@router.post("/conversations/from-post", response={200: ConversationOut, 400: ErrorOut, 404: ErrorOut})
@care_errors
def conversation_from_post(request: HttpRequest, body: FromPostIn):
    """Send a post to the care desk (as "Send to care" in listening columns): opens a conversation
    for it with the routing rules applied, or joins the one its thread already has. Idempotent:
    the same post always answers the same conversation. The sender is recorded as an event."""
    require_role(request, WORK)
    post = Post.objects.select_related("author").filter(pk=body.post_id, workspace_id=request.workspace.id).first()
    if post is None:
        raise Http404
    conversation = actions.open_from_post(post, request.user)
    return ConversationOut.of(queries.get_conversation(request.workspace.id, conversation.pk))


@router.get("/conversations/{conversation_id}", response={200: ConversationDetailOut, 404: ErrorOut})
def get_conversation(request: HttpRequest, conversation_id: int):
    require_role(request, READ)
    return _detail(_conversation(request, conversation_id))


@router.post("/conversations/{conversation_id}/claim", response={200: ConversationOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def claim_conversation(request: HttpRequest, conversation_id: int):
    require_role(request, WORK)
    return ConversationOut.of(actions.claim(_conversation(request, conversation_id), request.user))


class AssignIn(In):
    user_id: int | None = Field(None, ge=1, le=MAX_ID)
    # The assignee the caller saw (omit: whoever it is now); a mismatch is a 409.
    expected_assignee_id: int | None = Field(None, ge=0, le=MAX_ID)


@router.post("/conversations/{conversation_id}/assign", response={200: ConversationOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def assign_conversation(request: HttpRequest, conversation_id: int, body: AssignIn):
    conversation = _conversation(request, conversation_id)
    # Agents may hand on or drop their own conversations; managers may assign any.
    if not (request.membership.role in SUPERVISE or (request.membership.role == Role.AGENT and conversation.assignee_id == request.user.pk)):
        require_role(request, SUPERVISE)
    expected: Any = "any"
    if body.expected_assignee_id is not None:
        expected = body.expected_assignee_id or None
    actions.assign(conversation, request.user, body.user_id, expected=expected)
    return ConversationOut.of(queries.get_conversation(request.workspace.id, conversation.pk))


class StatusIn(In):
    status: str = Field(pattern="^(new|open|pending|snoozed|resolved|closed)$")
    snooze_until: datetime | None = None


@router.post("/conversations/{conversation_id}/status", response={200: ConversationOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def set_status(request: HttpRequest, conversation_id: int, body: StatusIn):
    require_role(request, WORK)
    conversation = actions.set_status(_conversation(request, conversation_id), request.user, body.status,
                                      snooze_until=_aware(body.snooze_until))
    return ConversationOut.of(queries.get_conversation(request.workspace.id, conversation.pk))


class ChangeIn(In):
    priority: int | None = Field(None, ge=0, le=3)
    add_labels: list[str] = Field([], max_length=50)
    remove_labels: list[str] = Field([], max_length=50)
    team_id: int | None = Field(None, ge=0, le=MAX_ID, description="0 clears the team")


@router.post("/conversations/{conversation_id}/change", response={200: ConversationOut, 400: ErrorOut, 404: ErrorOut})
@care_errors
def change_conversation(request: HttpRequest, conversation_id: int, body: ChangeIn):
    """Priority, labels and team."""
    require_role(request, WORK)
    conversation = _conversation(request, conversation_id)
    if body.priority is not None:
        actions.set_priority(conversation, request.user, body.priority)
    if body.add_labels or body.remove_labels:
        actions.set_labels(conversation, request.user, add=body.add_labels, remove=body.remove_labels)
    if body.team_id is not None:
        actions.set_team(conversation, request.user, body.team_id or None)
    return ConversationOut.of(queries.get_conversation(request.workspace.id, conversation.pk))


class TextIn(In):
    text: str = Field(max_length=20000)


@router.post("/conversations/{conversation_id}/notes", response={201: NoteOut, 400: ErrorOut, 404: ErrorOut})
@care_errors
def add_note(request: HttpRequest, conversation_id: int, body: TextIn):
    require_role(request, WORK)
    note = actions.add_note(_conversation(request, conversation_id), request.user, body.text)
    return 201, {"id": note.pk, "author": request.user.username, "text": note.text, "mentions": note.mentions, "created_at": note.created_at}


class ReplyIn(In):
    text: str = Field(max_length=20000)
    acknowledge_warnings: bool = False


@router.post("/conversations/{conversation_id}/replies", response={201: ReplyOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def send_reply(request: HttpRequest, conversation_id: int, body: ReplyIn):
    """Queue a reply through the outbox, or hold it for approval. Warnings of the tone check
    answer 409 with ``warnings`` unless ``acknowledge_warnings`` is true."""
    require_role(request, WORK)
    reply = actions.send_reply(_conversation(request, conversation_id), request.user, body.text,
                               acknowledge_warnings=body.acknowledge_warnings)
    return 201, ReplyOut.of(reply)


@router.post("/conversations/{conversation_id}/tone-check", response={200: list[dict], 404: ErrorOut})
def tone_check(request: HttpRequest, conversation_id: int, body: TextIn):
    require_role(request, WORK)
    return actions.tone_check(_conversation(request, conversation_id), body.text)


class MoveIn(In):
    text: str | None = Field(None, max_length=5000)


@router.post("/conversations/{conversation_id}/move-to-private", response={200: dict, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def move_to_private(request: HttpRequest, conversation_id: int, body: MoveIn):
    require_role(request, WORK)
    reply, private = actions.move_to_private(_conversation(request, conversation_id), request.user, body.text)
    return {"reply_id": reply.pk, "reply_state": reply.state, "private_conversation_id": private.pk}


@router.post("/conversations/{conversation_id}/macros/{macro_id}", response={200: dict, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def apply_macro(request: HttpRequest, conversation_id: int, macro_id: int):
    require_role(request, WORK)
    conversation = _conversation(request, conversation_id)
    macro = _object(Macro, request, macro_id)
    return {"done": actions.apply_macro(conversation, request.user, macro)}


class PingIn(In):
    typing: bool = False


@router.post("/conversations/{conversation_id}/presence", response={200: list[dict], 404: ErrorOut})
def ping(request: HttpRequest, conversation_id: int, body: PingIn):
    """Say you have the conversation open (and whether you are typing); returns the others."""
    require_role(request, READ)
    actions.seen(request.workspace.id, request.user)
    return actions.ping(_conversation(request, conversation_id), request.user, body.typing)


@router.get("/conversations/{conversation_id}/canned/{canned_id}", response={200: dict, 404: ErrorOut})
def render_canned(request: HttpRequest, conversation_id: int, canned_id: int):
    """A canned response with its variables filled in for this conversation."""
    require_role(request, WORK)
    conversation = _conversation(request, conversation_id)
    canned = _object(CannedResponse, request, canned_id)
    return {"text": actions.render_template(canned.text, conversation, request.user)}


# --- customers ------------------------------------------------------------------------------------

@router.get("/customers/{customer_id}", response={200: CustomerOut, 404: ErrorOut})
def get_customer(request: HttpRequest, customer_id: int):
    """A customer's identities (one author per platform) and their conversations across sources."""
    require_role(request, READ)
    customer = _object(Customer, request, customer_id)
    conversation = Conversation.objects.filter(customer=customer).select_related("author").order_by("-id").first()
    if conversation is None:
        raise Http404
    return _customer(queries.customer_profile(conversation))


class IdentityIn(In):
    author_id: int = Field(ge=1, le=MAX_ID)


@router.post("/customers/{customer_id}/identities", response={200: CustomerOut, 400: ErrorOut, 404: ErrorOut})
@care_errors
def link_identity(request: HttpRequest, customer_id: int, body: IdentityIn):
    """Say that another platform identity (author) is this same customer."""
    require_role(request, WORK)
    customer = _object(Customer, request, customer_id)
    actions.link_identities(request.workspace, request.user, customer.pk, body.author_id)
    conversation = Conversation.objects.filter(customer=customer).select_related("author").order_by("-id").first()
    if conversation is None:
        raise Http404
    return _customer(queries.customer_profile(conversation))


# --- approvals ------------------------------------------------------------------------------------

@router.get("/replies/pending", response=list[ReplyOut])
def pending_replies(request: HttpRequest):
    require_role(request, SUPERVISE)
    return [ReplyOut.of(r) for r in queries.pending_approvals(request.workspace.id)]


class ApproveIn(In):
    text: str | None = Field(None, max_length=20000, description="an edited text (omit to send the agent's)")
    note: str = Field("", max_length=2000)


def _reply(request: HttpRequest, reply_id: int) -> Reply:
    return _object(Reply, request, reply_id)


@router.post("/replies/{reply_id}/approve", response={200: ReplyOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def approve_reply(request: HttpRequest, reply_id: int, body: ApproveIn):
    require_role(request, SUPERVISE)
    reply = actions.approve_reply(_reply(request, reply_id), request.user, text=body.text, note=body.note)
    return ReplyOut.of(Reply.objects.select_related("author", "reviewed_by", "outbound").get(pk=reply.pk))


class RejectIn(In):
    note: str = Field(max_length=2000)


@router.post("/replies/{reply_id}/reject", response={200: ReplyOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def reject_reply(request: HttpRequest, reply_id: int, body: RejectIn):
    require_role(request, SUPERVISE)
    reply = actions.reject_reply(_reply(request, reply_id), request.user, note=body.note)
    return ReplyOut.of(Reply.objects.select_related("author", "reviewed_by", "outbound").get(pk=reply.pk))


# --- me: presence, notifications ------------------------------------------------------------------

class PresenceIn(In):
    presence: str = Field(pattern="^(online|away|offline)$")


@router.post("/me/presence", response={200: dict, 400: ErrorOut})
@care_errors
def set_presence(request: HttpRequest, body: PresenceIn):
    require_role(request, WORK)
    profile = actions.set_presence(request.workspace, request.user, body.presence)
    return {"presence": profile.presence}


@router.get("/me/notifications", response=list[dict])
def my_notifications(request: HttpRequest, unread: bool = False):
    return [{"id": n.pk, "kind": n.kind, "text": n.text, "conversation_id": n.conversation_id, "created_at": n.created_at.isoformat(),
             "read": n.read_at is not None} for n in queries.notifications(request.user.pk, request.workspace.id, unread_only=unread)]


class ReadIn(In):
    ids: list[int] | None = Field(None, max_length=500)


@router.post("/me/notifications/read", response=dict)
def read_notifications(request: HttpRequest, body: ReadIn):
    ids = [i for i in body.ids if 0 < i <= MAX_ID] if body.ids is not None else None
    return {"marked": actions.mark_notifications_read(request.user, request.workspace.id, ids)}


@router.get("/queues/counts", response=dict)
def queue_counts(request: HttpRequest):
    require_role(request, READ)
    return queries.queue_counts(request.workspace.id, request.user.pk)


# --- configuration: teams, agents, rules, canned responses, macros, SLA, settings -----------------

class TeamIn(In):
    name: str = Field(max_length=120)
    languages: list[str] = Field([], max_length=20)
    approval_policy: str = Field("none", pattern="^(none|all|first_n|flagged)$")
    approval_first_n: int = Field(5, ge=0, le=1000)
    business_hours: dict = {}


def _team_out(team: Team) -> dict:
    return {"id": team.pk, "name": team.name, "languages": team.languages, "approval_policy": team.approval_policy,
            "approval_first_n": team.approval_first_n, "business_hours": team.business_hours}


@router.get("/teams", response=list[dict])
def list_teams(request: HttpRequest):
    require_role(request, READ)
    return [_team_out(t) for t in Team.objects.filter(workspace_id=request.workspace.id).order_by("name")]


@router.post("/teams", response={201: dict, 400: ErrorOut, 409: ErrorOut})
@care_errors
def create_team(request: HttpRequest, body: TeamIn):
    require_role(request, SUPERVISE)
    return 201, _team_out(actions.save_team(request.workspace, request.user, **body.dict()))


@router.put("/teams/{team_id}", response={200: dict, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def update_team(request: HttpRequest, team_id: int, body: TeamIn):
    require_role(request, SUPERVISE)
    team = _object(Team, request, team_id)
    return _team_out(actions.save_team(request.workspace, request.user, team_id=team.pk, **body.dict()))


class AgentIn(In):
    team_id: int | None = Field(None, ge=0, le=MAX_ID, description="0 clears the team")
    capacity: int | None = Field(None, ge=0, le=1000)
    languages: list[str] | None = Field(None, max_length=20)
    approval_policy: str | None = Field(None, pattern="^(|none|all|first_n|flagged)$")
    approval_first_n: int | None = Field(None, ge=0, le=1000)


def _agent_out(p: AgentProfile) -> dict:
    return {"user_id": p.user_id, "username": p.user.username, "team_id": p.team_id, "capacity": p.capacity, "languages": p.languages,
            "presence": p.presence, "approval_policy": p.approval_policy, "approval_first_n": p.approval_first_n}


@router.get("/agents", response=list[dict])
def list_agents(request: HttpRequest):
    require_role(request, READ)
    return [_agent_out(p) for p in AgentProfile.objects.filter(workspace_id=request.workspace.id).select_related("user").order_by("user__username")]


@router.put("/agents/{user_id}", response={200: dict, 400: ErrorOut, 404: ErrorOut})
@care_errors
def update_agent(request: HttpRequest, user_id: int, body: AgentIn):
    require_role(request, SUPERVISE)
    if not 0 < user_id <= MAX_ID:
        raise Http404
    profile = actions.update_agent(request.workspace, request.user, user_id, team_id=body.team_id or None,
                                   clear_team=body.team_id == 0, capacity=body.capacity, languages=body.languages,
                                   approval_policy=body.approval_policy, approval_first_n=body.approval_first_n)
    return _agent_out(AgentProfile.objects.select_related("user").get(pk=profile.pk))


class RuleIn(In):
    name: str = Field(max_length=120)
    conditions: dict = {}
    set_team_id: int | None = Field(None, ge=1, le=MAX_ID)
    set_priority: int | None = Field(None, ge=0, le=3)
    add_labels: list[str] = Field([], max_length=20)
    position: int = Field(0, ge=-10000, le=10000)
    enabled: bool = True


def _rule_out(r: RoutingRule) -> dict:
    return {"id": r.pk, "name": r.name, "conditions": r.conditions, "set_team_id": r.set_team_id, "set_priority": r.set_priority,
            "add_labels": r.add_labels, "position": r.position, "enabled": r.enabled}


@router.get("/rules", response=list[dict])
def list_rules(request: HttpRequest):
    require_role(request, READ)
    return [_rule_out(r) for r in RoutingRule.objects.filter(workspace_id=request.workspace.id).order_by("position", "id")]


@router.post("/rules", response={201: dict, 400: ErrorOut})
@care_errors
def create_rule(request: HttpRequest, body: RuleIn):
    require_role(request, SUPERVISE)
    return 201, _rule_out(actions.save_rule(request.workspace, request.user, **body.dict()))


@router.put("/rules/{rule_id}", response={200: dict, 400: ErrorOut, 404: ErrorOut})
@care_errors
def update_rule(request: HttpRequest, rule_id: int, body: RuleIn):
    require_role(request, SUPERVISE)
    rule = _object(RoutingRule, request, rule_id)
    return _rule_out(actions.save_rule(request.workspace, request.user, rule_id=rule.pk, **body.dict()))


@router.delete("/rules/{rule_id}", response={204: None, 404: ErrorOut})
def delete_rule(request: HttpRequest, rule_id: int):
    require_role(request, SUPERVISE)
    _object(RoutingRule, request, rule_id).delete()
    return 204, None


class CannedIn(In):
    name: str = Field(max_length=120)
    text: str = Field(max_length=10000)


@router.get("/canned", response=list[dict])
def list_canned(request: HttpRequest):
    require_role(request, READ)
    return [{"id": c.pk, "name": c.name, "text": c.text} for c in CannedResponse.objects.filter(workspace_id=request.workspace.id).order_by("name")]


@router.post("/canned", response={201: dict, 400: ErrorOut, 409: ErrorOut})
@care_errors
def create_canned(request: HttpRequest, body: CannedIn):
    require_role(request, SUPERVISE)
    canned = actions.save_canned(request.workspace, request.user, body.name, body.text)
    return 201, {"id": canned.pk, "name": canned.name, "text": canned.text}


class MacroIn(In):
    name: str = Field(max_length=120)
    steps: list[dict] = Field(max_length=20)


@router.get("/macros", response=list[dict])
def list_macros(request: HttpRequest):
    require_role(request, READ)
    return [{"id": m.pk, "name": m.name, "steps": m.steps} for m in Macro.objects.filter(workspace_id=request.workspace.id).order_by("name")]


@router.post("/macros", response={201: dict, 400: ErrorOut, 409: ErrorOut})
@care_errors
def create_macro(request: HttpRequest, body: MacroIn):
    require_role(request, SUPERVISE)
    macro = actions.save_macro(request.workspace, request.user, body.name, body.steps)
    return 201, {"id": macro.pk, "name": macro.name, "steps": macro.steps}


class SlaIn(In):
    name: str = Field("SLA", max_length=120)
    team_id: int | None = Field(None, ge=1, le=MAX_ID)
    first_response_minutes: int = Field(60, ge=0, le=525600)
    next_response_minutes: int = Field(120, ge=0, le=525600)
    resolution_minutes: int = Field(1440, ge=0, le=525600)
    warn_before_minutes: int = Field(10, ge=0, le=525600)


def _sla_out(p: SlaPolicy) -> dict:
    return {"id": p.pk, "name": p.name, "team_id": p.team_id, "first_response_minutes": p.first_response_minutes,
            "next_response_minutes": p.next_response_minutes, "resolution_minutes": p.resolution_minutes,
            "warn_before_minutes": p.warn_before_minutes}


@router.get("/sla-policies", response=list[dict])
def list_sla_policies(request: HttpRequest):
    require_role(request, READ)
    return [_sla_out(p) for p in SlaPolicy.objects.filter(workspace_id=request.workspace.id).order_by("id")]


@router.put("/sla-policies", response={200: dict, 400: ErrorOut})
@care_errors
def save_sla_policy(request: HttpRequest, body: SlaIn):
    """Create or replace the policy of a team (or the workspace default without ``team_id``)."""
    require_role(request, SUPERVISE)
    return _sla_out(actions.save_sla_policy(request.workspace, request.user, **body.dict()))


class SettingsIn(In):
    forbidden_words: list[str] | None = Field(None, max_length=500)
    complaint_threshold: float | None = Field(None, ge=0, le=1)
    reassign_after_minutes: int | None = Field(None, ge=0, le=10000)
    auto_assign: bool | None = None
    dm_invite_template: str | None = Field(None, max_length=2000)


def _settings_out(config) -> dict:
    return {"forbidden_words": config.forbidden_words, "complaint_threshold": config.complaint_threshold,
            "reassign_after_minutes": config.reassign_after_minutes, "auto_assign": config.auto_assign,
            "dm_invite_template": config.dm_invite_template}


@router.get("/settings", response=dict)
def get_settings(request: HttpRequest):
    require_role(request, READ)
    return _settings_out(actions.care_settings(request.workspace.id))


@router.put("/settings", response={200: dict, 400: ErrorOut})
@care_errors
def put_settings(request: HttpRequest, body: SettingsIn):
    require_role(request, SUPERVISE)
    return _settings_out(actions.update_settings(request.workspace, request.user, **body.dict()))


# --- incidents ------------------------------------------------------------------------------------

class IncidentIn(In):
    title: str = Field(max_length=200)
    query: str = Field(max_length=1000)
    origin: str = Field("manual", max_length=200, description="e.g. the spike alert that prompted it")
    matcher: str = Field("phrase", max_length=32, description='"phrase" (words, "phrases", OR) or "listening" (query language)')


def _incident_out(i: Incident) -> dict:
    return {"id": i.pk, "title": i.title, "query": i.query, "matcher": i.matcher, "label": i.label, "state": i.state,
            "origin": i.origin, "alert_id": i.alert_id,
            "window_start": i.window_start.isoformat() if i.window_start else None,
            "window_end": i.window_end.isoformat() if i.window_end else None,
            "declared_at": i.declared_at.isoformat(), "ended_at": i.ended_at.isoformat() if i.ended_at else None,
            "message": i.message, "message_approved": i.message_approved_by_id is not None, "summary": i.summary}


@router.get("/incidents", response=list[dict])
def list_incidents(request: HttpRequest):
    require_role(request, READ)
    return [_incident_out(i) for i in Incident.objects.filter(workspace_id=request.workspace.id).order_by("-id")[:100]]


@router.post("/incidents", response={201: dict, 400: ErrorOut})
@care_errors
def declare_incident(request: HttpRequest, body: IncidentIn):
    require_role(request, SUPERVISE)
    return 201, _incident_out(actions.declare_incident(request.workspace, request.user, **body.dict()))


class FromAlertIn(In):
    alert_id: int = Field(ge=1, le=MAX_ID)
    title: str | None = Field(None, max_length=200, description="omit: the saved search's name and the alert's window")
    query: str | None = Field(None, max_length=1000, description="omit: the saved search's query")


@router.post("/incidents/from-alert", response={200: dict, 201: dict, 400: ErrorOut, 404: ErrorOut})
@care_errors
def declare_incident_from_alert(request: HttpRequest, body: FromAlertIn):
    """Declare an incident from a listening alert, pre-filled with its saved search's query (in
    the listening query language) and the alert's window. One incident per alert: 201 when it
    is declared, 200 with the existing one when the alert already has it."""
    require_role(request, SUPERVISE)
    from veille.listening.models import Alert

    alert = Alert.objects.select_related("search", "workspace").filter(pk=body.alert_id, workspace_id=request.workspace.id).first()
    if alert is None:
        raise Http404
    incident, created = actions.declare_incident_from_alert(alert, request.user, title=body.title, query=body.query)
    return (201 if created else 200), _incident_out(incident)


@router.get("/incidents/{incident_id}", response={200: dict, 404: ErrorOut})
def get_incident(request: HttpRequest, incident_id: int):
    require_role(request, READ)
    incident = _object(Incident, request, incident_id)
    timeline = queries.incident_timeline(incident)
    return {**_incident_out(incident),
            "timeline": [{"kind": e.kind, "at": e.at.isoformat(), "actor": e.actor.username if e.actor_id else None, "detail": e.detail}
                         for e in timeline["events"]],
            "volume": [{"at": at, "posts": n} for at, n in timeline["volume"]],
            "live_summary": queries.incident_summary(incident)}


@router.post("/incidents/{incident_id}/message", response={200: dict, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut})
@care_errors
def set_incident_message(request: HttpRequest, incident_id: int, body: TextIn):
    """Write (and so approve: community managers only) the message for everyone affected."""
    require_role(request, SUPERVISE)
    return _incident_out(actions.set_incident_message(_object(Incident, request, incident_id), request.user, body.text))


@router.post("/incidents/{incident_id}/send", response={200: dict, 404: ErrorOut, 409: ErrorOut})
@care_errors
def send_incident_message(request: HttpRequest, incident_id: int):
    require_role(request, SUPERVISE)
    return {"queued": actions.send_incident_message(_object(Incident, request, incident_id), request.user)}


@router.post("/incidents/{incident_id}/end", response={200: dict, 404: ErrorOut, 409: ErrorOut})
@care_errors
def end_incident(request: HttpRequest, incident_id: int):
    require_role(request, SUPERVISE)
    return _incident_out(actions.end_incident(_object(Incident, request, incident_id), request.user))


# --- reports ------------------------------------------------------------------------------------------

class ReportFilter(Schema):
    group: str = Field("agent", pattern="^(agent|team|queue)$")
    since: datetime | None = None
    until: datetime | None = None


@router.get("/reports/sla", response=list[dict])
def sla_report(request: HttpRequest, filters: Query[ReportFilter]):
    require_role(request, READ)
    return queries.sla_report(request.workspace.id, filters.group, _aware(filters.since), _aware(filters.until))


class ExportFilter(Schema):
    since: datetime | None = None
    until: datetime | None = None


@router.get("/reports/conversations.csv", response={200: None})
def export_conversations(request: HttpRequest, filters: Query[ExportFilter]) -> HttpResponse:
    """One row per conversation (CSV; cells that a spreadsheet would run as formulas are quoted)."""
    require_role(request, READ)
    response = StreamingHttpResponse(queries.export_rows(request.workspace.id, _aware(filters.since), _aware(filters.until)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="conversations.csv"'
    return response
