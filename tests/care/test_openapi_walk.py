"""Walk every operation of the care API as the OpenAPI spec describes it, with valid and invalid
path parameters, query strings and bodies: nothing may answer 5xx."""

from __future__ import annotations

import re

import pytest

from tests.care.conftest import login
from tests.care.helpers import post, route
from veille.care import actions
from veille.care.models import (
    CannedResponse,
    Conversation,
    Incident,
    Macro,
    Reply,
    RoutingRule,
    Team,
)

pytestmark = pytest.mark.django_db
WEIRD = [None, -1, 2**70, "x" * 30000, "a\x00b", {"a": {"b": [None]}}, [1, "a"], 1.5e308]


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _sample(spec: dict, schema: dict, depth: int = 0):
    schema = _resolve(spec, schema)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(spec, s).get("type") != "null"]
            return _sample(spec, options[0], depth) if options else None
    if "default" in schema and schema["default"] not in (None, {}, []):
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: _sample(spec, sub, depth + 1) for name, sub in props.items() if name in schema.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return False
    if kind == "string":
        pattern = schema.get("pattern")
        if pattern:
            match = re.match(r"^\^\((?:\|)?([^|)]*)", pattern)
            return match.group(1) if match else "x"
        if schema.get("format") == "date-time":
            return "2030-01-01T10:00:00+00:00"
        return "Hello there"
    return None


def _world(workspace, source, agent, manager):
    route(post(source, "@alpina panne", handle="w1"), post(source, "@alpina facture", handle="w2"))
    c1, c2 = Conversation.objects.order_by("id")
    actions.update_agent(workspace, manager, agent.pk, approval_policy="all")
    reply = actions.send_reply(c1, agent, "Held reply")
    team = Team.objects.create(workspace=workspace, name="T")
    rule = RoutingRule.objects.create(workspace=workspace, name="r")
    canned = CannedResponse.objects.create(workspace=workspace, name="c", text="Hi {customer_name}")
    macro = Macro.objects.create(workspace=workspace, name="m", steps=[{"do": "add_label", "value": "x"}])
    incident = actions.declare_incident(workspace, manager, title="i", query="panne")
    return {"conversation_id": c2.pk, "reply_id": reply.pk, "team_id": team.pk, "rule_id": rule.pk, "canned_id": canned.pk,
            "macro_id": macro.pk, "incident_id": incident.pk, "user_id": agent.pk}


def test_every_operation_answers_without_server_errors(brand_source, workspace, agent, manager, analyst):
    ids = _world(workspace, brand_source, agent, manager)
    spec = login(manager).get("/api/openapi.json").json()
    operations = [(path, method, op) for path, item in spec["paths"].items() if path.startswith("/api/care/")
                  for method, op in item.items()]
    assert len(operations) >= 40
    failures = []
    calls = 0
    for user in (manager, agent, analyst):
        client = login(user)
        full = user is manager  # other roles: the valid request of each operation only
        for path, method, op in operations:
            variants_of_path = [path]
            params = re.findall(r"\{(\w+)\}", path)
            if params:
                good = path
                for name in params:
                    good = good.replace("{" + name + "}", str(ids.get(name, 1)))
                variants_of_path = [good] + [path.replace("{" + params[0] + "}", bad) for bad in ("0", "-5", str(2**64), "abc")]
            body_schema = (op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
            bodies = [None]
            if body_schema is not None:
                valid = _sample(spec, body_schema)
                bodies = [valid, {}, "not json", [1, 2]]
                for key in list((valid or {}).keys()) + list(_resolve(spec, body_schema).get("properties", {}).keys())[:4]:
                    for weird in WEIRD:
                        bodies.append({**(valid or {}), key: weird})
            queries = [{}]
            for parameter in op.get("parameters", []):
                if parameter["in"] == "query":
                    for weird in ("", "-1", "zzz", str(2**70), "2030-13-45", "a\x00b"):
                        queries.append({parameter["name"]: weird})
            if not full:
                variants_of_path, bodies, queries = variants_of_path[:1], bodies[:1], [{}]
            for url in variants_of_path:
                for body in bodies:
                    for query in queries if body is None or body is bodies[0] else [{}]:
                        calls += 1
                        if method == "get":
                            response = client.get(url, query)
                        else:
                            payload = body if isinstance(body, str) else __import__("json").dumps(body)
                            suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
                            response = getattr(client, method)(url + suffix, payload, content_type="application/json")
                        if response.status_code >= 500:
                            failures.append((user.username, method, url, str(body)[:80], query, response.status_code))
    assert not failures, failures[:10]
    assert calls > 500
    # The walk used the real objects: they are still consistent.
    assert Reply.objects.filter(pk=ids["reply_id"]).exists() and Incident.objects.filter(pk=ids["incident_id"]).exists()
