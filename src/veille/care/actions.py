"""Every write of the care desk, one named verb each.

Concurrency: conversations are edited by many agents, managers, routing and the scheduler at
once. Ownership changes are conditional ``UPDATE … WHERE assignee_id IS NULL`` (or ``= the
assignee the caller saw``): the database decides, so two agents can never own one
conversation. Status changes are conditional on the status the caller saw. Timestamps are
updated with targeted ``UPDATE``s, never a whole-row ``save()``.

Replies go out through the outbox: the reply row and its ``OutboundAction`` (idempotency key
``care-reply-<reply id>``) are written in one transaction, so a crash loses neither and the
outbox never sends one twice.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from veille.accounts.actions import record_audit
from veille.accounts.models import Membership, Role, User, Workspace
from veille.care import hours, tone
from veille.care.matching import MATCHERS, matcher_for
from veille.care.models import (
    ACTIVE_STATUSES,
    LOAD_STATUSES,
    TRANSITIONS,
    AgentProfile,
    ApprovalPolicy,
    CannedResponse,
    CareSettings,
    Conversation,
    ConversationEvent,
    ConversationPost,
    Customer,
    CustomerIdentity,
    Incident,
    IncidentEvent,
    Macro,
    Note,
    Notification,
    Presence,
    Priority,
    Reply,
    RoutingRule,
    SlaEvent,
    SlaPolicy,
    Status,
    Team,
    ViewerPing,
)
from veille.ingest import sql
from veille.ingest.models import Post
from veille.sources.models import OutboundAction, OutboundStatus, Source

log = logging.getLogger("veille.care")

MAX_REPLY_CHARS = 10_000
MAX_NOTE_CHARS = 10_000
VIEWER_TTL_S = 30
TYPING_TTL_S = 8
SUPERVISORS = (Role.ADMIN, Role.COMMUNITY_MANAGER)
# Bulk incident replies are spread out at most this many per minute per platform; the outbox
# sends each at its ``next_attempt_at`` (and backs off further when the platform says 429).
PLATFORM_RATE_PER_MIN = {"x": 10, "mastodon": 30, "bluesky": 30, "facebook": 30, "youtube": 10}
DEFAULT_RATE_PER_MIN = 30


class CareError(ValueError):
    """A request the desk refuses; ``code`` is stable for the API, the message is for people."""

    status = 400

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


class Conflict(CareError):
    status = 409


class ToneWarnings(Conflict):
    def __init__(self, warnings: list[dict]) -> None:
        super().__init__(_("The tone check has warnings; confirm to send anyway."), "tone_warnings")
        self.warnings = warnings


# --- small helpers ---------------------------------------------------------------------------------

def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _event(conversation_id: int, workspace_id: int, kind: str, actor: User | None, now: datetime, **detail) -> ConversationEvent:
    return ConversationEvent(workspace_id=workspace_id, conversation_id=conversation_id, kind=kind,
                             actor=actor if actor is not None and actor.pk else None, at=now, detail=detail)


def _record(conversation: Conversation, kind: str, actor: User | None, now: datetime, **detail) -> None:
    _event(conversation.pk, conversation.workspace_id, kind, actor, now, **detail).save()


def _publish_after_commit(workspace_id: int, event: dict) -> None:
    def send() -> None:
        from veille.web.live import publish

        publish(workspace_id, event)

    transaction.on_commit(send)


def _changed(conversation: Conversation, now: datetime, **extra) -> None:
    _publish_after_commit(conversation.workspace_id, {"type": "care", "conversation": conversation.pk, **extra})


def care_settings(workspace_id: int) -> CareSettings:
    found = CareSettings.objects.filter(workspace_id=workspace_id).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return CareSettings.objects.create(workspace_id=workspace_id)
    except IntegrityError:
        return CareSettings.objects.get(workspace_id=workspace_id)


def role_of(workspace_id: int, user: User) -> str | None:
    return Membership.objects.filter(workspace_id=workspace_id, user=user).values_list("role", flat=True).first()


def _member(workspace_id: int, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, memberships__workspace_id=workspace_id).first()
    if user is None:
        raise CareError(_("No such member of this workspace."), "unknown_user")
    return user


def _notify(workspace_id: int, user_ids: Iterable[int], kind: str, text: str, conversation_id: int | None, now: datetime) -> None:
    rows = [Notification(workspace_id=workspace_id, user_id=user_id, kind=kind, conversation_id=conversation_id,
                         text=text[:500], created_at=now) for user_id in sorted(set(user_ids))]
    if rows:
        Notification.objects.bulk_create(rows)
        _publish_after_commit(workspace_id, {"type": "care_notification", "users": sorted({row.user_id for row in rows})})


def _supervisor_ids(workspace_id: int) -> list[int]:
    return list(Membership.objects.filter(workspace_id=workspace_id, role__in=SUPERVISORS).values_list("user_id", flat=True))


def _labels_value(labels: Iterable[str]) -> str:
    clean = []
    for label in labels:
        label = re.sub(r"[,\s]+", "-", str(label).strip().lower())[:60]
        if label and label not in clean:
            clean.append(label)
    value = "," + ",".join(clean) + ("," if clean else "")
    if len(value) > 1000:
        raise CareError(_("Too many labels."), "too_many_labels")
    return value


# --- SLA due times ----------------------------------------------------------------------------------

class _Policies:
    """SLA policies and calendars of one workspace, looked up once per operation."""

    def __init__(self, workspace_id: int) -> None:
        self.by_team: dict[int | None, SlaPolicy] = {}
        for policy in SlaPolicy.objects.filter(workspace_id=workspace_id):
            self.by_team[policy.team_id] = policy
        self.calendars = dict(Team.objects.filter(workspace_id=workspace_id).values_list("id", "business_hours"))

    def policy(self, team_id: int | None) -> SlaPolicy | None:
        return self.by_team.get(team_id) or self.by_team.get(None)

    def due(self, team_id: int | None, start: datetime, field: str) -> datetime | None:
        policy = self.policy(team_id)
        if policy is None:
            return None
        minutes = getattr(policy, field)
        if not minutes:
            return None
        return hours.add_business_minutes(start, minutes, self.calendars.get(team_id) or {})


def _sla_outcome(conversation_id: int, workspace_id: int, metric: str, due: datetime | None, at: datetime,
                 team_id: int | None, assignee_id: int | None) -> None:
    if due is None:
        return
    kind = SlaEvent.Kind.MET if at <= due else SlaEvent.Kind.MISSED
    SlaEvent.objects.bulk_create([SlaEvent(workspace_id=workspace_id, conversation_id=conversation_id, metric=metric, kind=kind,
                                           due_at=due, at=at, team_id=team_id, assignee_id=assignee_id)], ignore_conflicts=True)


# --- routing: new posts open or join conversations -------------------------------------------------

def _mentions(text: str, handle: str) -> bool:
    handle = handle.strip().lstrip("@")
    if not handle:
        return False
    return re.search(r"(?<![\w@])@" + re.escape(handle) + r"(?![\w])", text, re.IGNORECASE) is not None


def _rule_matches(rule: RoutingRule, text: str, language: str, sentiment: str, source_id: int, handle: str, labels: str) -> bool:
    c = rule.conditions or {}
    if c.get("text_contains"):
        folded = text.casefold()
        if not any(str(word).casefold() in folded for word in c["text_contains"]):
            return False
    if c.get("language") and language not in c["language"]:
        return False
    if c.get("sentiment") and sentiment not in c["sentiment"]:
        return False
    if c.get("source_ids") and source_id not in c["source_ids"]:
        return False
    if c.get("author_handles") and handle.lower().lstrip("@") not in {str(h).lower().lstrip("@") for h in c["author_handles"]}:
        return False
    if c.get("labels") and not any(f",{label}," in labels for label in c["labels"]):
        return False
    return True


def route_posts(workspace_id: int, stored: list, now: datetime) -> list[int]:
    """The ingest hook (``POST_STORE_HOOKS``): posts that need care open or join conversations.

    Runs inside the pipeline's write transaction with a bounded number of queries per batch.
    Returns the ids of conversations that were opened.
    """
    return _route(workspace_id, stored, now)


def _route(workspace_id: int, stored: list, now: datetime, *, force: frozenset[int] = frozenset(),
           actor: User | None = None) -> list[int]:
    """Intake proper, shared by the ingest hook and ``open_from_post``: posts whose id is in
    ``force`` open a conversation even if nothing says they need care (a person decided they do),
    with ``actor`` recorded on the "created" event. Everything else — thread keys, routing
    rules, incidents, SLA due times, customers, live events, automatic assignment — is the same
    code path whichever way a post arrives."""
    if not stored:
        return []
    config = care_settings(workspace_id)
    source_ids = {post.row.source_id for post in stored}
    sources = {s.id: s for s in Source.objects.filter(pk__in=source_ids).only("id", "account_handle", "platform")}
    # Parents: who wrote them and whether it was the brand (a reply to the brand needs care; the
    # brand's reply to a customer belongs to that customer's conversation).
    parents: dict[int, tuple[int, bool]] = {post.id: (post.author_id, post.row.is_outbound) for post in stored}
    missing = {post.row.reply_to_id for post in stored if post.row.reply_to_id and post.row.reply_to_id not in parents}
    if missing:
        parents.update({pid: (author_id, outbound) for pid, author_id, outbound in
                        Post.objects.filter(pk__in=missing).values_list("id", "author_id", "is_outbound")})
    outbound_parents = {pid for pid, (_author, outbound) in parents.items() if outbound}

    def key_of(post) -> str | None:
        """One conversation per customer: their private messages on a source, or their part of a
        public thread (many customers answering one brand post are many conversations)."""
        row = post.row
        if row.kind == "dm":
            return None if row.is_outbound else f"dm:{row.source_id}:{post.author_id}"
        root = row.thread_root_id or post.id
        if row.is_outbound:
            parent = parents.get(row.reply_to_id) if row.reply_to_id else None
            return None if parent is None or parent[1] else f"t:{root}:{parent[0]}"
        return f"t:{root}:{post.author_id}"

    keys = {key for key in (key_of(post) for post in stored) if key is not None}
    existing: dict[str, Conversation] = {}
    for conversation in (Conversation.objects.filter(workspace_id=workspace_id, thread_key__in=keys)
                         .exclude(status=Status.CLOSED).order_by("id")):
        existing[conversation.thread_key] = conversation
    rules = list(RoutingRule.objects.filter(workspace_id=workspace_id, enabled=True).order_by("position", "id"))
    incidents = [(incident, matcher_for(incident.matcher, incident.query))
                 for incident in Incident.objects.filter(workspace_id=workspace_id, state=Incident.State.ACTIVE)]
    policies = None

    new: dict[str, Conversation] = {}
    new_posts: dict[str, list] = defaultdict(list)
    joined: list[tuple[Conversation, object]] = []
    for post in sorted(stored, key=lambda p: p.id):
        row = post.row
        key = key_of(post)
        if key is None:
            continue
        conversation = existing.get(key) or new.get(key)
        if row.is_outbound:
            if conversation is not None:
                joined.append((conversation, post))
            continue
        if conversation is None:
            source = sources.get(row.source_id)
            needs = (post.id in force or row.kind == "dm" or (row.reply_to_id in outbound_parents)
                     or (source is not None and _mentions(row.text, source.account_handle))
                     or (row.complaint is not None and row.complaint >= config.complaint_threshold))
            if not needs:
                continue
            created = row.created_at if row.created_at <= now else now
            conversation = Conversation(
                workspace_id=workspace_id, source_id=row.source_id, thread_key=key, is_private=row.kind == "dm",
                root_post_id=(row.thread_root_id or post.id) if row.kind != "dm" else post.id, author_id=post.author_id,
                status=Status.NEW, priority=Priority.NORMAL, labels=",", language=row.language or "",
                preview=row.text[:280], created_at=now, last_customer_post_at=created, last_post_id=post.id,
                waiting_since=created, updated_at=now,
            )
            labels = ","
            for rule in rules:
                if _rule_matches(rule, row.text, row.language or "", row.sentiment or "", row.source_id, row.author_handle, labels):
                    if rule.set_team_id:
                        conversation.team_id = rule.set_team_id
                    if rule.set_priority is not None:
                        conversation.priority = rule.set_priority
                    if rule.add_labels:
                        labels = _labels_value(conversation.label_list() + list(rule.add_labels))
                        conversation.labels = labels
            for incident, match in incidents:
                if match(row.text, **_match_fields(row, sources)):
                    conversation.incident_id = incident.pk
                    conversation.labels = _labels_value(conversation.label_list() + [incident.label])
                    break
            if policies is None:
                policies = _Policies(workspace_id)
            conversation.first_response_due = policies.due(conversation.team_id, now, "first_response_minutes")
            conversation.resolution_due = policies.due(conversation.team_id, now, "resolution_minutes")
            new[key] = conversation
            new_posts[key].append(post)
        else:
            # Later posts of a conversation opened in this batch join it in order, after it is created.
            joined.append((conversation, post))

    created_ids: list[int] = []
    if new:
        conversations = list(new.values())
        _attach_customers(workspace_id, conversations, {post.author_id: post.row.author_handle for post in stored})
        Conversation.objects.bulk_create(conversations)
        if any(c.pk is None for c in conversations):  # a backend without RETURNING
            for c in conversations:
                c.pk = Conversation.objects.get(workspace_id=workspace_id, thread_key=c.thread_key, created_at=now).pk
        created_ids = [c.pk for c in conversations]
        insert_memberships([(new[key].pk, post.id) for key, posts in new_posts.items() for post in posts])
        events = []
        for c in conversations:
            first = new_posts[c.thread_key][0].id
            detail = {"post": first, "team": c.team_id, "priority": c.priority, "labels": c.label_list(), "incident": c.incident_id}
            if first in force:
                detail["how"] = "sent_to_care"
            events.append(_event(c.pk, workspace_id, "created", actor if first in force else None, now, **detail))
        insert_events(events)
    if joined:
        _join(workspace_id, joined, incidents, now, sources)
    if created_ids or joined:
        ids = created_ids + sorted({c.pk for c, _ in joined})
        _publish_after_commit(workspace_id, {"type": "care", "conversations": ids[:100]})
        if created_ids and config.auto_assign:
            transaction.on_commit(lambda: _auto_assign_safely(workspace_id, created_ids))
    return created_ids


def _auto_assign_safely(workspace_id: int, conversation_ids: list[int]) -> None:
    try:
        auto_assign(workspace_id, conversation_ids)
    except Exception:  # the scheduler's next pass assigns what is left
        log.exception("auto-assignment after routing failed")


def _attach_customers(workspace_id: int, conversations: list[Conversation], handles: dict[int, str]) -> None:
    author_ids = {c.author_id for c in conversations}
    known = dict(CustomerIdentity.objects.filter(author_id__in=author_ids).values_list("author_id", "customer_id"))
    missing = sorted(author_ids - known.keys())
    if missing:
        customers = [Customer(workspace_id=workspace_id, display_name=handles.get(author_id, "")[:200]) for author_id in missing]
        Customer.objects.bulk_create(customers)
        if all(c.pk for c in customers):
            CustomerIdentity.objects.bulk_create(
                [CustomerIdentity(customer_id=c.pk, author_id=a) for c, a in zip(customers, missing, strict=True)], ignore_conflicts=True)
            known.update(dict(CustomerIdentity.objects.filter(author_id__in=missing).values_list("author_id", "customer_id")))
    for c in conversations:
        c.customer_id = known.get(c.author_id)


def _match_fields(row, sources: dict[int, Source]) -> dict[str, str]:
    """What an incident matcher may look at besides the text (the listening query language
    understands ``lang:``, ``sentiment:``, ``from:`` and ``source:``)."""
    source = sources.get(row.source_id)
    return {"language": row.language or "", "sentiment": row.sentiment or "", "handle": row.author_handle or "",
            "platform": source.platform if source is not None else ""}


# What a post joining a conversation may change, written back in one statement per conversation.
_JOIN_COLUMNS = ("status", "snooze_until", "resolved_at", "first_reply_at", "last_reply_at", "waiting_since",
                 "next_response_due", "last_customer_post_at", "last_post_id", "preview", "updated_at",
                 "incident_id", "labels", "sla_marks")


def _join(workspace_id: int, joined: list, incidents: list, now: datetime, sources: dict[int, Source]) -> None:
    """Posts joining existing conversations, set-based: a busy thread's replies in a batch cost one
    locked read and one update per conversation, not a few ORM queries per post."""
    insert_memberships([(c.pk, post.id) for c, post in joined])
    # Lock the rows in id order (PostgreSQL; an SQLite write transaction is exclusive anyway) and
    # start from what they hold now: an agent may have changed one since routing read it.
    state: dict[int, dict] = {}
    ids = sorted({c.pk for c, _ in joined})
    for start in range(0, len(ids), 900):
        for values in (Conversation.objects.select_for_update().filter(pk__in=ids[start:start + 900]).order_by("pk")
                       .values("pk", "team_id", *_JOIN_COLUMNS)):
            state[values.pop("pk")] = values
    policies = None
    events: list[ConversationEvent] = []
    for conversation, post in joined:
        current = state.get(conversation.pk)
        if current is None:
            continue  # deleted since routing read it
        row = post.row
        if row.is_outbound:
            # The brand answered on the platform itself: that is a response too.
            if current["first_reply_at"] is None:
                current["first_reply_at"] = now
            current.update(last_reply_at=now, waiting_since=None, next_response_due=None, updated_at=now)
            continue
        created = row.created_at if row.created_at <= now else now
        current["updated_at"] = now
        # A post sent to the desk by hand may be older than what the conversation already holds:
        # it joins, but the conversation's latest post (preview, position in queues) stays.
        if current["last_post_id"] is None or post.id > current["last_post_id"]:
            current.update(last_customer_post_at=created, last_post_id=post.id, preview=row.text[:280])
        if current["status"] in (Status.PENDING, Status.SNOOZED, Status.RESOLVED):
            events.append(_event(conversation.pk, workspace_id, "reopened", None, now, previous=current["status"], post=post.id))
            current.update(status=Status.OPEN, snooze_until=None, resolved_at=None)
        if current["waiting_since"] is None:
            current["waiting_since"] = created
            if current["first_reply_at"] is not None:
                if policies is None:
                    policies = _Policies(workspace_id)
                current["next_response_due"] = policies.due(current["team_id"], now, "next_response_minutes")
                current["sla_marks"] = current["sla_marks"].replace(",nr_warn,", ",").replace(",nr_breach,", ",")
        if current["incident_id"] is None:
            for incident, match in incidents:
                if match(row.text, **_match_fields(row, sources)):
                    current["incident_id"] = incident.pk
                    current["labels"] = _labels_value([label for label in current["labels"].split(",") if label] + [incident.label])
                    break
        events.append(_event(conversation.pk, workspace_id, "customer_post", None, now, post=post.id))
    to_db = sql.datetime_converter()
    sql.executemany(
        f"UPDATE {Conversation._meta.db_table} SET {', '.join(f'{column} = %s' for column in _JOIN_COLUMNS)} WHERE id = %s",
        [[to_db(value) if isinstance(value, datetime) else value for value in (values[c] for c in _JOIN_COLUMNS)] + [pk]
         for pk, values in state.items()],
    )
    for conversation, _post in joined:  # the callers' objects follow, as the ORM updates did
        for column, value in state.get(conversation.pk, {}).items():
            setattr(conversation, column, value)
    insert_events(events)


def insert_memberships(pairs: list[tuple[int, int]]) -> None:
    """(conversation id, post id) rows; a post already in a conversation stays where it is."""
    if pairs:
        sql.executemany(f"INSERT INTO {ConversationPost._meta.db_table} (conversation_id, post_id) VALUES (%s, %s) "
                        "ON CONFLICT (post_id) DO NOTHING", pairs)


def insert_events(events: list[ConversationEvent]) -> None:
    """Many events in one statement, without the ORM's per-object cost (routing writes thousands)."""
    if not events:
        return
    detail = "%s::jsonb" if sql.is_postgresql() else "%s"
    to_db = sql.datetime_converter()
    sql.executemany(
        f"INSERT INTO {ConversationEvent._meta.db_table} (workspace_id, conversation_id, kind, actor_id, at, detail) "
        f"VALUES (%s, %s, %s, %s, %s, {detail})",
        [(e.workspace_id, e.conversation_id, e.kind, e.actor_id, to_db(e.at), json.dumps(e.detail, cls=DjangoJSONEncoder))
         for e in events],
    )


# --- sending a post to the desk by hand (listening columns, the thread page, the API) -------------

def _as_stored(post: Post):
    """A stored post as the ingest hook hands it over, so that a post sent by hand goes through
    exactly the intake code (thread keys, rules, incidents, SLA) that new posts go through."""
    from veille.ingest.pipeline import StoredPost
    from veille.ingest.store import PostRow

    author = post.author
    row = PostRow(source_id=post.source_id, external_id=post.external_id, author_key=(author.platform, author.external_id),
                  text=post.text, created_at=post.created_at, kind=post.kind, is_outbound=post.is_outbound, url=post.url,
                  in_reply_to_external_id=post.in_reply_to_external_id, author_handle=author.handle,
                  reply_to_id=post.reply_to_id, thread_root_id=post.thread_root_id, language=post.language,
                  sentiment=post.sentiment, complaint=post.complaint)
    return StoredPost(post.pk, post.workspace_id, post.author_id, row)


def open_from_post(post: Post, actor: User, now: datetime | None = None) -> Conversation:
    """Someone decided this post needs an answer: open a conversation for it, or join the one its
    thread already has, with the routing rules applied as at intake. Idempotent: a post already
    in a conversation returns that conversation, and who sent it is recorded once."""
    now = _now(now)
    if post.is_outbound:
        raise CareError(_("The brand's own posts cannot be sent to the care desk."), "outbound_post")
    with transaction.atomic():
        # Two people pressing "Send to care" at once: the second waits here (PostgreSQL row lock;
        # SQLite write transactions are already serial) and then finds the first one's work.
        locked = (Post.objects.select_for_update(of=("self",)).select_related("author")
                  .filter(pk=post.pk, workspace_id=post.workspace_id).first())
        if locked is None:
            raise CareError(_("No such post."), "not_found")
        conversation_id = ConversationPost.objects.filter(post_id=locked.pk).values_list("conversation_id", flat=True).first()
        if conversation_id is None:
            _route(locked.workspace_id, [_as_stored(locked)], now, force=frozenset({locked.pk}), actor=actor)
            conversation_id = ConversationPost.objects.filter(post_id=locked.pk).values_list("conversation_id", flat=True).get()
        already = ConversationEvent.objects.filter(conversation_id=conversation_id, kind="sent_to_care", detail__post=locked.pk)
        if not already.exists():
            _event(conversation_id, locked.workspace_id, "sent_to_care", actor, now, post=locked.pk).save()
            _publish_after_commit(locked.workspace_id, {"type": "care", "conversation": conversation_id})
    return Conversation.objects.select_related("source", "author", "assignee").get(pk=conversation_id)


# --- assignment ----------------------------------------------------------------------------------

def _take(conversation_id: int, user_id: int, now: datetime, *, expected: int | None = None, any_owner: bool = False) -> bool:
    """Set the assignee only if it is still what the caller saw (one conditional UPDATE)."""
    queryset = Conversation.objects.filter(pk=conversation_id)
    if not any_owner:
        queryset = queryset.filter(assignee__isnull=True) if expected is None else queryset.filter(assignee_id=expected)
    return queryset.exclude(status=Status.CLOSED).update(
        assignee_id=user_id, assigned_at=now, updated_at=now,
        status=Case(When(status=Status.NEW, then=Value(Status.OPEN)), default=F("status")),
    ) == 1


def claim(conversation: Conversation, actor: User, now: datetime | None = None) -> Conversation:
    """The actor takes an unassigned conversation; fails if someone else got it first."""
    now = _now(now)
    with transaction.atomic():
        if not _take(conversation.pk, actor.pk, now):
            current = Conversation.objects.filter(pk=conversation.pk).values_list("assignee_id", flat=True).first()
            if current == actor.pk:
                return Conversation.objects.get(pk=conversation.pk)
            raise Conflict(_("Someone else already took this conversation."), "already_assigned")
        _record(conversation, "assigned", actor, now, to=actor.pk, previous=None, how="claim")
        _changed(conversation, now)
    conversation.assignee, conversation.assigned_at, conversation.updated_at = actor, now, now
    if conversation.status == Status.NEW:
        conversation.status = Status.OPEN
    return conversation


def assign(conversation: Conversation, actor: User, user_id: int | None, *, expected: int | None | str = "any",
           now: datetime | None = None) -> Conversation:
    """A manager (or the assignee) hands the conversation to ``user_id`` (None: unassign).

    ``expected`` is the assignee the caller saw; with "any" the current value is read and the
    update is conditional on it, so a concurrent claim is never silently overwritten.
    """
    now = _now(now)
    target = _member(conversation.workspace_id, user_id)
    current = Conversation.objects.filter(pk=conversation.pk).values_list("assignee_id", flat=True).first()
    seen = current if expected == "any" else expected
    with transaction.atomic():
        if target is None:
            moved = Conversation.objects.filter(pk=conversation.pk, assignee_id=seen).update(assignee=None, assigned_at=None, updated_at=now)
        else:
            moved = _take(conversation.pk, target.pk, now, expected=seen)
        if not moved:
            raise Conflict(_("The conversation changed hands meanwhile; reload and try again."), "assignee_changed")
        _record(conversation, "assigned" if target else "unassigned", actor, now, to=target.pk if target else None,
                previous=seen, how="manual")
        if target is not None and target.pk != actor.pk:
            _notify(conversation.workspace_id, [target.pk], "assigned",
                    _("%(user)s assigned conversation #%(id)s to you.") % {"user": actor.get_username(), "id": conversation.pk},
                    conversation.pk, now)
        _changed(conversation, now)
    return Conversation.objects.get(pk=conversation.pk)


def _eligible(profile: AgentProfile, conversation: Conversation, team_languages: dict[int, list]) -> bool:
    if conversation.team_id is not None and profile.team_id != conversation.team_id:
        return False
    languages = profile.languages or team_languages.get(profile.team_id) or []
    return not (languages and conversation.language and conversation.language not in languages)


def auto_assign(workspace_id: int, conversation_ids: list[int] | None = None, now: datetime | None = None,
                exclude: dict[int, set[int]] | None = None, limit: int = 200) -> int:
    """Give waiting unassigned conversations to the least-loaded eligible online agent."""
    now = _now(now)
    profiles = list(AgentProfile.objects.filter(workspace_id=workspace_id, presence=Presence.ONLINE))
    if not profiles:
        return 0
    loads = dict(Conversation.objects.filter(workspace_id=workspace_id, assignee_id__in=[p.user_id for p in profiles],
                                             status__in=LOAD_STATUSES)
                 .values_list("assignee_id").annotate(n=Count("id")).values_list("assignee_id", "n"))
    team_languages = dict(Team.objects.filter(workspace_id=workspace_id).values_list("id", "languages"))
    queryset = Conversation.objects.filter(workspace_id=workspace_id, assignee__isnull=True, status__in=(Status.NEW, Status.OPEN))
    if conversation_ids is not None:
        queryset = queryset.filter(pk__in=conversation_ids)
    assigned = 0
    for conversation in queryset.order_by("-priority", "last_customer_post_at", "id")[:limit]:
        skip = (exclude or {}).get(conversation.pk, set())
        candidates = [p for p in profiles if p.user_id not in skip and loads.get(p.user_id, 0) < p.capacity
                      and _eligible(p, conversation, team_languages)]
        if not candidates:
            continue
        chosen = min(candidates, key=lambda p: (loads.get(p.user_id, 0), p.user_id))
        with transaction.atomic():
            if _take(conversation.pk, chosen.user_id, now):
                _record(conversation, "assigned", None, now, to=chosen.user_id, previous=None, how="auto")
                _changed(conversation, now)
                loads[chosen.user_id] = loads.get(chosen.user_id, 0) + 1
                assigned += 1
    return assigned


def auto_assign_waiting(now: datetime | None = None) -> int:
    """Scheduled: assign what is waiting in every workspace that has an online agent (catches
    conversations that arrived while nobody was online, or whose agent went offline)."""
    now = _now(now)
    total = 0
    disabled = set(CareSettings.objects.filter(auto_assign=False).values_list("workspace_id", flat=True))
    for workspace_id in (AgentProfile.objects.filter(presence=Presence.ONLINE).values_list("workspace_id", flat=True)
                         .distinct().order_by("workspace_id")):
        if workspace_id not in disabled:
            total += auto_assign(workspace_id, None, now)
    return total


def reassign_stale(now: datetime | None = None) -> int:
    """Scheduled: hand on conversations whose assignee has not answered within N minutes."""
    now = _now(now)
    moved = 0
    for config in CareSettings.objects.filter(reassign_after_minutes__gt=0):
        cutoff = now - timedelta(minutes=config.reassign_after_minutes)
        stale = (Conversation.objects.filter(workspace_id=config.workspace_id, assignee__isnull=False, assigned_at__lte=cutoff,
                                             status__in=LOAD_STATUSES, waiting_since__isnull=False)
                 .filter(Q(last_reply_at__isnull=True) | Q(last_reply_at__lt=F("assigned_at")))
                 .values_list("id", "assignee_id")[:500])
        exclude: dict[int, set[int]] = {}
        for conversation_id, assignee_id in stale:
            with transaction.atomic():
                if Conversation.objects.filter(pk=conversation_id, assignee_id=assignee_id, assigned_at__lte=cutoff).update(
                        assignee=None, assigned_at=None, updated_at=now):
                    ConversationEvent.objects.create(workspace_id=config.workspace_id, conversation_id=conversation_id,
                                                     kind="unassigned", at=now, detail={"previous": assignee_id, "how": "stale",
                                                                                         "minutes": config.reassign_after_minutes})
                    _notify(config.workspace_id, [assignee_id], "reassigned",
                            _("Conversation #%(id)s was handed to someone else: no answer within %(minutes)s minutes.")
                            % {"id": conversation_id, "minutes": config.reassign_after_minutes}, conversation_id, now)
                    _publish_after_commit(config.workspace_id, {"type": "care", "conversation": conversation_id})
                    exclude[conversation_id] = {assignee_id}
                    moved += 1
        if exclude:
            auto_assign(config.workspace_id, list(exclude), now, exclude=exclude)
    return moved


def set_presence(workspace: Workspace, user: User, presence: str, now: datetime | None = None) -> AgentProfile:
    if presence not in Presence.values:
        raise CareError(_("Unknown presence."), "invalid_presence")
    now = _now(now)
    profile = agent_profile(workspace.pk, user)
    AgentProfile.objects.filter(pk=profile.pk).update(presence=presence, presence_at=now)
    profile.presence, profile.presence_at = presence, now
    if presence == Presence.ONLINE:
        transaction.on_commit(lambda: _auto_assign_safely(workspace.pk, None))
    return profile


def seen(workspace_id: int, user: User, now: datetime | None = None) -> None:
    """The agent is at the desk (a page or a ping): keeps an online presence fresh."""
    AgentProfile.objects.filter(workspace_id=workspace_id, user=user, presence=Presence.ONLINE).update(presence_at=_now(now))


def expire_presence(now: datetime | None = None, idle_minutes: int = 10) -> int:
    """Scheduled: online agents not seen for ``idle_minutes`` (closed their browser) become away,
    so automatic assignment stops giving them conversations."""
    now = _now(now)
    return AgentProfile.objects.filter(presence=Presence.ONLINE, presence_at__lt=now - timedelta(minutes=idle_minutes)).update(
        presence=Presence.AWAY)


def agent_profile(workspace_id: int, user: User) -> AgentProfile:
    profile = AgentProfile.objects.filter(workspace_id=workspace_id, user=user).first()
    if profile is not None:
        return profile
    try:
        with transaction.atomic():
            return AgentProfile.objects.create(workspace_id=workspace_id, user=user)
    except IntegrityError:
        return AgentProfile.objects.get(workspace_id=workspace_id, user=user)


def update_agent(workspace: Workspace, actor: User, user_id: int, *, team_id: int | None = None, capacity: int | None = None,
                 languages: list[str] | None = None, approval_policy: str | None = None, approval_first_n: int | None = None,
                 clear_team: bool = False) -> AgentProfile:
    user = _member(workspace.pk, user_id)
    profile = agent_profile(workspace.pk, user)
    fields = []
    if team_id is not None or clear_team:
        if team_id is not None and not Team.objects.filter(pk=team_id, workspace=workspace).exists():
            raise CareError(_("No such team."), "unknown_team")
        profile.team_id = None if clear_team else team_id
        fields.append("team")
    if capacity is not None:
        profile.capacity = max(0, min(int(capacity), 1000))
        fields.append("capacity")
    if languages is not None:
        profile.languages = [str(code)[:8] for code in languages][:20]
        fields.append("languages")
    if approval_policy is not None:
        if approval_policy not in ("", *ApprovalPolicy.values):
            raise CareError(_("Unknown approval policy."), "invalid_policy")
        profile.approval_policy = approval_policy
        fields.append("approval_policy")
    if approval_first_n is not None:
        profile.approval_first_n = max(0, min(int(approval_first_n), 1000))
        fields.append("approval_first_n")
    if fields:
        profile.save(update_fields=fields)
        record_audit(workspace, actor, "care_update_agent", user.get_username(), fields=fields)
    return profile


# --- status, priority, labels, team --------------------------------------------------------------

def set_status(conversation: Conversation, actor: User | None, status: str, *, snooze_until: datetime | None = None,
               now: datetime | None = None) -> Conversation:
    now = _now(now)
    current = Conversation.objects.filter(pk=conversation.pk).values(
        "status", "resolution_due", "team_id", "assignee_id").first()
    if current is None:
        raise CareError(_("No such conversation."), "not_found")
    old = current["status"]
    if status not in Status.values:
        raise CareError(_("Unknown status."), "invalid_status")
    if status == old:
        return Conversation.objects.get(pk=conversation.pk)
    if status not in TRANSITIONS[old]:
        raise Conflict(_("A conversation cannot go from %(old)s to %(new)s.") % {"old": Status(old).label, "new": Status(status).label},
                       "invalid_transition")
    updates: dict = {"status": status, "updated_at": now}
    if status == Status.SNOOZED:
        if snooze_until is None or snooze_until <= now:
            raise CareError(_("Snoozing needs a time in the future."), "snooze_until_required")
        updates["snooze_until"] = snooze_until
    else:
        updates["snooze_until"] = None
    if status == Status.RESOLVED:
        updates.update(resolved_at=now, waiting_since=None, next_response_due=None)
    elif status == Status.CLOSED:
        updates.update(closed_at=now, waiting_since=None, next_response_due=None)
    elif status == Status.OPEN and old == Status.RESOLVED:
        updates["resolved_at"] = None
    with transaction.atomic():
        if not Conversation.objects.filter(pk=conversation.pk, status=old).update(**updates):
            raise Conflict(_("The conversation changed meanwhile; reload and try again."), "status_changed")
        _record(conversation, "status", actor, now, previous=old, status=status,
                snooze_until=snooze_until.isoformat() if snooze_until else None)
        if status == Status.RESOLVED:
            _sla_outcome(conversation.pk, conversation.workspace_id, SlaEvent.Metric.RESOLUTION, current["resolution_due"], now,
                         current["team_id"], current["assignee_id"])
        _changed(conversation, now)
    return Conversation.objects.get(pk=conversation.pk)


def set_priority(conversation: Conversation, actor: User | None, priority: int, now: datetime | None = None) -> Conversation:
    now = _now(now)
    if priority not in Priority.values:
        raise CareError(_("Unknown priority."), "invalid_priority")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(priority=priority, updated_at=now)
        _record(conversation, "priority", actor, now, priority=priority)
        _changed(conversation, now)
    return Conversation.objects.get(pk=conversation.pk)


def set_labels(conversation: Conversation, actor: User | None, *, add: Iterable[str] = (), remove: Iterable[str] = (),
               now: datetime | None = None) -> Conversation:
    now = _now(now)
    add, remove = list(add), {str(label).strip().lower() for label in remove}
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        labels = [label for label in locked.label_list() if label not in remove] + add
        value = _labels_value(labels)
        Conversation.objects.filter(pk=conversation.pk).update(labels=value, updated_at=now)
        _record(conversation, "labels", actor, now, labels=[label for label in value.split(",") if label])
        _changed(conversation, now)
    return Conversation.objects.get(pk=conversation.pk)


def set_team(conversation: Conversation, actor: User | None, team_id: int | None, now: datetime | None = None) -> Conversation:
    now = _now(now)
    if team_id is not None and not Team.objects.filter(pk=team_id, workspace_id=conversation.workspace_id).exists():
        raise CareError(_("No such team."), "unknown_team")
    with transaction.atomic():
        Conversation.objects.filter(pk=conversation.pk).update(team_id=team_id, updated_at=now)
        _record(conversation, "team", actor, now, team=team_id)
        _changed(conversation, now)
    return Conversation.objects.get(pk=conversation.pk)


# --- notes and notifications ----------------------------------------------------------------------

MENTION = re.compile(r"(?<![\w@])@([\w.+-]{1,150})")


def add_note(conversation: Conversation, actor: User, text: str, now: datetime | None = None) -> Note:
    now = _now(now)
    text = (text or "").strip()
    if not text:
        raise CareError(_("A note needs some text."), "empty")
    if len(text) > MAX_NOTE_CHARS:
        raise CareError(_("The note is too long."), "too_long")
    names = {name.rstrip(".").lower() for name in MENTION.findall(text)}
    mentioned: list[int] = []
    if names:
        query = Q()
        for name in sorted(names)[:50]:
            query |= Q(username__iexact=name)
        mentioned = list(User.objects.filter(query, memberships__workspace_id=conversation.workspace_id)
                         .exclude(pk=actor.pk).values_list("id", flat=True))
    with transaction.atomic():
        note = Note.objects.create(conversation=conversation, author=actor, text=text, mentions=sorted(set(mentioned)), created_at=now)
        _record(conversation, "note", actor, now, note=note.pk, mentions=note.mentions)
        _notify(conversation.workspace_id, mentioned, "mention",
                _("%(user)s mentioned you on conversation #%(id)s.") % {"user": actor.get_username(), "id": conversation.pk},
                conversation.pk, now)
        _changed(conversation, now)
    return note


def mark_notifications_read(user: User, workspace_id: int, ids: list[int] | None = None, now: datetime | None = None) -> int:
    queryset = Notification.objects.filter(user=user, workspace_id=workspace_id, read_at__isnull=True)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    return queryset.update(read_at=_now(now))


# --- canned responses and macros -------------------------------------------------------------------

VARIABLE = re.compile(r"\{(customer_name|customer_handle|agent_name|conversation_id|brand)\}")


def render_template(text: str, conversation: Conversation, agent: User) -> str:
    author = conversation.author
    values = {
        "customer_name": author.name or author.handle,
        "customer_handle": "@" + author.handle.lstrip("@"),
        "agent_name": agent.first_name or agent.get_username(),
        "conversation_id": str(conversation.pk),
        "brand": Workspace.objects.filter(pk=conversation.workspace_id).values_list("name", flat=True).first() or "",
    }
    return VARIABLE.sub(lambda match: values[match.group(1)], text)


def _save_named(model, workspace: Workspace, item_id: int | None, fields: dict, *, duplicate: str, missing: str):
    """Create a workspace's named item (canned response, macro) or update one of its own; a name
    already taken is a Conflict, another workspace's or unknown id is "not found"."""
    try:
        with transaction.atomic():
            if item_id is None:
                return model.objects.create(workspace=workspace, **fields)
            item = model.objects.get(pk=item_id, workspace=workspace)
            for name, value in fields.items():
                setattr(item, name, value)
            item.save(update_fields=list(fields))
            return item
    except IntegrityError:
        raise Conflict(duplicate, "duplicate_name") from None
    except model.DoesNotExist:
        raise CareError(missing, "not_found") from None


def save_canned(workspace: Workspace, actor: User, name: str, text: str, canned_id: int | None = None) -> CannedResponse:
    name, text = (name or "").strip()[:120], (text or "").strip()
    if not name or not text:
        raise CareError(_("A canned response needs a name and a text."), "empty")
    canned = _save_named(CannedResponse, workspace, canned_id, {"name": name, "text": text},
                         duplicate=_("A canned response with this name exists."), missing=_("No such canned response."))
    record_audit(workspace, actor, "care_save_canned", name)
    return canned


MACRO_STEPS = {"add_label", "remove_label", "set_priority", "set_status", "set_team", "assign_to_me", "unassign", "note", "reply"}


def validate_steps(workspace_id: int, steps: list) -> list[dict]:
    if not isinstance(steps, list) or not steps or len(steps) > 20:
        raise CareError(_("A macro has between 1 and 20 steps."), "invalid_steps")
    clean = []
    for step in steps:
        if not isinstance(step, dict) or step.get("do") not in MACRO_STEPS:
            raise CareError(_("Unknown macro step."), "invalid_steps")
        do = step["do"]
        value = step.get("value")
        if do == "set_priority" and value not in Priority.values:
            raise CareError(_("Unknown priority."), "invalid_steps")
        if do == "set_status" and value not in Status.values:
            raise CareError(_("Unknown status."), "invalid_steps")
        if do == "set_team" and value is not None and not Team.objects.filter(pk=value, workspace_id=workspace_id).exists():
            raise CareError(_("No such team."), "invalid_steps")
        if do == "reply" and not (isinstance(value, str) and value.strip()) and not CannedResponse.objects.filter(
                pk=step.get("canned"), workspace_id=workspace_id).exists():
            raise CareError(_("A reply step needs a text or a canned response."), "invalid_steps")
        if do in {"add_label", "remove_label", "note"} and not (isinstance(value, str) and value.strip()):
            raise CareError(_("This step needs a value."), "invalid_steps")
        clean.append({key: step[key] for key in ("do", "value", "canned") if key in step})
    return clean


def save_macro(workspace: Workspace, actor: User, name: str, steps: list, macro_id: int | None = None) -> Macro:
    name = (name or "").strip()[:120]
    if not name:
        raise CareError(_("A macro needs a name."), "empty")
    steps = validate_steps(workspace.pk, steps)
    macro = _save_named(Macro, workspace, macro_id, {"name": name, "steps": steps},
                        duplicate=_("A macro with this name exists."), missing=_("No such macro."))
    record_audit(workspace, actor, "care_save_macro", name)
    return macro


def apply_macro(conversation: Conversation, actor: User, macro: Macro, now: datetime | None = None) -> list[str]:
    """Run every step of a macro, all or nothing; returns what was done."""
    now = _now(now)
    done = []
    with transaction.atomic():
        for step in macro.steps:
            do, value = step.get("do"), step.get("value")
            if do == "add_label":
                set_labels(conversation, actor, add=[value], now=now)
            elif do == "remove_label":
                set_labels(conversation, actor, remove=[value], now=now)
            elif do == "set_priority":
                set_priority(conversation, actor, value, now=now)
            elif do == "set_status":
                set_status(conversation, actor, value, now=now)
            elif do == "set_team":
                set_team(conversation, actor, value, now=now)
            elif do == "assign_to_me":
                assign(conversation, actor, actor.pk, now=now)
            elif do == "unassign":
                assign(conversation, actor, None, now=now)
            elif do == "note":
                add_note(conversation, actor, value, now=now)
            elif do == "reply":
                text = value if isinstance(value, str) and value.strip() else CannedResponse.objects.get(
                    pk=step.get("canned"), workspace_id=conversation.workspace_id).text
                send_reply(conversation, actor, render_template(text, conversation, actor), acknowledge_warnings=True, now=now)
            done.append(do)
        _record(conversation, "macro", actor, now, macro=macro.pk, steps=done)
    return done


# --- replies, approval, outbox ----------------------------------------------------------------------

def _policy_for(workspace_id: int, user: User) -> tuple[str, int]:
    profile = AgentProfile.objects.filter(workspace_id=workspace_id, user=user).select_related("team").first()
    if profile is None:
        return ApprovalPolicy.NONE, 0
    if profile.approval_policy:
        return profile.approval_policy, profile.approval_first_n
    if profile.team is not None:
        return profile.team.approval_policy, profile.team.approval_first_n
    return ApprovalPolicy.NONE, 0


def needs_approval(workspace_id: int, user: User, warnings: list[dict]) -> bool:
    if role_of(workspace_id, user) in SUPERVISORS:
        return False
    policy, first_n = _policy_for(workspace_id, user)
    if policy == ApprovalPolicy.ALL:
        return True
    if policy == ApprovalPolicy.FLAGGED:
        return bool(warnings)
    if policy == ApprovalPolicy.FIRST_N:
        sent = Reply.objects.filter(workspace_id=workspace_id, author=user,
                                    state__in=(Reply.State.QUEUED, Reply.State.SENT, Reply.State.FAILED)).count()
        return sent < first_n
    return False


def tone_check(conversation: Conversation, text: str, *, private: bool | None = None) -> list[dict]:
    if Conversation.source.is_cached(conversation):
        platform = conversation.source.platform
    else:
        platform = Source.objects.filter(pk=conversation.source_id).values_list("platform", flat=True).first() or ""
    public = not (conversation.is_private if private is None else private)
    return tone.check(text, platform=platform, public=public, forbidden_words=care_settings(conversation.workspace_id).forbidden_words)


def send_reply(conversation: Conversation, actor: User, text: str, *, acknowledge_warnings: bool = False, purpose: str = "",
               skip_approval: bool = False, now: datetime | None = None) -> Reply:
    """Write a reply: queued to the outbox at once, or held for a community manager's approval."""
    now = _now(now)
    text = (text or "").strip()
    if not text:
        raise CareError(_("A reply needs some text."), "empty")
    if len(text) > MAX_REPLY_CHARS:
        raise CareError(_("The reply is too long."), "too_long")
    current = Conversation.objects.filter(pk=conversation.pk).values("status", "last_post_id", "is_private").first()
    if current is None:
        raise CareError(_("No such conversation."), "not_found")
    if current["status"] == Status.CLOSED:
        raise Conflict(_("This conversation is closed."), "closed")
    warnings = tone_check(conversation, text)
    if warnings and not acknowledge_warnings:
        raise ToneWarnings(warnings)
    held = not skip_approval and needs_approval(conversation.workspace_id, actor, warnings)
    target_id = current["last_post_id"] or conversation.root_post_id
    with transaction.atomic():
        reply = Reply.objects.create(
            workspace_id=conversation.workspace_id, conversation=conversation, author=actor, text=text,
            kind="dm" if current["is_private"] else "reply", target_post_id=target_id,
            state=Reply.State.AWAITING_APPROVAL if held else Reply.State.QUEUED, tone_warnings=warnings, purpose=purpose,
            created_at=now,
        )
        if held:
            _record(conversation, "reply_held", actor, now, reply=reply.pk, warnings=[w["code"] for w in warnings])
            _publish_after_commit(conversation.workspace_id, {"type": "care_approval", "reply": reply.pk})
        else:
            _queue_reply(reply, conversation, actor, now)
        _changed(conversation, now)
    return reply


def _queue_reply(reply: Reply, conversation: Conversation, actor: User | None, now: datetime) -> None:
    """Hand a reply to the outbox (same transaction as the reply's state) and record the response."""
    from veille.sources.actions import request_action

    source = Source.objects.select_related("workspace").get(pk=conversation.source_id)
    target = Post.objects.filter(pk=reply.target_post_id).only("external_id").first() if reply.target_post_id else None
    author = conversation.author
    action = request_action(
        source, reply.author, kind=reply.kind, idempotency_key=reply.idempotency_key, text=reply.text,
        target_external_id=target.external_id if target and reply.kind == "reply" else "",
        recipient_external_id=author.external_id if reply.kind == "dm" else "",
        extra={"care_conversation": conversation.pk, "care_reply": reply.pk},
    )
    reply.outbound, reply.state, reply.queued_at = action, Reply.State.QUEUED, now
    reply.save(update_fields=["outbound", "state", "queued_at", "text", "original_text", "reviewed_by", "reviewed_at", "review_note"])
    timing = Conversation.objects.filter(pk=conversation.pk).values(
        "first_response_due", "next_response_due", "first_reply_at", "team_id", "assignee_id").first()
    if Conversation.objects.filter(pk=conversation.pk, first_reply_at__isnull=True).update(first_reply_at=now):
        _sla_outcome(conversation.pk, conversation.workspace_id, SlaEvent.Metric.FIRST_RESPONSE, timing["first_response_due"], now,
                     timing["team_id"], reply.author_id)
    elif timing["next_response_due"] is not None:
        _sla_outcome(conversation.pk, conversation.workspace_id, SlaEvent.Metric.NEXT_RESPONSE, timing["next_response_due"], now,
                     timing["team_id"], reply.author_id)
    Conversation.objects.filter(pk=conversation.pk).update(
        last_reply_at=now, waiting_since=None, next_response_due=None, updated_at=now,
        status=Case(When(status=Status.NEW, then=Value(Status.OPEN)), default=F("status")))
    _record(conversation, "reply_queued", actor, now, reply=reply.pk, outbound=action.pk, author=reply.author_id)


def approve_reply(reply: Reply, actor: User, *, text: str | None = None, note: str = "", now: datetime | None = None) -> Reply:
    now = _now(now)
    with transaction.atomic():
        # Only the reply row: joined rows locked too (the conversation, the customer's author row)
        # would make agents and the ingest worker wait on a manager's approval.
        locked = Reply.objects.select_for_update(of=("self",)).select_related("conversation", "conversation__author").get(pk=reply.pk)
        if locked.state != Reply.State.AWAITING_APPROVAL:
            raise Conflict(_("This reply is no longer waiting for approval."), "not_awaiting")
        conversation = locked.conversation
        if conversation.status == Status.CLOSED:
            raise Conflict(_("This conversation is closed."), "closed")
        edited = text is not None and text.strip() and text.strip() != locked.text
        if edited:
            if len(text) > MAX_REPLY_CHARS:
                raise CareError(_("The reply is too long."), "too_long")
            locked.original_text, locked.text = locked.text, text.strip()
        locked.reviewed_by, locked.reviewed_at, locked.review_note = actor, now, (note or "").strip()[:2000]
        _queue_reply(locked, conversation, actor, now)
        _record(conversation, "reply_approved", actor, now, reply=locked.pk, edited=bool(edited))
        if locked.author_id and locked.author_id != actor.pk:
            message = _("Your reply on conversation #%(id)s was approved.") % {"id": conversation.pk}
            if locked.review_note:
                message += " " + locked.review_note
            _notify(conversation.workspace_id, [locked.author_id], "reply_approved", message, conversation.pk, now)
        _changed(conversation, now)
    return locked


def reject_reply(reply: Reply, actor: User, *, note: str, now: datetime | None = None) -> Reply:
    now = _now(now)
    note = (note or "").strip()
    if not note:
        raise CareError(_("Say why the reply is rejected: the agent sees this note."), "note_required")
    with transaction.atomic():
        locked = Reply.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=reply.pk)
        if locked.state != Reply.State.AWAITING_APPROVAL:
            raise Conflict(_("This reply is no longer waiting for approval."), "not_awaiting")
        locked.state, locked.reviewed_by, locked.reviewed_at, locked.review_note = Reply.State.REJECTED, actor, now, note[:2000]
        locked.save(update_fields=["state", "reviewed_by", "reviewed_at", "review_note"])
        _record(locked.conversation, "reply_rejected", actor, now, reply=locked.pk)
        if locked.author_id:
            _notify(locked.workspace_id, [locked.author_id], "reply_rejected",
                    _("Your reply on conversation #%(id)s was rejected: %(note)s") % {"id": locked.conversation_id, "note": note},
                    locked.conversation_id, now)
        _changed(locked.conversation, now)
    return locked


def sync_reply_results(now: datetime | None = None, limit: int = 500) -> int:
    """Scheduled: copy the outbox's outcome (sent, external id, error) onto queued replies."""
    now = _now(now)
    done = 0
    finished = (Reply.objects.filter(state=Reply.State.QUEUED, outbound__status__in=(
        OutboundStatus.SENT, OutboundStatus.FAILED, OutboundStatus.UNSUPPORTED))
        .select_related("outbound").order_by("id")[:limit])
    for reply in finished:
        action: OutboundAction = reply.outbound
        sent = action.status == OutboundStatus.SENT
        state = Reply.State.SENT if sent else Reply.State.FAILED
        with transaction.atomic():
            if Reply.objects.filter(pk=reply.pk, state=Reply.State.QUEUED).update(
                    state=state, result_external_id=action.result_external_id, error=action.error[:2000],
                    sent_at=action.sent_at if sent else None):
                ConversationEvent.objects.create(workspace_id=reply.workspace_id, conversation_id=reply.conversation_id,
                                                 kind="reply_sent" if sent else "reply_failed", at=now,
                                                 detail={"reply": reply.pk, "external_id": action.result_external_id,
                                                         "error": action.error[:500]})
                if not sent and reply.author_id:
                    _notify(reply.workspace_id, [reply.author_id], "reply_failed",
                            _("Your reply on conversation #%(id)s could not be sent: %(error)s")
                            % {"id": reply.conversation_id, "error": action.error[:200]}, reply.conversation_id, now)
                done += 1
    return done


def move_to_private(conversation: Conversation, actor: User, text: str | None = None, now: datetime | None = None) -> tuple[Reply, Conversation]:
    """Reply publicly with an invitation to a private message, and open the linked DM conversation."""
    now = _now(now)
    if conversation.is_private:
        raise Conflict(_("This conversation is already private."), "already_private")
    template = (text or "").strip() or care_settings(conversation.workspace_id).dm_invite_template or _(
        "Hello {customer_name}, we would like to look into this with you: could you send us a private message? Thank you!")
    body = render_template(template, conversation, actor)
    with transaction.atomic():
        reply = send_reply(conversation, actor, body, acknowledge_warnings=True, purpose="dm_invite", now=now)
        key = f"dm:{conversation.source_id}:{conversation.author_id}"
        private = (Conversation.objects.filter(workspace_id=conversation.workspace_id, thread_key=key)
                   .exclude(status=Status.CLOSED).order_by("-id").first())
        if private is None:
            private = Conversation.objects.create(
                workspace_id=conversation.workspace_id, source_id=conversation.source_id, thread_key=key, is_private=True,
                root_post=None, author_id=conversation.author_id, customer_id=conversation.customer_id, status=Status.PENDING,
                priority=conversation.priority, labels=conversation.labels, team_id=conversation.team_id,
                assignee_id=conversation.assignee_id, assigned_at=now if conversation.assignee_id else None,
                language=conversation.language, preview=conversation.preview, created_at=now,
                last_customer_post_at=conversation.last_customer_post_at, linked_id=conversation.pk, updated_at=now,
            )
            _record(private, "created", actor, now, linked=conversation.pk, how="move_to_private")
        else:
            Conversation.objects.filter(pk=private.pk).update(linked_id=conversation.pk)
        Conversation.objects.filter(pk=conversation.pk).update(linked_id=private.pk, updated_at=now)
        _record(conversation, "moved_to_private", actor, now, linked=private.pk, reply=reply.pk)
    return reply, private


# --- presence pings ---------------------------------------------------------------------------------

def ping(conversation: Conversation, user: User, typing: bool = False, now: datetime | None = None) -> list[dict]:
    """Record that ``user`` has the conversation open (and is typing); return the others'."""
    now = _now(now)
    if not ViewerPing.objects.filter(conversation=conversation, user=user).update(typing=typing, at=now):
        try:
            with transaction.atomic():
                ViewerPing.objects.create(conversation=conversation, user=user, typing=typing, at=now)
        except IntegrityError:
            ViewerPing.objects.filter(conversation=conversation, user=user).update(typing=typing, at=now)
    return viewers(conversation, user, now)


def viewers(conversation: Conversation, user: User | None, now: datetime | None = None) -> list[dict]:
    now = _now(now)
    rows = (ViewerPing.objects.filter(conversation=conversation, at__gte=now - timedelta(seconds=VIEWER_TTL_S))
            .exclude(user=user).values_list("user__username", "typing", "at").order_by("user__username"))
    return [{"username": name, "typing": typing and at >= now - timedelta(seconds=TYPING_TTL_S)} for name, typing, at in rows]


# --- routing configuration -------------------------------------------------------------------------

def save_team(workspace: Workspace, actor: User, *, name: str, languages: list[str] | None = None, approval_policy: str = "none",
              approval_first_n: int = 5, business_hours: dict | None = None, team_id: int | None = None) -> Team:
    name = (name or "").strip()[:120]
    if not name:
        raise CareError(_("A team needs a name."), "empty")
    if approval_policy not in ApprovalPolicy.values:
        raise CareError(_("Unknown approval policy."), "invalid_policy")
    try:
        hours.validate(business_hours or {})
    except (ValueError, TypeError) as error:
        raise CareError(_("Business hours: %(error)s") % {"error": error}, "invalid_hours") from None
    values = dict(name=name, languages=[str(code)[:8] for code in (languages or [])][:20], approval_policy=approval_policy,
                  approval_first_n=max(0, min(int(approval_first_n), 1000)), business_hours=business_hours or {})
    try:
        with transaction.atomic():
            if team_id is None:
                team = Team.objects.create(workspace=workspace, **values)
            else:
                team = Team.objects.get(pk=team_id, workspace=workspace)
                for key, value in values.items():
                    setattr(team, key, value)
                team.save(update_fields=list(values))
    except IntegrityError:
        raise Conflict(_("A team with this name exists."), "duplicate_name") from None
    except Team.DoesNotExist:
        raise CareError(_("No such team."), "not_found") from None
    record_audit(workspace, actor, "care_save_team", name)
    return team


RULE_CONDITIONS = {"text_contains", "language", "sentiment", "source_ids", "author_handles", "labels"}


def save_rule(workspace: Workspace, actor: User, *, name: str, conditions: dict, set_team_id: int | None = None,
              set_priority: int | None = None, add_labels: list[str] | None = None, position: int = 0, enabled: bool = True,
              rule_id: int | None = None) -> RoutingRule:
    name = (name or "").strip()[:120]
    if not name:
        raise CareError(_("A rule needs a name."), "empty")
    if not isinstance(conditions, dict) or set(conditions) - RULE_CONDITIONS or not all(
            isinstance(value, list) and len(value) <= 100 for value in conditions.values()):
        raise CareError(_("Conditions are lists under: %(keys)s") % {"keys": ", ".join(sorted(RULE_CONDITIONS))}, "invalid_conditions")
    if set_team_id is not None and not Team.objects.filter(pk=set_team_id, workspace=workspace).exists():
        raise CareError(_("No such team."), "unknown_team")
    if set_priority is not None and set_priority not in Priority.values:
        raise CareError(_("Unknown priority."), "invalid_priority")
    labels = [label for label in _labels_value(add_labels or []).split(",") if label]
    values = dict(name=name, conditions=conditions, set_team_id=set_team_id, set_priority=set_priority, add_labels=labels,
                  position=position, enabled=enabled)
    if rule_id is None:
        rule = RoutingRule.objects.create(workspace=workspace, **values)
    else:
        rule = RoutingRule.objects.filter(pk=rule_id, workspace=workspace).first()
        if rule is None:
            raise CareError(_("No such rule."), "not_found")
        for key, value in values.items():
            setattr(rule, key, value)
        rule.save(update_fields=[key if key != "set_team_id" else "set_team" for key in values])
    record_audit(workspace, actor, "care_save_rule", name)
    return rule


def save_sla_policy(workspace: Workspace, actor: User, *, name: str, team_id: int | None, first_response_minutes: int,
                    next_response_minutes: int, resolution_minutes: int, warn_before_minutes: int = 10) -> SlaPolicy:
    if team_id is not None and not Team.objects.filter(pk=team_id, workspace=workspace).exists():
        raise CareError(_("No such team."), "unknown_team")
    numbers = [first_response_minutes, next_response_minutes, resolution_minutes, warn_before_minutes]
    if any(not isinstance(n, int) or n < 0 or n > 525_600 for n in numbers):
        raise CareError(_("Minutes are whole numbers between 0 and 525600."), "invalid_minutes")
    values = dict(name=(name or "SLA").strip()[:120], first_response_minutes=first_response_minutes,
                  next_response_minutes=next_response_minutes, resolution_minutes=resolution_minutes,
                  warn_before_minutes=warn_before_minutes)
    with transaction.atomic():
        policy = SlaPolicy.objects.select_for_update().filter(workspace=workspace, team_id=team_id).first()
        if policy is None:
            policy = SlaPolicy.objects.create(workspace=workspace, team_id=team_id, **values)
        else:
            for key, value in values.items():
                setattr(policy, key, value)
            policy.save(update_fields=list(values))
    record_audit(workspace, actor, "care_save_sla_policy", policy.name, team=team_id)
    return policy


def update_settings(workspace: Workspace, actor: User, **values) -> CareSettings:
    config = care_settings(workspace.pk)
    fields = []
    if values.get("forbidden_words") is not None:
        config.forbidden_words = [str(word).strip()[:100] for word in values["forbidden_words"] if str(word).strip()][:500]
        fields.append("forbidden_words")
    if values.get("complaint_threshold") is not None:
        threshold = float(values["complaint_threshold"])
        if not 0.0 <= threshold <= 1.0:
            raise CareError(_("The complaint threshold is between 0 and 1."), "invalid_threshold")
        config.complaint_threshold = threshold
        fields.append("complaint_threshold")
    if values.get("reassign_after_minutes") is not None:
        config.reassign_after_minutes = max(0, min(int(values["reassign_after_minutes"]), 10_000))
        fields.append("reassign_after_minutes")
    if values.get("auto_assign") is not None:
        config.auto_assign = bool(values["auto_assign"])
        fields.append("auto_assign")
    if values.get("dm_invite_template") is not None:
        config.dm_invite_template = str(values["dm_invite_template"])[:2000]
        fields.append("dm_invite_template")
    if fields:
        config.save(update_fields=fields)
        record_audit(workspace, actor, "care_update_settings", "", fields=fields)
    return config


def link_identities(workspace: Workspace, actor: User, customer_id: int, author_id: int) -> Customer:
    """Say that an author (one platform identity) is this customer too."""
    from veille.ingest.models import Author

    customer = Customer.objects.filter(pk=customer_id, workspace=workspace).first()
    author = Author.objects.filter(pk=author_id, workspace=workspace).first()
    if customer is None or author is None:
        raise CareError(_("No such customer or author."), "not_found")
    with transaction.atomic():
        CustomerIdentity.objects.update_or_create(author=author, defaults={"customer": customer})
        Conversation.objects.filter(workspace=workspace, author=author).update(customer=customer)
    record_audit(workspace, actor, "care_link_identity", author.handle, customer=customer.pk)
    return customer


# --- SLA checks -----------------------------------------------------------------------------------

SLA_CHECKS = (
    ("fr", SlaEvent.Metric.FIRST_RESPONSE, "first_response_due", Q(first_reply_at__isnull=True)),
    ("nr", SlaEvent.Metric.NEXT_RESPONSE, "next_response_due", Q(waiting_since__isnull=False)),
    ("rs", SlaEvent.Metric.RESOLUTION, "resolution_due", Q()),
)


def check_sla(now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Scheduled (every minute): wake snoozed conversations, warn before SLA breaches and
    escalate breaches to the community managers. Each fact is recorded once."""
    now = _now(now)
    counts = {"warnings": 0, "breaches": 0, "woken": 0}
    for conversation_id, workspace_id in Conversation.objects.filter(status=Status.SNOOZED, snooze_until__lte=now).values_list(
            "id", "workspace_id")[:limit]:
        with transaction.atomic():
            if Conversation.objects.filter(pk=conversation_id, status=Status.SNOOZED).update(status=Status.OPEN, snooze_until=None,
                                                                                           updated_at=now):
                ConversationEvent.objects.create(workspace_id=workspace_id, conversation_id=conversation_id, kind="status", at=now,
                                                 detail={"previous": Status.SNOOZED, "status": Status.OPEN, "how": "snooze_ended"})
                _publish_after_commit(workspace_id, {"type": "care", "conversation": conversation_id})
                counts["woken"] += 1
    warn_minutes = dict(SlaPolicy.objects.values_list("id", "warn_before_minutes"))
    horizon = now + timedelta(minutes=max(warn_minutes.values(), default=0))
    policies_by_workspace: dict[int, _Policies] = {}
    for prefix, metric, field, condition in SLA_CHECKS:
        candidates = (Conversation.objects.filter(condition, status__in=ACTIVE_STATUSES, **{f"{field}__lte": horizon})
                      .exclude(sla_marks__contains=f",{prefix}_breach,")
                      .values_list("id", "workspace_id", "team_id", "assignee_id", field, "sla_marks")[:limit])
        for conversation_id, workspace_id, team_id, assignee_id, due, marks in candidates:
            policies = policies_by_workspace.setdefault(workspace_id, _Policies(workspace_id))
            policy = policies.policy(team_id)
            warn_at = due - timedelta(minutes=policy.warn_before_minutes if policy else 0)
            if due <= now:
                kind, mark = SlaEvent.Kind.BREACHED, f"{prefix}_breach"
            elif warn_at <= now and f",{prefix}_warn," not in marks:
                kind, mark = SlaEvent.Kind.WARNING, f"{prefix}_warn"
            else:
                continue
            with transaction.atomic():
                if not Conversation.objects.filter(pk=conversation_id, **{field: due}).exclude(
                        sla_marks__contains=f",{mark},").update(sla_marks=Concat(F("sla_marks"), Value(f"{mark},")), updated_at=now):
                    continue
                SlaEvent.objects.bulk_create([SlaEvent(workspace_id=workspace_id, conversation_id=conversation_id, metric=metric,
                                                       kind=kind, due_at=due, at=now, team_id=team_id, assignee_id=assignee_id)],
                                             ignore_conflicts=True)
                ConversationEvent.objects.create(workspace_id=workspace_id, conversation_id=conversation_id,
                                                 kind=f"sla_{kind}", at=now, detail={"metric": metric, "due": due.isoformat()})
                label = SlaEvent.Metric(metric).label
                if kind == SlaEvent.Kind.BREACHED:
                    counts["breaches"] += 1
                    Conversation.objects.filter(pk=conversation_id, priority__lt=Priority.HIGH).update(priority=Priority.HIGH,
                                                                                                     updated_at=now)
                    _notify(workspace_id, _supervisor_ids(workspace_id), "sla_breached",
                            _("SLA breached (%(metric)s) on conversation #%(id)s.") % {"metric": label, "id": conversation_id},
                            conversation_id, now)
                else:
                    counts["warnings"] += 1
                    if assignee_id:
                        _notify(workspace_id, [assignee_id], "sla_warning",
                                _("SLA (%(metric)s) due soon on conversation #%(id)s.") % {"metric": label, "id": conversation_id},
                                conversation_id, now)
                _publish_after_commit(workspace_id, {"type": "care", "conversation": conversation_id, "sla": kind})
    return counts


# --- incidents -------------------------------------------------------------------------------------

def declare_incident(workspace: Workspace, actor: User | None, *, title: str, query: str, origin: str = "manual",
                     matcher: str = "phrase", now: datetime | None = None, lookback_hours: int = 48,
                     alert=None) -> Incident:
    """Declare an incident: matching incoming posts are labelled and grouped under it, and so
    are matching active conversations of the last ``lookback_hours`` (or since the start of the
    alert's window, when that is earlier). ``alert``: the listening alert that prompted it."""
    now = _now(now)
    title, query = (title or "").strip()[:200], (query or "").strip()[:1000]
    if not title or not query:
        raise CareError(_("An incident needs a title and a matching query."), "empty")
    if matcher not in MATCHERS:
        raise CareError(_("Unknown matcher."), "unknown_matcher")
    try:
        match = matcher_for(matcher, query)
    except ValueError as error:  # e.g. a query the listening language cannot parse
        raise CareError(_("The matching query is not valid: %(error)s") % {"error": error}, "invalid_query") from None
    since = now - timedelta(hours=lookback_hours)
    if alert is not None and alert.window_start < since:
        since = alert.window_start
    with transaction.atomic():
        incident = Incident.objects.create(workspace=workspace, title=title, query=query, matcher=matcher, label="incident",
                                           origin=(origin or "manual")[:200], declared_by=actor, declared_at=now, alert=alert,
                                           window_start=alert.window_start if alert is not None else None,
                                           window_end=alert.window_end if alert is not None else None)
        incident.label = f"incident-{incident.pk}"
        incident.save(update_fields=["label"])
        detail: dict = {"query": query, "origin": origin}
        if alert is not None:
            detail.update(alert=alert.pk, window_start=alert.window_start.isoformat(), window_end=alert.window_end.isoformat())
        IncidentEvent.objects.create(incident=incident, kind="declared", actor=actor, at=now, detail=detail)
        candidates = (ConversationPost.objects.filter(conversation__workspace=workspace, conversation__incident__isnull=True,
                                                      conversation__status__in=ACTIVE_STATUSES,
                                                      conversation__created_at__gte=since)
                      .values_list("conversation_id", "post__text", "post__language", "post__sentiment", "post__author__handle",
                                   "post__source__platform")[:20000])
        grouped = sorted({conversation_id for conversation_id, text, language, sentiment, handle, platform in candidates
                          if match(text, language=language or "", sentiment=sentiment or "", handle=handle or "",
                                   platform=platform or "")})
        for conversation_id in grouped:
            conversation = Conversation.objects.get(pk=conversation_id)
            Conversation.objects.filter(pk=conversation_id, incident__isnull=True).update(
                incident=incident, labels=_labels_value(conversation.label_list() + [incident.label]), updated_at=now)
        ConversationEvent.objects.bulk_create([_event(cid, workspace.pk, "incident", actor, now, incident=incident.pk) for cid in grouped])
        if grouped:
            IncidentEvent.objects.create(incident=incident, kind="grouped", actor=actor, at=now, detail={"conversations": len(grouped)})
        record_audit(workspace, actor, "care_declare_incident", title, query=query)
        _publish_after_commit(workspace.pk, {"type": "care_incident", "incident": incident.pk})
        if grouped:
            _publish_after_commit(workspace.pk, {"type": "care", "conversations": grouped[:100]})
    return incident


def incident_defaults(alert) -> dict[str, str]:
    """What the form to declare an incident from a listening alert starts with: the saved
    search's query in the listening language (when listening registered its matcher)."""
    search = alert.search
    window = f"{timezone.localtime(alert.window_start):%H:%M}–{timezone.localtime(alert.window_end):%H:%M}"
    return {"title": _("%(search)s: alert of %(window)s") % {"search": search.name, "window": window}, "query": search.query,
            "matcher": "listening" if "listening" in MATCHERS else "phrase"}


def declare_incident_from_alert(alert, actor: User, *, title: str | None = None, query: str | None = None,
                                now: datetime | None = None) -> tuple[Incident, bool]:
    """A community manager turns a listening alert into an incident, pre-filled with the saved
    search's query and the alert's window. One alert gives at most one incident: declaring again
    returns the first one (and ``False``)."""
    existing = Incident.objects.filter(alert=alert).first()
    if existing is not None:
        return existing, False
    defaults = incident_defaults(alert)
    # An edited query is in the same language as the saved search's, so the same matcher reads it.
    try:
        with transaction.atomic():
            incident = declare_incident(alert.workspace, actor, title=title or defaults["title"], query=query or defaults["query"],
                                        origin=f"alert:{alert.pk}", matcher=defaults["matcher"], now=now, alert=alert)
    except IntegrityError:  # someone declared it at the same moment: theirs stands
        found = Incident.objects.filter(alert=alert).first()
        if found is None:
            raise
        return found, False
    return incident, True


def set_incident_message(incident: Incident, actor: User, text: str, now: datetime | None = None) -> Incident:
    """A community manager writes (and so approves) the message to send to everyone affected."""
    now = _now(now)
    text = (text or "").strip()
    if not text or len(text) > MAX_REPLY_CHARS:
        raise CareError(_("The incident message needs a text (at most 10000 characters)."), "empty")
    if incident.state != Incident.State.ACTIVE:
        raise Conflict(_("The incident has ended."), "ended")
    with transaction.atomic():
        Incident.objects.filter(pk=incident.pk).update(message=text, message_approved_by=actor, message_approved_at=now)
        IncidentEvent.objects.create(incident=incident, kind="message_approved", actor=actor, at=now, detail={"text": text[:500]})
    incident.refresh_from_db()
    return incident


def send_incident_message(incident: Incident, actor: User, now: datetime | None = None, limit: int = 5000) -> int:
    """Queue the approved message as a reply to every active conversation of the incident that
    has not had it yet, paced per platform (the outbox sends each at its time)."""
    now = _now(now)
    incident.refresh_from_db()
    if incident.state != Incident.State.ACTIVE:
        raise Conflict(_("The incident has ended."), "ended")
    if not incident.message or incident.message_approved_by_id is None:
        raise Conflict(_("The incident message has not been approved yet."), "no_message")
    already = Reply.objects.filter(conversation__incident=incident, purpose="incident").values_list("conversation_id", flat=True)
    targets = list(Conversation.objects.filter(incident=incident, status__in=ACTIVE_STATUSES).exclude(pk__in=already)
                   .select_related("author", "source").order_by("id")[:limit])
    per_platform: dict[str, int] = defaultdict(int)
    queued = 0
    for conversation in targets:
        text = render_template(incident.message, conversation, actor)
        with transaction.atomic():
            reply = send_reply(conversation, actor, text, acknowledge_warnings=True, purpose="incident", skip_approval=True, now=now)
            platform = conversation.source.platform
            rate = PLATFORM_RATE_PER_MIN.get(platform, DEFAULT_RATE_PER_MIN)
            position = per_platform[platform]
            per_platform[platform] += 1
            if position and reply.outbound_id:
                OutboundAction.objects.filter(pk=reply.outbound_id, status=OutboundStatus.PENDING).update(
                    next_attempt_at=now + timedelta(seconds=position * 60.0 / rate))
            queued += 1
    if queued:
        IncidentEvent.objects.create(incident=incident, kind="message_sent", actor=actor, at=now,
                                     detail={"replies": queued, "per_platform": dict(per_platform)})
    return queued


def end_incident(incident: Incident, actor: User, now: datetime | None = None) -> Incident:
    from veille.care.queries import incident_summary

    now = _now(now)
    with transaction.atomic():
        if not Incident.objects.filter(pk=incident.pk, state=Incident.State.ACTIVE).update(state=Incident.State.ENDED, ended_at=now):
            raise Conflict(_("The incident has already ended."), "ended")
        incident.refresh_from_db()
        summary = incident_summary(incident, now)
        Incident.objects.filter(pk=incident.pk).update(summary=summary)
        IncidentEvent.objects.create(incident=incident, kind="ended", actor=actor, at=now, detail=summary)
        record_audit(incident.workspace, actor, "care_end_incident", incident.title)
    incident.refresh_from_db()
    return incident
