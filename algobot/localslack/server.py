"""Serve a WSGI app (the local Slack, or the bot under test) with waitress in a background thread.

Port 0 by default so tests can run in parallel. ``asyncore_use_poll=True`` avoids waitress's
``EBADF`` from ``select()`` at teardown; ``close()`` shuts the loop down from inside its own thread
(through waitress's trigger) so it returns at once instead of after the 1 s poll timeout.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Self

from waitress import create_server, wasyncore

from .core import LocalSlack


class ThreadedWSGIServer:
    """Any WSGI app on ``http://host:port`` until `close`; usable as a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.threads = threads
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._server = create_server(
            self.app,
            host=self.host,
            port=self.port,
            threads=self.threads,
            asyncore_use_poll=True,
            ident="localslack",
        )
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name=f"wsgi-{self.port}", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class LocalSlackServer(ThreadedWSGIServer):
    """The local Slack on a real port; `start` tells it its own URL (for response/upload URLs)."""

    def __init__(self, local_slack: LocalSlack, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(local_slack.wsgi_app, host=host, port=port)
        self.local_slack = local_slack

    def start(self) -> Self:
        super().start()
        self.local_slack.base_url = self.url
        self.local_slack.server = self
        return self

    @property
    def api_url(self) -> str:
        """The bot's Slack API base URL: ``url + "/api/"``."""
        return self.url + "/api/"
