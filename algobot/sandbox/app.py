"""The `Sandbox`: state, API keys, builds, fault injection and the WSGI entry point.

One `Sandbox` per data directory at a time: on start it marks builds a previous run left in
progress as failed (``create_key`` alone is safe alongside a running one). It is a WSGI app
(``sandbox.wsgi_app``) serving the management API under ``/v1`` and the git repositories under
``/git``; `algobot.sandbox.server.SandboxServer` puts it on a port. Tests drive it through its
Python API: ``create_key``, ``inject_fault``, ``hold_builds`` / ``release_builds`` /
``wait_for_builds`` and ``request_counts``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from algobot.algorithmia import (
    CODE_BAD_KEY,
    CODE_INTERNAL,
    CODE_NOT_AUTHORIZED,
    split_algo_name,
)
from algobot.parsing import UsageError
from algobot.sandbox import store
from algobot.sandbox.api import ROUTES, Caller
from algobot.sandbox.builds import BuildJob, BuildRunner, isolation_available
from algobot.sandbox.git import DEFAULT_MAX_PUSH_BYTES, make_git_app, repo_path
from algobot.sandbox.runs import RunOutcome, run_algorithm
from algobot.sandbox.web import ApiFailure, Request, Response, error_body, match, send

log = logging.getLogger(__name__)

UNMATCHED = "(unmatched)"
SEEN_CALLERS = 1000  # how many authenticated requests `callers` remembers


@dataclass(frozen=True)
class SeenCaller:
    """Who made an authenticated API request: the user, and the sha256 of the key (never the key)."""

    method: str
    route: str
    user: str
    key_hash: str


@dataclass
class _Fault:
    status: int
    remaining: int
    retry_after: float | None
    path_contains: str | None


def create_key(data_dir: str | Path, user: str, *, manage: bool = True) -> str:
    """Create a user (if new) and a fresh API key for them; only the key's sha256 is stored.

    Works on a data directory another process is serving (SQLite WAL), which is what
    ``algobot sandbox key`` does.
    """
    try:
        if "/" in user:
            raise UsageError(f"'{user}' is not a valid user name: use letters, digits, '-' or '_'.")
        split_algo_name(f"{user}/a")  # the client's rule for user names
    except UsageError as exc:
        raise ValueError(exc.message) from None
    store.initialise(Path(data_dir))
    key = "sim" + secrets.token_hex(16)
    now = store.now_iso()
    with store.connect(Path(data_dir)) as db, db.atomic():
        db["users"].insert({"name": user, "created_at": now}, ignore=True)
        db["api_keys"].insert({"key_hash": store.hash_key(key), "user": user, "manage": int(manage), "created_at": now})
    return key


class Sandbox:
    """A local Algorithmia with real state under ``data_dir``.

    Args:
        data_dir: where ``sandbox.db`` and ``repos/`` live (created if missing).
        build_delay: every build stays in progress at least this many seconds.
        latency_ms: every API request (not git) waits this long before it is answered.
        fail_rate: this share of API requests is answered 503.
        hold_builds: builds stay in progress until `release_builds` (for tests).
        public_url: the URL clients use, for clone URLs and links; default: from the Host header.
        build_timeout: a build's check is killed (with every process it started) after this many seconds.
        max_push_bytes: a git push larger than this is refused (None: no limit).
        private_paths: more folders builds must not see (``data_dir`` is always hidden from them).
        isolate_builds: confine builds in namespaces (`algobot.sandbox.builds`); None: when possible.
        rng: random source for ``fail_rate`` (seed it for reproducible runs).

    ``latency_ms``, ``fail_rate``, ``hold_builds`` and ``build_delay`` can be changed at run time.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        build_delay: float = 0.0,
        latency_ms: float = 0,
        fail_rate: float = 0.0,
        hold_builds: bool = False,
        public_url: str | None = None,
        build_timeout: float = 300.0,
        max_push_bytes: int | None = DEFAULT_MAX_PUSH_BYTES,
        private_paths: Sequence[str | Path] = (),
        isolate_builds: bool | None = None,
        rng: random.Random | None = None,
    ):
        self.data_dir = Path(data_dir)
        store.initialise(self.data_dir)
        self.latency_ms = latency_ms
        self.fail_rate = fail_rate
        self.public_url = public_url.rstrip("/") if public_url else None
        self.write_lock = threading.RLock()
        self._rng = rng or random.Random()
        self._faults: list[_Fault] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._callers: deque[SeenCaller] = deque(maxlen=SEEN_CALLERS)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._builds = BuildRunner(
            self._finish_build,
            build_delay=build_delay,
            build_timeout=build_timeout,
            hold_builds=hold_builds,
            private_paths=[self.data_dir, *(Path(p) for p in private_paths)],
            isolate=isolate_builds,
        )
        self.max_push_bytes = max_push_bytes
        self._git_app = make_git_app(
            self.data_dir, self._on_push, authorize=self._authorize_git, max_push_bytes=max_push_bytes
        )
        self._fail_interrupted_builds()

    # -- configuration that may change at run time ----------------------------
    # Each knob is a property pair handing over to the build runner; the pairs mirror each other on
    # purpose, so tests set `box.hold_builds` at run time without reaching into the runner.

    @property
    def hold_builds(self) -> bool:
        return self._builds.hold_builds

    @hold_builds.setter
    def hold_builds(self, value: bool) -> None:
        self._builds.hold_builds = value

    @property
    def build_delay(self) -> float:
        return self._builds.build_delay

    @build_delay.setter
    def build_delay(self, value: float) -> None:
        self._builds.build_delay = value

    # -- public helpers --------------------------------------------------------

    @property
    def wsgi_app(self) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
        """The WSGI callable: ``/v1/...`` API, ``/git/...`` repositories, ``/healthz``."""
        return self._wsgi

    def create_key(self, user: str, manage: bool = True) -> str:
        """A new API key for ``user``; ``manage=False`` keys get 403 on every management call."""
        return create_key(self.data_dir, user, manage=manage)

    @contextlib.contextmanager
    def db(self) -> Iterator[Database]:
        """A connection for one unit of work in the calling thread."""
        with store.connect(self.data_dir) as db:
            yield db

    def repo_path(self, user: str, algo: str) -> Path:
        """The algorithm's bare repository."""
        return repo_path(self.data_dir, user, algo)

    def clone_url(self, user: str, algo: str, base_url: str | None = None) -> str:
        """``{public}/git/{user}/{algo}.git``."""
        base = self.public_url or (base_url or "").rstrip("/")
        return f"{base}/git/{user}/{algo}.git"

    def inject_fault(
        self,
        status: int = 503,
        times: int = 1,
        retry_after: float | None = None,
        path_contains: str | None = None,
    ) -> None:
        """The next ``times`` API requests (whose path contains ``path_contains``) get ``status``.

        Faults queue up in order; a 429 with ``retry_after`` carries a ``Retry-After`` header.
        The request is answered before any handler runs, so it changes nothing.
        """
        with self._lock:
            self._faults.append(_Fault(status, times, retry_after, path_contains))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    @property
    def request_counts(self) -> dict[tuple[str, str], int]:
        """API requests seen so far per (method, path pattern), e.g. ``("GET", "/v1/algorithms/{u}/{a}")``."""
        with self._lock:
            return dict(self._counts)

    def reset_request_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._callers.clear()

    @property
    def callers(self) -> list[SeenCaller]:
        """Authenticated API requests, oldest first: which key acted, as Algorithmia's records would show."""
        with self._lock:
            return list(self._callers)

    def release_builds(self, build_id: str | None = None) -> int:
        """Let held builds finish (all, or one); returns how many were released."""
        return self._builds.release(build_id)

    def running_builds(self) -> list[str]:
        """Ids of builds in progress."""
        return self._builds.running()

    def wait_for_builds(self, timeout: float = 10.0) -> None:
        """Block (on a condition, no polling) until no build runs; TimeoutError after ``timeout``."""
        self._builds.wait_idle(timeout)

    def close(self) -> None:
        """Stop waiting latencies, release held builds and let running ones record their result."""
        self._closing.set()
        self._builds.close()

    # -- builds ------------------------------------------------------------------

    def start_build(self, algo: dict[str, Any], commit_sha: str, trigger: str) -> dict[str, Any]:
        """Record an in-progress build of ``commit_sha`` and start it in a thread; returns the row."""
        row = {
            "build_id": str(uuid.uuid4()),
            "algorithm_id": algo["id"],
            "commit_sha": commit_sha,
            "status": "in-progress",
            "trigger": trigger,
            "started_at": store.now_iso(),
            "finished_at": None,
            "logs": None,
            "version_uuid": str(uuid.uuid4()),
            "semantic_version": None,
            "release_notes": None,
            "sample_input": None,
            "sample_output": None,
            "algorithm_callability": None,
            "published_at": None,
        }
        with self.write_lock, self.db() as db:
            row["seq"] = db["builds"].insert(row).last_pk
        settings = store.loads(algo["settings"])
        self._builds.start(
            BuildJob(
                build_id=row["build_id"],
                algorithm=f"{algo['owner']}/{algo['name']}",
                repo_dir=self.repo_path(algo["owner"], algo["name"]),
                commit_sha=commit_sha,
                language=settings.get("language"),
                trigger=trigger,
            )
        )
        log.info(
            "sandbox build %s of %s/%s at %s (%s)",
            row["build_id"],
            algo["owner"],
            algo["name"],
            commit_sha[:12],
            trigger,
        )
        return row

    # -- algorithm calls ------------------------------------------------------------

    @property
    def call_timeout_cap(self) -> float:
        """A call runs under the limits of a build, its timeout included."""
        return self._builds.build_timeout

    def run_algorithm(
        self, algo: dict[str, Any], build: dict[str, Any], raw: bytes, kind: str, timeout: float
    ) -> RunOutcome:
        """Run ``apply`` of the build's commit on the input, confined as builds are (`algobot.sandbox.runs`)."""
        isolate = isolation_available() if self._builds.isolate is None else self._builds.isolate
        outcome = run_algorithm(
            self.repo_path(algo["owner"], algo["name"]),
            build["commit_sha"],
            algo["name"],
            store.loads(algo["settings"]).get("language"),
            raw,
            kind,
            timeout=timeout,
            hidden=[p.resolve() for p in self._builds.private_paths],
            isolate=isolate,
        )
        log.info(
            "sandbox call of %s/%s at %s: %s in %.3f s",
            algo["owner"],
            algo["name"],
            build["commit_sha"][:12],
            "error" if outcome.error else outcome.content_type,
            outcome.duration,
        )
        return outcome

    def _finish_build(self, build_id: str, status: str, logs: str) -> None:
        with self.write_lock, self.db() as db:
            db.execute(
                "update builds set status = ?, logs = ?, finished_at = ? where build_id = ? and status = 'in-progress'",
                [status, logs, store.now_iso(), build_id],
            )
        log.info("sandbox build %s %s", build_id, status)

    def _on_push(self, user: str, algo: str, commit_sha: str, ref: bytes) -> str:
        with self.db() as db:
            row = store.get_algorithm(db, user, algo)
        if row is None:
            return f"sandbox: {user}/{algo} does not exist; no build started"
        branch = ref.decode("utf-8", "replace").removeprefix("refs/heads/")
        build = self.start_build(row, commit_sha, f"push to {branch}")
        return f"sandbox: build {build['build_id']} started for {commit_sha[:12]}"

    def _authorize_git(self, owner: str, algo: str, key: str | None, write: bool) -> tuple[int, str] | None:
        """Git over HTTP takes the API key as the Basic auth password; None when the request may go on.

        The owner may clone and (with a managing key) push; anyone else with a key may only clone an
        algorithm whose source is open. The key is never logged.
        """
        how = f"use your sandbox user name and an API key as the password, e.g. http://{owner}:KEY@HOST/git/..."
        if not key:
            return 401, f"sandbox: git needs credentials: {how}"
        with self.db() as db:
            rows = list(db.query("select user, manage from api_keys where key_hash = ?", [store.hash_key(key)]))
            row = store.get_algorithm(db, owner, algo)
        if not rows:
            return 401, f"sandbox: unknown API key: {how}"
        user, manage = rows[0]["user"], bool(rows[0]["manage"])
        if user == owner:
            if write and not manage:
                return 403, f"sandbox: this key of {user} may not manage algorithms, so it cannot push to {algo}"
            return None
        if not write and row is not None and store.loads(row["settings"]).get("source_visibility") == "open":
            return None
        action = "push to" if write else "clone"
        return 403, f"sandbox: {user} may not {action} {owner}/{algo}: only its owner can, with the owner's key"

    def _fail_interrupted_builds(self) -> None:
        """Builds left in progress by a previous run can never finish: mark them failed."""
        with self.write_lock, self.db() as db:
            db.execute(
                "update builds set status = 'failed', finished_at = ?, "
                "logs = coalesce(logs, '') || ? where status = 'in-progress'",
                [store.now_iso(), "[sandbox] interrupted: the sandbox stopped before this build finished\n"],
            )

    # -- WSGI --------------------------------------------------------------------

    def _base_url(self, environ: dict[str, Any]) -> str:
        if self.public_url:
            return self.public_url
        scheme = environ.get("wsgi.url_scheme", "http")
        host = (
            environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        )
        return f"{scheme}://{host}"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        if path.startswith("/git/"):
            environ = dict(environ)
            environ["SCRIPT_NAME"] = str(environ.get("SCRIPT_NAME", "")) + "/git"
            environ["PATH_INFO"] = path[len("/git") :]
            return self._git_app(environ, start_response)
        try:
            response = self._handle(Request(environ, self._base_url(environ)))
        except ApiFailure as failure:
            response = Response.error(failure)
        except Exception:
            log.exception("sandbox: unexpected error on %s %s", environ.get("REQUEST_METHOD"), path)
            response = Response(500, error_body(CODE_INTERNAL, "Internal error in the sandbox"))
        return send(response, start_response)

    def _handle(self, req: Request) -> Response:
        if req.path in ("/", "/healthz"):
            return Response(200, {"status": "ok", "service": "algobot sandbox", "api": f"{req.base_url}/v1"})
        route, params = match(ROUTES, req.path)
        if req.path.startswith("/v1/"):
            with self._lock:
                self._counts[(req.method, route.pattern if route else UNMATCHED)] += 1
            if self.latency_ms:
                self._closing.wait(float(self.latency_ms) / 1000.0)
            fault = self._take_fault(req)
            if fault is not None:
                return fault
        if route is None:
            raise ApiFailure(404, None, f"No route for {req.method} {req.path}")
        handler = route.methods.get(req.method)
        if handler is None:
            failure = ApiFailure(405, None, f"{req.method} is not allowed on {route.pattern}")
            failure.headers.append(("Allow", ", ".join(sorted(route.methods))))
            raise failure
        caller = self._authenticate(req)
        with self._lock:
            seen = SeenCaller(req.method, route.pattern, caller.user, store.hash_key(self._presented_key(req) or ""))
            self._callers.append(seen)
        if route.manage:
            if not caller.manage or params.get("u") != caller.user:
                raise ApiFailure(403, CODE_NOT_AUTHORIZED, "Caller is not authorized to perform the operation")
            if "a" in params:
                try:
                    split_algo_name(f"{params['u']}/{params['a']}")
                except UsageError:
                    raise ApiFailure(404, 1001, "No such algorithm") from None
        return handler(self, req, caller, **params)

    def _take_fault(self, req: Request) -> Response | None:
        target = f"{req.path}?{req.query_string}" if req.query_string else req.path
        with self._lock:
            for fault in self._faults:
                if fault.path_contains is None or fault.path_contains in target:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    break
            else:
                fault = None
        if fault is None and self.fail_rate and self._rng.random() < self.fail_rate:
            fault = _Fault(503, 1, None, None)
        if fault is None:
            return None
        headers = [("Retry-After", f"{fault.retry_after:g}")] if fault.retry_after is not None else []
        message = f"Service unavailable (sandbox fault injection, HTTP {fault.status})"
        return Response(fault.status, error_body(CODE_INTERNAL, message), headers)

    @staticmethod
    def _presented_key(req: Request) -> str | None:
        parts = str(req.environ.get("HTTP_AUTHORIZATION") or "").split()
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2 and parts[0].lower() in ("simple", "bearer"):
            return parts[1]
        return None

    def _authenticate(self, req: Request) -> Caller:
        """``Simple <key>``, ``Bearer <key>`` or a bare key, as the API accepts; the key is never logged."""
        key = self._presented_key(req)
        if key:
            with self.db() as db:
                rows = list(db.query("select user, manage from api_keys where key_hash = ?", [store.hash_key(key)]))
            if rows:
                return Caller(rows[0]["user"], bool(rows[0]["manage"]))
        raise ApiFailure(401, CODE_BAD_KEY, "Unknown or invalid API key")
