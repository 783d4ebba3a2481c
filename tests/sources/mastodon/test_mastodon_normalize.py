from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veille.sources.base import MAX_TEXT_CHARS, NormalizeError
from veille.sources.mastodon.normalize import html_to_text, normalize_status

ACCOUNT = {"id": "7", "acct": "alice@remote.example", "display_name": "Alice", "followers_count": 42}


def status(**overrides):
    base = {
        "id": "1001",
        "created_at": "2024-03-01T10:20:30.123Z",
        "in_reply_to_id": None,
        "visibility": "public",
        "language": "fr",
        "url": "https://remote.example/@alice/1001",
        "uri": "https://remote.example/users/alice/statuses/1001",
        "content": "<p>Bonjour</p>",
        "spoiler_text": "",
        "account": ACCOUNT,
        "reblog": None,
    }
    base.update(overrides)
    return base


def test_hostile_html_comes_out_as_text():
    html = (
        '<p>Hi <b>there</b> &amp; <a href="javascript:alert(1)" onclick="x()">click</a></p>'
        "<script>alert('xss')</script><style>p{color:red}</style>"
        '<img src=x onerror="alert(1)"><iframe src="https://evil"></iframe>'
        "<p>line1<br>line2<br/>&lt;script&gt;not a tag&lt;/script&gt;</p><!-- hidden -->"
        "<svg><script>alert(2)</script></svg><p>caf&eacute; &#x1F600;</p>"
    )
    text = html_to_text(html)
    assert text == "Hi there & click\n\nline1\nline2\n<script>not a tag</script>\n\ncafé 😀"
    assert "alert" not in text and "color" not in text and "hidden" not in text


def test_mastodon_link_markup_gives_full_url():
    html = ('<p>see <a href="https://example.com/a/very/long/path"><span class="invisible">https://'
            '</span><span class="ellipsis">example.com/a/very</span><span class="invisible">/long/path'
            '</span></a></p>')
    assert html_to_text(html) == "see https://example.com/a/very/long/path"


def test_unclosed_and_broken_markup():
    assert html_to_text("<p>a<b>b<i>c") == "abc"
    assert html_to_text("<script>never closed") == ""
    assert html_to_text("a < b > c") == "a < b > c"


def test_status_fields():
    post = normalize_status(status(content="<p>Ça marche?</p>", in_reply_to_id="999"), "@brand@mastodon.example")
    assert post.external_id == "1001"
    assert post.text == "Ça marche?"
    assert post.created_at == datetime(2024, 3, 1, 10, 20, 30, 123000, tzinfo=UTC)
    assert (post.author_external_id, post.author_handle, post.author_name) == ("7", "alice@remote.example", "Alice")
    assert post.author_followers == 42
    assert post.in_reply_to_external_id == "999"
    assert post.kind == "reply"
    assert post.is_outbound is False
    assert post.lang_hint == "fr"
    assert post.url == "https://remote.example/@alice/1001"


def test_direct_visibility_is_dm_and_own_account_is_outbound():
    own = {"id": "1", "acct": "brand", "display_name": "Brand", "followers_count": 5}
    post = normalize_status(status(visibility="direct", account=own), "@brand@mastodon.example")
    assert post.kind == "dm" and post.is_outbound is True
    remote_same_name = {**own, "acct": "brand@elsewhere.example"}
    assert normalize_status(status(account=remote_same_name), "@brand@mastodon.example").is_outbound is False


def test_notification_conversation_and_boost_payloads():
    inner = status(id="55", content="<p>inner</p>")
    notification = {"id": "9", "type": "mention", "created_at": inner["created_at"], "account": ACCOUNT, "status": inner}
    conversation = {"id": "3", "unread": True, "accounts": [ACCOUNT], "last_status": inner}
    boost = status(id="56", content="", reblog=inner)
    for payload in (notification, conversation, boost):
        post = normalize_status(payload)
        assert (post.external_id, post.text) == ("55", "inner")


def test_content_warning_is_kept_before_text():
    post = normalize_status(status(spoiler_text="spoilers", content="<p>the end</p>"))
    assert post.text == "spoilers\n\nthe end"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"id": "1", "type": "follow", "account": ACCOUNT, "status": None}, "carries no status"),
        (status(account={"id": "7"}), "account"),
        (status(created_at="yesterday"), "date"),
        (status(created_at=None), "date"),
        (status(content=42), "content"),
        (status(id=None), "no id"),
        (status(content="<p>" + "x" * (MAX_TEXT_CHARS + 1) + "</p>"), "characters"),
        ({"unexpected_item": [1, 2]}, "no id"),
    ],
)
def test_malformed_payloads_raise_normalize_error(payload, message):
    with pytest.raises(NormalizeError, match=message):
        normalize_status(payload)
