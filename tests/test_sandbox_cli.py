"""``algobot sandbox``: the key action in-process, and serving in a real subprocess (marked slow)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from algobot.cli import build_parser
from algobot.cli import main as algobot_main
from algobot.sandbox import Sandbox, SandboxServer
from algobot.sandbox.cli import main


def _status(data: Path, key: str) -> int:
    """What a management call with ``key`` gets from a sandbox over ``data``."""
    box = Sandbox(data)
    with SandboxServer(box) as server:
        status = requests.get(
            f"{server.url}/v1/algorithms/alice/x", headers={"Authorization": key}, timeout=10
        ).status_code
    box.close()
    return status


def test_key_prints_only_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["key", "alice", "--data", str(data)]) == 0
    out, err = capsys.readouterr()
    key = out.strip()
    assert out == f"{key}\n" and key.startswith("sim") and err == ""
    assert _status(data, key) == 404  # authenticated; no such algorithm
    with Sandbox(data).db() as db:
        stored = [row["key_hash"] for row in db.query("select key_hash from api_keys")]
    assert key not in stored and len(stored[0]) == 64


def test_no_manage_key_and_data_before_the_action(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["--data", str(data), "key", "alice", "--no-manage"]) == 0
    key = capsys.readouterr().out.strip()
    assert _status(data, key) == 403


@pytest.mark.parametrize("user", ["../evil", "two words", ""])
def test_key_for_an_invalid_user_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str], user: str) -> None:
    assert main(["key", user, "--data", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "not a valid user name" in err


def test_algobot_cli_wires_the_sandbox_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["sandbox", "--port", "0", "--latency-ms", "5", "--fail-rate", "0.5"])
    assert (args.port, args.latency_ms, args.fail_rate, args.data, args.demo) == (
        0,
        5,
        0.5,
        "./sandbox-data",
        False,
    )
    assert algobot_main(["sandbox", "key", "bob", "--data", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("sim")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sandbox", "--fail-rate", "2"])
    limits = build_parser().parse_args(["sandbox", "--build-timeout", "5", "--max-push-mb", "2"])
    assert (limits.build_timeout, limits.max_push_mb) == (5.0, 2.0)
    assert (args.build_timeout, args.max_push_mb) == (300.0, 50.0)
    for bad in (["--build-timeout", "0"], ["--max-push-mb", "-1"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["sandbox", *bad])


def test_help_says_the_sandbox_runs_pushed_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sandbox", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "RUNS PUSHED CODE" in text and "local development only" in text and "--build-timeout" in text


@pytest.mark.slow
def test_serve_demo_until_sigterm(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALGORITHMIA_", "SLACK_", "ALGOBOT_"))}
    command = [
        sys.executable,
        "-m",
        "algobot.sandbox",
        "--port",
        "0",
        "--demo",
        "--data",
        str(tmp_path / "d"),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) as proc:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True)
        reader.start()
        try:
            serving = lines.get(timeout=20)
            assert serving.startswith("algobot sandbox serving http://127.0.0.1:"), serving
            url = serving.split()[3]
            key = lines.get(timeout=20).rsplit(" ", 1)[1].strip()
            hint = lines.get(timeout=20)
            assert "hint:" in hint and key not in hint
            assert requests.get(f"{url}/healthz", timeout=10).json()["status"] == "ok"
            info = requests.get(f"{url}/v1/algorithms/demo/hello", headers={"Authorization": key}, timeout=10)
            assert info.json()["clone_url"] == f"{url}/git/demo/hello.git"
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0
            reader.join(timeout=5)
            assert lines.get(timeout=5).strip() == "algobot sandbox stopped"
        finally:
            if proc.poll() is None:
                proc.kill()
