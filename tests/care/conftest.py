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
