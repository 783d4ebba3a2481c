"""A care queue as a column of the listening board (registered by ``CareConfig.ready``).

The column shows conversations, not posts: my queue, the unassigned queue or a team's queue,
as the care desk orders them. The board stream re-sends it when a care event is published for
the workspace (conversation opened, assigned, status changed …) and the queue's version moved.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from veille.care import queries
from veille.care.models import Conversation, Team
from veille.listening.columns import UNREAD_CAP, ColumnKind
from veille.listening.models import Column

COLUMN_CONVERSATIONS = 30
# Queue names a column may follow; "team" needs a team id.
COLUMN_QUEUES = ("mine", "unassigned", "team")


class CareQueueColumn(ColumnKind):
    key = "care"
    label = gettext_lazy("Care queue")
    shows_posts = False
    live_types = ("care",)

    def _queue(self, column: Column) -> tuple[str, int | None]:
        name = column.config.get("queue")
        team_id = column.config.get("team_id")
        return (name if name in COLUMN_QUEUES else "", team_id if isinstance(team_id, int) else None)

    def is_valid(self, column: Column, workspace_id: int, user_id: int) -> bool:
        name, team_id = self._queue(column)
        if name == "team":
            return team_id is not None and Team.objects.filter(pk=team_id, workspace_id=workspace_id).exists()
        return bool(name)

    def conversations(self, column: Column, workspace_id: int) -> list[Conversation]:
        name, team_id = self._queue(column)
        if not name:
            return []
        # "Mine" is the board owner's queue, whoever looks at it.
        return queries.queue(workspace_id, column.board.user_id, name, team_id=team_id, limit=COLUMN_CONVERSATIONS)

    def post_ids(self, column, workspace_id, *, after_id=None, upto_id=None, before_id=None, limit=30):
        return []

    def unread(self, column: Column, workspace_id: int) -> int:
        # Unread: conversations whose latest customer post came after "mark as read".
        return queries.new_activity_count(self.conversations(column, workspace_id), column.last_seen_id, UNREAD_CAP + 1)

    def render_body(self, column: Column, request: HttpRequest) -> str:
        conversations = self.conversations(column, request.workspace.id)
        return render_to_string("care/_column_queue.html", {"conversations": conversations, "column": column}, request=request)

    def version(self, column: Column, workspace_id: int) -> str:
        return queries.queue_version(workspace_id)

    def choices(self, workspace_id: int, user_id: int) -> list[tuple[str, str]]:
        teams = Team.objects.filter(workspace_id=workspace_id).order_by("name").values_list("id", "name")
        return [("mine", _("My care queue")), ("unassigned", _("Unassigned conversations")),
                *((f"team:{team_id}", _("Team %(name)s") % {"name": name}) for team_id, name in teams)]

    def configure(self, target: str, workspace_id: int, user_id: int) -> tuple[str, dict] | None:
        if target == "mine":
            return _("My care queue"), {"queue": "mine"}
        if target == "unassigned":
            return _("Unassigned conversations"), {"queue": "unassigned"}
        if target.startswith("team:") and target[5:].isdigit():
            team = Team.objects.filter(pk=int(target[5:]), workspace_id=workspace_id).first()
            if team is not None:
                return _("Care: %(team)s") % {"team": team.name}, {"queue": "team", "team_id": team.pk}
        return None
