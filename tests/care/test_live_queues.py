"""Care queues live: as a column of the listening board (a team's queue, my queue, the
unassigned queue) and on the queue page, both pushed by server-sent events when a
conversation is opened, assigned or changes status."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from tests.care.conftest import login
from tests.care.helpers import post, route
from tests.support import make_user
from veille.care import actions, queries
from veille.care.models import Conversation, Team
from veille.listening import actions as listening_actions
from veille.listening.columns import COLUMN_KINDS
from veille.listening.models import Column

pytestmark = pytest.mark.django_db
HOSTILE = "<script>alert(1)</script>"


def _events(response, wanted: str, count: int = 1, limit: int = 50) -> list[dict]:
    """Read a stream until ``count`` events named ``wanted`` came (the stream polls every 2 s)."""
    found = []
    for index, chunk in enumerate(response.streaming_content):
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if f"event: {wanted}\n" in text:
            found.append(json.loads(text.split("data: ", 1)[1]))
            if len(found) == count:
                break
        assert index < limit, "no event"
    return found


def test_care_columns_are_added_from_the_board(brand_source, workspace, agent, other_workspace):
    team = Team.objects.create(workspace=workspace, name="Billing")
    foreign = Team.objects.create(workspace=other_workspace, name="Theirs")
    client = login(agent)
    board = client.get(reverse("listening:board")).content.decode()
    assert 'id="add-care"' in board and f'value="team:{team.pk}"' in board and f"team:{foreign.pk}" not in board
    for target in ("mine", "unassigned", f"team:{team.pk}", f"team:{foreign.pk}", "team:x", "everything"):
        client.post(reverse("listening:column_add"), {"kind": "care", "target": target})
    columns = list(Column.objects.filter(kind="care").order_by("id"))
    assert [(c.title, c.config) for c in columns] == [
        ("My care queue", {"queue": "mine"}), ("Unassigned conversations", {"queue": "unassigned"}),
        ("Care: Billing", {"queue": "team", "team_id": team.pk})]


def test_a_care_column_shows_its_queue_escaped(brand_source, workspace, agent, agent2):
    team = Team.objects.create(workspace=workspace, name="Billing")
    board = listening_actions.board_for(workspace, agent)
    mine = listening_actions.add_column(board, kind="care", title="Mine", config={"queue": "mine"})
    billing = listening_actions.add_column(board, kind="care", title="Billing", config={"queue": "team", "team_id": team.pk})
    route(post(brand_source, f"@alpina {HOSTILE} bill wrong", handle="payer"))
    route(post(brand_source, "@alpina router", handle="other"))
    billed, other = Conversation.objects.order_by("id")
    actions.set_team(billed, agent, team.pk)
    actions.claim(other, agent)
    page = login(agent).get(reverse("listening:board")).content.decode()
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    kind = COLUMN_KINDS["care"]
    assert [c.pk for c in kind.conversations(mine, workspace.pk)] == [other.pk]
    assert [c.pk for c in kind.conversations(billing, workspace.pk)] == [billed.pk]
    assert f'href="/care/c/{billed.pk}/"' in page and f'href="/care/c/{other.pk}/"' in page
    # "Mine" is the board owner's queue, not the viewer's.
    assert kind.conversations(Column.objects.get(pk=mine.pk), workspace.pk)[0].assignee_id == agent.pk
    # Unread: conversations with customer posts after "mark as read".
    assert kind.unread(mine, workspace.pk) == 1
    listening_actions.mark_column_read(mine, other.last_post_id)
    mine.refresh_from_db()
    assert kind.unread(mine, workspace.pk) == 0
    Team.objects.filter(pk=team.pk).delete()
    assert not kind.is_valid(Column.objects.get(pk=billing.pk), workspace.pk, agent.pk)


def test_board_stream_sends_the_care_column_again_when_it_changes(brand_source, workspace, agent, agent2,
                                                                  django_capture_on_commit_callbacks):
    board = listening_actions.board_for(workspace, agent)
    column = listening_actions.add_column(board, kind="care", title="Waiting", config={"queue": "unassigned"})
    route(post(brand_source, "@alpina my line is dead", handle="caller"))
    conversation = Conversation.objects.get()
    response = login(agent).get(reverse("listening:board_events") + "?after=999999")
    first = _events(response, "column")[0]
    assert first["column"] == column.pk and f"#{conversation.pk}" in first["html"] and first["unread"] == 1
    with django_capture_on_commit_callbacks(execute=True):  # publishes the care event
        actions.claim(conversation, agent2)
    second = _events(response, "column")[0]
    response.close()
    assert second["column"] == column.pk and f"#{conversation.pk}" not in second["html"] and "Nothing in this queue." in second["html"]


def test_queue_page_streams_its_rows_when_a_conversation_changes(brand_source, workspace, agent, agent2,
                                                                 django_capture_on_commit_callbacks):
    route(post(brand_source, "@alpina first", handle="first"))
    first = Conversation.objects.get()
    page = login(agent).get(reverse("care_queue") + "?queue=all")
    html = page.content.decode()
    assert 'data-events-url="/care/events/?' in html
    events_url = html.split('data-events-url="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert parse_qs(urlparse(events_url).query)["queue"] == ["all"]
    stream = login(agent).get(events_url)
    assert stream["Content-Type"].startswith("text/event-stream")
    with django_capture_on_commit_callbacks(execute=True):
        route(post(brand_source, f"@alpina second {HOSTILE}", handle="second"))
    rows = _events(stream, "rows")[0]
    second = Conversation.objects.exclude(pk=first.pk).get()
    assert f'data-id="{first.pk}"' in rows["html"] and f'data-id="{second.pk}"' in rows["html"]
    assert HOSTILE not in rows["html"] and rows["counts"]["all"] == 2 and rows["counts"]["unassigned"] == 2
    with django_capture_on_commit_callbacks(execute=True):
        actions.claim(second, agent2)
    rows = _events(stream, "rows")[0]
    stream.close()
    assert "agent2" in rows["html"] and rows["counts"]["unassigned"] == 1


def test_queue_stream_is_scoped_to_the_workspace_and_the_role(brand_source, other_workspace, agent):
    route(post(brand_source, "@alpina ours", handle="ours"))
    ours = Conversation.objects.get()
    stranger = make_user(other_workspace, "stranger", "admin")
    stream = login(stranger).get(reverse("care_queue_events") + "?queue=all")
    rows = _events(stream, "rows")[0]  # "v" missing: the first poll sends the rows
    stream.close()
    assert f'data-id="{ours.pk}"' not in rows["html"] and rows["counts"]["all"] == 0
    from django.test import Client

    assert Client().get(reverse("care_queue_events")).status_code == 302  # to the login page


def test_care_events_are_published_for_creation_assignment_and_status(brand_source, workspace, agent, manager,
                                                                      django_capture_on_commit_callbacks):
    from veille.web.live import bus

    def count() -> int:
        return bus.count(workspace.pk, ("care",))

    start = count()
    with django_capture_on_commit_callbacks(execute=True):
        route(post(brand_source, "@alpina help"))
    conversation = Conversation.objects.get()
    assert count() == start + 1
    with django_capture_on_commit_callbacks(execute=True):
        actions.assign(conversation, manager, agent.pk)
    assert count() == start + 2
    with django_capture_on_commit_callbacks(execute=True):
        actions.set_status(conversation, agent, "resolved")
    assert count() == start + 3
    assert queries.queue_version(workspace.pk)
