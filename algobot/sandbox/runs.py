"""Running an algorithm for the algorithm API (``POST /v1/algo/...``): the built code's ``apply(input)``.

The layout is Algorithmia's for Python: ``src/<algo>.py`` defines ``apply(input)``. A call checks out
the build's commit into a private scratch folder and runs a small runner script there, in a
subprocess under the same confinement as a build (`algobot.sandbox.builds`: minimal environment,
own process group, the timeout killing everything it started; as root on Linux also namespaces, a
read-only system, the sandbox's data hidden, no capabilities, and the pushed code as user nobody
when the interpreter is one nobody may run). The input reaches ``apply`` decoded by its content
type (JSON parsed, text as ``str``, anything else as ``bytes``); the result goes back as Algorithmia
encodes it: a ``str`` is ``text``, ``bytes`` are ``binary`` (base64), anything else ``json``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algobot.sandbox.builds import BUILD_PYTHON, PYTHON_LANGUAGES, _run
from algobot.sandbox.git import checkout

log = logging.getLogger(__name__)

INPUT_FILE = "algobot-call-input"
OUTPUT_FILE = "algobot-call-output.json"
MAX_RESULT_BYTES = 10 * 1024 * 1024  # as much as the API takes in: a larger result is an error
MAX_STDOUT_CHARS = 64 * 1024

# Runs in the checkout (its working directory), with -I: no current folder, no PYTHON* variables.
# Arguments: ALGO_NAME KIND (json|text|binary). Reads the input next to the checkout, writes the answer there.
_RUNNER = r"""
import base64, importlib.util, json, os, sys, traceback
base = os.path.dirname(os.getcwd())
name, kind = sys.argv[1], sys.argv[2]

def finish(body):
    with open(os.path.join(base, "algobot-call-output.json"), "w", encoding="utf-8") as out:
        json.dump(body, out)
    sys.stdout.flush()
    os._exit(0)

def error(message, trace=None):
    body = {"message": message, "error_type": "AlgorithmError"}
    if trace:
        body["stacktrace"] = trace
    finish({"error": body})

with open(os.path.join(base, "algobot-call-input"), "rb") as f:
    raw = f.read()
value = json.loads(raw.decode("utf-8")) if kind == "json" else raw.decode("utf-8") if kind == "text" else raw
path = os.path.join(os.getcwd(), "src", name + ".py")
if not os.path.isfile(path):
    error("src/%s.py not found: an algorithm's code is src/%s.py with def apply(input)" % (name, name))
sys.path.insert(0, os.path.dirname(path))
try:
    spec = importlib.util.spec_from_file_location("algorithm_" + name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    apply = getattr(module, "apply", None)
    if not callable(apply):
        error("src/%s.py defines no apply(input) function" % name)
    result = apply(value)
except Exception as exc:
    error(str(exc) or type(exc).__name__, traceback.format_exc())
if isinstance(result, (bytes, bytearray)):
    finish({"result": base64.b64encode(bytes(result)).decode("ascii"), "content_type": "binary"})
if isinstance(result, str):
    finish({"result": result, "content_type": "text"})
try:
    json.dumps(result)
except (TypeError, ValueError) as exc:
    error("the result of apply is not JSON serializable: %s" % exc)
finish({"result": result, "content_type": "json"})
"""


@dataclass(frozen=True)
class RunOutcome:
    """What a call produced: a result and its content type, or an algorithm error; with timing."""

    result: Any = None
    content_type: str = ""
    error: dict[str, Any] | None = None
    duration: float = 0.0
    stdout: str = ""


def _world_runnable(path: str) -> bool:
    """True when any user (``nobody``) may run ``path``: every folder on the way searchable, the file
    readable and executable by others."""
    real = Path(os.path.realpath(path))
    try:
        if real.stat().st_mode & (stat.S_IROTH | stat.S_IXOTH) != (stat.S_IROTH | stat.S_IXOTH):
            return False
        return all(parent.stat().st_mode & stat.S_IXOTH for parent in real.parents)
    except OSError:
        return False


def run_python() -> tuple[str, bool]:
    """The interpreter for algorithm runs, and whether it can run as ``nobody``.

    The base interpreter may live where only root can read (``/root/.pyenv``); a system Python that
    every user may run is preferred then, so pushed code never runs as root.
    """
    for candidate in (BUILD_PYTHON, shutil.which("python3"), "/usr/bin/python3"):
        if candidate and _world_runnable(candidate):
            return os.path.realpath(candidate), True
    return BUILD_PYTHON, False


def run_algorithm(
    repo_dir: Path,
    commit_sha: str,
    name: str,
    language: str | None,
    raw: bytes,
    kind: str,
    *,
    timeout: float,
    hidden: list[Path],
    isolate: bool,
) -> RunOutcome:
    """Run ``apply`` of ``name`` at ``commit_sha`` on ``raw`` (decoded as ``kind``); never raises for
    what the algorithm does (an exception, a timeout, no result): those are `RunOutcome.error`."""
    started = time.monotonic()
    if language not in PYTHON_LANGUAGES:
        return RunOutcome(
            error=_error(f"the sandbox runs Python algorithms only; this one is {language or 'of no known language'}"),
            duration=0.0,
        )
    with tempfile.TemporaryDirectory(prefix="algobot-sandbox-call-") as tmp:
        work = Path(tmp) / "src"
        work.mkdir()
        checkout(repo_dir, commit_sha, work)
        (Path(tmp) / INPUT_FILE).write_bytes(raw)
        python, as_nobody = run_python()
        result = _run(
            [python, "-I", "-c", _RUNNER, name, kind],
            work,
            Path(tmp),
            timeout,
            hidden=hidden,
            isolate=isolate,
            pushed_code=as_nobody,
        )
        duration = round(time.monotonic() - started, 6)
        stdout = result.output[-MAX_STDOUT_CHARS:]
        if result.timed_out:
            message = f"algorithm timed out: it ran longer than its timeout of {timeout:g} seconds"
            return RunOutcome(error=_error(message), duration=duration, stdout=stdout)
        answer = _read_answer(Path(tmp) / OUTPUT_FILE)
        if answer is None:
            message = f"the algorithm ended without a result (exit code {result.code})"
            return RunOutcome(error=_error(message, result.output[-4000:]), duration=duration, stdout=stdout)
        if "error" in answer:
            return RunOutcome(error=answer["error"], duration=duration, stdout=stdout)
        return RunOutcome(answer.get("result"), str(answer.get("content_type")), None, duration, stdout)


def _read_answer(path: Path) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return {"error": _error(f"the result is larger than {MAX_RESULT_BYTES} bytes")}
        answer = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def _error(message: str, stacktrace: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "error_type": "AlgorithmError"}
    if stacktrace:
        body["stacktrace"] = stacktrace
    return body
