"""`algobot serve` (the bot over HTTP, with the build poller) and `algobot poller` (the poller alone)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from algobot.settings import Settings, SettingsError

log = logging.getLogger(__name__)


def _exit_on_sigterm() -> None:
    def stop(signum: int, frame: object) -> None:
        log.info("signal %s: shutting down", signum)
        raise SystemExit(0)  # unwinds the main thread; `finally` blocks close sockets and the scheduler

    signal.signal(signal.SIGTERM, stop)


def serve(args: argparse.Namespace) -> int:
    from algobot.crypto import SecretKeyError, load_cipher
    from algobot.notify.scheduler import build_job, start_scheduler
    from algobot.server import BotServer, build_wsgi

    try:
        settings = Settings.from_env()
        host = args.host or settings.host
        port = settings.port if args.port is None else args.port
        wsgi = build_wsgi(settings)
        cipher = load_cipher(settings.secret_key, settings.db_path, log)
    except (SettingsError, SecretKeyError) as exc:
        print(f"algobot: {exc}", file=sys.stderr)
        return 2
    server = BotServer.create(wsgi, host, port)
    scheduler = None if args.no_poller else start_scheduler(build_job(settings, cipher))
    _exit_on_sigterm()
    log.info("algobot listening on %s (Slack endpoint /slack/events, health /healthz)", server.url)
    try:
        server.server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server.close()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
    return 0


def poller(args: argparse.Namespace) -> int:
    from algobot.crypto import SecretKeyError, load_cipher
    from algobot.db import migrate
    from algobot.notify.scheduler import build_job, start_scheduler

    try:
        settings = Settings.from_env()
        settings.require_slack()
        migrate(settings.db_path)
        cipher = load_cipher(settings.secret_key, settings.db_path, log)
    except (SettingsError, SecretKeyError) as exc:
        print(f"algobot: {exc}", file=sys.stderr)
        return 2
    scheduler = start_scheduler(build_job(settings, cipher))
    _exit_on_sigterm()
    log.info("algobot poller running (every %ss per build, outbox each second)", settings.poll_seconds)
    try:
        threading.Event().wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        scheduler.shutdown(wait=False)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve the Slack bot over HTTP (with the build poller)")
    parser.add_argument("--host", default=None, help="interface to listen on (default $HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="port (default $PORT or 3000)")
    parser.add_argument("--no-poller", action="store_true", help="leave the build poller to `algobot poller`")
    parser.set_defaults(handler=serve)
    parser = subparsers.add_parser("poller", help="run only the build poller (for split web/poller deployments)")
    parser.set_defaults(handler=poller)
