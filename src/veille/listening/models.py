"""Saved searches and their matches, author lists, boards of live columns, alerts and rollups.

Matches and rollups are written at ingest, in the same transaction as the posts (see
``matching.py``); dashboards read rollups only, never a scan of all posts.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from veille.accounts.models import Workspace
from veille.ingest.models import Post

# Rollup rows with this search id count every post of the workspace.
ALL_POSTS = 0


# Searches with spike or dip alerts on: alerts read their minute counts, the only ones ingest keeps.
ALERTING = models.Q(spike_enabled=True) | models.Q(dip_enabled=True)


class SavedSearch(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    query = models.TextField(_("query"), max_length=1000)
    is_active = models.BooleanField(_("active"), default=True)
    # Spike alerts: volume in the last window against mean + k·σ of the previous windows.
    spike_enabled = models.BooleanField(_("spike alerts"), default=False)
    spike_window_min = models.PositiveIntegerField(_("window (minutes)"), default=15)
    spike_baseline_windows = models.PositiveIntegerField(_("baseline windows"), default=12)
    spike_sensitivity = models.FloatField(_("sensitivity (k)"), default=3.0)
    spike_min_count = models.PositiveIntegerField(_("minimum posts in the window"), default=10)
    cooldown_min = models.PositiveIntegerField(_("cooldown (minutes)"), default=120)
    # Sentiment-dip alerts: share of negative posts in the window against its baseline.
    dip_enabled = models.BooleanField(_("sentiment-dip alerts"), default=False)
    dip_window_min = models.PositiveIntegerField(_("dip window (minutes)"), default=60)
    dip_sensitivity = models.FloatField(_("dip sensitivity (k)"), default=2.0)
    dip_min_count = models.PositiveIntegerField(_("minimum posts for a dip"), default=20)
    alert_emails = models.CharField(_("alert e-mail addresses"), max_length=500, blank=True)
    webhook_url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    webhook_secret = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="savedsearch_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def alerts_on(self) -> bool:
        """Whether spike or dip alerts are on (``ALERTING`` as a query)."""
        return self.spike_enabled or self.dip_enabled


class SearchMatch(models.Model):
    """One post matched one saved search (a fact, written at ingest).

    Rollups and matches are keyed by their natural key (a composite primary key; on SQLite the
    tables are ``WITHOUT ROWID``, see migration 0002): one B-tree per row written at ingest.
    """

    pk = models.CompositePrimaryKey("search_id", "post_id")
    search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="+", db_index=False)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The key alone, written for about every post at ingest (migration 0004 dropped copies of the
    # post's time, author, sentiment and language: readers join the post by its primary key).
    # No other index (every index costs time at ingest): columns, newest first, exports and
    # unread counts read the key (search, post id); time windows go through rollups, or
    # through the posts' own (workspace, created_at) index joined to this key (events).


class HourRollup(models.Model):
    pk = models.CompositePrimaryKey("workspace_id", "search_id", "hour", "sentiment", "language")
    workspace_id = models.BigIntegerField()
    search_id = models.BigIntegerField()  # 0: all posts of the workspace
    hour = models.DateTimeField()
    sentiment = models.CharField(max_length=10, blank=True)
    language = models.CharField(max_length=8, blank=True)
    count = models.IntegerField(default=0)


class MinuteRollup(models.Model):
    pk = models.CompositePrimaryKey("workspace_id", "search_id", "minute")
    workspace_id = models.BigIntegerField()
    search_id = models.BigIntegerField()
    minute = models.DateTimeField()
    count = models.IntegerField(default=0)
    negative = models.IntegerField(default=0)
    positive = models.IntegerField(default=0)


class AuthorRollup(models.Model):
    pk = models.CompositePrimaryKey("workspace_id", "search_id", "day", "author_id")
    workspace_id = models.BigIntegerField()
    search_id = models.BigIntegerField()
    day = models.DateField()
    author_id = models.BigIntegerField()
    count = models.IntegerField(default=0)


class TagRollup(models.Model):
    pk = models.CompositePrimaryKey("workspace_id", "search_id", "day", "tag")
    workspace_id = models.BigIntegerField()
    search_id = models.BigIntegerField()
    day = models.DateField()
    tag = models.CharField(max_length=100)
    count = models.IntegerField(default=0)


class AuthorList(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    is_private = models.BooleanField(_("private"), default=False, help_text=_("Only you see a private list."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "owner", "name"], name="authorlist_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AuthorListMember(models.Model):
    author_list = models.ForeignKey(AuthorList, on_delete=models.CASCADE, related_name="members", db_index=False)
    handle = models.CharField(max_length=200)  # folded: lower case, no leading @

    class Meta:
        constraints = [models.UniqueConstraint(fields=["author_list", "handle"], name="authorlistmember_unique")]
        ordering = ["handle"]


class Board(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="board_one_per_user")]


class Column(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="columns")
    kind = models.CharField(max_length=32)  # see columns.COLUMN_KINDS
    title = models.CharField(_("title"), max_length=120)
    position = models.IntegerField(default=0)
    config = models.JSONField(default=dict, blank=True)
    last_seen_id = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]


class EventWindow(models.Model):
    """Event mode: a saved search followed over a time window (a launch, a match, an outage)."""

    search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="events")
    name = models.CharField(_("name"), max_length=120)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]


class AlertKind(models.TextChoices):
    SPIKE = "spike", _("Volume spike")
    DIP = "dip", _("Sentiment dip")


class Alert(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    search = models.ForeignKey(SavedSearch, on_delete=models.CASCADE, related_name="alerts", db_index=False)
    kind = models.CharField(max_length=16, choices=AlertKind.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    value = models.FloatField()
    baseline = models.FloatField()
    threshold = models.FloatField()
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="alert_workspace_recent"),
            models.Index(fields=["search", "kind", "-window_end"], name="alert_search_recent"),
        ]


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class AlertDelivery(models.Model):
    """One alert to send by one channel; sent after commit by ``actions.deliver_alerts`` with retries."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16)  # "email" | "webhook"
    target = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at"], name="alertdelivery_due", condition=Q(status="pending"))]
