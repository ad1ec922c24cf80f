"""Poller at scale, as it runs in production: `algobot serve` process(es), the sandbox in its own process.

A benchmark, not a test. The sandbox (the Algorithmia double) runs in a child process, holds every
build in progress and releases each at a random moment within ``--spread`` seconds; each of
``--replicas`` `algobot serve` processes polls it and sends notices to the local Slack, which runs
in this process and records when each message arrives. Each algorithm is watched from its own channel,
so Slack's one-message-per-second-per-channel pacing is not what is measured. Printed:

- build end (the sandbox's finished_at) → build notice in Slack: p50/p95/max;
- builds never notified, builds notified twice;
- list requests per watched algorithm per poll interval, API requests per build;
- each replica's peak RSS (VmHWM) and CPU seconds.

    .venv/bin/python -m bench.poller_scale --builds 10000 --algorithms 500 --spread 300 --poll-seconds 3 \\
        [--database-url URL | --postgres] [--replicas N] [--kill-one]

``--kill-one`` sends SIGKILL to the first replica halfway through the spread (needs ``--replicas`` ≥ 2):
the others take its claims over when their leases end. ``--database-url`` is handed to every replica
as ALGOBOT_DATABASE_URL (the PostgreSQL store); ``--postgres`` starts a throw-away cluster (initdb +
pg_ctl, as the tests' fixture does) and uses that; without either they share one SQLite file.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from algobot.algorithmia import AlgorithmiaClient
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import load_cipher
from algobot.localslack import LocalSlack, LocalSlackServer
from algobot.notify import store
from algobot.sandbox import Sandbox, SandboxServer
from algobot.sandbox import store as sandbox_store
from algobot.sandbox.git import commit_files, init_repo
from algobot.store import connect, migrate
from bench import ALGO_SETTINGS
from tests.fixtures.postgres import Cluster, postgres_missing

SECRET = "bench-secret-key"
SLACK_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
OWNER = "bench"


def pct(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


# -- the sandbox, in its own process ------------------------------------------------------------


def sandbox_child(args: argparse.Namespace) -> None:
    """Serve the sandbox; seed the algorithms; on "go" release the held builds over the spread.

    Speaks JSON lines on stdin/stdout with the benchmark: {"url", "key"} first, then "go", "counts",
    "quit".
    """
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("dulwich").setLevel(logging.WARNING)
    box = Sandbox(args.sandbox_child, hold_builds=True)
    server = SandboxServer(box, threads=48).start()
    key = box.create_key(OWNER, manage=True)
    with box.write_lock, box.db() as db:
        for i in range(args.algorithms):
            name = f"algo{i:03d}"
            repo = box.repo_path(OWNER, name)
            init_repo(repo)
            commit_files(repo, {"src/main.py": "def apply(x):\n    return x\n"}, "init")
            now = sandbox_store.now_iso()
            db["algorithms"].insert(
                {
                    "id": f"bench-{i}",
                    "owner": OWNER,
                    "name": name,
                    "details": sandbox_store.dumps({"label": name}),
                    "settings": sandbox_store.dumps(ALGO_SETTINGS),
                    "sample_input": '"x"',
                    "created_at": now,
                    "updated_at": now,
                }
            )
    print(json.dumps({"url": server.url, "key": key}), flush=True)
    rng = random.Random(7)
    for line in sys.stdin:
        command = line.strip()
        if command == "go":
            box.latency_ms = args.latency_ms
            start = time.time()
            schedule = sorted((start + rng.uniform(0, args.spread), b) for b in box.running_builds())

            def release(schedule: list[tuple[float, str]] = schedule) -> None:
                for when, build_id in schedule:
                    time.sleep(max(0.0, when - time.time()))
                    box.release_builds(build_id)

            threading.Thread(target=release, daemon=True).start()
            print(json.dumps({"released": len(schedule)}), flush=True)
        elif command == "counts":
            counts = {f"{m} {p}": n for (m, p), n in box.request_counts.items()}
            print(json.dumps(counts), flush=True)
        elif command == "quit":
            break
    server.close()
    box.close()


# -- a replica's resources ------------------------------------------------------------------------


def usage(pid: int) -> tuple[float, float]:
    """(peak RSS in MB, CPU seconds) of a live process, from /proc."""
    peak = 0.0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return peak, (int(fields[11]) + int(fields[12])) / ticks


# -- the benchmark --------------------------------------------------------------------------------


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--algorithms", type=int, default=50)
    parser.add_argument("--spread", type=float, default=120.0, help="builds end at random within this many seconds")
    parser.add_argument("--latency-ms", type=int, default=100, help="every sandbox API answer waits this long")
    parser.add_argument("--poll-seconds", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="ALGOBOT_DATABASE_URL for every replica")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away PostgreSQL cluster and use it")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL one replica halfway through")
    parser.add_argument("--sandbox-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sandbox_child:
        sandbox_child(args)
        return
    if args.kill_one and args.replicas < 2:
        parser.error("--kill-one needs --replicas 2 or more (someone must take the claims over)")
    if args.postgres and args.database_url:
        parser.error("give --postgres (a throw-away cluster) or --database-url URL, not both")
    if args.postgres and postgres_missing():
        parser.error(f"--postgres: {postgres_missing()}")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # 16 set-up threads, pool of 10

    work = Path(tempfile.mkdtemp(prefix="algobot-poller-bench-"))
    cluster = None
    if args.postgres:
        cluster = Cluster(Path(tempfile.mkdtemp(prefix="algobot-bench-pg-")))  # not under `work`: mode 0700
        cluster.start()
        atexit.register(cluster.stop)  # even when the benchmark fails half-way
        args.database_url = cluster.create_database()
        print(f"throw-away PostgreSQL on port {cluster.port} (started in {cluster.started_in:.1f} s)", flush=True)
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.poller_scale", "--sandbox-child", str(work / "sandbox")]
        + ["--algorithms", str(args.algorithms), "--spread", str(args.spread), "--latency-ms", str(args.latency_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None

    def ask(command: str) -> Any:
        child.stdin.write(command + "\n")
        child.stdin.flush()
        return json.loads(child.stdout.readline())

    print(f"setting up {args.algorithms} algorithms in the sandbox process…", flush=True)
    hello = json.loads(child.stdout.readline())
    sandbox_url, key = hello["url"], hello["key"]
    api = AlgorithmiaClient(key, sandbox_url)
    names = [f"{OWNER}/algo{i:03d}" for i in range(args.algorithms)]

    slack = LocalSlack(SLACK_SECRET, BOT_TOKEN, "T0001")
    slack_server = LocalSlackServer(slack).start()
    db_path = str(work / "algobot.db")
    location = args.database_url or db_path  # the setup goes through the store layer: either engine
    migrate(location)
    cipher = load_cipher(SECRET, location, logging.getLogger("bench"))
    with connect(location) as db:
        for i, name in enumerate(names):
            channel = f"C{i:04d}"
            slack.add_channel(channel, f"bench-{i}", bot_member=True)
            ref = ChannelRef("T0001", channel)
            ChannelStore(db, cipher).set_key(ref, key, sandbox_url, "U0BENCH", datetime.now(UTC))
            store.subscribe(db, ref, name, "all", "U0BENCH", datetime.now(UTC).isoformat())

    per_algorithm = max(1, args.builds // args.algorithms)
    print(f"starting {per_algorithm * len(names)} builds (held in progress)…", flush=True)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda name: [api.compile(name) for _ in range(per_algorithm)], names))
    build_ids = {b["build_id"] for name in names for b in api.builds(name, limit=50)["results"]}
    print(f"{len(build_ids)} builds in progress", flush=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALGOBOT_", "ALGORITHMIA_"))}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack.api_url,
        ALGOBOT_DB=db_path,
        ALGOBOT_SECRET_KEY=SECRET,
        ALGORITHMIA_API=sandbox_url,
        ALGOBOT_POLL_SECONDS=str(args.poll_seconds),
        HOST="127.0.0.1",
        PORT="0",
    )
    if args.database_url:
        env["ALGOBOT_DATABASE_URL"] = args.database_url
    replicas = [
        subprocess.Popen(
            [sys.executable, "-m", "algobot", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(work / f"replica{n}.log", "w"),  # noqa: SIM115 - closed with the process
        )
        for n in range(args.replicas)
    ]
    resources: dict[int, tuple[float, float]] = {}
    # The replicas discover every build (one list per algorithm) before any ends.
    wait_until = time.time() + 60
    while time.time() < wait_until:
        with connect(location) as db:
            tracked = db.execute("select count(*) from tracked_builds").fetchone()[0]
        if tracked >= len(build_ids):
            break
        time.sleep(0.5)
    print(f"{tracked} builds tracked by {args.replicas} replica(s); releasing over {args.spread:.0f} s", flush=True)
    ask("go")
    start = time.time()
    killed = None
    deadline = start + args.spread + 180
    while time.time() < deadline:
        for n, process in enumerate(replicas):
            if process.poll() is None and n != killed:
                resources[n] = usage(process.pid)
        if args.kill_one and killed is None and time.time() > start + args.spread / 2:
            killed = 0
            replicas[0].send_signal(signal.SIGKILL)
            print(f"killed replica 0 (pid {replicas[0].pid}) at +{time.time() - start:.0f} s", flush=True)
        notified = {text_build_id(c.args) for c in slack.calls("chat.postMessage") if "thread_ts" not in c.args}
        if len(notified & build_ids) >= len(build_ids):
            break
        time.sleep(1.0)
    elapsed = time.time() - start
    counts = ask("counts")
    for n, process in enumerate(replicas):
        if process.poll() is None:
            resources[n] = usage(process.pid)
            process.terminate()
    for process in replicas:
        process.wait(timeout=30)

    posts: dict[str, list[float]] = collections.defaultdict(list)
    for call in slack.calls("chat.postMessage"):
        if "thread_ts" not in call.args:
            posts[text_build_id(call.args)].append(call.time)
    finished = {}
    for name in names:
        for build in api.iter_builds(name):
            if build.get("finished_at"):
                finished[build["build_id"]] = datetime.fromisoformat(build["finished_at"].replace("Z", "+00:00"))
    latencies = [min(posts[b]) - finished[b].timestamp() for b in build_ids if b in posts and b in finished]
    lost = [b for b in build_ids if b not in posts]
    twice = [b for b in build_ids if len(posts.get(b, [])) > 1]
    lists = counts.get("GET /v1/algorithms/{u}/{a}/builds", 0)
    total = sum(n for path, n in counts.items() if not path.startswith("POST"))  # compiles are set-up
    intervals = elapsed / args.poll_seconds

    print()
    print(
        f"bench: {len(build_ids)} builds, {args.algorithms} algorithms, spread {args.spread:.0f} s, "
        f"poll {args.poll_seconds} s, API latency {args.latency_ms} ms, {args.replicas} replica(s) on "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}{', one killed' if args.kill_one else ''}"
    )
    print(
        f"build end → notice s: p50 {pct(latencies, 0.5):.1f}  p95 {pct(latencies, 0.95):.1f}  "
        f"max {max(latencies, default=float('nan')):.1f}"
    )
    twice_at = sorted(f"+{min(posts[b]) - start:.0f}s" for b in twice)  # near a kill: the documented window
    print(f"never notified: {len(lost)}   notified twice: {len(twice)} (first sent at {', '.join(twice_at) or '-'})")
    print(
        f"list requests per algorithm per interval: {lists / args.algorithms / intervals:.2f}   "
        f"API requests per build: {total / len(build_ids):.2f}  ({json.dumps(counts)})"
    )
    for n in range(args.replicas):
        peak, cpu = resources.get(n, (float("nan"), float("nan")))
        note = " (killed)" if n == killed else ""
        print(f"replica {n}{note}: peak RSS {peak:.0f} MB, CPU {cpu:.0f} s over {elapsed:.0f} s")
    ask_quit(child)
    slack_server.close()


def text_build_id(message: dict[str, Any]) -> str:
    """The build id in a build notice's fallback text ("ALGO build ID STATUS")."""
    found = re.search(r"\bbuild `?([0-9A-Za-z-]{8,})", str(message.get("text", "")))
    return found.group(1) if found else ""


def ask_quit(child: subprocess.Popen) -> None:
    assert child.stdin is not None
    child.stdin.write("quit\n")
    child.stdin.flush()
    child.wait(timeout=30)


if __name__ == "__main__":
    main()
