"""One way to serve a WSGI app with waitress: the bot, the Algorithmia sandbox and the local Slack.

`HttpServer(app, host, port)` binds at once (port 0 picks a free port, so tests run in parallel);
`start()` serves in a daemon thread, `run()` in the foreground (`algobot serve`); `url` is where to
reach it; `close()` stops it. ``asyncore_use_poll=True`` avoids the ``EBADF`` from ``select()`` that
waitress raises when it is closed from another thread. ``max_body_bytes`` is waitress's own request
body cap: a larger body is answered 413 before the application reads any of it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel

WAITRESS_BODY_LIMIT = 1024 * 1024 * 1024  # waitress's default max_request_body_size
WILDCARD_HOSTS = ("", "0.0.0.0", "::")


class HttpServer:
    """A WSGI app under waitress on ``host:port`` until `close`; usable as a context manager."""

    def __init__(
        self,
        app: Callable[..., Any],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 8,
        max_body_bytes: int = WAITRESS_BODY_LIMIT,
        connection_limit: int = 100,
        ident: str = "waitress",
        name: str = "http",
    ) -> None:
        self.app = app
        self.host = host
        self.name = name
        self.server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            asyncore_use_poll=True,
            max_request_body_size=max_body_bytes,
            connection_limit=connection_limit,
            ident=ident,
        )
        effective = getattr(self.server, "effective_port", None)
        if effective is None:  # several sockets (e.g. "localhost" on IPv4 and IPv6)
            effective = self.server.effective_listen[0][1]
        self.port = int(effective)
        self.thread: threading.Thread | None = None
        self.closed = False

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash); a wildcard host is shown as 127.0.0.1 so the URL works."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> Self:
        """Serve in a daemon thread and return at once."""
        if self.thread is None:
            self.thread = threading.Thread(target=self.server.run, name=self.name, daemon=True)
            self.thread.start()
        return self

    def run(self) -> None:
        """Serve in this thread until SIGTERM (SystemExit) or Ctrl-C; waitress then lets requests in flight finish."""
        self.server.run()

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening, finish requests in flight, drop connections, wait for the serving thread.

        Order matters. Worker threads wake the serving loop through waitress's trigger pipe, so they
        are stopped first. Connections are then closed from inside the loop, which ends at once
        (instead of at its next 1 s poll timeout) because its map is empty. The trigger itself is
        only unregistered there and closed after the loop thread exits: ``pull_trigger`` queues its
        callback before writing to the pipe, so closing the pipe inside the callback races with that
        write.
        """
        if self.closed:
            return
        self.closed = True
        server = self.server
        server_map = getattr(server, "_map", None) or getattr(server, "map", {})
        trigger = getattr(server, "trigger", None)  # absent on a multi-socket server
        thread, self.thread = self.thread, None
        if thread is not None and thread.is_alive() and trigger is not None:
            self._in_loop(lambda: wasyncore.dispatcher.close(server), timeout)  # stop accepting
            server.task_dispatcher.shutdown(timeout=timeout)
            self._in_loop(lambda: _drop_connections(server_map, trigger), timeout)
            thread.join(timeout)
            trigger.close()
        else:
            server.close()
            server.task_dispatcher.shutdown(timeout=timeout)
            wasyncore.close_all(server_map, ignore_all=True)
            if thread is not None:
                thread.join(timeout)

    def _in_loop(self, action: Callable[[], object], timeout: float) -> None:
        """Run ``action`` in the serving thread (waitress's trigger) and wait for it."""
        done = threading.Event()

        def run() -> None:
            try:
                action()
            finally:
                done.set()

        self.server.trigger.pull_trigger(run)
        done.wait(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _drop_connections(server_map: dict[int, Any], trigger: Any) -> None:
    """In the serving loop: close every connection, unregister (not close) the trigger."""
    for channel in list(server_map.values()):
        with contextlib.suppress(OSError):
            if channel is trigger:
                channel.del_channel()
            elif isinstance(channel, HTTPChannel):
                channel.handle_close()  # also closes its output buffers
            else:  # the listening socket, if it is still there; not its close(), which closes the trigger
                wasyncore.dispatcher.close(channel)
    server_map.clear()


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, as long as its Content-Length says (none or a malformed one: empty).

    For the test doubles; the bot's Slack endpoint reads through its own gate, which refuses a
    malformed length or an oversized body instead.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""
