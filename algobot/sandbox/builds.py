"""Builds as real work in background threads, with hooks that let tests hold and await them.

A build checks out its commit into a private scratch folder and runs a check there: an executable
``build.sh`` at the root if there is one (``bash build.sh``), else the language's check. Python
algorithms (``python3-1``, ``python2-langpack``) are byte-compiled with ``python -m compileall`` in
a subprocess, so a syntax error fails the build with the compiler's own message in the log; other
languages have no checker here and succeed with a line saying so.

**This runs pushed code.** What confines it:

- always: a minimal environment (``PATH``, ``HOME`` and ``TMPDIR`` in the private folder, ``LANG``;
  no secret of ours), the private folder as working directory, its own session and process group,
  a timeout after which the whole group is killed (and, on Linux, any process that left the group
  but still carries the build's marker variable), and output read as it comes with only its last
  `MAX_OUTPUT_BYTES` kept (in memory and in the stored log);
- on Linux as root, with util-linux's ``unshare`` and ``setpriv``, also (`isolation_available`):
  its own PID namespace (nothing it starts, ``setsid`` included, outlives it, and it cannot see our
  processes in ``/proc``), its own mount namespace in which every file system is read-only except
  the private folder, mounted as its ``/tmp`` (so it sees no other ``/tmp`` content, and its path
  is reachable by any user), and the sandbox's data directory (and any other ``private_paths``) is hidden
  under an empty read-only tmpfs, no capabilities (so it cannot undo the mounts), files of at most
  `MAX_FILE_BYTES`, and a ``build.sh`` runs as user ``nobody`` (the byte-compiler, which runs no
  pushed code, stays root without capabilities, since the interpreter may be readable by root only).

Elsewhere (not root, not Linux) the build runs with this user's rights; the log says so.

Tests never sleep: ``hold_builds`` keeps each finished build "in progress" until `release`, and
`wait_idle` blocks on a condition variable until no build is running.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from algobot.sandbox.git import checkout

log = logging.getLogger(__name__)

PYTHON_LANGUAGES = ("python3-1", "python2-langpack")
MAX_OUTPUT_BYTES = 128 * 1024  # the tail of a build's output that is kept
MAX_LOG_CHARS = 200_000
MAX_FILE_BYTES = 256 * 1024 * 1024
KILL_GRACE_SECONDS = 5.0
BUILD_USER = "nobody"  # build.sh runs as this user in an isolated build
_PYTHON2_COMPILE = (
    "import sys; sys.path = [p for p in sys.path if p not in ('', '.')]; import compileall; "
    "sys.exit(0 if compileall.compile_dir('.', quiet=1) else 1)"
)
# The check needs only the standard library, so it runs the base interpreter, resolved: a virtualenv's
# python may live under /tmp (a checkout there), which an isolated build cannot see (its /tmp is its
# private folder).
BUILD_PYTHON = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
MARKER_VARIABLE = "ALGOBOT_SANDBOX_BUILD"  # in every build's environment, to find what it left behind

# Run inside fresh PID and mount namespaces (as root): make the private folder the only writable
# place (mounted on /tmp, the checkout in /tmp/src), hide the given paths, drop every capability
# (and become RUN_AS=UID:GID if set), then exec the build.
# Arguments: PRIVATE_DIR HIDDEN... -- COMMAND...
_JAIL = r"""
set -e
work="$1"; shift
mount --bind "$work" /tmp  # the private folder is the build's /tmp: the real one is out of sight
cd /tmp/src
while read -r _id _parent _dev _root point _rest; do
  case "$point" in
    *\\*|/proc|/proc/*|/tmp) ;;
    *) mount -o remount,bind,ro "$point" 2>/dev/null || true ;;
  esac
done < /proc/self/mountinfo
while [ "$1" != "--" ]; do
  if [ -d "$1" ]; then mount -t tmpfs -o ro,size=4k,mode=0555 algobot-hidden "$1"; fi
  shift
done
shift
fsize="$FSIZE"; as_user=""
if [ -n "$RUN_AS" ]; then as_user="--reuid=${RUN_AS%:*} --regid=${RUN_AS#*:} --clear-groups"; fi
unset FSIZE RUN_AS
exec setpriv $as_user --bounding-set=-all --inh-caps=-all --no-new-privs -- prlimit --fsize="$fsize" --core=0 -- "$@"
"""


@dataclass
class BuildJob:
    """What one build needs; built from the database row when the build is recorded."""

    build_id: str
    algorithm: str  # "user/algo", for the log
    repo_dir: Path
    commit_sha: str
    language: str | None
    trigger: str  # "push to master", "compile", ...
    released: threading.Event = field(default_factory=threading.Event)


# build_id, status ("succeeded" | "failed"), logs
FinishCallback = Callable[[str, str, str], None]


class BuildRunner:
    """Runs builds in threads and tracks which are in progress."""

    def __init__(
        self,
        finish: FinishCallback,
        *,
        build_delay: float = 0.0,
        build_timeout: float = 300.0,
        hold_builds: bool = False,
        private_paths: Sequence[Path] = (),
        isolate: bool | None = None,
    ):
        self._finish = finish
        self.build_delay = build_delay
        self.build_timeout = build_timeout
        self.hold_builds = hold_builds
        self.private_paths = [Path(p) for p in private_paths]
        self.isolate = isolate  # None: whenever isolation_available()
        self._cond = threading.Condition()
        self._running: dict[str, BuildJob] = {}
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def start(self, job: BuildJob) -> None:
        """Register the build as running (at once, so waiters see it) and start its thread."""
        if not self.hold_builds:
            job.released.set()
        with self._cond:
            self._running[job.build_id] = job
            if self._closing.is_set():
                job.released.set()
        thread = threading.Thread(target=self._run, args=(job,), name=f"sandbox-build-{job.build_id[:8]}")
        thread.daemon = True
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def running(self) -> list[str]:
        """Ids of the builds still in progress."""
        with self._cond:
            return list(self._running)

    def release(self, build_id: str | None = None) -> int:
        """Let held builds finish (one, or all); returns how many were still held."""
        with self._cond:
            jobs = [self._running[build_id]] if build_id in self._running else []
            if build_id is None:
                jobs = list(self._running.values())
            jobs = [job for job in jobs if not job.released.is_set()]
            for job in jobs:
                job.released.set()
            return len(jobs)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no build is running; raise TimeoutError after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: not self._running, timeout):
                held = sum(1 for job in self._running.values() if not job.released.is_set())
                raise TimeoutError(
                    f"{len(self._running)} build(s) still running after {timeout} s ({held} held; "
                    "call release_builds() when hold_builds is on)"
                )

    def close(self, timeout: float = 5.0) -> None:
        """Release everything and give running builds a moment to record their result."""
        self._closing.set()
        self.release()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, job: BuildJob) -> None:
        started = time.monotonic()
        try:
            isolate = isolation_available() if self.isolate is None else self.isolate
            status, logs = run_build(job, timeout=self.build_timeout, hidden=self.private_paths, isolate=isolate)
        except Exception as exc:
            log.exception("sandbox build %s crashed", job.build_id)
            status, logs = "failed", f"[sandbox] internal error while building: {type(exc).__name__}: {exc}\n"
        remaining = self.build_delay - (time.monotonic() - started)
        if remaining > 0:
            self._closing.wait(remaining)
        job.released.wait()
        try:
            self._finish(job.build_id, status, logs)
        except Exception:
            log.exception("sandbox could not record the result of build %s", job.build_id)
        finally:
            with self._cond:
                self._running.pop(job.build_id, None)
                self._cond.notify_all()


def run_build(
    job: BuildJob, *, timeout: float = 300.0, hidden: Sequence[Path] = (), isolate: bool = False
) -> tuple[str, str]:
    """Check out the commit and run its check; return (status, log text)."""
    out: list[str] = [f"[sandbox] build {job.build_id} of {job.algorithm} at {job.commit_sha} ({job.trigger})"]
    with tempfile.TemporaryDirectory(prefix="algobot-sandbox-build-") as tmp:
        work = Path(tmp) / "src"
        work.mkdir()
        out.extend(f"[sandbox] {note}" for note in checkout(job.repo_dir, job.commit_sha, work))
        command = _command_for(work, job.language, out)
        if command is None:
            out.append("[sandbox] build succeeded")
            return "succeeded", _join(out)
        shown = " ".join("python" if part == BUILD_PYTHON else part for part in command)
        if isolate:
            out.append("[sandbox] isolated: own PID and mount namespaces, read-only system, no capabilities")
        else:
            out.append(
                f"[sandbox] not isolated: runs with the rights of uid {os.getuid()} (only root on Linux isolates)"
            )
        out.append(f"$ {shown}")
        result = _run(command, work, Path(tmp), timeout, hidden=[Path(p).resolve() for p in hidden], isolate=isolate)
        if result.dropped:
            out.append(
                f"[sandbox] … {result.dropped} bytes of earlier output dropped; the last {MAX_OUTPUT_BYTES} follow …"
            )
        if result.output:
            out.append(result.output.rstrip("\n"))
        if result.note:
            out.append(f"[sandbox] {result.note}")
        if result.timed_out:
            out.append(f"[sandbox] build failed: timed out after {timeout:g} s")
            return "failed", _join(out)
        if result.code == 0:
            out.append("[sandbox] build succeeded")
            return "succeeded", _join(out)
        out.append(f"[sandbox] build failed (exit code {result.code})")
        return "failed", _join(out)


def _command_for(work: Path, language: str | None, out: list[str]) -> list[str] | None:
    """The command this checkout is checked with, or None when there is nothing to run."""
    script = work / "build.sh"
    if script.is_file():
        if os.access(script, os.X_OK):
            out.append("[sandbox] running build.sh")
            return ["bash", "build.sh"]
        out.append(
            "[sandbox] build.sh is not executable, so it is ignored (git update-index --chmod=+x build.sh, then commit)"
        )
    out.append(f"[sandbox] language: {language or 'unknown'}")
    if language not in PYTHON_LANGUAGES:
        out.append(f"[sandbox] no checker for {language or 'this algorithm'} in the sandbox; nothing to compile")
        return None
    count = sum(1 for _ in work.rglob("*.py"))
    if not count:
        out.append("[sandbox] no .py files to compile")
        return None
    # Never ``python -m compileall`` in the checkout: the current folder comes first on sys.path, so a
    # pushed compileall.py would run instead of the standard library's.
    if language == "python2-langpack":
        python2 = shutil.which("python2")
        if python2:
            out.append(f"[sandbox] byte-compiling {count} .py file(s)")
            return [python2, "-E", "-s", "-c", _PYTHON2_COMPILE]
        out.append("[sandbox] no python2 on this machine; checking with Python 3 instead")
    out.append(f"[sandbox] byte-compiling {count} .py file(s)")
    return [BUILD_PYTHON, "-I", "-m", "compileall", "-q", "."]  # -I: no current folder on sys.path


@functools.lru_cache(maxsize=1)
def isolation_available() -> bool:
    """True when builds can get their own PID and mount namespaces (Linux, root, util-linux)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    if not all(shutil.which(tool) for tool in ("unshare", "setpriv", "prlimit", "mount")):
        return False
    try:
        done = subprocess.run(
            [*_unshare(), "true"], stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _unshare() -> list[str]:
    # --kill-child: if unshare dies (our SIGKILL on timeout) its child, the namespace's init, dies,
    # and with it every process in the namespace.
    return ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc", "--propagation", "private"]


@dataclass
class _Result:
    code: int | None
    output: str
    timed_out: bool
    dropped: int = 0
    note: str = ""


class _Tail:
    """Reads a pipe to its end in a thread, keeping only the last ``limit`` bytes."""

    def __init__(self, stream: IO[bytes], limit: int = MAX_OUTPUT_BYTES):
        self.limit = limit
        self.total = 0
        self._buffer = bytearray()
        self._stream = stream
        self._thread = threading.Thread(target=self._read, name="sandbox-build-output", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := self._stream.read1(65536):  # type: ignore[attr-defined]
                self.total += len(chunk)
                self._buffer += chunk
                if len(self._buffer) > self.limit:
                    del self._buffer[: len(self._buffer) - self.limit]

    def join(self, timeout: float) -> bool:
        """Wait for the end of the output; False if something still holds the pipe open."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def text(self) -> tuple[str, int]:
        data = bytes(self._buffer)
        return data.decode("utf-8", "replace"), max(0, self.total - len(data))


def _run(
    command: list[str],
    cwd: Path,
    tmp: Path,
    timeout: float,
    *,
    hidden: Sequence[Path] = (),
    isolate: bool = False,
    pushed_code: bool | None = None,
) -> _Result:
    """Run with a minimal environment; kill the whole process group (or namespace) on timeout.

    ``pushed_code`` (default: a ``bash`` command, i.e. ``build.sh``) runs the command as `BUILD_USER`
    when isolated; the sandbox's algorithm runs (`algobot.sandbox.runs`) pass True.
    """
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }
    marker = f"{MARKER_VARIABLE}={uuid.uuid4().hex}"
    env[MARKER_VARIABLE] = marker.split("=", 1)[1]
    if isolate:
        env.update(FSIZE=str(MAX_FILE_BYTES), HOME="/tmp", TMPDIR="/tmp")
        if command[0] == "bash" if pushed_code is None else pushed_code:  # not even root without caps: nobody
            uid, gid = _build_user()
            _chown_tree(tmp, uid, gid)
            env["RUN_AS"] = f"{uid}:{gid}"
        command = [*_unshare(), "sh", "-c", _JAIL, "algobot-build", str(tmp), *map(str, hidden), "--", *command]
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    tail = _Tail(proc.stdout)
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    # Whatever the build left behind in its group goes too (in a namespace, it is already gone),
    # and so does any process that left the group (setsid) but still carries the build's marker.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _kill_marked(marker.encode())
    note = ""
    if not tail.join(KILL_GRACE_SECONDS):
        note = "stopped reading output: a process that left the build's process group still holds it open"
    with contextlib.suppress(OSError):
        proc.stdout.close()
    output, dropped = tail.text()
    return _Result(None if timed_out else proc.returncode, output, timed_out, dropped, note)


def _build_user() -> tuple[int, int]:
    """uid and gid of `BUILD_USER` (65534, the usual nobody, if the system has no such user)."""
    try:
        entry = pwd.getpwnam(BUILD_USER)
    except KeyError:
        return 65534, 65534
    return entry.pw_uid, entry.pw_gid


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    """The build user owns its private folder, so it can write there (and only there)."""
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def _kill_marked(marker: bytes) -> int:
    """SIGKILL every process whose environment holds ``marker`` (Linux ``/proc``; else nothing)."""
    killed = 0
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        return 0
    for entry in proc_dir.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed += 1
    return killed


def _join(lines: list[str]) -> str:
    """The stored log; past MAX_LOG_CHARS only its first line and its tail are kept."""
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_LOG_CHARS:
        text = lines[0] + "\n[sandbox] … log truncated …\n" + text[-(MAX_LOG_CHARS - len(lines[0]) - 40) :]
    return text
