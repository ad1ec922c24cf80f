"""`algobot dev`, the README's first line: sandbox, bot and the local Slack page in one process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable

import pytest
import requests

from algobot import dev
from tests.fixtures.bot import clean_environ


def ui_messages(base: str, user: str = dev.ADMIN_ID) -> list[dict]:
    answer = requests.get(f"{base}/_ui/channels/{dev.CHANNEL_ID}/messages", params={"user": user}, timeout=10)
    answer.raise_for_status()
    return answer.json()["messages"]


def wait_for_ui(base: str, predicate: Callable[[list[dict]], bool], timeout: float = 30.0) -> list[dict]:
    """Wait on the page's own long poll (the server blocks until something changes)."""
    import time

    deadline = time.monotonic() + timeout
    version = requests.get(f"{base}/_ui/workspace", timeout=10).json()["version"]
    while True:
        messages = ui_messages(base)
        if predicate(messages):
            return messages
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"not reached; messages: {[m.get('text') for m in messages]}")
        answer = requests.get(
            f"{base}/_ui/changes", params={"since": version, "timeout": min(remaining, 20)}, timeout=30
        )
        version = answer.json()["version"]


def text_of(messages: list[dict]) -> str:
    return "\n".join(str(m) for m in messages)


@pytest.mark.slow
def test_algobot_dev_serves_the_page_and_answers_commands(tmp_path):
    env = clean_environ()
    proc = subprocess.Popen(
        [sys.executable, "-m", "algobot", "dev", "--port", "0", "--data", str(tmp_path / "dev"), "--build-delay", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:\d+)/", first)
        assert match, first + proc.stderr.read() if proc.poll() is not None else first
        base = match.group(1)
        rest = [proc.stdout.readline() for _ in range(3)]
        assert any("/git/demo/hello.git" in line for line in rest)
        [repo_line] = [line for line in rest if "demo/hello's repository:" in line]
        clone_url = repo_line.split("repository:", 1)[1].strip()
        assert re.fullmatch(r"http://demo:sim\w+@127\.0\.0\.1:\d+/git/demo/hello\.git", clone_url)
        cloned = subprocess.run(
            ["git", "clone", "--quiet", clone_url, str(tmp_path / "hello")],
            env={**env, "GIT_TERMINAL_PROMPT": "0", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cloned.returncode == 0, cloned.stderr
        assert (tmp_path / "hello" / "src" / "hello.py").is_file()
        page = requests.get(base + "/", timeout=10)
        assert page.status_code == 200 and "app.js" in page.text
        sent = requests.post(
            base + "/_ui/command",
            json={"user": dev.ADMIN_ID, "channel": dev.CHANNEL_ID, "text": "info demo/hello"},
            timeout=30,
        )
        assert sent.status_code == 200, sent.text
        messages = wait_for_ui(base, lambda ms: "Latest version" in text_of(ms))
        assert "demo/hello" in text_of(messages)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_playground_configures_the_channel_through_the_encrypted_store(tmp_path):
    playground = dev.start(tmp_path / "dev", port=0, build_delay=0)
    try:
        db_bytes = b"".join(p.read_bytes() for p in (tmp_path / "dev").glob("algobot.db*"))
        assert playground.demo_key.encode() not in db_bytes
        assert playground.slack.bot_url.endswith("/slack/events")
        health = requests.get(playground.bot_server.url + "/healthz", timeout=10).json()
        assert health["database"] == "ok" and health["poller"] in ("ok", "starting")
    finally:
        playground.close()


def test_the_playgrounds_git_url_survives_a_restart(tmp_path):
    """A clone made during one `algobot dev` run can still push in the next: same sandbox port."""
    first = dev.start(tmp_path / "dev", port=0, build_delay=0)
    port = first.sandbox_server.port
    first.close()
    second = dev.start(tmp_path / "dev", port=0, build_delay=0)
    try:
        assert second.sandbox_server.port == port
    finally:
        second.close()
