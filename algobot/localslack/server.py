"""Serve a WSGI app (the local Slack, or the bot under test) with waitress in a background thread.

Port 0 by default so tests can run in parallel; the serving itself is `algobot.http_server.HttpServer`.
"""

from __future__ import annotations

from typing import Any, Self

from algobot.http_server import HttpServer

from .core import LocalSlack


class ThreadedWSGIServer(HttpServer):
    """Any WSGI app on ``http://host:port`` until `close`; usable as a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> None:
        super().__init__(app, host, port, threads=threads, ident="localslack")
        self.name = f"wsgi-{self.port}"  # the serving thread's name, with the port it got


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
