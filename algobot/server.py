"""Building and serving the bot: settings → database → cipher → Bolt app → waitress (+ Socket Mode).

Three ways to connect to Slack, all served by the same WSGI app on HOST:PORT (`/healthz`, `/metrics`):

- HTTP, one workspace: Slack posts to `/slack/events`, verified with SLACK_SIGNING_SECRET.
- Socket Mode (SLACK_APP_TOKEN): Slack's requests arrive over a WebSocket that `start_socket_mode` opens
  with Bolt's built-in `SocketModeHandler`; the HTTP port still serves health and metrics.
- OAuth (SLACK_CLIENT_ID + SLACK_CLIENT_SECRET): several workspaces install through `/slack/install`.

`graceful_stop` is the shutdown order for SIGTERM: stop taking requests, let commands and the
notification tick in progress finish, stop the scheduler, all within a deadline.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler

from algobot import audit
from algobot.crypto import KeyCipher, load_cipher
from algobot.http_server import HttpServer
from algobot.intake import WorkQueue
from algobot.settings import Settings
from algobot.slack_app import create_app
from algobot.store import connect, migrate
from algobot.wsgi import MAX_BODY_BYTES, AlgobotWSGI

log = logging.getLogger(__name__)

# A burst of slash commands arrives as one connection each; waitress stops accepting at its default 100.
CONNECTION_LIMIT = 1000


def start_audit_chain(location: str, cipher: KeyCipher) -> None:
    """Seal the audit trail's first row, or re-anchor a trail from before it was keyed (once)."""
    with connect(location) as db:
        anchor = audit.ensure_keyed(db, cipher.audit_key, now=datetime.now(UTC))
    if anchor is not None:
        log.info("audit trail anchored under the secret key at row %d", anchor["id"])


def build_wsgi(settings: Settings, **app_kwargs) -> AlgobotWSGI:
    """Validate settings, migrate the database and assemble the WSGI application."""
    settings.require_slack()
    migrate(settings.database_location)
    cipher = load_cipher(settings.secret_key, settings.database_location, log)
    start_audit_chain(settings.database_location, cipher)
    app = create_app(settings, cipher, **app_kwargs)
    return AlgobotWSGI(app, settings.database_location, signing_secret=settings.slack_signing_secret)


class BotServer(HttpServer):
    """The bot under waitress, in a thread (tests, the playground) or in the foreground (serve)."""

    def __init__(self, wsgi: AlgobotWSGI, host: str, port: int, threads: int = 8):
        super().__init__(
            wsgi,
            host,
            port,
            threads=threads,
            max_body_bytes=MAX_BODY_BYTES,  # 413 from waitress before the body is read
            connection_limit=CONNECTION_LIMIT,
            name="algobot-http",
        )
        self.wsgi = wsgi

    @classmethod
    def create(cls, wsgi: AlgobotWSGI, host: str, port: int, threads: int = 8) -> BotServer:
        return cls(wsgi, host, port, threads)


CLOSE_SECONDS = 1.0  # for closing the WebSocket once nothing is in flight any more


def start_socket_mode(app: App, settings: Settings) -> SocketModeHandler:
    """Open the Socket Mode connection (in background threads) and return its handler.

    The WebSocket URL comes from `apps.connections.open`, called with the app token through the app's
    own client, so at SLACK_API_URL. The built-in client reconnects by itself when Slack asks it to.
    """
    if not settings.slack_app_token:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN")
    handler = SocketModeHandler(app, settings.slack_app_token, logger=logging.getLogger("algobot.socket_mode"))
    try:
        handler.connect()  # raises when apps.connections.open refuses the token or cannot be reached
    except BaseException:
        handler.close()
        raise
    return handler


def stop_socket_mode(handler: SocketModeHandler, timeout: float) -> bool:
    """Take no new envelopes, let the ones being handled ack over the open connection, then disconnect.

    Envelopes that arrive meanwhile are never acked, so Slack delivers them again to another
    connection. True when the in-flight ones finished within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    client: Any = handler.client
    client.auto_reconnect_enabled = False
    client.closed = True  # the message processor stops taking messages off the queue ...
    client.message_queue.put(None)  # ... at once, instead of at its next 1 s poll (None is skipped)
    finished = _within(deadline, client.message_processor.shutdown, "socket mode intake")
    finished = _within(deadline, lambda: client.message_workers.shutdown(wait=True), "socket mode acks") and finished
    sock = getattr(getattr(client, "current_session", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # wakes the receiving thread now instead of at its 3 s recv timeout
            sock.shutdown(socket.SHUT_RDWR)
    return _within(time.monotonic() + CLOSE_SECONDS, handler.close, "socket mode disconnect") and finished


def _within(deadline: float, stop: Callable[[], object], what: str) -> bool:
    """Run a blocking stop step in a helper thread; give up waiting for it at ``deadline``."""
    thread = threading.Thread(target=stop, name=f"algobot-stop-{what.replace(' ', '-')}", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        log.warning("shutdown: %s did not finish in time", what)
        return False
    return True


def graceful_stop(
    server: BotServer | None,
    *,
    socket_mode: SocketModeHandler | None = None,
    executor: Executor | WorkQueue | None = None,
    scheduler: Any = None,
    timeout: float = 8.0,
) -> bool:
    """Stop in order: intake (Socket Mode, then HTTP), commands in progress, the notification job.

    The scheduler is shut down with wait=True, so a tick in progress finishes (its outbox rows are
    persisted either way: anything unsent goes out at the next start). Returns True when everything
    finished within ``timeout`` seconds; False means some work was still running at the deadline.
    """
    deadline = time.monotonic() + timeout
    clean = True
    if socket_mode is not None:
        clean = stop_socket_mode(socket_mode, max(0.0, deadline - time.monotonic()) / 2)
    if server is not None:
        server.close()
    if executor is not None:
        clean = _within(deadline, lambda: executor.shutdown(wait=True), "commands in progress") and clean
    if scheduler is not None:
        clean = _within(deadline, lambda: scheduler.shutdown(wait=True), "the notification tick") and clean
    return clean
