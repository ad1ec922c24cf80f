"""Serve a `Sandbox` over HTTP with waitress, in a background thread (port 0 picks a free port)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from waitress import create_server, wasyncore

from algobot.sandbox.app import Sandbox

log = logging.getLogger(__name__)


class SandboxServer:
    """``SandboxServer(sandbox).start()`` → serving at ``.url`` until ``.close()``.

    ``asyncore_use_poll=True`` avoids the ``EBADF`` from ``select()`` that waitress raises when
    closed from another thread. The `Sandbox` itself is not closed here: whoever made it closes it.
    """

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0, *, threads: int = 8):
        self.sandbox = sandbox
        self.host = host
        self._server = create_server(
            sandbox.wsgi_app,
            host=host,
            port=port,
            threads=threads,
            asyncore_use_poll=True,
            ident="algobot-sandbox",
            clear_untrusted_proxy_headers=True,
        )
        effective = getattr(self._server, "effective_port", None)
        if effective is None:  # several sockets (e.g. "localhost" on IPv4 and IPv6)
            effective = self._server.effective_listen[0][1]
        self.port = int(effective)
        self._thread: threading.Thread | None = None

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

        Order matters: worker threads wake the serving loop through waitress's trigger pipe, so
        they are stopped before the trigger is closed (otherwise a late wake-up writes to a closed,
        possibly reused, descriptor). Sockets are closed from inside the loop, which then ends at
        once instead of at its next poll timeout.
        """
        server_map = getattr(self._server, "_map", None) or getattr(self._server, "map", {})
        # Several sockets ("localhost" → IPv4 and IPv6): waitress's own close, less careful.
        running = self._thread is not None and self._thread.is_alive() and hasattr(self._server, "trigger")
        if running:
            self._in_loop(lambda: wasyncore.dispatcher.close(self._server), timeout)  # stop accepting
        self._server.task_dispatcher.shutdown(timeout=timeout)
        if running:
            self._in_loop(lambda: wasyncore.close_all(server_map, ignore_all=True), timeout)
        else:
            self._server.close()
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
