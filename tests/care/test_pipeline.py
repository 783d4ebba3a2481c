"""The routing hook inside the real ingest pipeline (raw items → posts → conversations)."""

from __future__ import annotations

import pytest

from tests.support import ingest, make_post
from veille.care.models import Conversation, ConversationPost, Status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_only(settings):
    # The sentiment/complaint models may not be trained yet; routing does not need them.
    settings.VEILLE_ENRICH = False


def test_pipeline_opens_and_threads_conversations(workspace):
    from veille.sources.models import Source

    source = Source.objects.create(workspace=workspace, name="Mentions", platform="import", account_handle="@Alpina")
    result = ingest(source, [
        make_post("a1", text="@alpina ma box ne marche plus", author="marie"),
        make_post("b1", text="Nous regardons, Marie", reply_to="a1", author="alpina", outbound=True, minutes=1),
        make_post("a2", text="Merci, toujours rien", reply_to="b1", author="marie", minutes=2),
        make_post("z1", text="Il fait beau", author="paul"),
        make_post("d1", text="Bonjour, question privée", author="luc", kind="dm", minutes=3),
        make_post("r1", text="une réponse à un inconnu", reply_to="missing", author="anne", minutes=4),
    ])
    assert result.stored == 6
    conversations = {c.author.handle: c for c in Conversation.objects.select_related("author")}
    assert set(conversations) == {"marie", "luc"}
    marie = conversations["marie"]
    assert ConversationPost.objects.filter(conversation=marie).count() == 3
    assert marie.first_reply_at is not None  # the brand answered on the platform itself
    assert marie.status == Status.NEW and marie.waiting_since is not None
    assert conversations["luc"].is_private
    # Replaying the same items changes nothing (dedupe upstream, unique membership here).
    ingest(source, [make_post("a1", text="@alpina ma box ne marche plus", author="marie")])
    assert Conversation.objects.count() == 2
