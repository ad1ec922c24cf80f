"""Client for Algorithmia's Algorithm Management API.

One `AlgorithmiaClient` per (API key, base URL). Every operation of the management API is a
method taking the algorithm as ``"user/algo"``. Inputs are validated before any request so a
person gets an actionable message instead of an opaque 400 (a `UsageError`, as for anything else
they mistyped); responses are parsed into one error hierarchy rooted at `AlgorithmiaError`. The
key is sent only in the Authorization header and never appears in a repr, an exception or a log
line.

The constants below come from the API's spec and docs and are shared with the bundled sandbox so
client and server agree on what is valid; docs/algorithmia-contract.md states the facts they encode.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests

from algobot import metrics
from algobot.parsing import UsageError

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.algorithmia.com"

# ---------------------------------------------------------------------------
# The API's vocabulary (its spec and docs)
# ---------------------------------------------------------------------------

LANGUAGES = ("java", "javascript", "python2-langpack", "python3-1", "r", "ruby", "rust", "scala")
SETTINGS_ENUMS: dict[str, tuple[str, ...]] = {
    "language": LANGUAGES,
    "source_visibility": ("open", "closed"),
    "license": ("apl", "apache2", "gpl3", "mit"),
    "network_access": ("isolated", "full"),
    "environment": ("cpu", "gpu"),
    "algorithm_callability": ("private", "public"),
}
BOOLEAN_SETTINGS = ("pipeline_enabled", "insights_enabled")
INTEGER_SETTINGS = ("royalty_microcredits",)
FREE_TEXT_SETTINGS = ("package_set", "algorithm_environment")
SETTINGS_KEYS = (*SETTINGS_ENUMS, *BOOLEAN_SETTINGS, *INTEGER_SETTINGS, *FREE_TEXT_SETTINGS)
DETAILS_KEYS = ("label", "summary", "tagline")
VERSION_INFO_KEYS = ("version_type", "release_notes", "sample_input", "sample_output", "insights_enabled")
CREATE_REQUIRED_SETTINGS = ("source_visibility", "license", "network_access", "pipeline_enabled")
VERSION_TYPES = ("major", "minor", "revision")
VERSION_TYPE_ALIASES = {"patch": "revision"}
BUILD_STATUSES = ("in-progress", "succeeded", "failed")
FINAL_BUILD_STATUSES = ("succeeded", "failed")

# Full-match patterns (used with ``fullmatch``): ``$`` would also accept a trailing newline.
_USER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ALGO_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# Build ids are UUIDs (the API's and the sandbox's); nothing else is put in a URL.
_BUILD_ID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_GIT_HASH_RE = re.compile(r"[0-9a-fA-F]{7,40}")
# What the algorithm API takes after USER/ALGO/: a version, a partial version, latest, or a commit.
_CALL_VERSION_RE = re.compile(r"\d+\.\d+\.\d+|\d+\.(?:\d+\.)?\*|latest|latestPrivate|[0-9a-fA-F]{7,40}")
CALL_READ_MARGIN = 10.0  # seconds past the call's own timeout before the client stops waiting
MAX_ERROR_MESSAGE_CHARS = 500

# Error codes of the management API.
CODE_NOT_FOUND = 1001
CODE_NAME_TAKEN = 1002
CODE_ALREADY_PUBLISHED = 1007
CODE_NOT_AUTHORIZED = 2001
CODE_BAD_KEY = 2002
CODE_INVALID_JSON = 2013
CODE_INVALID_REQUEST = 2015
CODE_INTERNAL = 5001
CODE_BAD_MARKER = 5002
CODE_BAD_LIMIT = 5003


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class AlgorithmiaError(Exception):
    """Any failure of a management call; carries what the API said, never the key."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class ApiError(AlgorithmiaError):
    """An answer the client has no more specific class for (status, code and message kept)."""


class InvalidInput(AlgorithmiaError):
    """The API refused the request as invalid (400/422); problems found before sending are `UsageError`s."""


class NotFound(AlgorithmiaError):
    """No such algorithm, build or version (404 / 1001)."""


class Unauthorized(AlgorithmiaError):
    """The API key is unknown or invalid (401 / 2002)."""


class Forbidden(AlgorithmiaError):
    """The key is valid but may not manage this algorithm (403 / 2001)."""


class NameTaken(AlgorithmiaError):
    """An algorithm with that name already exists (1002)."""


class AlreadyPublished(AlgorithmiaError):
    """The newest build was already published; compile first (1007)."""


class ApiUnavailable(AlgorithmiaError):
    """The endpoint could not be reached or kept failing (connection, timeout, 5xx)."""


class AlgorithmFailed(AlgorithmiaError):
    """A called algorithm ran and failed (its exception, its timeout): the message is the algorithm's."""

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None):
        super().__init__(message, status=status)
        self.error_type = error_type


@dataclass(frozen=True)
class CallResult:
    """An algorithm's answer: the result as sent (binary results stay base64 text), its content type
    (``text``, ``json``, ``binary`` or ``void``) and the duration Algorithmia reports, in seconds."""

    result: Any
    content_type: str
    duration: float | None


# ---------------------------------------------------------------------------
# Validation (before any request)
# ---------------------------------------------------------------------------


def split_algo_name(name: str) -> tuple[str, str]:
    """Return (user, algo) from ``"user/algo"`` or raise `UsageError` saying what is wrong."""
    if not isinstance(name, str) or name.count("/") != 1:
        raise UsageError(f"'{name}' is not an algorithm name: write it as USER/ALGO, e.g. demo/hello.")
    user, algo = name.split("/")
    if not _USER_RE.fullmatch(user):
        raise UsageError(f"'{user}' is not a valid user name: use letters, digits, '-' or '_' (at most 64 characters).")
    validate_algo_short_name(algo)
    return user, algo


def validate_user_name(user: str) -> str:
    """An Algorithmia user (or organization) name, as the first half of USER/ALGO takes it."""
    if not isinstance(user, str) or not _USER_RE.fullmatch(user):
        raise UsageError(f"'{user}' is not a valid user name: use letters, digits, '-' or '_' (at most 64 characters).")
    return user


def validate_algo_short_name(algo: str) -> str:
    """Algorithm names start with a letter and hold only letters, digits and underscores."""
    if not isinstance(algo, str) or not _ALGO_RE.fullmatch(algo):
        raise UsageError(
            f"'{algo}' is not a valid algorithm name: start with a letter and use only letters, "
            "digits and underscores (at most 64 characters)."
        )
    return algo


def validate_build_id(build_id: str) -> str:
    """A build id is checked before it becomes part of a URL (``..`` or ``/`` would change the path)."""
    if not build_id:
        raise UsageError("A build id is required.")
    if not isinstance(build_id, str) or not _BUILD_ID_RE.fullmatch(build_id):
        shown = build_id if isinstance(build_id, str) and len(build_id) <= 80 else f"{str(build_id)[:80]}…"
        raise UsageError(
            f"'{shown}' is not a build id: a build id looks like 0b9a5d6e-47a1-4f3c-9b44-1f0e2d3c4b5a "
            "(`/algo builds` lists them)."
        )
    return build_id


def validate_git_hash(git_hash: str) -> str:
    """A commit to publish: 7 to 40 hexadecimal digits, sent lower-case."""
    if not isinstance(git_hash, str) or not _GIT_HASH_RE.fullmatch(git_hash):
        raise UsageError(f"'{git_hash}' is not a git commit hash: use 7 to 40 hexadecimal digits.")
    return git_hash.lower()


def validate_call_version(version: str) -> str:
    """A version to call: ``1.2.3``, ``1.2.*``, ``1.*``, ``latest``, ``latestPrivate`` or a commit hash."""
    if not isinstance(version, str) or not _CALL_VERSION_RE.fullmatch(version):
        raise UsageError(
            f"'{version}' is not a version to call: use a version such as 1.2.3 or 1.*, latest, "
            "or a commit hash of your own algorithm (7 to 40 hexadecimal digits)."
        )
    return version


def call_body(text: str) -> tuple[bytes, str]:
    """The request body and content type of a call's input: JSON when it parses as JSON, else text."""
    try:
        json.loads(text)
    except ValueError:
        return text.encode("utf-8"), "text/plain"
    return text.encode("utf-8"), "application/json"


def parse_bool(value: Any, key: str) -> bool:
    """Booleans arrive as bools or as text from Slack and forms ("true", "off", ...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise UsageError(f"{key} must be true or false, not '{value}'.")


def validate_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check every settings key and value against the contract; return a normalised copy."""
    result: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        if key in SETTINGS_ENUMS:
            allowed = SETTINGS_ENUMS[key]
            if value not in allowed:
                raise UsageError(f"{key} must be one of {', '.join(allowed)}; '{value}' is not.")
            result[key] = value
        elif key in BOOLEAN_SETTINGS:
            result[key] = parse_bool(value, key)
        elif key in INTEGER_SETTINGS:
            if isinstance(value, bool):
                raise UsageError(f"{key} must be a whole number of 0 or more, not '{value}'.")
            try:
                number = int(str(value).strip())
            except ValueError:
                raise UsageError(f"{key} must be a whole number of 0 or more, not '{value}'.") from None
            if number < 0:
                raise UsageError(f"{key} must be a whole number of 0 or more, not '{value}'.")
            result[key] = number
        elif key in FREE_TEXT_SETTINGS:
            if not isinstance(value, str) or not value.strip():
                raise UsageError(f"{key} must be a non-empty string.")
            result[key] = value
        else:
            raise UsageError(f"'{key}' is not a setting; known settings: {', '.join(SETTINGS_KEYS)}.")
    return result


def validate_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Details are label, summary and tagline, all strings."""
    result: dict[str, Any] = {}
    for key, value in (details or {}).items():
        if key not in DETAILS_KEYS:
            raise UsageError(f"'{key}' is not a detail; known details: {', '.join(DETAILS_KEYS)}.")
        if not isinstance(value, str):
            raise UsageError(f"{key} must be text.")
        result[key] = value
    return result


def normalize_version_type(value: str | None, default: str = "minor") -> str:
    """major, minor or revision; 'patch' is read as revision (algobot's choice)."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    text = VERSION_TYPE_ALIASES.get(text, text)
    if text not in VERSION_TYPES:
        raise UsageError(f"version type must be major, minor or revision (or patch); '{value}' is not.")
    return text


def encode_sample_input(value: Any) -> str:
    """The API wants sample_input as a string (its docs): structured values are sent as JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def validate_version_info(version_info: Mapping[str, Any] | None, *, publish: bool) -> dict[str, Any]:
    """Normalise version_info: version_type (publish only), sample_input as text, known keys."""
    result: dict[str, Any] = {}
    info = dict(version_info or {})
    if "type" in info and "version_type" not in info:
        info["version_type"] = info.pop("type")
    for key, value in info.items():
        if key not in VERSION_INFO_KEYS:
            raise UsageError(f"'{key}' is not a version field; known: {', '.join(VERSION_INFO_KEYS)}.")
        if key == "version_type":
            if not publish:
                raise UsageError("version_type only applies to publish.")
            result[key] = normalize_version_type(value)
        elif key in ("sample_input", "sample_output"):
            result[key] = encode_sample_input(value)
        elif key == "insights_enabled":
            result[key] = parse_bool(value, key)
        else:
            if not isinstance(value, str):
                raise UsageError(f"{key} must be text.")
            result[key] = value
    if publish and "version_type" not in result:
        result["version_type"] = "minor"
    return result


MAX_PAGE = 1000


def _validate_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE):
        raise UsageError(f"limit must be a whole number from 1 to {MAX_PAGE}, not '{limit}'.")


# ---------------------------------------------------------------------------
# Error parsing
# ---------------------------------------------------------------------------


def _error_fields(response: requests.Response) -> tuple[int | None, str]:
    """Read code and message from the wrapped, bare or loose error bodies (docs/algorithmia-contract.md, "Errors").

    A body that is not JSON is never quoted: the endpoint is whatever URL a channel's configurer
    typed, possibly an internal service, and echoing its text would let them read it through Slack.
    """
    try:
        body = response.json()
    except ValueError:
        return None, f"HTTP {response.status_code}; the answer was not JSON, so it is not shown"
    error: Any = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, str):
        return None, _shorten(error) or f"HTTP {response.status_code}"
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message") or error.get("detail") or ""
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        return code, _shorten(str(message)) or f"HTTP {response.status_code}"
    return None, f"HTTP {response.status_code}"


def _shorten(message: str) -> str:
    """An error message fits in a Slack sentence."""
    message = message.strip()
    if len(message) > MAX_ERROR_MESSAGE_CHARS:
        return message[: MAX_ERROR_MESSAGE_CHARS - 1] + "…"
    return message


def error_from_response(response: requests.Response) -> AlgorithmiaError:
    """Map an error answer to the most specific class of the hierarchy."""
    status = response.status_code
    code, message = _error_fields(response)
    kwargs = {"status": status, "code": code}
    if code == CODE_NAME_TAKEN:
        return NameTaken(message, **kwargs)
    if code == CODE_ALREADY_PUBLISHED:
        return AlreadyPublished(message, **kwargs)
    if status == 401 or code == CODE_BAD_KEY:
        return Unauthorized(message, **kwargs)
    if status == 403 or code == CODE_NOT_AUTHORIZED:
        return Forbidden(message, **kwargs)
    if status == 404 or code in (1000, CODE_NOT_FOUND, 1009):
        return NotFound(message, **kwargs)
    if status >= 500:
        return ApiUnavailable(message, **kwargs)
    if status in (400, 422):
        return InvalidInput(message, **kwargs)
    return ApiError(message, **kwargs)


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # the HTTP-date form: "Wed, 21 Oct 2015 07:28:00 GMT"
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class AlgorithmiaClient:
    """Speaks the management API for one key at one endpoint.

    GETs are retried with capped exponential backoff and jitter on connection errors, timeouts,
    429 (honouring Retry-After) and 5xx; writes (create, update, compile, publish) are sent once,
    because a blind repeat could create or publish twice.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_API,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        retry_after_cap: float = 60.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        if not api_key or not isinstance(api_key, str):
            raise UsageError("An API key is required.")
        self._api_key = api_key
        self.base_url = (base_url or DEFAULT_API).rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self._session = session or requests.Session()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.request_count = 0

    def __repr__(self) -> str:
        return f"AlgorithmiaClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> AlgorithmiaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------

    def _url(self, user: str, algo: str | None = None, *tail: str) -> str:
        parts = ["v1", "algorithms", quote(user, safe="")]
        if algo is not None:
            parts.append(quote(algo, safe=""))
        parts.extend(quote(part, safe="") for part in tail)
        return f"{self.base_url}/{'/'.join(parts)}"

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _request(self, method: str, url: str, *, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        retryable = method == "GET"
        attempts = self.max_retries + 1 if retryable else 1
        headers = {"Authorization": f"Simple {self._api_key}", "Accept": "application/json"}
        last_error: AlgorithmiaError | None = None
        for attempt in range(attempts):
            started = time.monotonic()
            self.request_count += 1
            try:
                response = self._session.request(
                    method,
                    url,
                    params={k: v for k, v in (params or {}).items() if v is not None},
                    json=body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.Timeout:
                metrics.observe_algorithmia(method, None, time.monotonic() - started)
                last_error = ApiUnavailable(f"{self.base_url} did not answer in time.")
                log.warning("algorithmia %s %s timed out (attempt %d)", method, url, attempt + 1)
                if attempt + 1 < attempts:
                    self._sleep(self._backoff(attempt))
                continue
            except requests.RequestException as exc:
                metrics.observe_algorithmia(method, None, time.monotonic() - started)
                last_error = ApiUnavailable(f"could not reach {self.base_url} ({type(exc).__name__}).")
                log.warning("algorithmia %s %s failed: %s (attempt %d)", method, url, type(exc).__name__, attempt + 1)
                if attempt + 1 < attempts:
                    self._sleep(self._backoff(attempt))
                continue
            elapsed_ms = (time.monotonic() - started) * 1000
            metrics.observe_algorithmia(method, response.status_code, elapsed_ms / 1000)
            log.debug("algorithmia %s %s -> %s in %.0f ms", method, url, response.status_code, elapsed_ms)
            if response.ok:
                return self._parse_success(response)
            error = error_from_response(response)
            transient = response.status_code == 429 or response.status_code >= 500
            if response.status_code == 429:
                error = ApiUnavailable(
                    f"{self.base_url} is rate limiting requests: {error.message}",
                    status=429,
                    code=error.code,
                )
            if not (retryable and transient) or attempt + 1 >= attempts:
                raise error
            last_error = error
            wait = _retry_after_seconds(response) if response.status_code == 429 else None
            if wait is None:
                wait = self._backoff(attempt)
            self._sleep(min(wait, self.retry_after_cap))
        assert last_error is not None
        raise last_error

    @staticmethod
    def _parse_success(response: requests.Response) -> Any:
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError:
            raise ApiError(
                f"the API answered HTTP {response.status_code} with a body that is not JSON.",
                status=response.status_code,
            ) from None
        if isinstance(body, dict) and "error" in body and body.get("error"):
            raise error_from_response(response)
        return body

    # -- operations --------------------------------------------------------
    # One method an endpoint. create, update and publish take the same details/settings/version_info
    # on purpose (a deliberate mirror): those are the request body the contract gives each endpoint.

    def create(
        self,
        algo: str,
        details: Mapping[str, Any],
        settings: Mapping[str, Any],
        version_info: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST /v1/algorithms/{user}: a new algorithm with an empty repository."""
        user, name = split_algo_name(algo)
        clean_details = validate_details(details)
        if not clean_details.get("label"):
            raise UsageError("A label is required to create an algorithm.")
        clean_settings = validate_settings(settings)
        missing = [key for key in CREATE_REQUIRED_SETTINGS if key not in clean_settings]
        if missing:
            raise UsageError(f"Creating an algorithm needs these settings: {', '.join(missing)}.")
        if "package_set" not in clean_settings and not (
            "language" in clean_settings and "environment" in clean_settings
        ):
            raise UsageError("Creating an algorithm needs language and environment (or a package_set).")
        body: dict[str, Any] = {"name": name, "details": clean_details, "settings": clean_settings}
        clean_version = validate_version_info(version_info, publish=False)
        if clean_version:
            body["version_info"] = clean_version
        return self._request("POST", self._url(user), body=body)

    def update(
        self,
        algo: str,
        details: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        version_info: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """PUT /v1/algorithms/{user}/{algo}: change details and settings."""
        user, name = split_algo_name(algo)
        body = {
            "details": validate_details(details),
            "settings": validate_settings(settings),
            "version_info": validate_version_info(version_info, publish=False),
        }
        if not any(body.values()):
            raise UsageError("Nothing to update: give at least one detail or setting.")
        return self._request("PUT", self._url(user, name), body=body)

    def compile(self, algo: str) -> dict[str, Any]:
        """POST …/compile: build the newest source; answered with the new build's version."""
        user, name = split_algo_name(algo)
        return self._request("POST", self._url(user, name, "compile"), body={})

    def call(self, algo: str, version: str | None, input_text: str, timeout: int) -> CallResult:
        """POST /v1/algo/{user}/{algo}[/{version}]: run the algorithm on ``input_text`` (sent as JSON
        when it parses as JSON, else as text), waiting at most ``timeout`` seconds (the call's own
        timeout, which Algorithmia enforces) plus a margin.

        Sent once: a call costs credits, so it is never repeated. The algorithm's own failure is
        `AlgorithmFailed` with its message, from a 2xx body or not (docs/algorithmia-contract.md,
        "Algorithm API"); refusals of the API are the usual classes.
        """
        user, name = split_algo_name(algo)
        parts = ["v1", "algo", quote(user, safe=""), quote(name, safe="")]
        if version:
            parts.append(quote(validate_call_version(version), safe=""))
        data, content_type = call_body(input_text)
        headers = {
            "Authorization": f"Simple {self._api_key}",
            "Accept": "application/json",
            "Content-Type": content_type,
        }
        url = f"{self.base_url}/{'/'.join(parts)}"
        started = time.monotonic()
        self.request_count += 1
        try:
            response = self._session.post(
                url,
                data=data,
                params={"timeout": timeout},
                headers=headers,
                timeout=(self.timeout[0], timeout + CALL_READ_MARGIN),
            )
        except requests.Timeout:
            metrics.observe_algorithmia("POST", None, time.monotonic() - started)
            raise ApiUnavailable(f"{self.base_url} did not answer within {timeout} s.") from None
        except requests.RequestException as exc:
            metrics.observe_algorithmia("POST", None, time.monotonic() - started)
            raise ApiUnavailable(f"could not reach {self.base_url} ({type(exc).__name__}).") from None
        metrics.observe_algorithmia("POST", response.status_code, time.monotonic() - started)
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and (response.ok or error.get("error_type")):
            message = _shorten(str(error.get("message") or "")) or "the algorithm failed without a message"
            raise AlgorithmFailed(message, status=response.status_code, error_type=error.get("error_type"))
        if not response.ok:
            raise error_from_response(response)
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            raise ApiError("the algorithm API answered without a result and its metadata.", status=response.status_code)
        metadata = body["metadata"]
        duration = metadata.get("duration")
        return CallResult(
            result=body.get("result"),
            content_type=str(metadata.get("content_type") or ""),
            duration=float(duration) if isinstance(duration, int | float) else None,
        )

    def builds(self, algo: str, limit: int | None = None, marker: str | None = None) -> dict[str, Any]:
        """GET …/builds: one page, newest first, with `marker` for the next page (or None)."""
        user, name = split_algo_name(algo)
        _validate_limit(limit)
        return self._request("GET", self._url(user, name, "builds"), params={"limit": limit, "marker": marker})

    def iter_builds(self, algo: str, page_size: int = 50) -> Iterator[dict[str, Any]]:
        """Every build, newest first, following `marker` across pages."""
        marker: str | None = None
        while True:
            page = self.builds(algo, limit=page_size, marker=marker)
            yield from page.get("results") or []
            marker = page.get("marker")
            if not marker:
                return

    def build(self, algo: str, build_id: str) -> dict[str, Any]:
        """GET …/builds/{build_id}."""
        user, name = split_algo_name(algo)
        validate_build_id(build_id)
        return self._request("GET", self._url(user, name, "builds", build_id))

    def build_logs(self, algo: str, build_id: str) -> str:
        """GET …/builds/{build_id}/logs: the log text (404 while the build is running)."""
        user, name = split_algo_name(algo)
        validate_build_id(build_id)
        body = self._request("GET", self._url(user, name, "builds", build_id, "logs"))
        return str(body.get("logs") or "")

    def publish(
        self,
        algo: str,
        details: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        version_info: Mapping[str, Any] | None = None,
        *,
        git_hash: str | None = None,
    ) -> dict[str, Any]:
        """POST …/versions: publish the newest build; version_type defaults to minor.

        With ``git_hash`` the API publishes exactly that commit, and refuses (400) when it is not
        the newest successful build's, so a person never publishes a build other than the one
        they were shown.
        """
        user, name = split_algo_name(algo)
        clean_version = validate_version_info(version_info, publish=True)
        if git_hash is not None:
            clean_version["git_hash"] = validate_git_hash(git_hash)
        body = {
            "details": validate_details(details),
            "settings": validate_settings(settings),
            "version_info": clean_version,
        }
        return self._request("POST", self._url(user, name, "versions"), body=body)

    def info(self, algo: str) -> dict[str, Any]:
        """GET /v1/algorithms/{user}/{algo}: details, settings, newest version and build."""
        user, name = split_algo_name(algo)
        return self._request("GET", self._url(user, name))

    def versions(
        self,
        algo: str,
        limit: int | None = None,
        marker: str | None = None,
        *,
        published: bool | None = None,
        callable: bool | None = None,
    ) -> dict[str, Any]:
        """GET …/versions: one page of versions, newest first."""
        user, name = split_algo_name(algo)
        _validate_limit(limit)
        params: dict[str, Any] = {"limit": limit, "marker": marker}
        if published is not None:
            params["published"] = "true" if published else "false"
        if callable is not None:
            params["callable"] = "true" if callable else "false"
        return self._request("GET", self._url(user, name, "versions"), params=params)

    def iter_versions(self, algo: str, page_size: int = 50, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every version, newest first, following `marker` across pages."""
        marker: str | None = None
        while True:
            page = self.versions(algo, limit=page_size, marker=marker, **filters)
            yield from page.get("results") or []
            marker = page.get("marker")
            if not marker:
                return


def build_id_of(compile_response: Mapping[str, Any]) -> str | None:
    """The build a compile started, when the API says so in its answer."""
    build = compile_response.get("build")
    if isinstance(build, Mapping) and build.get("build_id"):
        return str(build["build_id"])
    return None
