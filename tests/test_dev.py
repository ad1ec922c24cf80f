"""`algobot dev`, the README's first line: sandbox, bot and the local Slack page in one process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
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


@pytest.mark.slow
def test_algobot_dev_on_a_busy_port_says_which_and_how_to_choose_another(tmp_path):
    holder = subprocess.Popen(  # another program holding the port, as a second `algobot dev` would
        [
            sys.executable,
            "-c",
            "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); "
            "print(s.getsockname()[1], flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(holder.stdout.readline())
        done = subprocess.run(
            [sys.executable, "-m", "algobot", "dev", "--port", str(port), "--data", str(tmp_path / "dev")],
            env=clean_environ(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"algobot dev: Port {port} is in use (another algobot dev?); choose another with --port {port + 1}, "
        "or --port 0 for any free port."
    ]
    assert done.stdout == ""
    assert not (tmp_path / "dev" / "sandbox").exists()  # nothing else was started


def post_as_bot(playground: dev.Playground, **fields) -> str:
    answer = requests.post(
        playground.slack.api_url + "chat.postMessage",
        json={"channel": dev.CHANNEL_ID, **fields},
        headers={"Authorization": f"Bearer {dev.BOT_TOKEN}"},
        timeout=10,
    ).json()
    assert answer["ok"], answer
    return answer["ts"]


def test_the_page_keeps_its_history_across_a_restart(tmp_path):
    first = dev.start(tmp_path / "dev", port=0, build_delay=0)
    try:
        base = first.slack.url
        said = requests.post(
            base + "/_ui/message",
            json={"user": dev.MEMBER_ID, "channel": dev.CHANNEL_ID, "text": "hi <all>"},
            timeout=10,
        )
        assert said.status_code == 200, said.text
        notice = post_as_bot(
            first, text="build started", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*started*"}}]
        )
        post_as_bot(first, text="the log", thread_ts=notice)
        sent = requests.post(
            base + "/_ui/command", json={"user": dev.ADMIN_ID, "channel": dev.CHANNEL_ID, "text": "help"}, timeout=30
        )
        assert sent.status_code == 200, sent.text
        before = wait_for_ui(base, lambda ms: any(m["ephemeral"] for m in ms))
    finally:
        first.close()

    second = dev.start(tmp_path / "dev", port=0, build_delay=0)
    try:
        after = ui_messages(second.slack.url)
        kept = [m for m in before if not m["ephemeral"]]  # Slack drops ephemeral messages on reload too
        assert [(m["ts"], m["text"], m["blocks"], len(m["replies"])) for m in after] == [
            (m["ts"], m["text"], m["blocks"], len(m["replies"])) for m in kept
        ]
        assert [m["text"] for m in after] == ["hi &lt;all&gt;", "build started"]
        # The bot can still update the notice it posted before the restart, and new messages come after.
        updated = requests.post(
            second.slack.api_url + "chat.update",
            json={"channel": dev.CHANNEL_ID, "ts": notice, "text": "build succeeded"},
            headers={"Authorization": f"Bearer {dev.BOT_TOKEN}"},
            timeout=10,
        ).json()
        assert updated["ok"], updated
        newer = post_as_bot(second, text="after the restart")
        assert float(newer) > float(notice)
        assert [m["text"] for m in ui_messages(second.slack.url)] == [
            "hi &lt;all&gt;",
            "build succeeded",
            "after the restart",
        ]
    finally:
        second.close()
    assert (tmp_path / "dev" / dev.HISTORY_FILE).stat().st_mode & 0o077 == 0  # private, like the database


def test_a_damaged_history_is_set_aside_and_the_page_starts_empty(tmp_path, caplog):
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / dev.HISTORY_FILE).write_text("{not json")
    playground = dev.start(tmp_path / "dev", port=0, build_delay=0)
    try:
        assert ui_messages(playground.slack.url) == []
        assert (tmp_path / "dev" / (dev.HISTORY_FILE + ".damaged")).read_text() == "{not json"
        assert "could not be read" in caplog.text and "starting empty" in caplog.text
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
