"""``veille bench care``: N simulated agents working their queues over HTTP, on PostgreSQL.

It creates a fresh database, starts ``veille web`` processes and ``veille worker`` processes,
feeds customer posts mentioning the brand into the durable intake (the workers route them into
conversations), then lets N agents (one asyncio task each, on loopback) list their queue, open a
conversation, claim it, reply and resolve it, with a think time between actions like people.
When the run's time is up, agents holding a conversation still finish it at their usual pace.
Some agents' replies wait for approval; community managers approve them. At the end the
database is checked: no conversation may have had two owners, no reply that the API accepted
may be missing or without its outbox row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agents", type=int, default=50, help="simulated agents (default 50)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of work after warm-up (default 30)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (a fresh database is created next to it)")
    parser.add_argument("--web", type=int, default=2, help="web processes (default 2)")
    parser.add_argument("--threads", type=int, default=16, help="threads per web process (default 16)")
    parser.add_argument("--workers", type=int, default=1, help="ingest/outbox worker processes (default 1)")
    parser.add_argument("--think", type=float, default=4.0, help="mean think time between an agent's actions, s (default 4)")
    parser.add_argument("--rate", type=float, default=None, help="customer posts per second fed during the run (default agents/50)")
    parser.add_argument("--approval-share", type=float, default=0.1, help="share of agents whose replies need approval")
    parser.add_argument("--json", action="store_true")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100.0 * (len(ordered) - 1))))
    return round(ordered[index], 2)


def _figures(values: list[float]) -> dict:
    return {"requests": len(values), "p50_ms": _percentile(values, 50), "p95_ms": _percentile(values, 95),
            "p99_ms": _percentile(values, 99), "mean_ms": round(statistics.fmean(values), 2) if values else None}


def main(args: argparse.Namespace) -> int:
    if not args.database_url:
        print("veille bench care: --database-url is required (PostgreSQL)", file=sys.stderr)
        return 2
    from veille.bench import fresh_postgres

    database_url, drop = fresh_postgres(args.database_url)
    tmp = tempfile.TemporaryDirectory(prefix="veille-bench-care-")
    os.environ.update(VEILLE_DATABASE_URL=database_url, VEILLE_VAR_DIR=tmp.name, VEILLE_ENRICH="false",
                      VEILLE_SECRET_KEY=secrets.token_urlsafe(48), VEILLE_LOG_LEVEL="ERROR", VEILLE_DEMO="false")
    processes: list[subprocess.Popen] = []
    try:
        from veille.cli import migrate, setup_django

        setup_django()
        migrate()
        world = _setup(args)
        env = dict(os.environ)
        ports = [_free_port() for _ in range(args.web)]
        log = open(os.path.join(tmp.name, "processes.log"), "w")  # noqa: SIM115 - closed with the directory
        for port in ports:
            processes.append(subprocess.Popen([sys.executable, "-c", f"from veille.bench.care import serve_web; serve_web({port}, {args.threads})"],
                                              env=env, stdout=log, stderr=subprocess.STDOUT))
        for _ in range(args.workers):
            processes.append(subprocess.Popen([sys.executable, "-m", "veille.cli", "worker"], env=env, stdout=log,
                                              stderr=subprocess.STDOUT))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            _wait_for(url)
        _feed(world, args.agents * 2)
        _wait_for_conversations(world, args.agents)
        result = asyncio.run(_simulate(args, world, urls))
        result.update(_check(world, result.pop("_claims"), result.pop("_replies"), result.pop("_approved")))
        result.update({"web_processes": args.web, "threads_per_web": args.threads, "workers": args.workers,
                       "think_s": args.think, "cpu_count": os.cpu_count(), "database": "postgresql",
                       "enrich": False})
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        drop()
        tmp.cleanup()
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    ok = result["errors"] == 0 and result["double_assignments"] == 0 and result["lost_replies"] == 0
    return 0 if ok else 1


def serve_web(port: int, threads: int) -> None:
    """``veille web`` in a child process."""
    from veille.cli import _serve, setup_django

    setup_django()
    from veille.web.live import start_postgres_listener

    start_postgres_listener()
    _serve("127.0.0.1", port, threads)


def _setup(args) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore

    from veille.accounts.actions import create_workspace
    from veille.accounts.models import Membership, Role, User
    from veille.care.models import AgentProfile, ApprovalPolicy, CareSettings
    from veille.sources.models import Source

    workspace = create_workspace("Bench Telecom", "bench")
    source = Source.objects.create(workspace=workspace, name="bench mentions", platform="import", account_handle="alpina")
    # Agents claim by hand in this benchmark: the race between them is what is measured.
    CareSettings.objects.create(workspace=workspace, auto_assign=False, reassign_after_minutes=0)
    password = make_password(secrets.token_urlsafe(16))  # nobody logs in with it: sessions are made below
    managers = max(1, args.agents // 40)
    users = User.objects.bulk_create([User(username=f"agent{i:04d}", password=password) for i in range(args.agents)]
                                     + [User(username=f"cm{i:03d}", password=password) for i in range(managers)])
    Membership.objects.bulk_create([Membership(workspace=workspace, user=user,
                                               role=Role.AGENT if user.username.startswith("agent") else Role.COMMUNITY_MANAGER)
                                    for user in users])
    held = set(random.Random(7).sample(range(args.agents), round(args.agents * args.approval_share)))
    AgentProfile.objects.bulk_create([AgentProfile(workspace=workspace, user=user, capacity=1000,
                                                   approval_policy=ApprovalPolicy.ALL if index in held else "")
                                      for index, user in enumerate(users[: args.agents])])
    sessions = []
    for user in users:
        store = SessionStore()
        store["_auth_user_id"] = str(user.pk)
        store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        store["_auth_user_hash"] = user.get_session_auth_hash()
        store.create()
        sessions.append({"username": user.username, "session": store.session_key, "csrf": secrets.token_hex(16),
                         "manager": not user.username.startswith("agent")})
    return {"workspace_id": workspace.pk, "source_id": source.pk, "sessions": sessions}


def _feed(world: dict, count: int) -> None:
    from veille.ingest import queue
    from veille.sources.base import RawRecord

    records = []
    for _ in range(count):
        marker = secrets.token_hex(6)
        post = {"id": f"b-{marker}", "text": f"@alpina my line is down again ({marker})",
                "created_at": datetime.now(UTC).isoformat(), "author": {"id": f"u-{marker}", "handle": f"c_{marker}",
                                                                         "name": "", "followers": 1},
                "in_reply_to": None, "outbound": False, "kind": "post", "url": "", "lang": "en"}
        records.append(RawRecord(payload=post, external_id=post["id"]))
    queue.intake(world["source_id"], "ndjson", records)


def _wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/login/", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not start") from None
            time.sleep(0.3)


def _wait_for_conversations(world: dict, count: int, timeout: float = 120.0) -> None:
    from veille.care.models import Conversation

    deadline = time.monotonic() + timeout
    while Conversation.objects.filter(workspace_id=world["workspace_id"]).count() < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not route the fed posts in time")
        time.sleep(0.5)


async def _simulate(args, world: dict, urls: list[str]) -> dict:
    import httpx

    timings: dict[str, list[float]] = defaultdict(list)
    counters = {"errors": 0, "conflicts": 0}
    error_samples: list[str] = []
    claims: dict[int, set[str]] = defaultdict(set)
    replies: list[int] = []
    approved: list[int] = []
    stop_at = time.monotonic() + args.duration
    rate = args.rate if args.rate is not None else max(1.0, args.agents / 50)

    sent_during_run = [0]

    async def call(client, name: str, method: str, url: str, body=None, ok=(200, 201)):
        if time.monotonic() < stop_at:
            sent_during_run[0] += 1
        started = time.perf_counter()
        try:
            response = await client.request(method, url, json=body)
        except httpx.HTTPError as error:
            counters["errors"] += 1
            if len(error_samples) < 5:
                error_samples.append(f"{name}: {type(error).__name__}")
            return None
        timings[name].append((time.perf_counter() - started) * 1000)
        if response.status_code in ok:
            return response
        if response.status_code == 409:
            counters["conflicts"] += 1
            return response
        counters["errors"] += 1
        if len(error_samples) < 5:
            error_samples.append(f"{name}: HTTP {response.status_code} {response.text[:120]}")
        return response

    async def think():
        """A person's pause; False once the run is over (the agent stops there)."""
        await asyncio.sleep(min(random.expovariate(1.0 / args.think), max(0.0, stop_at - time.monotonic())))
        return time.monotonic() < stop_at

    async def think_finishing():
        """A person's pause while finishing a claimed conversation, past the end of the run too:
        cut short at the end, every agent holding a conversation would reply and resolve at the
        same instant, a burst no team produces, and the run would measure that burst."""
        await asyncio.sleep(min(random.expovariate(1.0 / args.think), 3 * args.think))

    # One pooled client per web process, shared by the agents (like a reverse proxy would pool):
    # each agent sends its own session cookie and CSRF token.
    pools = [httpx.AsyncClient(base_url=url, timeout=30.0, limits=httpx.Limits(
        max_connections=args.threads * 2, max_keepalive_connections=args.threads * 2)) for url in urls]

    class AgentClient:
        def __init__(self, index: int, session: dict) -> None:
            self.pool = pools[index % len(pools)]
            self.headers = {"Cookie": f"sessionid={session['session']}; csrftoken={session['csrf']}",
                            "X-CSRFToken": session["csrf"], "Referer": urls[index % len(urls)] + "/care/"}

        async def request(self, method: str, url: str, json=None):
            return await self.pool.request(method, url, json=json, headers=self.headers)

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

    def client_for(index: int, session: dict) -> AgentClient:
        return AgentClient(index, session)

    async def agent(index: int, session: dict):
        async with client_for(index, session) as client:
            await asyncio.sleep(random.random() * args.think)
            while time.monotonic() < stop_at:
                response = await call(client, "list", "GET", "/api/care/conversations?queue=unassigned&limit=20")
                if not await think():
                    break
                if response is None or response.status_code != 200 or not response.json():
                    await call(client, "list", "GET", "/api/care/conversations?queue=mine&limit=20")
                    await think()
                    continue
                target = random.choice(response.json())["id"]
                if await call(client, "open", "GET", f"/api/care/conversations/{target}") is None or not await think():
                    continue
                claimed = await call(client, "claim", "POST", f"/api/care/conversations/{target}/claim", ok=(200,))
                if claimed is None or claimed.status_code != 200:
                    continue
                claims[target].add(session["username"])
                await think_finishing()  # once claimed, the agent finishes the conversation even past the end
                sent = await call(client, "reply", "POST", f"/api/care/conversations/{target}/replies",
                                  {"text": f"Sorry for the trouble, we are checking your line now (ref {target}).",
                                   "acknowledge_warnings": True}, ok=(201,))
                if sent is not None and sent.status_code == 201:
                    replies.append(sent.json()["id"])
                await think_finishing()
                await call(client, "resolve", "POST", f"/api/care/conversations/{target}/status", {"status": "resolved"})
                await think()

    async def manager(index: int, session: dict):
        async with client_for(index, session) as client:
            while time.monotonic() < stop_at:
                pending = await call(client, "approvals", "GET", "/api/care/replies/pending")
                if pending is not None and pending.status_code == 200:
                    for reply in pending.json()[:5]:
                        done = await call(client, "approve", "POST", f"/api/care/replies/{reply['id']}/approve",
                                          {"note": "ok"}, ok=(200,))
                        if done is not None and done.status_code == 200:
                            approved.append(reply["id"])
                await asyncio.sleep(min(2.0, max(0.0, stop_at - time.monotonic())))
        async with client_for(index, session) as client:  # a last pass: nothing approved is left behind
            pending = await call(client, "approvals", "GET", "/api/care/replies/pending")
            for reply in (pending.json() if pending is not None and pending.status_code == 200 else [])[:50]:
                done = await call(client, "approve", "POST", f"/api/care/replies/{reply['id']}/approve", {"note": "ok"}, ok=(200,))
                if done is not None and done.status_code == 200:
                    approved.append(reply["id"])

    async def feeder():
        loop = asyncio.get_running_loop()
        while time.monotonic() < stop_at:
            await loop.run_in_executor(None, _feed, world, max(1, round(rate)))
            await asyncio.sleep(1.0)

    started = time.monotonic()
    tasks = [agent(i, s) for i, s in enumerate(world["sessions"]) if not s["manager"]]
    tasks += [manager(i, s) for i, s in enumerate(world["sessions"]) if s["manager"]]
    tasks.append(feeder())
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    for pool in pools:
        await pool.aclose()
    everything = [value for values in timings.values() for value in values]
    return {
        "agents": args.agents, "duration_s": round(elapsed, 1), **_figures(everything),
        "requests_per_s": round(len(everything) / elapsed, 1) if elapsed else None,
        # The load while the run lasts (afterwards agents only finish the conversations they hold).
        "requests_per_s_during_run": round(sent_during_run[0] / args.duration, 1) if args.duration else None,
        "per_action": {name: _figures(values) for name, values in sorted(timings.items())},
        "errors": counters["errors"], "error_samples": error_samples, "claim_conflicts": counters["conflicts"],
        "_claims": claims, "_replies": replies, "_approved": approved,
    }


def _check(world: dict, claims: dict[int, set[str]], replies: list[int], approved: list[int]) -> dict:
    from django.db.models import Count, Q

    from veille.care.models import Conversation, ConversationEvent, Reply

    client_side = sum(1 for owners in claims.values() if len(owners) > 1)
    # In the database: more than one "assigned" fact for a conversation that was never unassigned.
    assigned = dict(ConversationEvent.objects.filter(workspace_id=world["workspace_id"], kind="assigned")
                    .values_list("conversation_id").annotate(n=Count("id")).filter(n__gt=1).values_list("conversation_id", "n"))
    unassigned = set(ConversationEvent.objects.filter(kind="unassigned", conversation_id__in=list(assigned)).values_list(
        "conversation_id", flat=True))
    server_side = sum(1 for cid in assigned if cid not in unassigned)
    rows = {r.pk: r for r in Reply.objects.filter(pk__in=replies)}
    lost = sum(1 for rid in replies if rid not in rows)
    lost += sum(1 for r in rows.values() if r.state in (Reply.State.QUEUED, Reply.State.SENT) and r.outbound_id is None)
    lost += Reply.objects.filter(pk__in=approved).filter(Q(state=Reply.State.AWAITING_APPROVAL) | Q(outbound__isnull=True)).count()
    return {
        "double_assignments": max(client_side, server_side), "lost_replies": lost, "replies": len(replies),
        "approved": len(approved), "conversations": Conversation.objects.filter(workspace_id=world["workspace_id"]).count(),
        "resolved": Conversation.objects.filter(workspace_id=world["workspace_id"], status="resolved").count(),
    }
