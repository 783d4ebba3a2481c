"""Corrections of model outputs by agents and community managers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from veille.accounts.models import Workspace
from veille.ingest.models import Post


class CorrectionField(models.TextChoices):
    SENTIMENT = "sentiment", _("Sentiment")
    COMPLAINT = "complaint", _("Complaint")


class Correction(models.Model):
    """A person's verdict on one post's label; the post keeps the corrected value, this row keeps history."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="corrections")
    field = models.CharField(max_length=16, choices=CorrectionField.choices)
    old_value = models.CharField(max_length=16, blank=True)
    new_value = models.CharField(max_length=16)
    corrected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    corrected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-corrected_at", "-id"]
        indexes = [models.Index(fields=["workspace", "field"], name="correction_workspace_field")]
