"""HTTP face of the local Slack: routes requests to `LocalSlack` and renders its answers.

Routes:

- ``/api/<method>``: the Web API. POST form-encoded, JSON or multipart bodies and GET query
  strings; the token comes from ``Authorization: Bearer`` or a ``token`` field.
- ``POST /upload/<file_id>``: the ``upload_url`` handed out by files.getUploadURLExternal.
- ``POST /response/<id>``: response URLs handed out with slash commands and clicks.
- ``GET /_state``, ``/_state/channels/<id>/messages[?user=U..]``, ``/_state/calls[?method=..]``,
  ``/_state/views``: JSON inspection for a browser page.
- ``GET /``, ``/static/<file>`` and ``/_ui/...``: the browser page that shows the channels and acts
  as a Slack user (see `algobot.localslack.ui`). ``GET /healthz``: a JSON liveness answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from algobot.http_server import read_body as _read_body

from . import webapi
from .model import SlackError
from .state import SlackState
from .ui import LocalSlackUI

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class LocalSlackWSGI:
    """The WSGI application; ``LocalSlack.wsgi_app`` is an instance of it."""

    def __init__(self, slack: SlackState) -> None:
        self.slack = slack
        self.ui = LocalSlackUI(slack)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        verb = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            if path.startswith("/api/"):
                status, body, headers = self._api(environ, path[len("/api/") :])
            elif path.startswith("/upload/") and verb == "POST":
                status, body, headers = self._upload(environ, path[len("/upload/") :])
            elif path.startswith("/response/") and verb == "POST":
                status, body, headers = self._response(environ, path[len("/response/") :])
            elif path.startswith("/_state") and verb == "GET":
                status, body, headers = self._state(environ, path)
            elif path == "/healthz":
                status, body, headers = 200, {"ok": True, "service": "localslack"}, {}
            elif self.ui.handles(path):
                status, body, headers = self.ui.handle(environ, verb, path, _read_body(environ))
            else:
                status, body, headers = 404, {"ok": False, "error": "not_found"}, {}
        except Exception:  # a bug in the double must show up as a 500, not a hung test
            log.exception("local Slack failed on %s %s", verb, path)
            status, body, headers = 500, {"ok": False, "error": "internal_error"}, {}
        return _render(start_response, status, body, headers)

    def _api(self, environ: dict[str, Any], method: str) -> tuple[int, Any, dict[str, str]]:
        headers = _request_headers(environ)
        token = None
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[len("bearer ") :].strip()
        try:
            args = _parse_args(environ, _read_body(environ))
        except SlackError as exc:
            args, parse_error = {}, exc
        else:
            parse_error = None
        field_token = args.pop("token", None)
        token = token or (str(field_token) if field_token else None)
        if parse_error is not None:
            return 200, parse_error.to_dict(), {}
        return webapi.answer(self.slack, method, args, token, headers, _base_url(environ))

    def _upload(self, environ: dict[str, Any], file_id: str) -> tuple[int, Any, dict[str, str]]:
        body = _read_body(environ)
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/form-data"):
            parts = _parse_multipart(content_type, body)
            body = next((v for v in parts.values() if isinstance(v, bytes)), b"")
        return self.slack.handle_upload(file_id, body, _request_headers(environ))

    def _response(self, environ: dict[str, Any], url_id: str) -> tuple[int, Any, dict[str, str]]:
        body = _read_body(environ)
        payload: Any
        try:
            if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
                payload = json.loads(dict(parse_qsl(body.decode("utf-8"))).get("payload", ""))
            else:
                payload = json.loads(body.decode("utf-8"))
        except ValueError:
            payload = body.decode("utf-8", errors="replace")
        return self.slack.handle_response_url(url_id, payload, _request_headers(environ))

    def _state(self, environ: dict[str, Any], path: str) -> tuple[int, Any, dict[str, str]]:
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        parts = [p for p in path.split("/") if p][1:]
        slack = self.slack
        if not parts:
            return 200, slack.snapshot(), {}
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "messages":
            try:
                messages = slack.messages(parts[1], include_ephemeral_for=query.get("user"))
            except KeyError:
                return 404, {"ok": False, "error": "channel_not_found"}, {}
            rendered = [m.to_dict() | {"ephemeral_to": m.ephemeral_to} for m in messages]
            return 200, {"ok": True, "messages": rendered}, {}
        if parts == ["calls"]:
            calls = [
                {
                    "method": c.method,
                    "args": c.args,
                    "status": c.status,
                    "response": c.response,
                    "time": c.time,
                }
                for c in slack.calls(query.get("method"))
            ]
            return 200, {"ok": True, "calls": calls}, {}
        if parts == ["views"]:
            views = [v.to_dict() | {"user": v.user} for v in slack.views(query.get("user"))]
            return 200, {"ok": True, "views": views}, {}
        return 404, {"ok": False, "error": "not_found"}, {}


def _render(start_response: StartResponse, status: int, body: Any, headers: dict[str, str]) -> Iterable[bytes]:
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode("utf-8")
        content_type = "application/json; charset=utf-8"
    elif isinstance(body, bytes):
        data, content_type = body, "application/octet-stream"
    else:
        data = str(body).encode("utf-8")
        content_type = "text/plain; charset=utf-8"
    out = {"Content-Type": content_type, **headers, "Content-Length": str(len(data))}
    start_response(f"{status} {_REASONS.get(status, 'Error')}", list(out.items()))
    return [data]


def _base_url(environ: dict[str, Any]) -> str:
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """Request headers for the call record; the Authorization value is never kept."""
    headers = {"Content-Type": environ.get("CONTENT_TYPE", "")}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            headers[name] = "(redacted)" if name == "Authorization" else value
    return headers


def _parse_args(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    args: dict[str, Any] = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if not body:
        return args
    content_type = environ.get("CONTENT_TYPE", "").lower()
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(data, dict):
            raise SlackError("invalid_json")
        args.update(data)
    elif content_type.startswith("multipart/form-data"):
        args.update(_parse_multipart(environ.get("CONTENT_TYPE", ""), body))
    else:
        try:
            args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise SlackError("invalid_form_data") from None
    return args


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Fields as text, file parts as bytes (legacy files.upload, multipart uploads)."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, Any] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        fields[str(name)] = payload if part.get_filename() else payload.decode("utf-8", errors="replace")
    return fields
