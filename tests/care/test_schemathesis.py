"""Schemathesis against the care API's OpenAPI spec (in process, WSGI): no input makes a 5xx.

Skipped when schemathesis is not installed (it is a test-only tool)."""

from __future__ import annotations

import secrets

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from veille.wsgi import application  # noqa: E402

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application).include(path_regex="^/api/care/")


@pytest.fixture
def auth_headers(db, manager, brand_source):
    from django.contrib.sessions.backends.db import SessionStore

    from tests.care.helpers import post, route

    route(post(brand_source, "@alpina panne"))  # something to find, claim and answer
    store = SessionStore()
    store.update({"_auth_user_id": str(manager.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                  "_auth_user_hash": manager.get_session_auth_hash()})
    store.create()
    token = secrets.token_hex(16)
    # Requests go straight to the WSGI app: keep Django from closing the test's connection
    # at the end of each request, as its test client does.
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"Cookie": f"sessionid={store.session_key}; csrftoken={token}", "X-CSRFToken": token}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, auth_headers):
    response = case.call(headers=auth_headers)
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.status_code)
