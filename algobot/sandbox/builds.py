"""Builds as real work in background threads, with hooks that let tests hold and await them.

A build checks out its commit into a scratch folder and runs a check: an executable ``build.sh``
at the root if there is one (``bash build.sh``), else the language's check. Python algorithms
(``python3-1``, ``python2-langpack``) are byte-compiled with ``python -m compileall`` in a
subprocess, so a syntax error fails the build with the compiler's own message in the log; other
languages have no checker here and succeed with a line saying so. The sandbox never runs
algorithm code otherwise. Subprocesses get a minimal environment (no secrets from ours) and a
timeout, and are killed with their whole process group on expiry (POSIX).

Tests never sleep: ``hold_builds`` keeps each finished build "in progress" until `release`, and
`wait_idle` blocks on a condition variable until no build is running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from algobot.sandbox.git import checkout

log = logging.getLogger(__name__)

PYTHON_LANGUAGES = ("python3-1", "python2-langpack")
MAX_LOG_CHARS = 200_000


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
    ):
        self._finish = finish
        self.build_delay = build_delay
        self.build_timeout = build_timeout
        self.hold_builds = hold_builds
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
            status, logs = run_build(job, timeout=self.build_timeout)
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


def run_build(job: BuildJob, *, timeout: float = 300.0) -> tuple[str, str]:
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
        shown = " ".join("python" if part == sys.executable else part for part in command)
        out.append(f"$ {shown}")
        code, output, timed_out = _run(command, work, Path(tmp), timeout)
        if output:
            out.append(output.rstrip("\n"))
        if timed_out:
            out.append(f"[sandbox] build failed: timed out after {timeout:g} s")
            return "failed", _join(out)
        if code == 0:
            out.append("[sandbox] build succeeded")
            return "succeeded", _join(out)
        out.append(f"[sandbox] build failed (exit code {code})")
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
    interpreter = sys.executable
    if language == "python2-langpack":
        python2 = shutil.which("python2")
        if python2:
            interpreter = python2
        else:
            out.append("[sandbox] no python2 on this machine; checking with Python 3 instead")
    out.append(f"[sandbox] byte-compiling {count} .py file(s)")
    return [interpreter, "-m", "compileall", "-q", "."]


def _run(command: list[str], cwd: Path, tmp: Path, timeout: float) -> tuple[int | None, str, bool]:
    """Run with a minimal environment; kill the whole process group on timeout."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
    }
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        return proc.returncode, output.decode("utf-8", "replace"), False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            output, _ = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            output = b""
        return None, (output or b"").decode("utf-8", "replace"), True


def _join(lines: list[str]) -> str:
    text = "\n".join(lines) + "\n"
    if len(text) > MAX_LOG_CHARS:
        half = MAX_LOG_CHARS // 2
        text = text[:half] + "\n[sandbox] … log truncated …\n" + text[-half:]
    return text
