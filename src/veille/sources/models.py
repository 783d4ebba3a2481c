"""A source is one account or feed of a platform that a workspace listens to or acts through."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from veille.accounts.models import Workspace
from veille.sources.crypto import decrypt_credentials, encrypt_credentials


class Platform(models.TextChoices):
    DEMO = "demo", _("Demo")
    IMPORT = "import", _("File import")
    REPLAY = "replay", _("Replay")
    MASTODON = "mastodon", "Mastodon"
    BLUESKY = "bluesky", "Bluesky"
    X = "x", "X"
    RSS = "rss", "RSS / Atom"
    FACEBOOK = "facebook", "Facebook"
    YOUTUBE = "youtube", "YouTube"


class SourceStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    NEEDS_RECONNECTION = "needs_reconnection", _("Needs reconnection")
    REMOVED = "removed", _("Removed")


class LiveState(models.TextChoices):
    CONNECTING = "connecting", _("Connecting")
    CONNECTED = "connected", _("Live")
    RECONNECTING = "reconnecting", _("Reconnecting")


class Source(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(_("name"), max_length=120)
    platform = models.CharField(_("platform"), max_length=32, choices=Platform.choices)
    account_handle = models.CharField(_("account handle"), max_length=200, blank=True)
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=32, choices=SourceStatus.choices, default=SourceStatus.ACTIVE)
    cursor = models.JSONField(default=dict, blank=True, editable=False)
    poll_interval_s = models.PositiveIntegerField(_("poll interval (seconds)"), default=60)
    # Health, written by the poller.
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    # A poller's claim on this source, so two worker processes never poll it at once.
    poll_owner = models.CharField(max_length=64, blank=True)
    poll_lease_until = models.DateTimeField(null=True, blank=True)
    # A live reader's claim (``sources.live``): while it is held the source is streamed, not
    # polled, and no other process streams it. Renewed every few seconds by the owner.
    live_owner = models.CharField(max_length=64, blank=True)
    live_lease_until = models.DateTimeField(null=True, blank=True)
    live_state = models.CharField(max_length=16, choices=LiveState.choices, blank=True)
    # Streaming kept failing: polled instead until then, when streaming is tried again.
    live_retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="source_unique_name_per_workspace")]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform})"

    def get_credentials(self) -> dict[str, Any]:
        return decrypt_credentials(self.credentials_encrypted)

    def get_credentials_or_empty(self) -> dict[str, Any]:
        """The stored credentials, or none when they can no longer be decrypted (key changed)."""
        from veille.sources.crypto import CredentialsUnreadable

        try:
            return self.get_credentials()
        except CredentialsUnreadable:
            return {}

    def set_credentials(self, credentials: dict[str, Any]) -> None:
        self.credentials_encrypted = encrypt_credentials(credentials)


class OutboundStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    UNSUPPORTED = "unsupported", _("Not available on this platform")


class OutboundAction(models.Model):
    """One write to a platform (reply, DM, post, like, hide…), sent by the outbox worker.

    The idempotency key is unique: asking twice for the same action makes one row, and every
    retry of that row hands the same key to the platform (or to the connector's lookup).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="outbound_actions")
    kind = models.CharField(max_length=32)
    idempotency_key = models.CharField(max_length=100, unique=True)
    text = models.TextField(blank=True)
    target_external_id = models.CharField(max_length=200, blank=True)
    recipient_external_id = models.CharField(max_length=200, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=OutboundStatus.choices, default=OutboundStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    result_external_id = models.CharField(max_length=200, blank=True)
    result_detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"], name="outbound_workspace_recent")]
