"""Serve a `Sandbox` over HTTP with waitress, in a background thread (port 0 picks a free port).

With ``remember_port`` a port-0 server first tries the port it had last time (kept in
``DATA/port``), so git remotes cloned from a previous run keep working after a restart.
"""

from __future__ import annotations

import logging
from pathlib import Path

from algobot.http_server import WAITRESS_BODY_LIMIT, HttpServer
from algobot.sandbox.app import Sandbox
from algobot.sandbox.web import MAX_BODY_BYTES

log = logging.getLogger(__name__)

PORT_FILE = "port"
BODY_SLACK_BYTES = 16 * 1024 * 1024  # over the push limit, so a push just over it still gets git's clear refusal


class SandboxServer(HttpServer):
    """``SandboxServer(sandbox).start()`` → serving at ``.url`` until ``.close()``.

    The `Sandbox` itself is not closed here: whoever made it closes it.
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
        limit = max(MAX_BODY_BYTES, sandbox.max_push_bytes or 0) + BODY_SLACK_BYTES
        if sandbox.max_push_bytes is None:
            limit = WAITRESS_BODY_LIMIT

        def create(on_port: int) -> None:
            HttpServer.__init__(
                self,
                sandbox.wsgi_app,
                host,
                on_port,
                threads=threads,
                max_body_bytes=limit,
                ident="algobot-sandbox",
                name="sandbox-http",
            )

        port_file = Path(sandbox.data_dir) / PORT_FILE
        remembered = _read_port(port_file) if remember_port and port == 0 else None
        if remembered is not None:
            try:
                create(remembered)
            except OSError as exc:
                log.warning("sandbox: last run's port %d is taken (%s); git URLs change this time", remembered, exc)
                remembered = None
        if remembered is None:
            create(port)
        if remember_port:
            port_file.write_text(f"{self.port}\n")

    def start(self) -> SandboxServer:
        """Serve in a daemon thread and return at once."""
        if self.thread is None:
            super().start()
            log.info("sandbox serving %s", self.url)
        return self


def _read_port(path: Path) -> int | None:
    try:
        port = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None
