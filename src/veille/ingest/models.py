"""The durable intake (RawItem) and what it becomes (Author, Post).

Rows here are written by the pipeline with set-based SQL (see ``store.py``) for speed; the
models describe the schema, the constraints and the reads.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from veille.accounts.models import Workspace
from veille.sources.models import Source


class RawStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DONE = "done", _("Stored")
    DUPLICATE = "duplicate", _("Duplicate")
    DEAD = "dead", _("Dead letter")


class RawItem(models.Model):
    """Anything from outside, stored before it is processed; the pipeline's queue."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="raw_items", db_index=False)
    format = models.CharField(max_length=32)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    # The payload as JSON text (parsed lazily by the worker); for unparseable input, the raw text.
    payload = models.TextField()
    line = models.IntegerField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=RawStatus.choices, default=RawStatus.PENDING)
    attempts = models.IntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The queue: only pending rows are indexed, so the index stays small however much history there is.
            models.Index(fields=["id"], name="rawitem_pending", condition=Q(status="pending")),
            # Dead letters by source (the rejected-items page); done items need no index of their
            # own: every raw item costs one index entry less on the hot path.
            models.Index(fields=["source", "id"], name="rawitem_dead", condition=Q(status="dead")),
        ]


class Author(models.Model):
    """One identity on one platform, as seen by one workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    platform = models.CharField(max_length=32)
    external_id = models.CharField(max_length=200)
    handle = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    followers = models.IntegerField(null=True, blank=True)
    first_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "platform", "external_id"], name="author_unique_identity")
        ]

    def __str__(self) -> str:
        return self.handle


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class Post(models.Model):
    # Foreign keys without their own index where a composite index or constraint below already
    # starts with that column: every index costs time on the ingest hot path.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="posts", db_index=False)
    external_id = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.PROTECT, related_name="posts")
    text = models.TextField()
    created_at = models.DateTimeField()
    received_at = models.DateTimeField()
    kind = models.CharField(max_length=16, default="post")
    is_outbound = models.BooleanField(default=False)
    url = models.CharField(max_length=500, blank=True)
    # Threading: the parent's external id as the platform gave it, the parent once it is known,
    # and the root of the chain (null for a root). A reply stored before its parent keeps
    # ``reply_to`` empty until the parent arrives, then the whole subtree is re-rooted.
    in_reply_to_external_id = models.CharField(max_length=200, null=True, blank=True)
    reply_to = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies", db_index=False)
    thread_root = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="thread_posts")
    raw_item = models.ForeignKey(RawItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False)
    # Enrichment (veille.nlp).
    language = models.CharField(max_length=8, blank=True)
    language_score = models.FloatField(null=True, blank=True)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    sentiment_score = models.FloatField(null=True, blank=True)
    complaint = models.FloatField(null=True, blank=True)
    abuse = models.FloatField(null=True, blank=True)
    model_version = models.CharField(max_length=32, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="post_unique_external_id_per_source")
        ]
        indexes = [
            models.Index(fields=["workspace", "-id"], name="post_workspace_recent"),
            models.Index(fields=["workspace", "created_at"], name="post_workspace_created"),
            models.Index(
                fields=["source", "in_reply_to_external_id"],
                name="post_waiting_for_parent",
                condition=Q(reply_to__isnull=True, in_reply_to_external_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.external_id}"
