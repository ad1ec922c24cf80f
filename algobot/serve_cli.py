"""`algobot serve`: run the bot over HTTP under waitress."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from algobot.settings import Settings, SettingsError

log = logging.getLogger(__name__)


def serve(args: argparse.Namespace) -> int:
    from algobot.crypto import SecretKeyError
    from algobot.server import BotServer, build_wsgi

    try:
        settings = Settings.from_env()
        host = args.host or settings.host
        port = settings.port if args.port is None else args.port
        wsgi = build_wsgi(settings)
    except (SettingsError, SecretKeyError) as exc:
        print(f"algobot: {exc}", file=sys.stderr)
        return 2
    server = BotServer.create(wsgi, host, port)

    def stop(signum: int, frame: object) -> None:
        log.info("signal %s: shutting down", signum)
        raise SystemExit(0)  # unwinds waitress's loop in the main thread; `finally` closes the socket

    signal.signal(signal.SIGTERM, stop)
    log.info("algobot listening on %s (Slack endpoint /slack/events, health /healthz)", server.url)
    try:
        server.server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve the Slack bot over HTTP")
    parser.add_argument("--host", default=None, help="interface to listen on (default $HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="port (default $PORT or 3000)")
    parser.set_defaults(handler=serve)
