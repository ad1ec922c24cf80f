"""The WSGI application algobot serves: Slack's endpoint plus a health check.

`SlackRequestHandler` answers only its own path, so a small dispatcher routes `/slack/events` to
Bolt and answers `/healthz` itself; every other path is a JSON 404.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from algobot.db import open_db

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class AlgobotWSGI:
    """Routes requests to Bolt or to algobot's own operational endpoints."""

    def __init__(self, app: App, db_path: str):
        self.bolt = SlackRequestHandler(app, path=SLACK_PATH)
        self.db_path = db_path

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when the database answers."""
        try:
            db = open_db(self.db_path)
            try:
                db.execute("select 1").fetchone()
            finally:
                db.close()
        except Exception as exc:  # any failure to reach the database is what this check reports
            return False, {"ok": False, "database": f"unreachable: {type(exc).__name__}"}
        return True, {"ok": True, "database": "ok"}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == SLACK_PATH:
            return self.bolt(environ, start_response)
        if path == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            healthy, body = self.health()
            return _json(start_response, "200 OK" if healthy else "503 Service Unavailable", body)
        return _json(start_response, "404 Not Found", {"error": "not found"})
