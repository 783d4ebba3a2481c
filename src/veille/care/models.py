"""The care desk: conversations, queues, routing, replies under supervision, SLA, incidents.

Facts are rows: every change of a conversation is a ``ConversationEvent``, every SLA fact an
``SlaEvent``; reports read those rows. Conversations are edited concurrently by agents,
managers, routing and the scheduler, so writes go through conditional ``UPDATE``s (see
``actions``) or ``save(update_fields=...)``, never a blind ``save()``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from veille.accounts.models import Workspace
from veille.ingest.models import Author, Post
from veille.sources.models import OutboundAction, Source

USER = settings.AUTH_USER_MODEL


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Waiting on customer")
    SNOOZED = "snoozed", _("Snoozed")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# The lifecycle: from → allowed targets. A new customer post reopens pending, snoozed and
# resolved conversations (``actions.route_posts``); a closed conversation stays closed and the
# customer's next post starts a new one.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.OPEN, Status.PENDING, Status.SNOOZED, Status.RESOLVED, Status.CLOSED}),
    Status.OPEN: frozenset({Status.PENDING, Status.SNOOZED, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.OPEN, Status.SNOOZED, Status.RESOLVED, Status.CLOSED}),
    Status.SNOOZED: frozenset({Status.OPEN, Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
# Statuses that count against an agent's capacity and appear in working queues.
ACTIVE_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.SNOOZED)
LOAD_STATUSES = (Status.NEW, Status.OPEN)


class Priority(models.IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class Presence(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class ApprovalPolicy(models.TextChoices):
    NONE = "none", _("No approval")
    ALL = "all", _("Every reply")
    FIRST_N = "first_n", _("The first replies of a new agent")
    FLAGGED = "flagged", _("Replies flagged by the tone check")


class CareSettings(models.Model):
    """Per-workspace care settings."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="care_settings")
    forbidden_words = models.JSONField(default=list, blank=True)
    # A post with a complaint probability at least this high needs care even without a mention.
    complaint_threshold = models.FloatField(default=0.8)
    # Unanswered assignments are handed to someone else after this many minutes (0: never).
    reassign_after_minutes = models.PositiveIntegerField(default=15)
    auto_assign = models.BooleanField(default=True)
    dm_invite_template = models.TextField(blank=True)


class Team(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="care_teams")
    name = models.CharField(_("name"), max_length=120)
    # Skills: the languages this team answers in (empty: any).
    languages = models.JSONField(default=list, blank=True)
    approval_policy = models.CharField(max_length=16, choices=ApprovalPolicy.choices, default=ApprovalPolicy.NONE)
    approval_first_n = models.PositiveIntegerField(default=5)
    # {"timezone": "Europe/Zurich", "hours": {"0": [["09:00", "18:00"]], ...}} (Monday = 0); empty: 24/7.
    business_hours = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="care_team_unique_name")]

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="care_profiles")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="agents")
    languages = models.JSONField(default=list, blank=True)
    capacity = models.PositiveIntegerField(default=10)
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    presence_at = models.DateTimeField(null=True, blank=True)
    # Empty: the team's policy applies.
    approval_policy = models.CharField(max_length=16, choices=ApprovalPolicy.choices, blank=True)
    approval_first_n = models.PositiveIntegerField(default=5)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="care_agent_unique_per_workspace")]


class Customer(models.Model):
    """A person across platforms: one or more authors (one per platform identity)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class CustomerIdentity(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    author = models.OneToOneField(Author, on_delete=models.CASCADE, related_name="care_identity")


class Incident(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="care_incidents")
    title = models.CharField(max_length=200)
    # As long as a saved search's query: an incident declared from an alert starts from it.
    query = models.CharField(max_length=1000)
    matcher = models.CharField(max_length=32, default="phrase")
    label = models.CharField(max_length=60)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    origin = models.CharField(max_length=200, blank=True)  # e.g. "alert:12" or "manual"
    # The listening alert that prompted it (at most one incident per alert) and that alert's
    # window; the window's start also bounds how far back matching conversations are grouped.
    alert = models.ForeignKey("listening.Alert", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_index=False)  # the unique constraint below indexes it
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    declared_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    declared_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    message = models.TextField(blank=True)
    message_approved_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message_approved_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "state"], name="care_incident_active")]
        constraints = [models.UniqueConstraint(fields=["alert"], condition=Q(alert__isnull=False), name="care_incident_one_per_alert")]


class IncidentEvent(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)


class Conversation(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    # "t:<root post id>:<author id>": one customer's part of a public thread; "dm:<source id>:<author id>":
    # their private messages on a source.
    thread_key = models.CharField(max_length=80)
    is_private = models.BooleanField(default=False)
    root_post = models.ForeignKey(Post, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False)
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="care_conversations")
    customer = models.ForeignKey(Customer, null=True, on_delete=models.SET_NULL, related_name="conversations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    # ",label,other," so one LIKE finds a label on SQLite and PostgreSQL alike.
    labels = models.CharField(max_length=1000, default=",", blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assigned_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations")
    linked = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=8, blank=True)
    preview = models.CharField(max_length=280, blank=True)
    snooze_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    last_customer_post_at = models.DateTimeField()
    last_post_id = models.BigIntegerField(null=True)
    waiting_since = models.DateTimeField(null=True, blank=True)  # unanswered customer post since
    first_reply_at = models.DateTimeField(null=True, blank=True)
    last_reply_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # SLA due times (business hours applied) and which warnings/breaches were recorded
    # (",fr_warn,fr_breach,nr_warn,…," cleared when a due time is set again).
    first_response_due = models.DateTimeField(null=True, blank=True)
    next_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    sla_marks = models.CharField(max_length=100, default=",", blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "-last_customer_post_at"], name="care_conv_queue"),
            models.Index(fields=["workspace", "assignee", "status"], name="care_conv_assignee"),
            models.Index(fields=["workspace", "thread_key"], name="care_conv_thread"),
            models.Index(fields=["incident", "status"], name="care_conv_incident"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"

    def label_list(self) -> list[str]:
        return [label for label in self.labels.split(",") if label]


class ConversationPost(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memberships")
    post = models.OneToOneField(Post, on_delete=models.CASCADE, related_name="care_membership")


class ConversationEvent(models.Model):
    """One fact about a conversation (created, assigned, status, reply queued, reopened…)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "kind", "at"], name="care_event_kind_at")]


class SlaPolicy(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    team = models.OneToOneField(Team, null=True, blank=True, on_delete=models.CASCADE, related_name="sla_policy")
    name = models.CharField(max_length=120)
    first_response_minutes = models.PositiveIntegerField(default=60)
    next_response_minutes = models.PositiveIntegerField(default=120)
    resolution_minutes = models.PositiveIntegerField(default=24 * 60)
    warn_before_minutes = models.PositiveIntegerField(default=10)


class SlaEvent(models.Model):
    class Metric(models.TextChoices):
        FIRST_RESPONSE = "first_response", _("First response")
        NEXT_RESPONSE = "next_response", _("Next response")
        RESOLUTION = "resolution", _("Resolution")

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        BREACHED = "breached", _("Breached")
        MET = "met", _("Met")
        MISSED = "missed", _("Met late")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="sla_events")
    metric = models.CharField(max_length=16, choices=Metric.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    due_at = models.DateTimeField()
    at = models.DateTimeField()
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "metric", "kind", "due_at"], name="care_sla_event_once")
        ]
        indexes = [models.Index(fields=["workspace", "at"], name="care_sla_event_at")]


class Reply(models.Model):
    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        REJECTED = "rejected", _("Rejected")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    kind = models.CharField(max_length=8, default="reply")  # "reply" (public) | "dm"
    target_post = models.ForeignKey(Post, null=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False)
    state = models.CharField(max_length=20, choices=State.choices)
    tone_warnings = models.JSONField(default=list, blank=True)
    purpose = models.CharField(max_length=16, blank=True)  # "", "dm_invite", "incident"
    reviewed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)
    original_text = models.TextField(blank=True)  # the agent's text when a manager edited it
    outbound = models.OneToOneField(OutboundAction, null=True, blank=True, on_delete=models.SET_NULL, related_name="care_reply")
    result_external_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "state"], name="care_reply_state",
                         condition=Q(state__in=["awaiting_approval", "queued"])),
            models.Index(fields=["author", "state"], name="care_reply_author"),
        ]

    @property
    def idempotency_key(self) -> str:
        return f"care-reply-{self.pk}"


class Note(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    mentions = models.JSONField(default=list, blank=True)  # user ids
    created_at = models.DateTimeField()


class Notification(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="care_notifications")
    kind = models.CharField(max_length=32)
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "read_at"], name="care_notification_unread")]


class CannedResponse(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    text = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="care_canned_unique_name")]


class Macro(models.Model):
    """Several actions in one click: [{"do": "add_label", "value": "billing"}, {"do": "reply", "canned": 3}, …]."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    steps = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="care_macro_unique_name")]


class RoutingRule(models.Model):
    """When every given condition holds, set team / priority / labels. Lower position first;
    every matching rule applies (later rules may override the team and priority)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    position = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    # {"text_contains": [...], "language": [...], "sentiment": [...], "source_ids": [...],
    #  "author_handles": [...], "labels": [...]}
    conditions = models.JSONField(default=dict, blank=True)
    set_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    set_priority = models.SmallIntegerField(choices=Priority.choices, null=True, blank=True)
    add_labels = models.JSONField(default=list, blank=True)


class ViewerPing(models.Model):
    """Who has a conversation open (and is typing), refreshed by the page every few seconds."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    typing = models.BooleanField(default=False)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="care_viewer_once")]
