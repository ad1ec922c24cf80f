"""Ack latency of `/algo` under a burst: N concurrent signed slash commands, Algorithmia at 2 s latency.

`algobot serve` runs as its own process, exactly as deployed (default ALGOBOT_COMMAND_WORKERS and
ALGOBOT_COMMAND_QUEUE unless set in the environment); the sandbox (with --latency-ms) runs in a
second process with enough threads not to be the bottleneck; the local Slack and the N senders run
here. Each command is signed as Slack signs it. Figures per run: the time until the bot's HTTP answer
(the ack, which Slack wants within 3 s), how many acks said "busy" (shed), and whether every other
command's answer reached the local Slack.

    .venv/bin/python -m bench.ack_latency [--commands 50] [--latency-ms 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from algobot import messages
from algobot.algorithmia import AlgorithmiaClient
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import load_cipher
from algobot.db import database, migrate
from algobot.localslack import LocalSlack, LocalSlackServer
from algobot.localslack.client import signature
from algobot.sandbox import Sandbox, SandboxServer
from bench import ALGO_SETTINGS

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
SECRET_KEY = "bench-secret"
REPLY_MARK = "Latest version"  # in every answer of `/algo info demo/hello`
BUSY = messages.BUSY.format(name="info")
TIMED_OUT_MARK = "within 90 s"  # both deadline sentences (see algobot.intake.DEADLINE_SECONDS)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Run:
    acks_ms: list[float]
    shed: int
    answered: int
    timed_out: int
    failed: int
    replies_seconds: float

    @property
    def figures(self) -> dict[str, float]:
        ms = self.acks_ms
        return {
            "p50": percentile(ms, 0.50),
            "p95": percentile(ms, 0.95),
            "p99": percentile(ms, 0.99),
            "max": max(ms),
            "shed": self.shed,
            "answered": self.answered,
            "replies_s": self.replies_seconds,
        }


def _sandbox_child(data: str, latency_ms: int) -> None:
    """`--serve-sandbox`: a sandbox with many threads in its own process; prints its URL and a demo key."""
    box = Sandbox(data)
    server = SandboxServer(box, host="127.0.0.1", port=0, threads=128).start()
    key = box.create_key("demo")
    AlgorithmiaClient(key, server.url).create("demo/hello", {"label": "hello"}, ALGO_SETTINGS)
    box.latency_ms = latency_ms
    print(json.dumps({"url": server.url, "key": key}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.close()
    box.close()


def _start(argv: list[str], env: dict[str, str], ready: str, log_path: Path) -> tuple[subprocess.Popen, re.Match]:
    """Start a child process and wait for the line matching ``ready`` on its stdout or stderr."""
    log_file = log_path.open("w")
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.decode(errors="replace")
        log_file.write(line)
        match = re.search(ready, line)
        if match:
            # Keep draining its output so the child never blocks on a full pipe.
            threading.Thread(target=_drain, args=(proc, log_file), daemon=True).start()
            return proc, match
    raise SystemExit(f"{argv[2:]} exited before it was ready; see {log_path}")


def _drain(proc: subprocess.Popen, log_file) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        log_file.write(raw.decode(errors="replace"))
    log_file.close()


def signed_command(slack: LocalSlack, text: str) -> tuple[str, dict[str, str]]:
    """A slash command's body and headers exactly as Slack sends them, with a response_url the local Slack issued."""
    fields = {
        "team_id": "T0001",
        "channel_id": "C0BENCH",
        "user_id": "U0BENCH",
        "command": "/algo",
        "text": text,
        "response_url": slack.issue_response_url("C0BENCH", "U0BENCH"),
        "trigger_id": slack.issue_trigger_id("U0BENCH", "C0BENCH"),
    }
    body = urlencode(fields)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, timestamp, body),
    }
    return body, headers


def burst(host: str, port: int, requests_: list[tuple[str, dict[str, str]]]) -> list[tuple[float, str]]:
    """Send every request at once over its own connection; (seconds to the full answer, body) each."""
    sockets = [socket.create_connection((host, port), timeout=30) for _ in requests_]
    selector = selectors.DefaultSelector()
    started: dict[int, float] = {}
    buffers: dict[int, bytes] = {}
    results: dict[int, tuple[float, str]] = {}
    for index, (sock, (body, headers)) in enumerate(zip(sockets, requests_, strict=True)):
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        data = body.encode()
        raw = f"POST /slack/events HTTP/1.1\r\nHost: {host}\r\n{head}Content-Length: {len(data)}\r\n"
        started[index] = time.perf_counter()
        sock.sendall(raw.encode() + b"Connection: close\r\n\r\n" + data)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, index)
        buffers[index] = b""
    deadline = time.perf_counter() + 60
    while len(results) < len(requests_) and time.perf_counter() < deadline:
        for key, _ in selector.select(timeout=1):
            index, sock = key.data, key.fileobj
            chunk = sock.recv(65536)
            buffers[index] += chunk
            head, _, body = buffers[index].partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: (\d+)", head)
            if not chunk or (length and len(body) >= int(length.group(1))):
                status = int(head.split(b" ", 2)[1]) if head else 0
                assert status == 200, buffers[index][:300]
                results[index] = (time.perf_counter() - started[index], body.decode())
                selector.unregister(sock)
                sock.close()
    assert len(results) == len(requests_), f"only {len(results)} of {len(requests_)} answered within 60 s"
    return [results[i] for i in range(len(requests_))]


def one_run(commands: int, latency_ms: int, work: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALGORITHMIA_"))}
    env = {k: v for k, v in env.items() if k not in ("ALGOBOT_DB", "ALGOBOT_SECRET_KEY")}
    sandbox, found = _start(
        [sys.executable, "-m", "bench.ack_latency", "--serve-sandbox", str(work / "sandbox"), str(latency_ms)],
        env,
        r"^\{.*\}$",
        work / "sandbox.log",
    )
    info = json.loads(found.group(0))
    slack = LocalSlack(SIGNING_SECRET, BOT_TOKEN, "T0001")
    slack.add_channel("C0BENCH", "bench", bot_member=True)
    slack.add_user("U0BENCH", "bench", is_admin=True)
    slack_server = LocalSlackServer(slack).start()
    db_path = str(work / "algobot.db")
    migrate(db_path)
    cipher = load_cipher(SECRET_KEY, db_path, logging.getLogger("bench"))
    with database(db_path) as db:
        ChannelStore(db, cipher).set_key(
            ChannelRef("T0001", "C0BENCH"), info["key"], info["url"], "U0BENCH", datetime.now(UTC)
        )
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_server.api_url,
        ALGOBOT_DB=db_path,
        ALGOBOT_SECRET_KEY=SECRET_KEY,
        ALGORITHMIA_API=info["url"],
        HOST="127.0.0.1",
        PORT="0",
    )
    bot, found = _start(
        [sys.executable, "-m", "algobot", "serve", "--no-poller"],
        env,
        r"listening on (http://\S+)",
        work / "serve.log",
    )
    url = found.group(1) + "/slack/events"
    try:
        slack.send_command(url, user="U0BENCH", channel="C0BENCH", text="help")  # warm up (auth.test, imports)
        slack.wait_for(lambda: slack.calls("response_url"), timeout=30)

        # Build and sign every request first, then send them all from one thread and wait for the
        # answers with select(): the figure is the bot's answer time, not this process's scheduling.
        host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
        begun = time.perf_counter()
        results = burst(host, int(port), [signed_command(slack, "info demo/hello") for _ in range(commands)])
        shed = sum(1 for _, text in results if BUSY in text)

        def count(*marks: str) -> int:
            return len([c for c in slack.calls("response_url") if any(m in str(c.args) for m in marks)])

        def told() -> int:  # an answer, or the sentence that its deadline passed
            return count(REPLY_MARK, TIMED_OUT_MARK)

        slack.wait_for(lambda: told() >= commands - shed, timeout=300)
        replies_seconds = time.perf_counter() - begun
        failed = len([m for m in slack.messages("C0BENCH", include_ephemeral_for="U0BENCH") if "failed with" in m.text])
        acks_ms = [r[0] * 1000 for r in results]
        return Run(acks_ms, shed, count(REPLY_MARK), count(TIMED_OUT_MARK), failed, replies_seconds)
    finally:
        for proc in (bot, sandbox):
            proc.terminate()
            proc.wait(timeout=15)
        slack_server.close()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-sandbox":
        _sandbox_child(sys.argv[2], int(sys.argv[3]))
        return
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # the local Slack queues on purpose
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1, help="fresh processes each run; medians and spread at the end")
    args = parser.parse_args()

    print(f"{args.commands} concurrent /algo info, Algorithmia latency {args.latency_ms} ms, {args.runs} run(s)")
    runs = []
    for number in range(1, args.runs + 1):
        work = Path(tempfile.mkdtemp(prefix="algobot-bench-"))
        run = one_run(args.commands, args.latency_ms, work)
        runs.append(run)
        f = run.figures
        print(
            f"run {number}: ack ms p50 {f['p50']:.0f}  p95 {f['p95']:.0f}  p99 {f['p99']:.0f}  max {f['max']:.0f};"
            f"  over 3 s {sum(1 for a in run.acks_ms if a >= 3000)};  shed (told busy) {run.shed};"
            f"  answered {run.answered} of {args.commands - run.shed} admitted in {run.replies_seconds:.1f} s"
            f" ({run.timed_out} told their deadline passed);"
            f"  Slack-side failures {run.failed}  (logs in {work})",
            flush=True,
        )
    if len(runs) > 1:
        print("median (min–max) over runs:")
        names = (("p50", "ms"), ("p95", "ms"), ("p99", "ms"), ("max", "ms"), ("shed", ""), ("replies_s", "s"))
        for name, unit in names:
            values = [r.figures[name] for r in runs]
            d = 1 if unit == "s" else 0
            print(f"  {name:9} {statistics.median(values):.{d}f}{unit} ({min(values):.{d}f}–{max(values):.{d}f})")


if __name__ == "__main__":
    main()
