"""The management API's routes and handlers, with the response shapes of the contract.

The shapes follow Algorithmia's Algorithm Management API (its OpenAPI spec, its docs and what the
official Python client sends, quirks included: docs/algorithmia-contract.md); where those are silent,
algobot's own choices are stated there under "Decisions" and in the handler's docstring. Handlers
validate everything before they write, and write in one transaction, so a request answered non-2xx
leaves the state as it was (the official client retries compile and publish once).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from algobot.algorithmia import (
    CODE_ALREADY_PUBLISHED,
    CODE_BAD_LIMIT,
    CODE_BAD_MARKER,
    CODE_INVALID_JSON,
    CODE_NAME_TAKEN,
    CODE_NOT_FOUND,
    CREATE_REQUIRED_SETTINGS,
    normalize_version_type,
    validate_algo_short_name,
    validate_details,
    validate_settings,
)
from algobot.parsing import UsageError
from algobot.sandbox import store
from algobot.sandbox.git import head_commit, init_repo
from algobot.sandbox.web import ApiFailure, Request, Response, Route, invalid

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    from sqlite_utils import Database

    from algobot.sandbox.runs import RunOutcome


class Sandbox(Protocol):
    """What the handlers need of `algobot.sandbox.app.Sandbox`, which dispatches to them.

    A protocol rather than an import, so the handlers and the application that routes to them do not
    import each other.
    """

    write_lock: threading.RLock

    def db(self) -> AbstractContextManager[Database]: ...

    def repo_path(self, user: str, algo: str) -> Path: ...

    def clone_url(self, user: str, algo: str, base_url: str | None = None) -> str: ...

    def start_build(self, algo: dict[str, Any], commit_sha: str, trigger: str) -> dict[str, Any]: ...

    @property
    def call_timeout_cap(self) -> float: ...

    def run_algorithm(
        self, algo: dict[str, Any], build: dict[str, Any], raw: bytes, kind: str, timeout: float
    ) -> RunOutcome: ...


CODE_RESOURCE_NOT_FOUND = 1000  # a build or version of an existing algorithm
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
DEFAULT_CALL_TIMEOUT = 300.0  # seconds, the API's default
MAX_CALL_TIMEOUT = 3000  # the API's maximum
SOURCE = {"scm": {"id": "internal", "provider": "internal", "default": True, "enabled": True}}
# Used with fullmatch: ``$`` would accept a trailing newline.
_HEX_RE = re.compile(r"[0-9a-f]{7,40}")
_SEMVER_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_PARTIAL_RE = re.compile(r"(\d+)\.(?:(\d+)\.)?\*")


@dataclass(frozen=True)
class Caller:
    """The user behind the request's API key."""

    user: str
    manage: bool


def no_such_algorithm() -> ApiFailure:
    """404 / 1001; the message keeps the official client's ``exists()`` working (it looks for that text)."""
    return ApiFailure(404, CODE_NOT_FOUND, "No such algorithm")


# ---------------------------------------------------------------------------
# Representations
# ---------------------------------------------------------------------------


def _settings(algo: dict[str, Any]) -> dict[str, Any]:
    settings = store.loads(algo["settings"])
    settings.setdefault("algorithm_callability", "private")
    return settings


def build_out(row: dict[str, Any]) -> dict[str, Any]:
    """A `Build`; ``version_info`` only once the build was published."""
    body: dict[str, Any] = {
        "build_id": row["build_id"],
        "commit_sha": row["commit_sha"],
        "status": row["status"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "resource_type": "algorithm_build",
    }
    if row["semantic_version"]:
        body["version_info"] = {"semantic_version": row["semantic_version"]}
    return body


def compilation_out(row: dict[str, Any]) -> dict[str, Any]:
    """``successful`` is null while the build runs; ``output`` is its log once finished."""
    if row["status"] == "in-progress":
        return {"successful": None, "output": ""}
    return {"successful": row["status"] == "succeeded", "output": row["logs"] or ""}


def _links(sb: Sandbox, req: Request, algo: dict[str, Any]) -> tuple[str, str]:
    owner, name = algo["owner"], algo["name"]
    return f"{req.base_url}/v1/algorithms/{owner}/{name}", sb.clone_url(owner, name, req.base_url)


def algorithm_out(sb: Sandbox, req: Request, db: Database, algo: dict[str, Any]) -> dict[str, Any]:
    """The algorithm object: newest build and compilation, last published version."""
    link, clone_url = _links(sb, req, algo)
    body: dict[str, Any] = {
        "id": algo["id"],
        "name": algo["name"],
        "details": store.loads(algo["details"]),
        "settings": _settings(algo),
        "source": json.loads(json.dumps(SOURCE)),
        "resource_type": "algorithm",
        "clone_url": clone_url,
        "self_link": link,
    }
    latest = store.latest_build(db, algo["id"])
    published = store.latest_build(db, algo["id"], "semantic_version is not null")
    version_info: dict[str, Any] = {}
    if published:
        version_info["semantic_version"] = published["semantic_version"]
        if published["release_notes"] is not None:
            version_info["release_notes"] = published["release_notes"]
    if latest:
        version_info["git_hash"] = latest["commit_sha"]
        version_info["version_uuid"] = latest["version_uuid"]
        body["build"] = build_out(latest)
        body["compilation"] = compilation_out(latest)
        body["self_link"] = f"{link}/versions/{latest['commit_sha']}"
    if algo["sample_input"] is not None:
        version_info["sample_input"] = algo["sample_input"]
    if version_info:
        body["version_info"] = version_info
    return body


def version_out(sb: Sandbox, req: Request, algo: dict[str, Any], build: dict[str, Any]) -> dict[str, Any]:
    """A `VersionResponse` for one build (a hash version, published or not)."""
    link, _ = _links(sb, req, algo)
    settings = _settings(algo)
    settings["algorithm_callability"] = build["algorithm_callability"] or "private"
    version_info: dict[str, Any] = {"git_hash": build["commit_sha"], "version_uuid": build["version_uuid"]}
    for key in ("semantic_version", "release_notes", "sample_input", "sample_output"):
        if build[key] is not None:
            version_info[key] = build[key]
    return {
        "id": algo["id"],
        "name": algo["name"],
        "details": store.loads(algo["details"]),
        "settings": settings,
        "version_info": version_info,
        "build": build_out(build),
        "source": json.loads(json.dumps(SOURCE)),
        "compilation": compilation_out(build),
        "self_link": f"{link}/versions/{build['commit_sha']}",
        "resource_type": "algorithm",
    }


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _object(body: dict[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise invalid(f"{key} is required")
        return {}
    if not isinstance(value, dict):
        raise invalid(f"{key} must be a JSON object")
    return value


def _checked(check: Any, value: dict[str, Any], section: str) -> dict[str, Any]:
    try:
        return check(value)
    except UsageError as exc:
        raise invalid(f"{section}: {exc.message}") from None


def _text_fields(version_info: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    result = {}
    for key in keys:
        if key in version_info and version_info[key] is not None:
            if not isinstance(version_info[key], str):
                raise invalid(f"version_info.{key} must be a string (encode structured input as JSON text)")
            result[key] = version_info[key]
    return result


def _load(sb: Sandbox, db: Database, user: str, algo: str) -> dict[str, Any]:
    row = store.get_algorithm(db, user, algo)
    if row is None:
        raise no_such_algorithm()
    return row


# ---------------------------------------------------------------------------
# Pagination: keyset on the build sequence, opaque base64url JSON markers
# ---------------------------------------------------------------------------


def _limit(req: Request) -> int:
    text = req.arg("limit")
    if text is None or text == "":
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise ApiFailure(400, CODE_BAD_LIMIT, f"limit must be a whole number from 1 to {MAX_LIMIT}, not '{text}'")
    return value


def encode_marker(kind: str, seq: int) -> str:
    raw = json.dumps({"k": kind, "s": seq}, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_marker(text: str, kind: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        seq = data["s"]
        if data["k"] != kind or not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError(text)
        return seq
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiFailure(400, CODE_BAD_MARKER, "Invalid marker: pass a marker from a previous page") from None


def _page(
    req: Request,
    db: Database,
    *,
    kind: str,
    where: str,
    params: list[Any],
    path: str,
    keep: dict[str, str],
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    limit = _limit(req)
    marker = req.arg("marker")
    if marker:
        where += " and seq < ?"
        params = [*params, decode_marker(marker, kind)]
    rows = list(db.query(f"select * from builds where {where} order by seq desc limit ?", [*params, limit + 1]))
    if len(rows) <= limit:
        return rows, None, None
    rows = rows[:limit]
    next_marker = encode_marker(kind, rows[-1]["seq"])
    query = urlencode({**keep, "limit": limit, "marker": next_marker})
    return rows, next_marker, f"{req.base_url}{path}?{query}"


def _algorithm_page(
    sb: Sandbox,
    req: Request,
    u: str,
    a: str,
    *,
    kind: str,
    where: str,
    keep: dict[str, str],
    out: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> Response:
    """One page of an algorithm's builds or versions (both are rows of `builds`, `where` binds its id
    first), each row shown by `out(algorithm, row)`, with the marker and link of the next page."""
    with sb.db() as db:
        algo = _load(sb, db, u, a)
        rows, marker, link = _page(
            req, db, kind=kind, where=where, params=[algo["id"]], path=f"/v1/algorithms/{u}/{a}/{kind}", keep=keep
        )
    return Response(200, {"marker": marker, "next_link": link, "results": [out(algo, row) for row in rows]})


# ---------------------------------------------------------------------------
# Algorithms
# ---------------------------------------------------------------------------


def create_algorithm(sb: Sandbox, req: Request, caller: Caller, u: str) -> Response:
    """POST /v1/algorithms/{u}: validate, create the bare repository and the row (409 when taken)."""
    body = req.json()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("name is required")
    try:
        validate_algo_short_name(name)
    except UsageError as exc:
        raise invalid(f"name: {exc.message}") from None
    details = _checked(validate_details, _object(body, "details", required=True), "details")
    if not str(details.get("label") or "").strip():
        raise invalid("details.label is required")
    settings = _checked(validate_settings, _object(body, "settings", required=True), "settings")
    missing = [f"settings.{key}" for key in CREATE_REQUIRED_SETTINGS if key not in settings]
    if missing:
        raise invalid(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required")
    if "package_set" not in settings and not ("language" in settings and "environment" in settings):
        missing = [f"settings.{key}" for key in ("language", "environment") if key not in settings]
        raise invalid(f"{' and '.join(missing)} required (or settings.package_set)")
    settings.setdefault("algorithm_callability", "private")
    sample = _text_fields(_object(body, "version_info"), ("sample_input",))
    repo = sb.repo_path(u, name)
    now = store.now_iso()
    with sb.write_lock, sb.db() as db:
        if store.get_algorithm(db, u, name) is not None or repo.exists():
            raise ApiFailure(409, CODE_NAME_TAKEN, "An algorithm with the requested name already exists")
        init_repo(repo)
        try:
            with db.atomic():
                db["algorithms"].insert(
                    {
                        "id": str(uuid.uuid4()),
                        "owner": u,
                        "name": name,
                        "details": store.dumps(details),
                        "settings": store.dumps(settings),
                        "sample_input": sample.get("sample_input"),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        except BaseException:
            shutil.rmtree(repo, ignore_errors=True)
            raise
        return Response(200, algorithm_out(sb, req, db, _load(sb, db, u, name)))


def get_algorithm(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """GET /v1/algorithms/{u}/{a}."""
    with sb.db() as db:
        return Response(200, algorithm_out(sb, req, db, _load(sb, db, u, a)))


def update_algorithm(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """PUT: merge details and settings. The official client's form-encoded PUT changes nothing."""
    with sb.db() as db:
        _load(sb, db, u, a)
    if req.is_form():
        with sb.db() as db:
            return Response(200, algorithm_out(sb, req, db, _load(sb, db, u, a)))
    body = req.json()
    details = _checked(validate_details, _object(body, "details"), "details")
    if "label" in details and not details["label"].strip():
        raise invalid("details.label must not be empty")
    settings = _checked(validate_settings, _object(body, "settings"), "settings")
    sample = _text_fields(_object(body, "version_info"), ("sample_input",))
    with sb.write_lock, sb.db() as db:
        algo = _load(sb, db, u, a)
        changes: dict[str, Any] = {"updated_at": store.now_iso()}
        if details:
            changes["details"] = store.dumps({**store.loads(algo["details"]), **details})
        if settings:
            changes["settings"] = store.dumps({**store.loads(algo["settings"]), **settings})
        if sample:
            changes["sample_input"] = sample["sample_input"]
        with db.atomic():
            db["algorithms"].update(algo["id"], changes)
        return Response(200, algorithm_out(sb, req, db, _load(sb, db, u, a)))


def delete_algorithm(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """DELETE: the row, its builds and its repository; 204 with no body."""
    with sb.write_lock, sb.db() as db:
        algo = _load(sb, db, u, a)
        with db.atomic():
            db.execute("delete from builds where algorithm_id = ?", [algo["id"]])
            db.execute("delete from algorithms where id = ?", [algo["id"]])
    shutil.rmtree(sb.repo_path(u, a), ignore_errors=True)
    return Response(204)


def list_user_algorithms(sb: Sandbox, req: Request, caller: Caller, u: str) -> Response:
    """GET /v1/users/{u}/algorithms: the user's algorithms (``list_algorithms_for_user``, 1.5.5 generated client)."""
    with sb.db() as db:
        rows = db.query("select id, name from algorithms where owner = ? order by name", [u])
        return Response(200, [{"id": row["id"], "algoname": row["name"], "username": u} for row in rows])


def scm_status(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """GET …/scm/status: the internal SCM is always connected."""
    with sb.db() as db:
        _load(sb, db, u, a)
    return Response(200, {"scm_connection_status": "active"})


def list_scms(sb: Sandbox, req: Request, caller: Caller) -> Response:
    """GET /v1/scms: only the internal SCM exists here."""
    return Response(200, {"results": [{**SOURCE["scm"], "name": "sandbox"}]})


# ---------------------------------------------------------------------------
# Builds
# ---------------------------------------------------------------------------


def compile_algorithm(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """POST …/compile: build the default branch's head; the answer carries the new build."""
    req.json()  # the official client posts {}; anything else that parses is ignored
    with sb.db() as db:
        algo = _load(sb, db, u, a)
    sha = head_commit(sb.repo_path(u, a))
    if sha is None:
        raise invalid(f"{u}/{a} has no code yet: push code first (git push {sb.clone_url(u, a, req.base_url)} master)")
    build = sb.start_build(algo, sha, "compile")
    return Response(200, version_out(sb, req, algo, build))


def list_builds(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """GET …/builds: newest first, paged."""
    return _algorithm_page(
        sb, req, u, a, kind="builds", where="algorithm_id = ?", keep={}, out=lambda _, row: build_out(row)
    )


def _build_row(sb: Sandbox, u: str, a: str, build_id: str) -> dict[str, Any]:
    with sb.db() as db:
        algo = _load(sb, db, u, a)
        row = store.get_build(db, build_id)
    if row is None or row["algorithm_id"] != algo["id"]:
        raise ApiFailure(404, CODE_RESOURCE_NOT_FOUND, f"No such build: {build_id}")
    return row


def get_build(sb: Sandbox, req: Request, caller: Caller, u: str, a: str, build_id: str) -> Response:
    """GET …/builds/{build_id}."""
    return Response(200, build_out(_build_row(sb, u, a, build_id)))


def get_build_logs(sb: Sandbox, req: Request, caller: Caller, u: str, a: str, build_id: str) -> Response:
    """GET …/builds/{build_id}/logs: 404 until the build finished, as documented."""
    row = _build_row(sb, u, a, build_id)
    if row["status"] == "in-progress":
        raise ApiFailure(
            404,
            CODE_RESOURCE_NOT_FOUND,
            f"Logs of build {build_id} are not available until the build finishes",
        )
    return Response(200, {"logs": row["logs"] or ""})


# ---------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------


def _bump(previous: str | None, version_type: str) -> str:
    major, minor, revision = (int(part) for part in (previous or "0.0.0").split("."))
    if version_type == "major":
        return f"{major + 1}.0.0"
    if version_type == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{revision + 1}"


def _highest_version(db: Database, algorithm_id: str) -> str | None:
    rows = db.query(
        "select semantic_version from builds where algorithm_id = ? and semantic_version is not null",
        [algorithm_id],
    )
    versions = [tuple(int(p) for p in row["semantic_version"].split(".")) for row in rows]
    return ".".join(str(p) for p in max(versions)) if versions else None


def publish_version(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """POST …/versions: give the newest succeeded build a semantic version (a major, minor or revision bump).

    With ``version_info.git_hash`` only that commit may be published, and only if it is the newest
    succeeded build's (`_check_wanted_hash`).
    """
    body = req.json()
    details = _checked(validate_details, _object(body, "details"), "details")
    settings = _checked(validate_settings, _object(body, "settings"), "settings")
    info = _object(body, "version_info")
    try:
        version_type = normalize_version_type(info.get("version_type", info.get("type")))
    except UsageError as exc:
        raise invalid(f"version_info.version_type: {exc.message}") from None
    texts = _text_fields(info, ("release_notes", "sample_input", "sample_output"))
    wanted_hash = info.get("git_hash")
    if wanted_hash is not None and not (isinstance(wanted_hash, str) and _HEX_RE.fullmatch(wanted_hash.lower())):
        raise invalid("version_info.git_hash must be a commit hash of 7 to 40 hexadecimal digits")
    with sb.write_lock, sb.db() as db:
        algo = _load(sb, db, u, a)
        build = store.latest_build(db, algo["id"], "status = 'succeeded'")
        if build is None:
            raise invalid(
                f"{u}/{a} has no successful build to publish: push code or compile, and wait for the build to succeed"
            )
        if wanted_hash is not None:
            _check_wanted_hash(db, algo, build, wanted_hash)
        if build["semantic_version"]:
            raise ApiFailure(400, CODE_ALREADY_PUBLISHED, "Version already published. Please compile your algorithm.")
        current = _settings(algo)
        callability = settings.get("algorithm_callability") or current["algorithm_callability"]
        with db.atomic():
            db.execute(
                "update builds set semantic_version = ?, release_notes = ?, sample_input = ?, "
                "sample_output = ?, algorithm_callability = ?, published_at = ? where build_id = ?",
                [
                    _bump(_highest_version(db, algo["id"]), version_type),
                    texts.get("release_notes"),
                    texts.get("sample_input", algo["sample_input"]),
                    texts.get("sample_output"),
                    callability,
                    store.now_iso(),
                    build["build_id"],
                ],
            )
            changes: dict[str, Any] = {
                "details": store.dumps({**store.loads(algo["details"]), **details}),
                "settings": store.dumps({**current, **settings, "algorithm_callability": callability}),
                "updated_at": store.now_iso(),
            }
            if "sample_input" in texts:
                changes["sample_input"] = texts["sample_input"]
            db["algorithms"].update(algo["id"], changes)
        algo = _load(sb, db, u, a)
        build = store.get_build(db, build["build_id"])
        assert build is not None
    return Response(200, version_out(sb, req, algo, build))


def _check_wanted_hash(db: Database, algo: dict[str, Any], newest: dict[str, Any], wanted: str) -> None:
    """Publishing a given commit is allowed only when it is the newest succeeded build's.

    Anything else is refused with a message naming the newer build, so a person who reviewed one
    build never publishes another by accident.
    """
    wanted = wanted.lower()
    if newest["commit_sha"].startswith(wanted):
        return
    name = f"{algo['owner']}/{algo['name']}"
    own = store.latest_build(db, algo["id"], "commit_sha like ?", [wanted + "%"])
    if own is None:
        raise invalid(
            f"version_info.git_hash: {name} has no build of commit {wanted}; the newest successful build "
            f"is {newest['build_id']} at {newest['commit_sha'][:12]}"
        )
    if own["status"] != "succeeded":
        state = "failed" if own["status"] == "failed" else "is still in progress"
        raise invalid(
            f"version_info.git_hash: build {own['build_id']} of {name} at {wanted} {state}, so it cannot be "
            f"published; the newest successful build is {newest['build_id']} at {newest['commit_sha'][:12]}"
        )
    raise invalid(
        f"version_info.git_hash: commit {wanted} of {name} is not the newest successful build: build "
        f"{newest['build_id']} at {newest['commit_sha'][:12]} is newer. Only the newest successful build "
        "can be published; publish that one, or push or compile this commit again"
    )


def _flag(req: Request, name: str) -> bool | None:
    text = req.arg(name)
    if text is None or text == "":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise invalid(f"{name} must be true or false, not '{text}'")


def list_versions(sb: Sandbox, req: Request, caller: Caller, u: str, a: str) -> Response:
    """GET …/versions: succeeded builds newest first, filtered by ``published`` / ``callable``."""
    published, callable_ = _flag(req, "published"), _flag(req, "callable")
    where = "algorithm_id = ? and status = 'succeeded'"
    keep: dict[str, str] = {}
    if published is not None:
        where += " and semantic_version is not null" if published else " and semantic_version is null"
        keep["published"] = "true" if published else "false"
    if callable_ is not None:
        where += (
            " and algorithm_callability = 'public'"
            if callable_
            else " and coalesce(algorithm_callability, 'private') != 'public'"
        )
        keep["callable"] = "true" if callable_ else "false"
    return _algorithm_page(
        sb, req, u, a, kind="versions", where=where, keep=keep, out=lambda algo, row: version_out(sb, req, algo, row)
    )


def get_version(sb: Sandbox, req: Request, caller: Caller, u: str, a: str, git_hash: str) -> Response:
    """GET …/versions/{git_hash}: the version built from that commit (a published one if any)."""
    with sb.db() as db:
        algo = _load(sb, db, u, a)
        rows = []
        if _HEX_RE.fullmatch(git_hash.lower()):
            rows = list(
                db.query(
                    "select * from builds where algorithm_id = ? and status = 'succeeded' "
                    "and commit_sha like ? order by (semantic_version is not null) desc, seq desc limit 1",
                    [algo["id"], git_hash.lower() + "%"],
                )
            )
    if not rows:
        raise ApiFailure(404, CODE_RESOURCE_NOT_FOUND, f"No such version of {u}/{a}: {git_hash}")
    return Response(200, version_out(sb, req, algo, rows[0]))


# ---------------------------------------------------------------------------
# The algorithm API (docs/algorithmia-contract.md, "Algorithm API"): apply(input), run confined
# ---------------------------------------------------------------------------


def _resolve_call(db: Database, algo: dict[str, Any], version: str | None, owner: bool) -> dict[str, Any] | None:
    visible = "1 = 1" if owner else "algorithm_callability = 'public'"
    published = f"semantic_version is not null and ({visible})"
    if version in (None, "", "latest"):
        return store.latest_build(db, algo["id"], published)
    if version == "latestPrivate":
        return store.latest_build(db, algo["id"], "semantic_version is not null") if owner else None
    if _SEMVER_RE.fullmatch(version):
        return store.latest_build(db, algo["id"], f"{published} and semantic_version = ?", [version])
    partial = _PARTIAL_RE.fullmatch(version)
    if partial:
        prefix = ".".join(part for part in partial.groups() if part is not None) + "."
        return store.latest_build(db, algo["id"], f"{published} and semantic_version like ?", [prefix + "%"])
    if owner and _HEX_RE.fullmatch(version.lower()):
        return store.latest_build(db, algo["id"], "status = 'succeeded' and commit_sha like ?", [version.lower() + "%"])
    return None


def _call_timeout(req: Request, cap: float) -> float:
    """The ``timeout`` query parameter in seconds (default 300, at most 3000 as the API allows), capped
    at the sandbox's build timeout: a call runs under the same limits as a build."""
    text = req.arg("timeout")
    if text is None or text == "":
        return min(DEFAULT_CALL_TIMEOUT, cap)
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= MAX_CALL_TIMEOUT:
        raise invalid(f"timeout must be a number of seconds from 1 to {MAX_CALL_TIMEOUT}, not '{text}'")
    return min(value, cap)


def _call_input(req: Request) -> tuple[bytes, str]:
    """The body and how it is decoded for ``apply``: ``json``, ``text`` or ``binary`` by its content type."""
    raw = req.body()
    if req.content_type == "application/json":
        try:
            json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiFailure(400, CODE_INVALID_JSON, "Input is not valid JSON") from None
        return raw or b"null", "json"
    if req.content_type in ("text/plain", "application/text"):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid("Text input must be UTF-8; send bytes as application/octet-stream") from None
        return raw, "text"
    return raw, "binary"


def call_algorithm(sb: Sandbox, req: Request, caller: Caller, u: str, a: str, version: str | None = None) -> Response:
    """POST /v1/algo/{u}/{a}[/{version}]: run that version's ``apply`` on the input.

    An algorithm's own failure (an exception, a timeout, no result) is answered 200 with
    ``{"error": {"message", "error_type", "stacktrace"?}}``, the form the official client turns into
    its ``AlgorithmException`` (it reads no error body of a non-2xx answer). ``stdout=true`` adds
    ``metadata.stdout`` for the owner only; ``output=void`` answers at once without running.
    """
    with sb.db() as db:
        algo = store.get_algorithm(db, u, a)
        if algo is None:
            raise no_such_algorithm()
        build = _resolve_call(db, algo, version, owner=caller.user == u)
    if build is None:
        raise ApiFailure(
            404, CODE_RESOURCE_NOT_FOUND, f"No callable version of {u}/{a} matches '{version or 'latest'}'"
        )
    output = req.arg("output")
    if output == "void":
        return Response(200, {"async": True, "request_id": str(uuid.uuid4())})
    timeout = _call_timeout(req, sb.call_timeout_cap)
    raw, kind = _call_input(req)
    outcome = sb.run_algorithm(algo, build, raw, kind, timeout)
    if outcome.error is not None:
        if output == "raw":
            return Response(400, raw=str(outcome.error.get("message")).encode("utf-8"), content_type="text/plain")
        return Response(200, {"error": outcome.error})
    if output == "raw":
        if outcome.content_type == "binary":
            return Response(200, raw=base64.b64decode(outcome.result), content_type="application/octet-stream")
        text = outcome.result if outcome.content_type == "text" else json.dumps(outcome.result)
        return Response(200, raw=text.encode("utf-8"), content_type="text/plain")
    metadata: dict[str, Any] = {
        "content_type": outcome.content_type,
        "duration": outcome.duration,
        "request_id": str(uuid.uuid4()),
        "version": build["semantic_version"] or build["commit_sha"],
    }
    if caller.user == u and str(req.arg("stdout") or "").lower() == "true":
        metadata["stdout"] = outcome.stdout
    return Response(200, {"result": outcome.result, "metadata": metadata})


ALGO = "/v1/algorithms/{u}/{a}"
ROUTES: list[Route] = [
    Route("/v1/algorithms/{u}", {"POST": create_algorithm}),
    Route(ALGO, {"GET": get_algorithm, "PUT": update_algorithm, "DELETE": delete_algorithm}),
    Route(f"{ALGO}/compile", {"POST": compile_algorithm}),
    Route(f"{ALGO}/builds", {"GET": list_builds}),
    Route(f"{ALGO}/builds/{{build_id}}", {"GET": get_build}),
    Route(f"{ALGO}/builds/{{build_id}}/logs", {"GET": get_build_logs}),
    Route(f"{ALGO}/versions", {"GET": list_versions, "POST": publish_version}),
    Route(f"{ALGO}/versions/{{git_hash}}", {"GET": get_version}),
    Route(f"{ALGO}/scm/status", {"GET": scm_status}),
    Route("/v1/users/{u}/algorithms", {"GET": list_user_algorithms}),
    Route("/v1/scms", {"GET": list_scms}, manage=False),
    Route("/v1/algo/{u}/{a}", {"POST": call_algorithm}, manage=False),
    Route("/v1/algo/{u}/{a}/{version}", {"POST": call_algorithm}, manage=False),
]
