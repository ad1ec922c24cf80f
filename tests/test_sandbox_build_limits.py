"""Builds run pushed code: they end with everything they started, keep a bounded log, and (isolated)
write nowhere but their private folder and see neither the sandbox's data nor its processes."""

from __future__ import annotations

import os
import pwd
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from algobot.sandbox import Sandbox, seed_demo
from algobot.sandbox.builds import MAX_LOG_CHARS, MAX_OUTPUT_BYTES, isolation_available
from algobot.sandbox.git import commit_files

ISOLATION = [
    pytest.param(True, id="isolated", marks=pytest.mark.skipif(not isolation_available(), reason="needs root")),
    pytest.param(False, id="not-isolated"),
]


@pytest.fixture(params=ISOLATION)
def box(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sandbox]:
    sandbox = Sandbox(tmp_path / "data", build_timeout=1.0, isolate_builds=request.param)
    seed_demo(sandbox)
    try:
        yield sandbox
    finally:
        sandbox.close()


def build(box: Sandbox, script: str) -> dict:
    """Commit ``script`` as an executable build.sh of demo/hello, build it, return the finished row."""
    sha = commit_files(box.repo_path("demo", "hello"), {"build.sh": script}, "build", executable=("build.sh",))
    with box.db() as db:
        algo = next(db.query("select * from algorithms where name = 'hello'"))
    started = box.start_build(algo, sha, "compile")
    box.wait_for_builds(timeout=30)
    with box.db() as db:
        return next(db.query("select * from builds where build_id = ?", [started["build_id"]]))


def processes_with(text: str) -> list[int]:
    """Pids whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_timed_out_build_leaves_no_process_behind_not_even_setsid(box: Sandbox) -> None:
    naps = [f"1000.{uuid.uuid4().int % 10**6:06d}" for _ in range(3)]
    row = build(
        box,
        f"setsid sleep {naps[0]} > /dev/null 2>&1 &\nsleep {naps[1]} &\necho started\nsleep {naps[2]}\n",
    )
    assert row["status"] == "failed" and "timed out after 1 s" in row["logs"] and "started" in row["logs"]
    for nap in naps:
        assert processes_with(f"sleep\0{nap}") == [], f"sleep {nap} survived the build"


def test_a_finished_build_leaves_no_background_process(box: Sandbox) -> None:
    nap = f"1000.{uuid.uuid4().int % 10**6:06d}"
    row = build(box, f"setsid sleep {nap} > /dev/null 2>&1 &\necho done\n")
    assert row["status"] == "succeeded"
    assert processes_with(f"sleep\0{nap}") == []


def test_a_build_printing_without_end_keeps_only_the_tail(box: Sandbox) -> None:
    row = build(box, "head -c 20000000 /dev/zero | tr '\\0' 'x'\necho THE-LAST-LINE\n")
    logs = row["logs"]
    assert row["status"] == "succeeded"
    assert len(logs) <= MAX_LOG_CHARS and len(logs) < MAX_OUTPUT_BYTES + 2000
    assert "bytes of earlier output dropped" in logs
    assert logs.rstrip().endswith("[sandbox] build succeeded") and "THE-LAST-LINE" in logs
    assert logs.startswith("[sandbox] build ")  # the header is kept


def test_the_environment_is_minimal_and_the_folder_private(box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", "do-not-leak-this")
    row = build(box, 'env | sort\necho "cwd=$(pwd)"\necho "home=$HOME"\n')
    logs = row["logs"]
    assert "do-not-leak-this" not in logs and "ALGOBOT_SECRET_KEY" not in logs
    cwd = next(line for line in logs.splitlines() if line.startswith("cwd="))
    if "[sandbox] isolated" in logs:
        assert cwd == "cwd=/tmp/src" and "home=/tmp" in logs  # the private folder, mounted on /tmp
    else:
        assert "algobot-sandbox-build-" in cwd and cwd.endswith("/src")
        assert not Path(cwd.removeprefix("cwd=")).exists()  # removed after the build


@pytest.mark.skipif(not isolation_available(), reason="isolation needs root on Linux with util-linux")
def test_an_isolated_build_writes_only_its_folder_and_sees_no_sandbox_data(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "data", build_timeout=10.0, isolate_builds=True)
    seed_demo(box)
    escape = tmp_path / f"outside-{uuid.uuid4().hex}"
    data = box.data_dir.resolve()
    try:
        row = build(
            box,
            "echo inside > inside.txt && echo wrote-inside\n"
            'echo tmp > "$TMPDIR/t" && echo wrote-tmp\n'
            "echo out > ../../outside-relative || echo refused-relative\n"
            f"echo out > {escape} || echo refused-absolute\n"
            f"echo evil > {data}/evil || echo refused-data\n"
            f"cat {data}/sandbox.db > /dev/null || echo cannot-read-db\n"
            f"ls {data}/repos > /dev/null 2>&1 || echo cannot-list-repos\n"
            f"test -e /proc/{os.getpid()} && echo SEES-SANDBOX-PROCESS || echo proc-private\n"
            "mount -o remount,rw / 2>/dev/null && echo REMOUNTED || echo cannot-remount\n"
            'echo "uid=$(id -u)"\n'
            "cat /etc/shadow > /dev/null 2>&1 && echo READ-SHADOW || echo cannot-read-shadow\n",
        )
    finally:
        box.close()
    logs = row["logs"]
    for expected in (
        "wrote-inside",
        "wrote-tmp",
        "refused-relative",
        "refused-absolute",
        "refused-data",
        "cannot-read-db",
        "cannot-list-repos",
        "proc-private",
        "cannot-remount",
        "cannot-read-shadow",
        f"uid={pwd.getpwnam('nobody').pw_uid}",
        "[sandbox] isolated",
    ):
        assert expected in logs, f"{expected} missing from:\n{logs}"
    assert "SEES-SANDBOX-PROCESS" not in logs and "REMOUNTED" not in logs and "READ-SHADOW" not in logs
    assert not escape.exists() and not (data / "evil").exists()
    assert not list(Path("/tmp").glob("outside-relative"))


@pytest.mark.skipif(not isolation_available(), reason="isolation needs root on Linux with util-linux")
def test_a_data_directory_holding_the_build_folder_does_not_hide_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "data" / "scratch"
    scratch.mkdir(parents=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    box = Sandbox(tmp_path / "data", isolate_builds=True)
    seed_demo(box)
    try:
        row = build(
            box,
            'echo fine > here.txt && cat here.txt && echo tmp > "$TMPDIR/t" && cat "$HOME/t"\n'
            f"ls {tmp_path / 'data'}/sandbox.db 2>/dev/null && echo SEES-DATA || echo data-hidden\n",
        )
    finally:
        box.close()
    assert row["status"] == "succeeded" and "fine" in row["logs"]
    assert "data-hidden" in row["logs"] and "SEES-DATA" not in row["logs"]


def test_a_pushed_compileall_py_is_not_run_by_the_python_check(box: Sandbox) -> None:
    """``python -m compileall`` in the checkout would import a pushed compileall.py instead."""
    files = {
        "compileall.py": "import sys\nprint('PUSHED-CODE-RAN')\nsys.exit(0)\n",
        "src/hello.py": "def apply(input)\n    return input\n",
    }
    sha = commit_files(box.repo_path("demo", "hello"), files, "shadow the standard library")
    with box.db() as db:
        algo = next(db.query("select * from algorithms where name = 'hello'"))
    started = box.start_build(algo, sha, "compile")
    box.wait_for_builds(timeout=30)
    with box.db() as db:
        row = next(db.query("select * from builds where build_id = ?", [started["build_id"]]))
    assert "PUSHED-CODE-RAN" not in row["logs"]
    assert row["status"] == "failed" and "SyntaxError" in row["logs"]
