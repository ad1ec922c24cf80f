"""The WSGI application algobot serves: Slack's endpoint plus a health check.

`SlackRequestHandler` answers only its own path, so a small dispatcher routes `/slack/events` to
Bolt and answers `/healthz` itself; every other path is a JSON 404.

Every POST to `/slack/events` passes `SlackGate` before Bolt sees it: a body over MAX_BODY_BYTES
gets 413 without being read, one that is not UTF-8 gets 400, and one whose Slack signature cannot
be verified (no or malformed timestamp, older than five minutes, wrong signature) gets 401. None
of them reaches a listener or the error handler, so nothing is ever sent to a URL named in an
unverified body; the log gets one line with a short, escaped, scrubbed prefix of the body.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from algobot import metrics
from algobot.intake import ACKS
from algobot.logs import SecretFilter
from algobot.store import open_store

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
POLLER_STALE_AFTER = 120.0  # seconds without a completed poll before /healthz says 503
# Slack's payloads are a few KB (a modal's state, 3,000-character fields); nothing it sends comes near.
MAX_BODY_BYTES = 1_000_000
SIGNATURE_MAX_AGE = 300  # seconds, Slack's own rule for X-Slack-Request-Timestamp
PREVIEW_CHARS = 64  # of a refused body, in the log line
_SHAPES = SecretFilter()


def _json(start_response: Callable[..., Any], status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class Refused(Exception):
    """A request to the Slack endpoint that must go no further: the HTTP status, and why (for the log)."""

    def __init__(self, status: str, reason: str, body: bytes = b""):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body = body


def preview(body: bytes) -> str:
    """The start of a refused body for a log line: scrubbed of key shapes, escaped, short."""
    text = _SHAPES.scrub(body[:4096].decode("utf-8", "replace"))
    cut = text[:PREVIEW_CHARS]
    return ascii(cut) + ("…" if len(text) > PREVIEW_CHARS or len(body) > 4096 else "")


class SlackGate:
    """Checks size, encoding and Slack's signature of a request before anything else touches it.

    Slack signs ``v0:{timestamp}:{body}`` with HMAC-SHA256 under the app's signing secret and sends
    the hex digest as ``X-Slack-Signature: v0=…`` with ``X-Slack-Request-Timestamp`` (whole seconds).
    Without a signing secret (Socket Mode) every request is refused.
    """

    def __init__(self, signing_secret: str | None, *, clock: Callable[[], float] = time.time):
        self.secret = signing_secret.encode() if signing_secret else None
        self.clock = clock

    def read(self, environ: dict[str, Any]) -> bytes:
        """The verified body, or raise Refused."""
        raw_length = environ.get("CONTENT_LENGTH") or ""
        if raw_length and not raw_length.isdigit():
            raise Refused("400 Bad Request", "malformed Content-Length")
        length = int(raw_length) if raw_length else None
        if length is not None and length > MAX_BODY_BYTES:
            raise Refused("413 Content Too Large", f"body of {length} bytes")  # never read
        stream = environ.get("wsgi.input")
        body = stream.read(length if length is not None else MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(body) > MAX_BODY_BYTES:
            raise Refused("413 Content Too Large", "body over the limit")
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("400 Bad Request", "body is not UTF-8", body) from None
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if self.secret is None:
            raise Refused("401 Unauthorized", "no signing secret: Slack's requests arrive over Socket Mode", body)
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            raise Refused("401 Unauthorized", "missing or malformed timestamp", body)
        if abs(self.clock() - int(timestamp)) > SIGNATURE_MAX_AGE:
            raise Refused("401 Unauthorized", "timestamp older than five minutes (or clock skew)", body)
        expected = "v0=" + hmac.new(self.secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise Refused("401 Unauthorized", "signature does not match", body)
        return body


class AlgobotWSGI:
    """Routes requests to Bolt or to algobot's own operational endpoints."""

    def __init__(
        self, app: App, db_path: str, *, signing_secret: str | None = None, clock: Callable[[], float] = time.time
    ):
        self.bolt = SlackRequestHandler(app, path=SLACK_PATH)
        self.gate = SlackGate(signing_secret, clock=clock)
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
            db = open_store(self.db_path)
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
        ACKS.acked()
        try:
            if environ.get("REQUEST_METHOD") == "POST":
                try:
                    body = self.gate.read(environ)
                except Refused as refused:
                    log.warning(
                        "refused a request to %s: %s (%s, body begins %s)",
                        SLACK_PATH,
                        refused.reason,
                        refused.status,
                        preview(refused.body),
                    )
                    error = "request too large" if refused.status.startswith("413") else "invalid request"
                    return _json(start_response, refused.status, {"error": error})
                environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
            return self.bolt(environ, start_response)
        finally:
            ACKS.acked()
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
