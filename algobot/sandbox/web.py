"""Minimal WSGI plumbing for the sandbox API: requests, JSON responses, wrapped errors, routes.

Every error leaves as ``{"error": {"id", "code", "message"}}``, because
the official client parses every error body as JSON.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from algobot.algorithmia import CODE_INVALID_JSON, CODE_INVALID_REQUEST

MAX_BODY_BYTES = 10 * 1024 * 1024  # the call endpoint's documented limit; plenty for management calls


class ApiFailure(Exception):
    """Raised by handlers to answer with a wrapped JSON error; nothing has been changed yet."""

    def __init__(self, status: int, code: int | None, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or []


def invalid(message: str) -> ApiFailure:
    """400 / 2015 with a message that names the offending field."""
    return ApiFailure(400, CODE_INVALID_REQUEST, message)


def error_body(code: int | None, message: str) -> dict[str, Any]:
    """The wrapped error shape of the management API."""
    return {"error": {"id": str(uuid.uuid4()), "code": code, "message": message}}


@dataclass
class Response:
    """A JSON body (``body``), raw bytes (``raw``), or nothing (204)."""

    status: int = 200
    body: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw: bytes | None = None
    content_type: str = "application/json"

    @classmethod
    def error(cls, failure: ApiFailure) -> Response:
        return cls(failure.status, error_body(failure.code, failure.message), list(failure.headers))


def send(response: Response, start_response: Callable[..., Any]) -> list[bytes]:
    """Serialise a Response through WSGI's start_response."""
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = list(response.headers)
    if response.raw is not None:
        data = response.raw
    elif response.body is not None:
        data = json.dumps(response.body).encode("utf-8")
    else:
        data = b""
    if data or response.status != 204:
        headers.append(("Content-Type", response.content_type))
    headers.append(("Content-Length", str(len(data))))
    start_response(f"{response.status} {phrase}", headers)
    return [data]


class Request:
    """What a handler needs from the WSGI environ."""

    def __init__(self, environ: dict[str, Any], base_url: str):
        self.environ = environ
        self.method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        self.path = str(environ.get("PATH_INFO") or "/")
        self.query_string = str(environ.get("QUERY_STRING") or "")
        self.query = parse_qs(self.query_string, keep_blank_values=True)
        self.base_url = base_url
        self._body: bytes | None = None

    def arg(self, name: str) -> str | None:
        """First value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def content_type(self) -> str:
        return str(self.environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()

    def body(self) -> bytes:
        if self._body is None:
            try:
                length = int(self.environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > MAX_BODY_BYTES:
                raise ApiFailure(413, CODE_INVALID_REQUEST, f"Request body larger than {MAX_BODY_BYTES} bytes")
            stream = self.environ.get("wsgi.input")
            self._body = stream.read(length) if (stream is not None and length > 0) else b""
        return self._body

    def is_form(self) -> bool:
        return self.content_type == "application/x-www-form-urlencoded"

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body counts as ``{}``."""
        raw = self.body()
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiFailure(400, CODE_INVALID_JSON, "Request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise invalid("Request body must be a JSON object")
        return value


# handler(sandbox, request, caller, **path_params) -> Response
Handler = Callable[..., Response]


@dataclass
class Route:
    """A path pattern such as ``/v1/algorithms/{u}/{a}`` with one handler per method."""

    pattern: str
    methods: dict[str, Handler]
    manage: bool = True  # a management call: needs a managing key whose user is {u}
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.regex = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern) + "/?")


def match(routes: list[Route], path: str) -> tuple[Route | None, dict[str, str]]:
    """The route whose pattern matches ``path`` and its parameters."""
    for route in routes:
        found = route.regex.fullmatch(path)
        if found:
            return route, found.groupdict()
    return None, {}
