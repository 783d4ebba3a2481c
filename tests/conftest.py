"""Shared fixtures. Tests that touch the database are marked ``database`` automatically so the
PostgreSQL pass (``make test-postgres``) runs exactly those."""

from __future__ import annotations

import pytest

from tests.support import make_user

DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("django_db") or DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.database)


def pytest_configure(config):
    config.addinivalue_line("markers", "database: touches the database (runs on SQLite and PostgreSQL)")


@pytest.fixture
def workspace(db):
    from veille.accounts.actions import create_workspace

    return create_workspace("Alpina Telecom", "alpina")


@pytest.fixture
def other_workspace(db):
    from veille.accounts.actions import create_workspace

    return create_workspace("Concurrent SA", "concurrent")


@pytest.fixture
def source(workspace):
    from veille.sources.models import Source

    return Source.objects.create(workspace=workspace, name="Test feed", platform="import")


@pytest.fixture
def agent(workspace):
    return make_user(workspace, "agent1", "agent")


@pytest.fixture
def manager(workspace):
    return make_user(workspace, "cm1", "community_manager")


