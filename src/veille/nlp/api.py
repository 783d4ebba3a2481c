"""Corrections through the API: agents and community managers fix a post's labels."""

from __future__ import annotations

from datetime import datetime

from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status

from veille.accounts.permissions import CORRECT_LABELS
from veille.api import require_role
from veille.ingest.models import Post
from veille.nlp.actions import InvalidCorrection, correct_post
from veille.nlp.models import Correction

router = Router(tags=["nlp"])


class CorrectionIn(Schema):
    field: str  # "sentiment" | "complaint"
    value: str  # negative/neutral/positive, or 1/0


class CorrectionOut(Schema):
    id: int
    post_id: int
    field: str
    old_value: str
    new_value: str
    corrected_by: str | None
    corrected_at: datetime


class ErrorOut(Schema):
    detail: str


def correction_out(correction: Correction) -> CorrectionOut:
    return CorrectionOut(id=correction.id, post_id=correction.post_id, field=correction.field,
                         old_value=correction.old_value, new_value=correction.new_value,
                         corrected_by=correction.corrected_by.username if correction.corrected_by else None,
                         corrected_at=correction.corrected_at)


def _post(request: HttpRequest, post_id: int) -> Post:
    try:
        return Post.objects.get(pk=post_id, workspace_id=request.workspace.id)
    except Post.DoesNotExist:
        raise Http404("No such post in this workspace.") from None


@router.post("/posts/{post_id}/corrections", response={201: CorrectionOut, 400: ErrorOut},
             summary="Correct a post's sentiment or complaint flag")
def create_correction(request: HttpRequest, post_id: int, payload: CorrectionIn):
    require_role(request, CORRECT_LABELS)
    post = _post(request, post_id)
    try:
        correction = correct_post(post, request.user, payload.field, payload.value)
    except InvalidCorrection as error:
        return Status(400, ErrorOut(detail=str(error)))
    return Status(201, correction_out(correction))


@router.get("/posts/{post_id}/corrections", response=list[CorrectionOut], summary="A post's correction history")
def list_corrections(request: HttpRequest, post_id: int):
    post = _post(request, post_id)
    return [correction_out(c) for c in Correction.objects.filter(post=post).select_related("corrected_by")]
