"""Poller at scale: 1,000 builds in progress across 50 watched algorithms, Algorithmia at 100 ms.

The sandbox holds every build in progress and releases each at a random moment; the poller and
the outbox sender tick once a second on the real clock, as under `algobot serve`. Printed:

- poll cycle time (p50/p95/max) while builds are tracked;
- API requests per tracked build per cycle (goal: at most 1);
- latency from a build's end (the sandbox's finished_at) to its notice reaching the local Slack
  (p50/p95/max; goal: p95 at most the poll interval + 2 s).

Each algorithm reports to its own channel, so Slack's one-message-per-second-per-channel pacing
is not what is measured.

    .venv/bin/python -m bench.poller_scale [--builds 1000] [--algorithms 50] [--spread 120]
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from slack_sdk import WebClient

from algobot.algorithmia import AlgorithmiaClient
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import load_cipher
from algobot.db import database, migrate
from algobot.localslack import LocalSlack, LocalSlackServer
from algobot.notify import store
from algobot.notify.poller import Poller
from algobot.notify.sender import OutboxSender
from algobot.sandbox import Sandbox, SandboxServer
from algobot.sandbox.git import authenticated_url
from algobot.settings import Settings

SETTINGS = {
    "language": "python3-1",
    "environment": "cpu",
    "source_visibility": "closed",
    "license": "apl",
    "network_access": "isolated",
    "pipeline_enabled": False,
}


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def push_initial_commit(clone_url: str, work: Path, name: str) -> None:
    env = {
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@algobot.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@algobot.invalid",
        "HOME": str(work),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    repo = work / name
    subprocess.run(["git", "clone", "-q", clone_url, str(repo)], check=True, env=env, capture_output=True)
    (repo / "src").mkdir(exist_ok=True)
    (repo / "src" / "main.py").write_text("def apply(x):\n    return x\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", "init"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/master"], cwd=repo, check=True, env=env)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--algorithms", type=int, default=50)
    parser.add_argument("--spread", type=float, default=120.0, help="builds end at random within this many seconds")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--poll-seconds", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(7)

    work = Path(tempfile.mkdtemp(prefix="algobot-poller-bench-"))
    box = Sandbox(work / "sandbox", hold_builds=True)
    sandbox = SandboxServer(box, threads=48).start()
    key = box.create_key("bench")
    api = AlgorithmiaClient(key, sandbox.url)

    slack = LocalSlack("bench-secret", "xoxb-bench-token", "T0001")
    settings = Settings(
        slack_bot_token="xoxb-bench-token",
        slack_signing_secret="bench-secret",
        db_path=str(work / "algobot.db"),
        secret_key="bench-key",
        algorithmia_api=sandbox.url,
        poll_seconds=args.poll_seconds,
    )
    migrate(settings.db_path)
    cipher = load_cipher(settings.secret_key, settings.db_path, logging.getLogger("bench"))
    names = [f"bench/algo{i:02d}" for i in range(args.algorithms)]
    print(f"setting up {args.algorithms} algorithms and {args.builds} held builds…", flush=True)
    with database(settings.db_path) as db:
        for i, name in enumerate(names):
            channel = f"C{i:04d}"
            slack.add_channel(channel, f"bench-{i}", bot_member=True)
            ref = ChannelRef("T0001", channel)
            ChannelStore(db, cipher).set_key(ref, key, sandbox.url, "U0BENCH", datetime.now(UTC))
            store.subscribe(db, ref, name, "all", "U0BENCH", datetime.now(UTC).isoformat())
    slack_server = LocalSlackServer(slack).start()
    for name in names:
        created = api.create(name, {"label": name}, SETTINGS)
        clone = authenticated_url(created.get("clone_url") or f"{sandbox.url}/git/{name}.git", "bench", key)
        push_initial_commit(clone, work, name.split("/")[1])
    per_algorithm = args.builds // args.algorithms
    for name in names:
        for _ in range(per_algorithm - 1):
            api.compile(name)
    build_ids = [b["build_id"] for name in names for b in api.builds(name, limit=50)["results"]]
    print(f"{len(build_ids)} builds in progress", flush=True)

    client = WebClient(token=settings.slack_bot_token, base_url=slack_server.api_url)
    poller = Poller(settings, cipher, workers=32)
    sender = OutboxSender(settings.db_path, client, audit_key=cipher.audit_key)
    box.latency_ms = args.latency_ms

    start = time.time()
    schedule = sorted((start + 5 + rng.uniform(0, args.spread), build_id) for build_id in build_ids)

    def release() -> None:
        for when, build_id in schedule:
            time.sleep(max(0.0, when - time.time()))
            box.release_builds(build_id)

    threading.Thread(target=release, daemon=True).start()

    cycles: list[float] = []
    per_build: list[float] = []
    per_algorithm: list[float] = []
    deadline = start + args.spread + 120
    while time.time() < deadline:
        tick_start = time.time()
        with database(settings.db_path) as db:
            tracking = db.execute(
                "select count(*) from tracked_builds where state in ('tracking', 'final')"
            ).fetchone()[0]
        report = poller.run(tick_start)
        cycle = time.time() - tick_start
        if report.requests:
            cycles.append(cycle)
            if tracking:
                per_build.append(report.build_requests / tracking)
            per_algorithm.append(report.list_requests / args.algorithms)
        sender.run(time.time())
        notified = len([c for c in slack.calls("chat.postMessage") if "thread_ts" not in c.args])
        if notified >= len(build_ids):
            break
        time.sleep(max(0.0, 1.0 - (time.time() - tick_start)))

    latencies = []
    posted = {}
    for call in slack.calls("chat.postMessage"):
        text = str(call.args.get("text", ""))
        if "thread_ts" not in call.args and " build " in text:
            posted[text.split(" build ")[1].split(" ")[0]] = call.time
    finished = {}
    for name in names:
        for build in AlgorithmiaClient(key, sandbox.url).iter_builds(name):
            if build.get("finished_at"):
                finished[build["build_id"]] = datetime.fromisoformat(build["finished_at"].replace("Z", "+00:00"))
    for build_id, sent_at in posted.items():
        if build_id in finished:
            latencies.append(sent_at - finished[build_id].timestamp())

    print(f"builds: {len(build_ids)} across {args.algorithms} algorithms; API latency {args.latency_ms} ms")
    print(f"poll cycles with work: {len(cycles)}")
    print(f"cycle time s: p50 {pct(cycles, 0.5):.2f}  p95 {pct(cycles, 0.95):.2f}  max {max(cycles):.2f}")
    print(
        f"build requests (GET build, logs) per tracked build per cycle: mean {statistics.mean(per_build):.3f}  "
        f"max {max(per_build):.3f}"
    )
    print(
        f"list requests per watched algorithm per cycle: mean {statistics.mean(per_algorithm):.3f}  "
        f"max {max(per_algorithm):.3f}"
    )
    print(f"notices delivered: {len(posted)} of {len(build_ids)}")
    if latencies:
        print(
            f"build end → notice s: p50 {pct(latencies, 0.5):.1f}  p95 {pct(latencies, 0.95):.1f}  "
            f"max {max(latencies):.1f} (poll interval {args.poll_seconds} s)"
        )
    poller.close()
    slack_server.close()
    sandbox.close()
    box.close()


if __name__ == "__main__":
    main()
