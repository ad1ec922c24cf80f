"""The WSGI application algobot serves: Slack's endpoint plus a health check.

`SlackRequestHandler` answers only its own path, so a small dispatcher routes `/slack/events` to
Bolt and answers `/healthz` itself; every other path is a JSON 404.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from algobot import metrics
from algobot.db import open_db

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
POLLER_STALE_AFTER = 120.0  # seconds without a completed poll before /healthz says 503


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class AlgobotWSGI:
    """Routes requests to Bolt or to algobot's own operational endpoints."""

    def __init__(self, app: App, db_path: str, *, clock: Callable[[], float] = time.time):
        self.bolt = SlackRequestHandler(app, path=SLACK_PATH)
        self.db_path = db_path
        self.clock = clock
        self.started_at = clock()
        # Set by whoever runs the poller in this process: returns the time of its last completed run.
        self.poller_status: Callable[[], float | None] | None = None
        self.poller_stale_after = POLLER_STALE_AFTER

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when the database answers and, if this process polls, the poller ran recently."""
        body: dict[str, Any] = {"ok": True}
        try:
            db = open_db(self.db_path)
            try:
                db.execute("select count(*) from outbox").fetchone()
            finally:
                db.close()
            body["database"] = "ok"
        except Exception as exc:  # any failure to reach the database is what this check reports
            body.update(ok=False, database=f"unreachable: {type(exc).__name__}")
        if self.poller_status is None:
            body["poller"] = "not in this process"
        else:
            now = self.clock()
            last = self.poller_status()
            age = now - (last if last is not None else self.started_at)
            body["poller_last_run_age_seconds"] = round(age, 1) if last is not None else None
            if age > self.poller_stale_after:
                body.update(ok=False, poller=f"no completed run for {age:.0f} s")
            else:
                body["poller"] = "ok" if last is not None else "starting"
        return bool(body["ok"]), body

    def _slack(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            return self.bolt(environ, start_response)
        finally:
            metrics.ACK_SECONDS.observe(time.perf_counter() - started)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == SLACK_PATH:
            return self._slack(environ, start_response)
        flow = self.bolt.app.oauth_flow  # OAuth installs: Bolt serves its install page and redirect
        if flow is not None and path in (flow.install_path, flow.redirect_uri_path):
            return self.bolt(environ, start_response)
        if path == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            healthy, body = self.health()
            return _json(start_response, "200 OK" if healthy else "503 Service Unavailable", body)
        if path == "/metrics" and environ.get("REQUEST_METHOD") == "GET":
            data = metrics.render(self.db_path)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))])
            return [data]
        return _json(start_response, "404 Not Found", {"error": "not found"})
