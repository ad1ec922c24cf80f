"""Slack's side of a Socket Mode connection: a real WebSocket server on 127.0.0.1, port 0.

The bot finds it the way it finds Slack's: `apps.connections.open` on the local Slack answers
``slack.socket_mode_url``, which a test sets to `FakeSocketMode.url`. The fake greets each connection
with Slack's ``hello``, sends envelopes a test asks for (``slash_commands``, ``interactive``,
``events_api``) and records every message the bot sends back, so a test can wait for the ack of one
envelope. Waits are condition waits with a timeout; nothing sleeps.

    with FakeSocketMode() as socket_mode:
        slack.socket_mode_url = socket_mode.url
        ...                                   # start the bot in Socket Mode
        socket_mode.wait_connected()
        envelope_id = socket_mode.send("slash_commands", payload)
        ack = socket_mode.wait_ack(envelope_id)   # {"envelope_id": ..., "payload": {...}}
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from algobot.localslack.model import wait_until

T = TypeVar("T")


@dataclass
class Link:
    """One WebSocket connection from the bot."""

    number: int
    path: str
    connection: ServerConnection
    received: list[dict[str, Any]] = field(default_factory=list)
    open: bool = True


class FakeSocketMode:
    """A Socket Mode endpoint; see the module docstring."""

    def __init__(self, *, app_id: str = "A0APP", host: str = "127.0.0.1") -> None:
        self.app_id = app_id
        self.host = host
        self.links: list[Link] = []
        self._cond = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = serve(self._handle, self.host, 0)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSocketMode is not started")
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        """What `apps.connections.open` should answer (Slack's URLs carry a ticket the same way)."""
        return f"ws://{self.host}:{self.port}/link/?ticket={uuid.uuid4().hex}&app_id={self.app_id}"

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()  # closes open connections (1001) and waits for their handlers
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- what Slack does ---------------------------------------------------------------------------

    def send(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Send one envelope on the newest open connection; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        link = self.wait_connected()
        link.connection.send(json.dumps(envelope))
        return envelope_id

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the bot to reconnect, as Slack does every few hours."""
        link = self.wait_connected()
        link.connection.send(json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}))

    # -- what the bot did --------------------------------------------------------------------------

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> Link:
        """Wait until ``count`` connections have been opened in all; return the newest open one."""

        def newest_open() -> Link | None:
            if len(self.links) < count:
                return None
            return next((link for link in reversed(self.links) if link.open), None)

        return self._wait(newest_open, timeout, f"{count} Socket Mode connection(s)")

    def wait_ack(self, envelope_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The bot's acknowledgement of one envelope (``{"envelope_id": ..., "payload"?: ...}``)."""

        def ack() -> dict[str, Any] | None:
            for link in self.links:
                for message in link.received:
                    if message.get("envelope_id") == envelope_id:
                        return message
            return None

        return self._wait(ack, timeout, f"ack of envelope {envelope_id}")

    def acks(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m for link in self.links for m in link.received if "envelope_id" in m]

    def wait_all_closed(self, timeout: float = 10.0) -> None:
        def all_closed() -> bool:
            return bool(self.links) and not any(link.open for link in self.links)

        self._wait(all_closed, timeout, "closing of every connection")

    # -- internals -------------------------------------------------------------------------------

    def _wait(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        result = wait_until(self._cond, predicate, timeout)
        if not result:
            raise AssertionError(f"fake Socket Mode: no {what} within {timeout}s (links: {self.links!r})")
        return result

    def _handle(self, connection: ServerConnection) -> None:
        with self._cond:
            link = Link(len(self.links) + 1, connection.request.path if connection.request else "", connection)
            self.links.append(link)
            self._cond.notify_all()
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": sum(1 for item in self.links if item.open),
                    "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 18060},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        )
        try:
            for raw in connection:
                try:
                    message = json.loads(raw)
                except ValueError:
                    message = {"unparsed": raw}
                with self._cond:
                    link.received.append(message if isinstance(message, dict) else {"unparsed": raw})
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                link.open = False
                self._cond.notify_all()
