from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.rss_server import atom_document, rss_document
from veille.sources.base import MAX_TEXT_CHARS, NormalizeError
from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    OutboundAction,
    RateLimited,
    TransientError,
    Unsupported,
)
from veille.sources.rss.connector import RssConnector

T0 = datetime(2024, 4, 30, 9, 0, tzinfo=UTC)


def item(n, **extra):
    return {"guid": f"tag:blog.example,2024:{n}", "title": f"Post {n}", "link": f"https://blog.example/{n}",
            "description": f"<p>Body {n}</p>", "pubDate": T0 + timedelta(hours=n), **extra}


def publish(host, numbers, path="/blog.xml", **kw):
    # Feeds list newest first.
    host.set_feed(path, rss_document("Alpina Blog", [item(n) for n in sorted(numbers, reverse=True)]), **kw)


def test_first_sync_returns_every_entry_oldest_first(feed_host, make_connector):
    publish(feed_host, [1, 2, 3])
    connector = make_connector()

    result = connector.poll(None)

    json.dumps(result.cursor)
    assert [r.external_id for r in result.records] == [f"tag:blog.example,2024:{n}" for n in (1, 2, 3)]
    state = result.cursor["feeds"][feed_host.url("/blog.xml")]
    assert state["etag"].startswith('"') and state["last_modified"].endswith("GMT")
    post = connector.normalize(result.records[0].payload)
    assert post.text == "Post 1\n\nBody 1"
    assert post.url == "https://blog.example/1"
    assert post.created_at == T0 + timedelta(hours=1)
    assert post.author_handle == "Alpina Blog"  # no author: the feed's title
    assert post.lang_hint == "en" and post.kind == "post" and post.is_outbound is False


def test_not_modified_returns_nothing_and_sends_validators_back(feed_host, make_connector):
    publish(feed_host, [1, 2])
    connector = make_connector()
    first = connector.poll(None)

    second = connector.poll(first.cursor)

    assert second.records == []
    assert second.cursor == first.cursor
    sent = feed_host.requests_to("/blog.xml")[-1]
    state = first.cursor["feeds"][feed_host.url("/blog.xml")]
    assert sent["if-none-match"] == state["etag"]
    assert sent["if-modified-since"] == state["last_modified"]


def test_last_modified_alone_gives_304(feed_host, make_connector):
    publish(feed_host, [1], send_etag=False)
    connector = make_connector()
    first = connector.poll(None)
    assert first.cursor["feeds"][feed_host.url("/blog.xml")]["etag"] is None

    second = connector.poll(first.cursor)

    assert second.records == []
    assert "if-none-match" not in feed_host.requests_to("/blog.xml")[-1]


def test_changed_feed_returns_only_new_entries_even_after_restart(feed_host, make_connector):
    publish(feed_host, [1, 2, 3])
    cursor = make_connector().poll(None).cursor
    publish(feed_host, [2, 3, 4, 5])  # 1 fell out of the window, 4 and 5 are new

    restarted = make_connector()  # a new process, given the stored cursor
    result = restarted.poll(cursor)
    assert [r.external_id.rsplit(":", 1)[1] for r in result.records] == ["4", "5"]

    publish(feed_host, [1, 4, 5, 6])  # 1 comes back (a re-dated old entry): not new
    again = restarted.poll(result.cursor)
    assert [r.external_id.rsplit(":", 1)[1] for r in again.records] == ["6"]


def test_atom_feed_with_authors_and_content(feed_host, make_connector):
    feed_host.set_feed("/news.atom", atom_document("Zeitung", [
        {"id": "urn:news:2", "title": "Zweite", "link": "https://news.example/2", "author": "Anna",
         "content": "<div>Inhalt <em>zwei</em></div>", "updated": T0 + timedelta(days=1)},
        {"id": "urn:news:1", "title": "Erste", "link": "https://news.example/1", "summary": "Kurz",
         "published": T0, "updated": T0 + timedelta(days=2)},
    ]), content_type="application/atom+xml")
    connector = make_connector(feeds=["/news.atom"])

    posts = [connector.normalize(r.payload) for r in connector.poll(None).records]

    assert [p.external_id for p in posts] == ["urn:news:1", "urn:news:2"]
    assert posts[0].created_at == T0  # published wins over updated
    assert posts[1].created_at == T0 + timedelta(days=1)  # updated when no published
    assert posts[1].text == "Zweite\n\nInhalt zwei"
    assert (posts[1].author_handle, posts[1].author_external_id) == ("Anna", feed_host.url("/news.atom") + "#Anna")
    assert posts[0].lang_hint == "de"


def test_hostile_html_comes_out_as_text(feed_host, make_connector):
    hostile = ('<script>alert("x")</script><style>body{display:none}</style><p onclick="evil()">Hello '
               '<img src=x onerror=alert(1)><a href="javascript:alert(2)">world</a> &amp; friends</p>'
               '<iframe src="https://evil.example"></iframe>')
    feed_host.set_feed("/blog.xml", rss_document("Blog", [item(1, description=hostile, title="<b>Bold</b> title")]))
    connector = make_connector()

    post = connector.normalize(connector.poll(None).records[0].payload)

    assert post.text == "Bold title\n\nHello world & friends"
    assert "<" not in post.text and "alert" not in post.text


def test_entries_without_date_or_guid(feed_host, make_connector):
    undated = {"title": "No date", "link": "https://blog.example/nodate", "description": "x"}
    anonymous = {"title": "Nothing but a title"}
    feed_host.set_feed("/blog.xml", rss_document("Blog", [anonymous, undated]))
    connector = make_connector()
    before = datetime.now(UTC)

    first = connector.poll(None)
    posts = [connector.normalize(r.payload) for r in first.records]

    assert posts[0].external_id == "https://blog.example/nodate"  # no guid: the link
    assert before - timedelta(seconds=1) <= posts[0].created_at <= datetime.now(UTC)  # fetch time
    assert posts[1].external_id.startswith("sha1:")
    # The same entries fetched again (no validators this time) keep their ids: nothing new.
    feed_host.set_feed("/blog.xml", rss_document("Blog", [anonymous, undated]), send_etag=False,
                       send_last_modified=False)
    assert connector.poll(first.cursor).records == []


def test_malformed_entry_in_good_feed_is_kept_for_dead_letter(feed_host, make_connector):
    feed_host.set_feed("/blog.xml", rss_document("Blog", [item(2), {"guid": "empty-entry"}, item(1)]))
    connector = make_connector()

    records = connector.poll(None).records

    assert [r.external_id for r in records] == ["tag:blog.example,2024:1", "empty-entry", "tag:blog.example,2024:2"]
    with pytest.raises(NormalizeError, match="neither title nor summary"):
        connector.normalize(records[1].payload)
    assert connector.normalize(records[2].payload).text == "Post 2\n\nBody 2"


def test_long_summary_is_cut_to_max_text(feed_host, make_connector):
    feed_host.set_feed("/blog.xml", rss_document("Blog", [item(1, description="word " * MAX_TEXT_CHARS)]))
    connector = make_connector()
    post = connector.normalize(connector.poll(None).records[0].payload)
    assert len(post.text) == MAX_TEXT_CHARS and post.text.endswith("…")


@pytest.mark.parametrize("payload", [{}, {"entry": "x"}, {"entry": {"id": ""}}])
def test_normalize_rejects_broken_payloads(payload):
    with pytest.raises(NormalizeError):
        RssConnector({"feeds": ["https://x.example/feed"]}).normalize(payload)


def test_basic_auth(feed_host, make_connector):
    publish(feed_host, [1])
    feed_host.require_auth("/blog.xml", "reader", "s3cret")
    with pytest.raises(NeedsReconnection):
        make_connector().poll(None)
    with pytest.raises(NeedsReconnection):
        make_connector(credentials={"username": "reader", "password": "wrong"}).poll(None)
    ok = make_connector(credentials={"username": "reader", "password": "s3cret"}).poll(None)
    assert len(ok.records) == 1


@pytest.mark.parametrize("kind", ["429", "503"])
def test_rate_limited_with_retry_after_then_success(feed_host, make_connector, kind):
    publish(feed_host, [1])
    connector = make_connector()
    feed_host.fail_next(kind, retry_after="120")
    with pytest.raises(RateLimited) as caught:
        connector.poll(None)
    assert caught.value.retry_after_s == 120
    assert len(connector.poll(None).records) == 1


@pytest.mark.parametrize("kind", ["500", "malformed", "html", "drop"])
def test_transient_failures(feed_host, make_connector, kind):
    publish(feed_host, [1])
    connector = make_connector()
    feed_host.fail_next(kind)
    with pytest.raises(TransientError):
        connector.poll(None)
    assert len(connector.poll(None).records) == 1


def test_body_that_looks_like_a_path_is_never_opened(feed_host, make_connector):
    feed_host.fail_next("body", body=b"/etc/hostname")
    with pytest.raises(TransientError, match="not a readable RSS/Atom document"):
        make_connector().poll(None)


def test_missing_feed_is_a_clear_refusal(feed_host, make_connector):
    with pytest.raises(ConnectorError, match="404"):
        make_connector(feeds=["/gone.xml"]).poll(None)


def test_redirect_is_followed(feed_host, make_connector):
    publish(feed_host, [1], path="/new.xml")
    feed_host.redirects["/old.xml"] = feed_host.url("/new.xml")
    result = make_connector(feeds=["/old.xml"]).poll(None)
    assert len(result.records) == 1
    assert feed_host.url("/old.xml") in result.cursor["feeds"]


def test_failure_after_a_good_feed_keeps_its_items(feed_host, make_connector):
    publish(feed_host, [1], path="/a.xml")
    publish(feed_host, [1], path="/b.xml")
    connector = make_connector(feeds=["/a.xml", "/b.xml"])
    feed_host.fail_next("500", path="/b.xml")

    partial = connector.poll(None)
    assert [r.location for r in partial.records] == [feed_host.url("/a.xml")]
    assert partial.more and partial.cursor["resume_at"] == feed_host.url("/b.xml")

    rest = connector.poll(partial.cursor)
    assert [r.location for r in rest.records] == [feed_host.url("/b.xml")]
    assert rest.more is False


def test_read_only(make_connector):
    connector = make_connector()
    assert not any(c.startswith("act.") for c in connector.capabilities)
    with pytest.raises(Unsupported, match="read only"):
        connector.act(OutboundAction(kind="reply", idempotency_key="k", text="hi"))


def test_settings_are_validated():
    with pytest.raises(ValueError):
        RssConnector({"feeds": []})
    with pytest.raises(ValueError):
        RssConnector({"feeds": ["file:///etc/passwd"]})
