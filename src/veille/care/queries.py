"""Reads shared by the care pages, the API and the reports (always scoped to one workspace)."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from veille.care.models import (
    ACTIVE_STATUSES,
    Conversation,
    ConversationEvent,
    ConversationPost,
    Incident,
    Note,
    Notification,
    Reply,
    SlaEvent,
    Status,
)
from veille.ingest.models import Post

QUEUES = ("mine", "unassigned", "all", "team", "incident", "closed")
CONVERSATION_LIST_FIELDS = (
    "id", "workspace_id", "status", "priority", "labels", "preview", "language", "is_private", "created_at",
    "last_customer_post_at", "waiting_since", "first_reply_at", "first_response_due", "next_response_due", "resolution_due",
    "sla_marks", "assignee_id", "assigned_at", "team_id", "incident_id", "source_id", "author_id", "updated_at", "linked_id",
    "customer_id", "root_post_id", "snooze_until", "last_post_id",
    "author__handle", "author__name", "author__platform", "assignee__username", "team__name", "source__name", "source__platform",
)


def conversations_of(workspace_id: int) -> QuerySet[Conversation]:
    return (Conversation.objects.filter(workspace_id=workspace_id)
            .select_related("author", "assignee", "team", "source").only(*CONVERSATION_LIST_FIELDS))


def queue(workspace_id: int, user_id: int, name: str = "mine", *, status: str | None = None, team_id: int | None = None,
          incident_id: int | None = None, label: str | None = None, q: str | None = None, limit: int = 50,
          before_id: int | None = None) -> list[Conversation]:
    """One queue, oldest waiting first within priority. Two queries at most, whatever the size."""
    queryset = conversations_of(workspace_id)
    if name == "mine":
        queryset = queryset.filter(assignee_id=user_id)
    elif name == "unassigned":
        queryset = queryset.filter(assignee__isnull=True)
    elif name == "team" and team_id is not None:
        queryset = queryset.filter(team_id=team_id)
    elif name == "incident" and incident_id is not None:
        queryset = queryset.filter(incident_id=incident_id)
    if status:
        queryset = queryset.filter(status=status)
    elif name == "closed":
        queryset = queryset.filter(status__in=(Status.RESOLVED, Status.CLOSED))
    else:
        queryset = queryset.filter(status__in=ACTIVE_STATUSES)
    if team_id is not None and name != "team":
        queryset = queryset.filter(team_id=team_id)
    if incident_id is not None and name != "incident":
        queryset = queryset.filter(incident_id=incident_id)
    if label:
        queryset = queryset.filter(labels__contains=f",{label.strip().lower()},")
    if q:
        q = q.strip()[:200]
        condition = Q(preview__icontains=q) | Q(author__handle__icontains=q.lstrip("@"))
        if q.lstrip("#").isdigit():
            condition |= Q(pk=int(q.lstrip("#")))
        queryset = queryset.filter(condition)
    if before_id is not None:
        queryset = queryset.filter(pk__lt=before_id)
    if name == "closed":
        return list(queryset.order_by("-updated_at", "-id")[:limit])
    return list(queryset.order_by("-priority", "last_customer_post_at", "id")[:limit])


def queue_version(workspace_id: int) -> str:
    """Changes whenever any conversation of the workspace changes (one indexed aggregate), and
    at least every minute so SLA timers move on."""
    from django.db.models import Max

    row = Conversation.objects.filter(workspace_id=workspace_id).aggregate(last=Max("updated_at"), n=Count("id"))
    minute = int(timezone.now().timestamp() // 60)
    return f"{row['last'].timestamp() if row['last'] else 0}-{row['n']}-{minute}"


def queue_counts(workspace_id: int, user_id: int) -> dict[str, int]:
    row = Conversation.objects.filter(workspace_id=workspace_id, status__in=ACTIVE_STATUSES).aggregate(
        mine=Count("id", filter=Q(assignee_id=user_id)), unassigned=Count("id", filter=Q(assignee__isnull=True)), all=Count("id"))
    row["approvals"] = Reply.objects.filter(workspace_id=workspace_id, state=Reply.State.AWAITING_APPROVAL).count()
    return row


def get_conversation(workspace_id: int, conversation_id: int) -> Conversation:
    return conversations_of(workspace_id).get(pk=conversation_id)


# The largest id a database column holds: anything beyond is "no such conversation", not an error.
MAX_ID = 2**63 - 1


def conversation_or_404(workspace_id: int, conversation_id: int) -> Conversation:
    """The workspace's conversation, or Http404 (another workspace's, or an id out of range)."""
    if not 0 < conversation_id <= MAX_ID:
        raise Http404
    try:
        return get_conversation(workspace_id, conversation_id)
    except Conversation.DoesNotExist:
        raise Http404(_("No such conversation in this workspace.")) from None


def conversation_posts(conversation: Conversation) -> list[Post]:
    from veille.ingest.queries import posts_of

    ids = ConversationPost.objects.filter(conversation=conversation).values_list("post_id", flat=True)
    return list(posts_of(conversation.workspace_id).filter(pk__in=ids).order_by("created_at", "id")[:500])


def conversation_detail(conversation: Conversation) -> dict:
    """Everything the conversation view shows, in a fixed number of queries."""
    return {
        "posts": conversation_posts(conversation),
        "replies": list(Reply.objects.filter(conversation=conversation).select_related("author", "reviewed_by", "outbound")
                        .order_by("created_at", "id")[:500]),
        "notes": list(Note.objects.filter(conversation=conversation).select_related("author").order_by("created_at", "id")[:500]),
        "events": list(ConversationEvent.objects.filter(conversation=conversation).select_related("actor").order_by("at", "id")[:500]),
        "customer": customer_profile(conversation),
    }


def customer_profile(conversation: Conversation) -> dict:
    """The customer's identities (one author per platform) and their history across sources."""
    from veille.ingest.models import Author

    if conversation.customer_id:
        authors = list(Author.objects.filter(care_identity__customer_id=conversation.customer_id).order_by("platform", "handle"))
    else:
        authors = [conversation.author]
    author_ids = [author.pk for author in authors] or [conversation.author_id]
    history = list(Conversation.objects.filter(workspace_id=conversation.workspace_id, author_id__in=author_ids)
                   .select_related("source").only("id", "status", "created_at", "preview", "source__name", "source__platform")
                   .order_by("-id")[:20])
    post_count = Post.objects.filter(workspace_id=conversation.workspace_id, author_id__in=author_ids).count()
    return {"customer_id": conversation.customer_id, "authors": authors, "history": history, "post_count": post_count}


def pending_approvals(workspace_id: int, limit: int = 100) -> list[Reply]:
    return list(Reply.objects.filter(workspace_id=workspace_id, state=Reply.State.AWAITING_APPROVAL)
                .select_related("author", "conversation", "conversation__author", "conversation__source")
                .order_by("created_at", "id")[:limit])


def notifications(user_id: int, workspace_id: int, limit: int = 50, unread_only: bool = False) -> list[Notification]:
    queryset = Notification.objects.filter(user_id=user_id, workspace_id=workspace_id)
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return list(queryset.order_by("-id")[:limit])


# --- reports -----------------------------------------------------------------------------------------

GROUPS = {"agent": "assignee__username", "team": "team__name", "queue": "source__name"}
REPORT_FIELDS = ("id", "created_at", "first_reply_at", "resolved_at", "first_response_due", "resolution_due", "status",
                 "assignee__username", "team__name", "source__name")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _report_rows(workspace_id: int, since: datetime | None, until: datetime | None) -> QuerySet:
    queryset = Conversation.objects.filter(workspace_id=workspace_id)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    return queryset


def sla_report(workspace_id: int, group: str = "agent", since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """First response time, resolution time and SLA-met % per agent, team or queue (source).

    Response and resolution times come from the conversations' recorded first-reply and
    resolution times; SLA outcomes from the ``SlaEvent`` facts (met / met late / breached).
    """
    key = GROUPS.get(group, GROUPS["agent"])
    conversations = _report_rows(workspace_id, since, until)
    buckets: dict[str, dict] = defaultdict(lambda: {"conversations": 0, "first": [], "resolution": [], "resolved": 0})
    names: dict[int, str] = {}
    for row in conversations.values(*REPORT_FIELDS).iterator(chunk_size=2000):
        name = row[key] or ""
        names[row["id"]] = name
        bucket = buckets[name]
        bucket["conversations"] += 1
        first = _seconds(row["created_at"], row["first_reply_at"])
        if first is not None:
            bucket["first"].append(first)
        resolution = _seconds(row["created_at"], row["resolved_at"])
        if resolution is not None:
            bucket["resolution"].append(resolution)
            bucket["resolved"] += 1
    outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    facts = SlaEvent.objects.filter(conversation__in=conversations, kind__in=(SlaEvent.Kind.MET, SlaEvent.Kind.MISSED,
                                                                               SlaEvent.Kind.BREACHED))
    per_conversation: dict[tuple[int, str], str] = {}
    for conversation_id, metric, kind in facts.values_list("conversation_id", "metric", "kind").order_by("id"):
        if kind == SlaEvent.Kind.BREACHED and (conversation_id, metric) in per_conversation:
            continue
        per_conversation[(conversation_id, metric)] = "met" if kind == SlaEvent.Kind.MET else "missed"
    for (conversation_id, _metric), outcome in per_conversation.items():
        if conversation_id in names:
            outcomes[names[conversation_id]][outcome] += 1
    result = []
    for name in sorted(buckets):
        bucket = buckets[name]
        met, missed = outcomes[name]["met"], outcomes[name]["missed"]
        result.append({
            "group": group, "name": name, "conversations": bucket["conversations"], "resolved": bucket["resolved"],
            "first_response_avg_s": round(statistics.fmean(bucket["first"]), 1) if bucket["first"] else None,
            "first_response_median_s": round(statistics.median(bucket["first"]), 1) if bucket["first"] else None,
            "resolution_avg_s": round(statistics.fmean(bucket["resolution"]), 1) if bucket["resolution"] else None,
            "resolution_median_s": round(statistics.median(bucket["resolution"]), 1) if bucket["resolution"] else None,
            "sla_met": met, "sla_missed": missed,
            "sla_met_pct": round(100.0 * met / (met + missed), 1) if met + missed else None,
        })
    return result


def sla_overview(workspace_id: int, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    active = Conversation.objects.filter(workspace_id=workspace_id, status__in=ACTIVE_STATUSES)
    return {
        "active": active.count(),
        "breached_first_response": active.filter(first_reply_at__isnull=True, first_response_due__lte=now).count(),
        "breached_next_response": active.filter(waiting_since__isnull=False, next_response_due__lte=now).count(),
        "breached_resolution": active.filter(resolution_due__lte=now).count(),
        "recent_events": list(SlaEvent.objects.filter(workspace_id=workspace_id, kind__in=(SlaEvent.Kind.WARNING, SlaEvent.Kind.BREACHED))
                              .select_related("conversation", "assignee").order_by("-at", "-id")[:30]),
    }


DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_safe(value) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if text.startswith(DANGEROUS_PREFIXES):
        return "'" + text
    return text


EXPORT_COLUMNS = ["conversation", "created_at", "source", "platform", "customer", "team", "assignee", "status", "priority", "labels",
                  "incident", "first_reply_at", "first_response_s", "first_response_due", "first_response_met", "resolved_at",
                  "resolution_s", "preview"]


def export_rows(workspace_id: int, since: datetime | None = None, until: datetime | None = None) -> Iterator[str]:
    """The row-level export: one CSV line per conversation, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return value

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    fields = ("id", "created_at", "source__name", "source__platform", "author__handle", "team__name", "assignee__username", "status",
              "priority", "labels", "incident_id", "first_reply_at", "first_response_due", "resolved_at", "preview")
    for row in _report_rows(workspace_id, since, until).order_by("id").values_list(*fields).iterator(chunk_size=2000):
        (cid, created, source, platform, handle, team, assignee, status, priority, labels, incident, first_reply, due,
         resolved, preview) = row
        first_s = _seconds(created, first_reply)
        met = "" if due is None or first_reply is None else ("yes" if first_reply <= due else "no")
        writer.writerow([csv_safe(value) for value in (
            cid, created, source, platform, handle, team, assignee, status, priority, labels.strip(","), incident or "", first_reply,
            round(first_s) if first_s is not None else "", due, met, resolved,
            round(_seconds(created, resolved)) if resolved else "", preview)])
        yield flush()


# --- incidents ----------------------------------------------------------------------------------------

def incident_summary(incident: Incident, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    conversations = Conversation.objects.filter(incident=incident)
    rows = list(conversations.values_list("created_at", "first_reply_at", "resolved_at"))
    first = [s for s in (_seconds(c, f) for c, f, _ in rows) if s is not None]
    resolution = [s for s in (_seconds(c, r) for c, _, r in rows) if s is not None]
    posts = ConversationPost.objects.filter(conversation__incident=incident).count()
    return {
        "conversations": len(rows),
        "posts": posts,
        "replied": len(first),
        "resolved": len(resolution),
        "first_response_median_s": round(statistics.median(first), 1) if first else None,
        "first_response_avg_s": round(statistics.fmean(first), 1) if first else None,
        "resolution_median_s": round(statistics.median(resolution), 1) if resolution else None,
        "messages_sent": Reply.objects.filter(conversation__incident=incident, purpose="incident").count(),
        "duration_s": round(((incident.ended_at or now) - incident.declared_at).total_seconds()),
    }


def incident_timeline(incident: Incident, bucket_minutes: int = 15) -> dict:
    """The incident's facts in order, and the volume of matching customer posts per time bucket."""
    events = list(incident.events.select_related("actor").order_by("at", "id"))
    volume: dict[str, int] = defaultdict(int)
    times = Post.objects.filter(care_membership__conversation__incident=incident, is_outbound=False).values_list(
        "received_at", flat=True)[:50000]
    for at in times:
        at = at.replace(minute=at.minute - at.minute % bucket_minutes, second=0, microsecond=0)
        volume[at.isoformat()] += 1
    return {"events": events, "volume": sorted(volume.items())}


# --- what other apps show about care (listening columns, alerts, the thread page) ---------------------

def conversations_for_posts(workspace_id: int, post_ids: list[int]) -> dict[int, int]:
    """post id → the conversation it belongs to, for the posts of a page (one query)."""
    if not post_ids:
        return {}
    return dict(ConversationPost.objects.filter(post_id__in=post_ids, conversation__workspace_id=workspace_id)
                .values_list("post_id", "conversation_id"))


def incidents_for_alerts(workspace_id: int, alert_ids: list[int]) -> dict[int, int]:
    """alert id → the incident declared from it (one query)."""
    if not alert_ids:
        return {}
    return dict(Incident.objects.filter(workspace_id=workspace_id, alert_id__in=alert_ids).values_list("alert_id", "id"))


def new_activity_count(conversations: list[Conversation], after_post_id: int, cap: int) -> int:
    """Conversations of a list whose latest customer post came after ``after_post_id``."""
    return min(sum(1 for c in conversations if (c.last_post_id or 0) > after_post_id), cap)
