import pytest


@pytest.fixture
def brand_source(workspace):
    from veille.sources.models import Source

    return Source.objects.create(workspace=workspace, name="Alpina on X", platform="x", account_handle="alpina")


@pytest.fixture
def agent2(workspace):
    from tests.support import make_user

    return make_user(workspace, "agent2", "agent")


@pytest.fixture
def analyst(workspace):
    from tests.support import make_user

    return make_user(workspace, "analyst1", "analyst")


def login(user):
    from django.test import Client

    client = Client()
    client.login(username=user.username, password="correct horse battery")
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _english_pages(settings):
    """These tests read English messages; the desk's default language is French."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def _rule_based_tone(request, monkeypatch):
    """Replies in these tests are terse stand-ins ("b", "one"); what the trained models think of
    them is not what the tests are about. The model-based warnings are tested on their own."""
    if request.node.get_closest_marker("tone_models"):
        return
    from veille.care import tone

    monkeypatch.setattr(tone, "_analysis", lambda text: None)
