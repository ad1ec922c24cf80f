"""`algobot dev`: the whole product on one machine — sandbox, bot and a Slack-like page.

Everything listens on 127.0.0.1: the Algorithmia sandbox (seeded with `demo`, `demo/hello` and
`demo/broken`), the local Slack with its web page, and the bot with its poller. The bot runs the
production code path; only its Slack Web API base URL points at the local Slack. The channel
`#algo-dev` is configured with demo's key through the normal encrypted store. Ctrl-C stops it all.

State lives under ``--data``: the sandbox, the bot's database and the page's history
(``localslack-history.json``), so a restart shows the channel as it was and the bot can still update
the build notices it posted before.
"""

from __future__ import annotations

import argparse
import errno
import logging
import secrets
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import load_cipher
from algobot.db import database
from algobot.localslack import LocalSlack, LocalSlackServer
from algobot.localslack.history import HistoryFile
from algobot.notify.scheduler import build_job, start_scheduler
from algobot.sandbox import Sandbox, SandboxServer
from algobot.sandbox.demo import seed_demo
from algobot.sandbox.git import authenticated_url
from algobot.server import BotServer, build_wsgi
from algobot.settings import Settings

log = logging.getLogger(__name__)

TEAM_ID = "T0DEV"
CHANNEL_ID = "C0ALGODEV"
CHANNEL_NAME = "algo-dev"
ADMIN_ID = "U0ALEX"
MEMBER_ID = "U0SAM"
BOT_TOKEN = "xoxb-local-playground"  # only the local Slack knows it
HISTORY_FILE = "localslack-history.json"


class PortUnavailable(Exception):
    """The page's port cannot be listened on; the message says which and what to do."""


@dataclass
class Playground:
    """The running pieces, so tests and the command share one way to start and stop them."""

    sandbox: Sandbox
    sandbox_server: SandboxServer
    slack: LocalSlack
    slack_server: LocalSlackServer
    bot_server: BotServer
    scheduler: object
    demo_key: str
    history: HistoryFile

    @property
    def page_url(self) -> str:
        return self.slack_server.url + "/"

    def close(self) -> None:
        self.scheduler.shutdown(wait=False)  # type: ignore[attr-defined]
        self.bot_server.close()
        self.history.close()
        self.slack_server.close()
        self.sandbox_server.close()
        self.sandbox.close()


def start(data_dir: Path, *, port: int = 3000, build_delay: float = 3.0, poll_seconds: int = 2) -> Playground:
    """Start sandbox, local Slack and bot; configure #algo-dev with the demo key.

    Raises `PortUnavailable` (before anything else is started) when the page's port is taken.
    """
    _check_port(port)
    data_dir.mkdir(parents=True, exist_ok=True)
    box = Sandbox(data_dir / "sandbox", build_delay=build_delay, private_paths=[data_dir])  # builds see no bot data
    sandbox_server = SandboxServer(box, host="127.0.0.1", port=0, remember_port=True).start()
    demo = seed_demo(box)

    signing_secret = secrets.token_hex(16)
    slack = LocalSlack(signing_secret, BOT_TOKEN, TEAM_ID, team_name="algobot playground", team_domain="playground")
    slack.add_channel(CHANNEL_ID, CHANNEL_NAME, bot_member=True)
    slack.add_user(ADMIN_ID, "alex", is_admin=True, real_name="Alex (workspace admin)")
    slack.add_user(MEMBER_ID, "sam", real_name="Sam (member)")
    history = HistoryFile(slack, data_dir / HISTORY_FILE)
    history.load()
    slack_server = LocalSlackServer(slack, host="127.0.0.1", port=port).start()
    history.start()

    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=signing_secret,
        slack_api_url=slack_server.api_url,
        db_path=str(data_dir / "algobot.db"),
        algorithmia_api=sandbox_server.url,
        host="127.0.0.1",
        port=0,
        poll_seconds=poll_seconds,
    )
    wsgi = build_wsgi(settings)
    cipher = load_cipher(settings.secret_key, settings.db_path, log)
    with database(settings.db_path) as db:
        ChannelStore(db, cipher).set_key(
            ChannelRef(TEAM_ID, CHANNEL_ID), demo["key"], sandbox_server.url, ADMIN_ID, datetime.now(UTC)
        )
    bot_server = BotServer.create(wsgi, "127.0.0.1", 0).start()
    job = build_job(settings, cipher)
    wsgi.poller_status = lambda: job.last_completed
    scheduler = start_scheduler(job)
    slack.bot_url = bot_server.url + "/slack/events"
    return Playground(box, sandbox_server, slack, slack_server, bot_server, scheduler, demo["key"], history)


def _check_port(port: int) -> None:
    """Bind the page's port once, as waitress will (SO_REUSEADDR), before anything starts, so a taken
    port is one sentence that says what to do rather than a traceback after the sandbox started."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortUnavailable(
                    f"Port {port} is in use (another algobot dev?); choose another with --port {port + 1}, "
                    "or --port 0 for any free port."
                ) from None
            if exc.errno == errno.EACCES:
                raise PortUnavailable(
                    f"Port {port} needs privileges this user does not have; choose another with --port 3000."
                ) from None
            raise


def run(args: argparse.Namespace) -> int:
    try:
        playground = start(Path(args.data), port=args.port, build_delay=args.build_delay)
    except PortUnavailable as exc:
        # Exit 1, not argparse's 2: the command line is fine, the machine's state is in the way (the
        # default port can be taken without any option given).
        print(f"algobot dev: {exc}", file=sys.stderr)
        return 1
    # The demo's key rides in the URL (git needs credentials); fine for this local demo only.
    clone = authenticated_url(f"{playground.sandbox_server.url}/git/demo/hello.git", "demo", playground.demo_key)
    print(f"algobot playground: open {playground.page_url}", flush=True)
    print(f"  channel #{CHANNEL_NAME} uses the sandbox user demo; switch users at the top of the page.")
    print(f"  demo/hello's repository: {clone}")
    print(
        f"  push a change: git clone {clone} hello && cd hello && echo '# hi' >> src/hello.py && "
        "git commit -am hi && git push   (then watch #algo-dev)"
    )
    print(f"  the page's history is kept in {Path(args.data) / HISTORY_FILE}; delete it to start afresh.")
    print("  Ctrl-C stops everything.", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        playground.close()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dev", help="run sandbox, bot and a local Slack page on this machine")
    parser.add_argument("--port", type=int, default=3000, help="port of the Slack page (default 3000)")
    parser.add_argument("--data", default="./algobot-dev", help="state directory (default ./algobot-dev)")
    parser.add_argument("--build-delay", type=float, default=3.0, help="seconds each build stays in progress")
    parser.set_defaults(handler=run)
