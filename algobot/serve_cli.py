"""`algobot serve` (the bot, with the build poller) and `algobot poller` (the poller alone).

`serve` answers Slack over HTTP, or over Socket Mode when SLACK_APP_TOKEN is set (the HTTP port then
still serves /healthz and /metrics, and /slack/install with OAuth). SIGTERM stops it gracefully within
SHUTDOWN_SECONDS: no new requests, commands and the notification tick in progress finish, then exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError, SlackClientError

from algobot.crypto import SecretKeyError, load_cipher
from algobot.intake import WorkQueue
from algobot.notify.scheduler import build_job, start_scheduler
from algobot.pending import pending_writes
from algobot.server import BotServer, build_wsgi, graceful_stop, start_audit_chain, start_socket_mode
from algobot.settings import SettingsError
from algobot.store import migrate

log = logging.getLogger(__name__)


SHUTDOWN_SECONDS = 9.0  # SIGTERM to exit, everything included (orchestrators usually allow 10 s)


def _exit_on_sigterm(on_signal: Callable[[], None] | None = None) -> None:
    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the graceful stop short
        log.info("signal %s: shutting down", signum)
        if on_signal is not None:
            on_signal()
        raise SystemExit(0)  # unwinds the main thread; `finally` blocks close sockets and the scheduler

    signal.signal(signal.SIGTERM, stop)


def serve(args: argparse.Namespace) -> int:
    executor = None
    try:
        settings = args.settings()  # read once, by algobot.cli.main
        host = args.host or settings.host
        port = settings.port if args.port is None else args.port
        settings.require_slack()
        executor = WorkQueue.threaded(settings.command_workers, settings.command_queue)
        wsgi = build_wsgi(settings, work_queue=executor)
        cipher = load_cipher(settings.secret_key, settings.database_location, log)
    except (SettingsError, SecretKeyError) as exc:
        if executor is not None:
            executor.shutdown(wait=False)
        print(f"algobot: {exc}", file=sys.stderr)
        return 2
    server = BotServer.create(wsgi, host, port)
    socket_mode = None
    if settings.socket_mode:
        try:
            socket_mode = start_socket_mode(wsgi.bolt.app, settings)
        except (SlackClientError, OSError) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            print(f"algobot: Socket Mode could not connect ({reason}): check SLACK_APP_TOKEN", file=sys.stderr)
            graceful_stop(server, executor=executor, timeout=2)
            return 2
    stopping: list[float] = []
    _exit_on_sigterm(lambda: stopping.append(time.monotonic()))
    scheduler = None
    try:
        if not args.no_poller:
            job = build_job(settings, cipher)
            wsgi.poller_status = lambda: job.last_completed
            scheduler = start_scheduler(job)
        via = "Slack over Socket Mode" if socket_mode is not None else "Slack endpoint /slack/events"
        listening = f"http://{host}:{server.port}"  # as bound: 0.0.0.0 says every interface
        log.info("algobot listening on %s (%s, health /healthz)", listening, via)
        if settings.oauth_enabled:
            log.info("workspaces install algobot at %s/slack/install", listening)
        server.run()  # returns once SIGTERM (SystemExit) or Ctrl-C stops the loop
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        since = stopping[0] if stopping else time.monotonic()
        remaining = max(0.5, since + SHUTDOWN_SECONDS - 0.5 - time.monotonic())
        clean = graceful_stop(
            server, socket_mode=socket_mode, executor=executor, scheduler=scheduler, timeout=remaining
        )
        pending_writes(settings.database_location).close()  # records a lock kept out: a last try, then named if lost
    if not clean:
        # Work still running past the deadline (a command or a tick waiting on a slow API) would keep the
        # process alive. Commands still waiting for a worker were told they were not run; one still
        # running is cut off (its "Working on …" was the last word); unsent notices stay in the outbox.
        log.warning("shutdown: exiting with work still running")
        logging.shutdown()
        os._exit(0)
    log.info("algobot stopped")
    return 0


def poller(args: argparse.Namespace) -> int:
    try:
        settings = args.settings()  # read once, by algobot.cli.main
        settings.require_slack()
        migrate(settings.database_location)
        cipher = load_cipher(settings.secret_key, settings.database_location, log)
    except (SettingsError, SecretKeyError) as exc:
        print(f"algobot: {exc}", file=sys.stderr)
        return 2
    start_audit_chain(settings.database_location, cipher)
    scheduler = start_scheduler(build_job(settings, cipher))
    _exit_on_sigterm()
    log.info("algobot poller running (every %ss per build, outbox each second)", settings.poll_seconds)
    try:
        threading.Event().wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        clean = graceful_stop(None, scheduler=scheduler, timeout=SHUTDOWN_SECONDS - 1)  # the tick in progress ends
        pending_writes(settings.database_location).close()
    if not clean:
        log.warning("shutdown: exiting with the notification tick still running")
        logging.shutdown()
        os._exit(0)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve the Slack bot over HTTP or Socket Mode (with the build poller)")
    parser.add_argument("--host", default=None, help="interface to listen on (default $HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="port (default $PORT or 3000)")
    parser.add_argument("--no-poller", action="store_true", help="leave the build poller to `algobot poller`")
    parser.set_defaults(handler=serve)
    parser = subparsers.add_parser("poller", help="run only the build poller (for split web/poller deployments)")
    parser.set_defaults(handler=poller)
