"""Three `algobot serve` replicas on one PostgreSQL: any replica takes any command, every build of a
watched algorithm is notified exactly once, and `kill -9` of one replica mid-way loses nothing.

Real processes, real HTTP: the replicas are separate `algobot serve` processes started together (their
migrations race, under the advisory lock), the sandbox and the local Slack run in this process. The
only wait is for conditions (the local Slack's `wait_for`), bounded: a replica killed inside a poll
cycle leaves claims that lapse with their lease (120 s), after which another replica takes them over.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import load_cipher
from algobot.store import connect
from tests.fixtures.bot import message_text, serve_env
from tests.fixtures.sandbox import HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, TEAM_ID

ALGORITHMS = [f"demo/replica{n}" for n in range(6)]
SECRET = "smoke-test-secret"


class Replica:
    """One `algobot serve` process; its stderr is drained on a thread (a full pipe would stall it)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "algobot", "serve"], env=env, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self.listening = threading.Event()
        self.url = ""
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1) + "/slack/events"
                self.listening.set()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wait_in_database(url: str, sql: str, expected: int, *, timeout: float) -> None:
    """Poll the shared database until ``sql`` (one row, column n) gives ``expected``."""
    deadline = time.monotonic() + timeout
    while True:
        with connect(url) as store:
            found = store.one(sql)["n"]
        if found == expected:
            return
        assert time.monotonic() < deadline, f"{sql} gave {found}, not {expected}, after {timeout}s"
        threading.Event().wait(0.2)


def notices_by_algorithm(slack) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for message in slack.messages(DEV_CHANNEL):
        text = message_text(message)
        if message.is_ephemeral or message.thread_ts not in (None, message.ts) or "Build `" not in text:
            continue
        for name in ALGORITHMS:
            if name in text:
                counts[name] += 1
    return counts


@pytest.mark.slow
def test_three_replicas_notify_every_build_exactly_once_with_one_killed(slack, sandbox, pg_url, tmp_path):
    env = serve_env(slack, sandbox.url, tmp_path, ALGOBOT_DATABASE_URL=pg_url, ALGOBOT_POLL_SECONDS="1")
    env["ALGOBOT_SECRET_KEY"] = SECRET
    replicas = [Replica(env) for _ in range(3)]  # started together: concurrent migrations
    try:
        for replica in replicas:
            assert replica.listening.wait(60), "a replica did not start:\n" + "".join(replica.lines)
        cipher = load_cipher(SECRET, pg_url, logging.getLogger("test"))
        with connect(pg_url) as store:
            ChannelStore(store, cipher).set_key(
                ChannelRef(TEAM_ID, DEV_CHANNEL), sandbox.key("demo"), sandbox.url, ADMIN, datetime.now(UTC)
            )
        clones = {name: sandbox.create_algorithm(name) for name in ALGORITHMS}
        for n, name in enumerate(ALGORITHMS):  # commands spread across the replicas
            response = slack.send_command(replicas[n % 3].url, user=ADMIN, channel=DEV_CHANNEL, text=f"watch {name}")
            assert response.status_code == 200
        slack.wait_for(
            lambda: (
                sum("subscribed this channel" in message_text(m) for m in slack.messages(DEV_CHANNEL))
                == len(ALGORITHMS)
            ),
            timeout=30,
        )
        sandbox.sandbox.hold_builds = True
        for name, clone in clones.items():
            work = tmp_path / name.replace("/", "-")
            work.mkdir()
            push_files(clone, {"src/hello.py": HELLO_PY}, work)
        wait_in_database(pg_url, "SELECT count(*) AS n FROM tracked_builds", len(ALGORITHMS), timeout=60)
        os.kill(replicas[0].proc.pid, signal.SIGKILL)  # mid-way: builds in progress, claims possibly held
        replicas[0].proc.wait(timeout=10)
        sandbox.sandbox.release_builds()
        # Done when every notice's key is remembered as sent, the outbox is empty and no build is left to
        # follow: from then on no replica can post a notice again, so the count below is final.
        settled = (
            "SELECT (SELECT count(*) FROM notices_sent WHERE dedupe_key LIKE 'build:%') "
            "+ (SELECT count(*) FROM outbox) * 1000 "
            "+ (SELECT count(*) FROM tracked_builds WHERE state IN ('tracking', 'final')) * 1000 AS n"
        )
        wait_in_database(pg_url, settled, len(ALGORITHMS), timeout=200)
        counts = notices_by_algorithm(slack)
        assert counts == {name: 1 for name in ALGORITHMS}, counts
    finally:
        for replica in replicas:
            replica.stop()
    for replica in replicas[1:]:
        log = "".join(replica.lines)
        assert "Traceback" not in log and SECRET not in log and "database is locked" not in log
