"""Corrections of model outputs, one verb: ``correct_post``."""

from __future__ import annotations

from django.db import transaction

from veille.accounts.actions import record_audit
from veille.accounts.models import User
from veille.ingest.models import Post, Sentiment
from veille.nlp.models import Correction, CorrectionField

COMPLAINT_VALUES = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}


class InvalidCorrection(ValueError):
    """The value is not one the field takes; the message says which ones it does."""


def _complaint_label(probability: float | None) -> str:
    if probability is None:
        return ""
    return "1" if probability >= 0.5 else "0"


@transaction.atomic
def correct_post(post: Post, user: User, field: str, value: str) -> Correction:
    """Record a person's verdict on a post's sentiment or complaint flag and apply it to the post."""
    value = str(value).strip().lower()
    if field == CorrectionField.SENTIMENT:
        if value not in Sentiment.values:
            raise InvalidCorrection(f"sentiment must be one of {', '.join(Sentiment.values)}, not {value!r}")
        old = post.sentiment
        post.sentiment = value
        post.sentiment_score = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[value]
        post.save(update_fields=["sentiment", "sentiment_score"])
        new = value
    elif field == CorrectionField.COMPLAINT:
        if value not in COMPLAINT_VALUES:
            raise InvalidCorrection(f"complaint must be 1 or 0 (true/false), not {value!r}")
        old = _complaint_label(post.complaint)
        post.complaint = COMPLAINT_VALUES[value]
        post.save(update_fields=["complaint"])
        new = _complaint_label(post.complaint)
    else:
        raise InvalidCorrection(f"only sentiment and complaint can be corrected, not {field!r}")
    correction = Correction.objects.create(workspace_id=post.workspace_id, post=post, field=field, old_value=old,
                                           new_value=new, corrected_by=user)
    record_audit(post.workspace, user, "correct_post", str(post.pk), field=field, old=old, new=new)
    return correction
