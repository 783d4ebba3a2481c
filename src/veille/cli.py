"""``veille``: the one command-line entry point (run, web, worker, import, replay, bench, nlp…)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path


def setup_django(database_url: str | None = None) -> None:
    if database_url:
        os.environ["VEILLE_DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "veille.settings")
    import django

    from veille.env import SettingError

    try:
        django.setup()
    except SettingError as error:
        print(f"veille: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def default_workspace():
    from veille.accounts.actions import create_workspace

    name = os.environ.get("VEILLE_WORKSPACE_NAME", "Alpina Telecom")
    slug = os.environ.get("VEILLE_WORKSPACE_SLUG", "alpina")
    return create_workspace(name, slug)


def get_or_create_source(name: str, platform: str, workspace=None):
    from veille.sources.models import Source

    workspace = workspace or default_workspace()
    source, _ = Source.objects.get_or_create(workspace=workspace, name=name, defaults={"platform": platform})
    return source


def _serve(host: str, port: int, threads: int) -> None:
    from waitress import serve

    from veille.care import tone
    from veille.wsgi import application

    tone.warm_up()

    # Waitress streams each chunk of a response as it is produced, which server-sent events need.
    serve(application, host=host, port=port, threads=threads, channel_timeout=120, ident="veille",
          connection_limit=max(100, threads * 4))


def cmd_run(args: argparse.Namespace) -> int:
    setup_django()
    from django.conf import settings

    from veille.accounts.actions import ensure_first_admin
    from veille.ingest.feeds import DemoFeed
    from veille.ingest.worker import Worker
    from veille.scheduler import Scheduler
    from veille.web.live import start_postgres_listener

    migrate()
    workspace = default_workspace()
    password = ensure_first_admin(workspace)
    worker = Worker()
    scheduler = Scheduler()
    if settings.VEILLE_DEMO and not args.no_demo:
        feed = DemoFeed(get_or_create_source("Demo: Alpina Telecom", "demo", workspace))
        scheduler.every(2.0, "demo-feed", lambda: (feed.tick(), worker.wake_event.set()))
    add_platform_jobs(scheduler, worker)
    start_postgres_listener()
    threading.Thread(target=worker.run_forever, name="veille-worker", daemon=True).start()
    threading.Thread(target=scheduler.run_forever, name="veille-scheduler", daemon=True).start()
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '') else args.host}:{args.port}/"
    print(f"veille is running at {url}", flush=True)
    if password:
        print(f"First start: log in as 'admin' with the one-time password: {password}", flush=True)
        print("(you will be asked to choose a new password)", flush=True)
    _serve(args.host, args.port, args.threads)
    worker.stop()
    scheduler.stop()
    _stop_live_readers()
    return 0


def add_platform_jobs(scheduler, worker) -> None:
    """Poll due platform sources and send queued outbound actions (leases keep processes apart)."""
    from veille.ingest.worker import new_worker_id
    from veille.sources.actions import poll_due_sources, send_due_actions

    owner = new_worker_id()

    def poll() -> None:
        if poll_due_sources(owner):
            worker.wake_event.set()

    scheduler.every(1.0, "poll-sources", poll)
    # Sources with a live transport (Mastodon streaming, Bluesky Jetstream) are streamed by
    # reader threads instead; a lease per source keeps processes apart (sources.live).
    from veille.sources import live

    scheduler.every(2.0, "live-readers", lambda: live.supervise(owner, worker.wake_event.set))
    scheduler.every(1.0, "send-outbound", lambda: send_due_actions(owner))
    # Care desk timers; each is safe to run in several processes at once (conditional updates).
    from veille.care import actions as care_actions

    scheduler.every(60, "care-sla", care_actions.check_sla)
    scheduler.every(60, "care-reassign", care_actions.reassign_stale)
    scheduler.every(30, "care-auto-assign", care_actions.auto_assign_waiting)
    scheduler.every(5, "care-reply-results", care_actions.sync_reply_results)
    scheduler.every(60, "care-presence", care_actions.expire_presence)
    # Listening alerts: evaluated on the minute rollups, delivered (e-mail, signed webhook) with retries.
    from veille.listening import actions as listening_actions

    scheduler.every(60, "listening-alerts", listening_actions.evaluate_alerts)
    scheduler.every(15, "listening-deliveries", listening_actions.deliver_alerts)


def cmd_web(args: argparse.Namespace) -> int:
    setup_django()
    from veille.web.live import start_postgres_listener

    start_postgres_listener()
    print(f"veille web listening on http://{args.host}:{args.port}/", flush=True)
    _serve(args.host, args.port, args.threads)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    setup_django()
    from veille.ingest.worker import Worker
    from veille.scheduler import Scheduler

    worker = Worker(batch_size=args.batch)
    scheduler = Scheduler()

    def stop(signum, frame):  # finish the current batch, then exit
        worker.stop()
        scheduler.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.drain:
        result = worker.drain()
        print(json.dumps({"stored": result.stored, "duplicates": result.duplicates, "dead": result.dead}))
        return 0
    add_platform_jobs(scheduler, worker)
    threading.Thread(target=scheduler.run_forever, name="veille-scheduler", daemon=True).start()
    worker.run_forever()
    scheduler.stop()
    _stop_live_readers()
    return 0


def _stop_live_readers() -> None:
    """Stop the live readers so their leases are released at once for another process."""
    from veille.sources import live

    live.shutdown()


def _progress_printer(enabled: bool):
    last = [0.0]

    def show(done_bytes: int, total_bytes: int, records: int) -> None:
        now = time.monotonic()
        if not enabled or now - last[0] < 0.2:
            return
        last[0] = now
        fraction = done_bytes / total_bytes if total_bytes else 0
        bar = "#" * int(fraction * 30)
        print(f"\rreading [{bar:<30}] {fraction:4.0%}  {records:,} records", end="", file=sys.stderr, flush=True)

    return show


def cmd_import(args: argparse.Namespace) -> int:
    setup_django()
    from veille.ingest.importer import ImportFailed, import_file

    migrate()
    path = Path(args.path)
    source = get_or_create_source(args.source, "import")
    if args.account and source.account_handle != args.account:
        source.account_handle = args.account
        source.save(update_fields=["account_handle"])
    show_progress = sys.stderr.isatty() and not args.quiet
    try:
        report = import_file(path, source.id, args.format, process=not args.no_process,
                             progress=_progress_printer(show_progress))
    except ImportFailed as error:
        print(f"veille import: {error}", file=sys.stderr)
        return 1
    if show_progress:
        print(file=sys.stderr)
    for where, reason in report.rejections:
        print(f"rejected {where}: {reason}", file=sys.stderr)
    if report.rejected > len(report.rejections):
        print(f"… and {report.rejected - len(report.rejections)} more rejections (see the dead-letter list)", file=sys.stderr)
    summary = {"read": report.read, "imported": report.imported, "duplicates": report.duplicates,
               "rejected": report.rejected, "seconds": round(report.seconds, 2)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"imported {report.imported:,} / duplicates {report.duplicates:,} / rejected {report.rejected:,} "
              f"in {report.seconds:.1f} s")
    if report.read == 0:
        print(f"veille import: nothing could be read from {path}", file=sys.stderr)
        return 1
    if args.no_process:
        return 0
    if report.imported + report.duplicates == 0:
        print(f"veille import: no record of {path} could be imported; every one was rejected", file=sys.stderr)
        return 1
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    setup_django()
    from veille.ingest.feeds import replay
    from veille.ingest.importer import ImportFailed

    migrate()
    source = get_or_create_source(args.source, "replay")
    try:
        return replay(Path(args.path), source, args.format, speed=args.speed, limit=args.limit)
    except ImportFailed as error:
        print(f"veille replay: {error}", file=sys.stderr)
        return 1


def cmd_createuser(args: argparse.Namespace) -> int:
    setup_django()
    import secrets

    from veille.accounts.actions import add_member, create_workspace
    from veille.accounts.models import User

    migrate()
    workspace = create_workspace(args.workspace, args.workspace) if args.workspace else default_workspace()
    password = args.password or secrets.token_urlsafe(12)
    user, created = User.objects.get_or_create(username=args.username)
    if created or args.password:
        user.set_password(password)
        user.save()
    add_member(workspace, user, args.role)
    print(f"{args.username} is {args.role} in {workspace.slug}" + (f"; password: {password}" if created else ""))
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["veille manage", *args.rest])
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"veille.bench.{args.what}")
    return module.main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="veille", description="The community desk: listen, answer, publish, report.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_server_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default=os.environ.get("VEILLE_HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("VEILLE_PORT", "8000")))
        p.add_argument("--threads", type=int, default=None, help="web server threads (default VEILLE_WEB_THREADS)")

    p = sub.add_parser("run", help="embedded desk in one process: web, ingest worker, scheduler, demo source")
    add_server_options(p)
    p.add_argument("--no-demo", action="store_true", help="do not start the demo source")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("web", help="a web process (scale-out, PostgreSQL)")
    add_server_options(p)
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("worker", help="an ingest worker process (scale-out, PostgreSQL)")
    p.add_argument("--batch", type=int, default=None, help="raw items per claimed batch")
    p.add_argument("--drain", action="store_true", help="process what is pending, then exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("import", help="import a file through the full pipeline")
    p.add_argument("path")
    p.add_argument("--source", required=True, help="source name (created when new)")
    p.add_argument("--format", choices=["twcs", "ndjson", "xv2"], default=None, help="default: guessed from the content")
    p.add_argument("--account", default=None, help="the brand's own handle on the platform: its posts are outbound")
    p.add_argument("--no-process", action="store_true", help="only store raw items; leave processing to workers")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("replay", help="replay a data set as a live source, original timing compressed N×")
    p.add_argument("path")
    p.add_argument("--speed", type=float, default=60.0, help="time compression factor (default 60: an hour a minute)")
    p.add_argument("--source", default="Replay")
    p.add_argument("--format", choices=["twcs", "ndjson", "xv2"], default=None)
    p.add_argument("--limit", type=int, default=None, help="stop after this many posts")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("createuser", help="create a user (or change its role) in a workspace")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=["admin", "community_manager", "agent", "analyst"])
    p.add_argument("--workspace", default=None, help="workspace slug (created when new)")
    p.add_argument("--password", default=None)
    p.set_defaults(func=cmd_createuser)

    p = sub.add_parser("manage", help="Django management commands (migrate, createsuperuser, …)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)

    p = sub.add_parser("bench", help="benchmarks (print JSON figures)")
    bench_sub = p.add_subparsers(dest="what", required=True)
    b = bench_sub.add_parser("ingest", help="full pipeline vs plain inserts on a fresh database")
    b.add_argument("--input", required=True)
    b.add_argument("--database-url", default=None, help="PostgreSQL URL (a fresh database is created next to it)")
    b.add_argument("--format", default=None)
    b.add_argument("--no-enrich", action="store_true", help="language only, no sentiment/complaint/abuse models")
    b.add_argument("--core", action="store_true",
                   help="the ingest pipeline alone: without the apps' hooks on new posts (listening matches, care routing)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)
    b = bench_sub.add_parser("nlp", help="all models together vs py3langid alone")
    b.add_argument("--data", default=None)
    b.add_argument("-n", type=int, default=20000)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_bench)
    # Benchmarks of other parts add their own arguments (``add_arguments(parser)`` in their module).
    for name, help_text in (("listening", "saved-search matching, dashboards and search at scale"),
                            ("care", "simulated agents working their queues over HTTP")):
        try:
            module = importlib.import_module(f"veille.bench.{name}")
        except ImportError:
            continue
        b = bench_sub.add_parser(name, help=help_text)
        module.add_arguments(b)
        b.set_defaults(func=cmd_bench)

    try:
        from veille.nlp.cli import register as register_nlp
    except ImportError:
        pass
    else:
        register_nlp(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "threads", "unset") is None:
        args.threads = int(os.environ.get("VEILLE_WEB_THREADS", "32"))
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
