"""Serve a `Sandbox` over HTTP with waitress, in a background thread (port 0 picks a free port).

With ``remember_port`` a port-0 server first tries the port it had last time (kept in
``DATA/port``), so git remotes cloned from a previous run keep working after a restart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waitress import create_server, wasyncore
from waitress.channel import HTTPChannel

from algobot.sandbox.app import Sandbox
from algobot.sandbox.web import MAX_BODY_BYTES

log = logging.getLogger(__name__)

PORT_FILE = "port"
BODY_SLACK_BYTES = 16 * 1024 * 1024  # over the push limit, so a push just over it still gets git's clear refusal


class SandboxServer:
    """``SandboxServer(sandbox).start()`` → serving at ``.url`` until ``.close()``.

    ``asyncore_use_poll=True`` avoids the ``EBADF`` from ``select()`` that waitress raises when
    closed from another thread. The `Sandbox` itself is not closed here: whoever made it closes it.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threads: int = 8,
        remember_port: bool = False,
    ):
        self.sandbox = sandbox
        self.host = host
        port_file = Path(sandbox.data_dir) / PORT_FILE
        remembered = _read_port(port_file) if remember_port and port == 0 else None
        self._server = None
        if remembered is not None:
            try:
                self._server = self._create(remembered, threads)
            except OSError as exc:
                log.warning("sandbox: last run's port %d is taken (%s); git URLs change this time", remembered, exc)
        if self._server is None:
            self._server = self._create(port, threads)
        effective = getattr(self._server, "effective_port", None)
        if effective is None:  # several sockets (e.g. "localhost" on IPv4 and IPv6)
            effective = self._server.effective_listen[0][1]
        self.port = int(effective)
        if remember_port:
            port_file.write_text(f"{self.port}\n")
        self._thread: threading.Thread | None = None

    def _create(self, port: int, threads: int) -> Any:
        limit = max(MAX_BODY_BYTES, self.sandbox.max_push_bytes or 0) + BODY_SLACK_BYTES
        if self.sandbox.max_push_bytes is None:
            limit = 1024 * 1024 * 1024  # waitress's default
        return create_server(
            self.sandbox.wsgi_app,
            host=self.host,
            port=port,
            threads=threads,
            asyncore_use_poll=True,
            ident="algobot-sandbox",
            clear_untrusted_proxy_headers=True,
            max_request_body_size=limit,
        )

    @property
    def url(self) -> str:
        """``http://HOST:PORT``; a wildcard host is shown as 127.0.0.1 so the URL is usable."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> SandboxServer:
        """Serve in a daemon thread and return at once."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.run, name="sandbox-http", daemon=True)
            self._thread.start()
            log.info("sandbox serving %s", self.url)
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening, finish requests in flight, drop connections, wait for the serving thread.

        Order matters. Worker threads wake the serving loop through waitress's trigger pipe, so
        they are stopped first. Connections are then closed from inside the loop, which ends at
        once (instead of at its next poll timeout) because its map is empty. The trigger itself is
        only unregistered there and closed after the loop thread exits: ``pull_trigger`` queues its
        callback before writing to the pipe, so closing the pipe inside the callback races with
        that write.
        """
        server_map = getattr(self._server, "_map", None) or getattr(self._server, "map", {})
        trigger = getattr(self._server, "trigger", None)  # absent on a multi-socket server
        if self._thread is not None and self._thread.is_alive() and trigger is not None:
            self._in_loop(lambda: wasyncore.dispatcher.close(self._server), timeout)  # stop accepting
            self._server.task_dispatcher.shutdown(timeout=timeout)
            self._in_loop(lambda: _drop_connections(server_map, trigger), timeout)
            self._thread.join(timeout)
            trigger.close()
        else:
            self._server.close()
            self._server.task_dispatcher.shutdown(timeout=timeout)
            wasyncore.close_all(server_map, ignore_all=True)
            if self._thread is not None:
                self._thread.join(timeout)
        self._thread = None

    def _in_loop(self, action: Callable[[], object], timeout: float) -> None:
        """Run ``action`` in the serving thread (waitress's trigger) and wait for it."""
        done = threading.Event()

        def run() -> None:
            try:
                action()
            finally:
                done.set()

        self._server.trigger.pull_trigger(run)
        done.wait(timeout)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_port(path: Path) -> int | None:
    try:
        port = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


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
