"""Facebook outbound: replies, private replies, Messenger answers, hide/unhide, delete."""

from __future__ import annotations

import pytest

from veille.sources.connector import OutboundAction, TransientError, Unsupported

CARLA = {"id": "2001", "name": "Carla R"}


@pytest.fixture
def comment(fake_fb):
    post = fake_fb.add_post("Post")
    return fake_fb.add_comment(post, "My order never came", author=CARLA)


def test_reply_to_a_comment(fake_fb, make_fb, comment):
    result = make_fb().act(
        OutboundAction("reply", "k1", text="Sorry! Check your DMs.", target_external_id=comment)
    )
    replies = fake_fb.page_comments_on(comment)
    assert [r["id"] for r in replies] == [result.external_id]
    assert fake_fb.requests[-1]["path"] == f"/v21.0/{comment}/comments"


def test_reply_sent_once_when_the_connection_drops_after_graph_accepted_it(
    fake_fb, make_fb, comment
):
    connector = make_fb()
    action = OutboundAction("reply", "k2", text="We are on it", target_external_id=comment)
    fake_fb.fail_next("drop", method="POST", path="/comments")
    with pytest.raises(TransientError):
        connector.act(action)
    assert len(fake_fb.page_comments_on(comment)) == 1
    result = connector.act(action)
    replies = fake_fb.page_comments_on(comment)
    assert len(replies) == 1 and result.external_id == replies[0]["id"]
    assert result.detail == {"recovered": True}


def test_retry_sends_when_nothing_arrived(fake_fb, make_fb, comment):
    connector = make_fb()
    fake_fb.fail_next("500", method="POST", path="/comments")
    action = OutboundAction("reply", "k3", text="Hello", target_external_id=comment)
    with pytest.raises(TransientError):
        connector.act(action)
    result = connector.act(action)
    assert [r["id"] for r in fake_fb.page_comments_on(comment)] == [result.external_id]


def test_private_reply_once_despite_a_dropped_connection(fake_fb, make_fb, comment):
    connector = make_fb()
    action = OutboundAction(
        "private_reply", "k4", text="Can you send your order number?", target_external_id=comment
    )
    fake_fb.fail_next("drop", method="POST", path="/messages")
    with pytest.raises(TransientError):
        connector.act(action)
    result = connector.act(action)
    assert result.detail["recovered"] is True
    sent = [m for m in fake_fb.messages.values() if m["from"]["id"] == "500"]
    assert len(sent) == 1
    body = [r for r in fake_fb.requests if r["path"].endswith("/500/messages")][0]["body"]
    assert '"comment_id"' in body


def test_private_reply_refused_as_already_sent_counts_as_done(fake_fb, make_fb, comment):
    make_fb().act(OutboundAction("private_reply", "a", text="hi", target_external_id=comment))
    result = make_fb().act(OutboundAction("dm", "b", text="hi", target_external_id=comment))
    assert result.detail["already"] is True


def test_messenger_answer_once_despite_a_dropped_connection(fake_fb, make_fb):
    fake_fb.add_message(CARLA, "hello?")
    connector = make_fb()
    action = OutboundAction(
        "dm", "k5", text="Hi Carla, how can we help?", recipient_external_id="2001"
    )
    fake_fb.fail_next("drop", method="POST", path="/messages")
    with pytest.raises(TransientError):
        connector.act(action)
    result = connector.act(action)
    sent = [m for m in fake_fb.messages.values() if m["from"]["id"] == "500"]
    assert [m["id"] for m in sent] == [result.external_id]


def test_hide_unhide_delete(fake_fb, make_fb, comment):
    connector = make_fb()
    connector.act(OutboundAction("hide", "h", target_external_id=comment))
    assert fake_fb.comments[comment]["_hidden"] is True
    connector.act(OutboundAction("unhide", "u", target_external_id=comment))
    assert fake_fb.comments[comment]["_hidden"] is False
    fake_fb.fail_next("drop", method="DELETE")
    delete = OutboundAction("delete", "d", target_external_id=comment)
    with pytest.raises(TransientError):
        connector.act(delete)
    assert connector.act(delete).detail == {"already": True}
    assert comment not in fake_fb.comments


def test_missing_permission_or_unknown_action_is_unsupported(fake_fb, make_fb, comment):
    connector = make_fb(
        credentials={
            "page_access_token": "page-token",
            "permissions": ["pages_read_engagement", "pages_read_user_content"],
        }
    )
    with pytest.raises(Unsupported, match="permission"):
        connector.act(OutboundAction("reply", "k", text="x", target_external_id=comment))
    with pytest.raises(Unsupported, match="no 'like' action"):
        make_fb().act(OutboundAction("like", "k", target_external_id=comment))
    assert fake_fb.page_comments_on(comment) == []
