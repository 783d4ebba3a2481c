"""Agents' corrections as training examples for ``veille nlp train --include-corrections``."""

from __future__ import annotations

from veille.nlp.models import Correction, CorrectionField

SENTIMENT_TO_LABEL = {"negative": 0, "neutral": 1, "positive": 2}


def load_training_examples(workspace_slug: str | None = None) -> dict[str, list[tuple[str, int]]]:
    """The latest correction of each (post, field), as (text, label) pairs per task.

    Labels use the training data's encoding: sentiment 0/1/2 (negative/neutral/positive),
    complaint 0/1. Sets Django up when called from the command line.
    """
    from veille.cli import setup_django

    setup_django()
    corrections = Correction.objects.select_related("post").order_by("post_id", "field", "-corrected_at", "-id")
    if workspace_slug:
        corrections = corrections.filter(workspace__slug=workspace_slug)
    latest: dict[tuple[int, str], Correction] = {}
    for correction in corrections.iterator(chunk_size=2000):
        latest.setdefault((correction.post_id, correction.field), correction)
    examples: dict[str, list[tuple[str, int]]] = {"sentiment": [], "complaint": []}
    for correction in latest.values():
        if correction.field == CorrectionField.SENTIMENT:
            examples["sentiment"].append((correction.post.text, SENTIMENT_TO_LABEL[correction.new_value]))
        elif correction.field == CorrectionField.COMPLAINT:
            examples["complaint"].append((correction.post.text, int(correction.new_value)))
    return examples
