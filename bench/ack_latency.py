"""Ack latency of `/algo` under load: 50 concurrent signed slash commands, Algorithmia at 2 s latency.

Everything runs on 127.0.0.1: the sandbox (with --latency-ms 2000), the local Slack and the bot
served by waitress exactly as `algobot serve` serves it. Each command is signed as Slack signs it;
the figure is the time until the bot's HTTP answer (the ack), which Slack wants within 3 s.
It also waits until every command's real reply has reached the local Slack, and reports that.

    .venv/bin/python -m bench.ack_latency [--commands 50] [--latency-ms 2000]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from algobot.algorithmia import AlgorithmiaClient
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import load_cipher
from algobot.db import database
from algobot.localslack import LocalSlack, LocalSlackServer
from algobot.sandbox import Sandbox, SandboxServer
from algobot.server import BotServer, build_wsgi
from algobot.settings import Settings


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # the sandbox queues on purpose
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=2000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="algobot-bench-"))
    box = Sandbox(work / "sandbox")
    sandbox = SandboxServer(box, host="127.0.0.1", port=0, threads=64).start()  # not the bottleneck
    key = box.create_key("demo")
    slack = LocalSlack("bench-signing-secret", "xoxb-bench-token", "T0001")
    slack.add_channel("C0BENCH", "bench", bot_member=True)
    slack.add_user("U0BENCH", "bench", is_admin=True)
    slack_server = LocalSlackServer(slack).start()
    settings = Settings(
        slack_bot_token="xoxb-bench-token",
        slack_signing_secret="bench-signing-secret",
        slack_api_url=slack_server.api_url,
        db_path=str(work / "algobot.db"),
        secret_key="bench-secret",
        algorithmia_api=sandbox.url,
    )
    bot = BotServer.create(build_wsgi(settings), "127.0.0.1", 0).start()
    cipher = load_cipher(settings.secret_key, settings.db_path, logging.getLogger("bench"))
    with database(settings.db_path) as db:
        ChannelStore(db, cipher).set_key(ChannelRef("T0001", "C0BENCH"), key, sandbox.url, "U0BENCH", datetime.now(UTC))
    box.latency_ms = 0
    client = AlgorithmiaClient(key, sandbox.url)
    client.create(
        "demo/hello",
        {"label": "hello"},
        {
            "language": "python3-1",
            "environment": "cpu",
            "source_visibility": "closed",
            "license": "apl",
            "network_access": "isolated",
            "pipeline_enabled": False,
        },
    )
    box.latency_ms = args.latency_ms
    url = bot.url + "/slack/events"

    def one(_: int) -> float:
        started = time.perf_counter()
        response = slack.send_command(url, user="U0BENCH", channel="C0BENCH", text="info demo/hello")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed

    begun = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.commands) as pool:
        acks = list(pool.map(one, range(args.commands)))
    slack.wait_for(
        lambda: len([c for c in slack.calls("response_url") if "Latest version" in str(c.args)]) >= args.commands,
        timeout=60,
    )
    replied = time.perf_counter() - begun
    ms = [a * 1000 for a in acks]
    print(f"commands: {args.commands} concurrent, Algorithmia latency {args.latency_ms} ms")
    print(
        f"ack ms: p50 {percentile(ms, 0.50):.0f}  p95 {percentile(ms, 0.95):.0f}  "
        f"p99 {percentile(ms, 0.99):.0f}  max {max(ms):.0f}  mean {statistics.mean(ms):.0f}"
    )
    print(f"all {args.commands} replies delivered in {replied:.1f} s")
    print(f"over 3 s (Slack would show a timeout): {sum(1 for a in acks if a >= 3)}")
    bot.close()
    slack_server.close()
    sandbox.close()
    box.close()


if __name__ == "__main__":
    main()
