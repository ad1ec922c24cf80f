"""Socket Mode and graceful shutdown: Slack over a WebSocket, HTTP still serving health, SIGTERM.

The WebSocket is `tests.fakes.socket_mode.FakeSocketMode`, found by the bot the way it finds Slack's:
`apps.connections.open` on the local Slack answers ``slack.socket_mode_url``. Envelopes carry a
response_url and trigger_id issued by the local Slack, so the bot's replies land there.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from apscheduler.schedulers.background import BackgroundScheduler

from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import load_cipher
from algobot.db import database, migrate
from algobot.localslack import LocalSlack
from algobot.notify.scheduler import start_scheduler
from algobot.server import BotServer, build_wsgi, graceful_stop, start_socket_mode
from algobot.settings import Settings, SettingsError
from tests.fakes.socket_mode import FakeSocketMode
from tests.fixtures.bot import make_settings, message_text, serve_env
from tests.fixtures.slack import ADMIN, APP_TOKEN, DEV_CHANNEL, TEAM_ID

WAIT = 10.0  # the longest any condition below is waited for


def command_payload(slack: LocalSlack, text: str, *, user: str = ADMIN, channel: str = DEV_CHANNEL) -> dict[str, Any]:
    """A slash command as Socket Mode delivers it: the HTTP form fields, as JSON."""
    ws = slack.workspaces[slack.channel(channel).team_id]
    return {
        "token": slack.verification_token,
        "team_id": ws.team_id,
        "team_domain": ws.domain,
        "channel_id": channel,
        "channel_name": slack.channel(channel).name,
        "user_id": user,
        "user_name": slack.user(user).name,
        "command": "/algo",
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": slack.issue_response_url(channel, user),
        "trigger_id": slack.issue_trigger_id(user, channel),
    }


def ephemeral_containing(slack: LocalSlack, text: str, *, user: str = ADMIN, channel: str = DEV_CHANNEL):
    def find():
        return next((m for m in slack.messages(channel, include_ephemeral_for=user) if text in message_text(m)), None)

    return slack.wait_for(find, timeout=WAIT, message=f"a reply containing {text!r}")


@dataclass
class SocketBot:
    settings: Settings
    server: BotServer
    socket_mode: Any
    fake: FakeSocketMode

    @property
    def http(self) -> str:
        return self.server.url


@pytest.fixture
def fake_socket() -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as fake:
        yield fake


@pytest.fixture
def socket_bot(tmp_path, slack, sandbox, fake_socket) -> Iterator[SocketBot]:
    """algobot in Socket Mode (no signing secret), its HTTP port serving health only."""
    slack.socket_mode_url = fake_socket.url
    settings = make_settings(tmp_path, slack, sandbox.url, slack_app_token=APP_TOKEN, slack_signing_secret=None)
    wsgi = build_wsgi(settings)
    server = BotServer.create(wsgi, "127.0.0.1", 0).start()
    handler = start_socket_mode(wsgi.bolt.app, settings)
    try:
        yield SocketBot(settings, server, handler, fake_socket)
    finally:
        graceful_stop(server, socket_mode=handler, timeout=5)


# -- Socket Mode ------------------------------------------------------------------------------------


def test_slash_command_is_acked_over_the_socket_and_answered_through_response_url(socket_bot, slack):
    fake = socket_bot.fake
    fake.wait_connected()
    [opened] = slack.calls("apps.connections.open")  # at SLACK_API_URL, i.e. the local Slack
    assert opened.status == 200 and opened.response["ok"] is True

    envelope_id = fake.send("slash_commands", command_payload(slack, "help"))
    ack = fake.wait_ack(envelope_id)
    assert "payload" not in ack  # a local answer: no "Working on …" in the ack
    reply = ephemeral_containing(slack, "/algo publish")
    assert reply.source == "response_url" and reply.ephemeral_to == ADMIN
    assert [c.method for c in slack.calls("response_url")]  # the reply went through the issued response_url


def test_http_still_serves_health_and_refuses_unsigned_slack_posts(socket_bot, slack):
    socket_bot.fake.wait_connected()
    assert requests.get(socket_bot.http + "/healthz", timeout=5).json()["ok"] is True
    # No signing secret in Socket Mode: /slack/events must refuse everything, even a body signed with "".
    response = slack.send_command(
        socket_bot.http + "/slack/events", user=ADMIN, channel=DEV_CHANNEL, text="help", secret=""
    )
    assert response.status_code == 401


def test_a_command_that_calls_algorithmia_acks_first_then_replies(socket_bot, slack, sandbox):
    sandbox.create_algorithm("demo/hello")
    cipher = load_cipher(socket_bot.settings.secret_key, socket_bot.settings.db_path, logging.getLogger("tests"))
    with database(socket_bot.settings.db_path) as db:
        ChannelStore(db, cipher).set_key(
            ChannelRef(TEAM_ID, DEV_CHANNEL), sandbox.key("demo"), sandbox.url, ADMIN, datetime.now(UTC)
        )
    envelope_id = socket_bot.fake.send("slash_commands", command_payload(slack, "info demo/hello"))
    assert "payload" not in socket_bot.fake.wait_ack(envelope_id)
    reply = ephemeral_containing(slack, "Latest version")
    assert "demo/hello" in message_text(reply)
    assert float(ephemeral_containing(slack, "Working on `/algo info demo/hello`…").ts) < float(reply.ts)


def test_reconnects_when_slack_asks_and_keeps_answering(socket_bot, slack):
    fake = socket_bot.fake
    fake.wait_connected()
    fake.disconnect("refresh_requested")
    fake.wait_connected(count=2)
    slack.wait_for(lambda: len(slack.calls("apps.connections.open")) >= 2, timeout=WAIT)
    envelope_id = fake.send("slash_commands", command_payload(slack, "help status"))
    assert fake.wait_ack(envelope_id)["envelope_id"] == envelope_id
    ephemeral_containing(slack, "/algo status")


# -- graceful shutdown ------------------------------------------------------------------------------


class BlockingJob:
    """A notification job whose poll half waits until the test releases it (bounded)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def poll_tick(self) -> None:
        self.started.set()
        self.release.wait(WAIT)
        self.finished.set()

    def send_tick(self) -> None:
        """The outbox half: nothing to send here."""


def test_shutdown_lets_the_tick_in_progress_finish_then_stops_the_scheduler():
    job = BlockingJob()
    scheduler: BackgroundScheduler = start_scheduler(job, interval=0.01)
    assert job.started.wait(WAIT)
    result: list[bool] = []
    stopper = threading.Thread(target=lambda: result.append(graceful_stop(None, scheduler=scheduler, timeout=WAIT)))
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive() and not job.finished.is_set()  # waiting for the tick, not cutting it short
    job.release.set()
    stopper.join(WAIT)
    assert result == [True] and job.finished.is_set() and not scheduler.running


def test_shutdown_gives_up_on_a_stuck_tick_at_its_deadline():
    job = BlockingJob()
    scheduler = start_scheduler(job, interval=0.01)
    assert job.started.wait(WAIT)
    started = time.monotonic()
    try:
        assert graceful_stop(None, scheduler=scheduler, timeout=0.3) is False
        assert time.monotonic() - started < 2
    finally:
        job.release.set()


def _env(slack, sandbox, tmp_path, **extra: str) -> dict[str, str]:
    env = {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": None, "ALGOBOT_SECRET_KEY": "socket-mode-secret"}
    return serve_env(slack, sandbox.url, tmp_path, **{**env, **extra})


def start_serve(env: dict[str, str], ready: str) -> tuple[subprocess.Popen, str, list[str]]:
    """`algobot serve` in a subprocess; returns it once it logged where it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "algobot", "serve"], env=env, stderr=subprocess.PIPE, text=True)
    output: list[str] = []
    for line in proc.stderr:  # blocks until the server says where it listens
        output.append(line)
        match = re.search(rf"listening on (http://\S+) \({re.escape(ready)}", line)
        if match:
            return proc, match.group(1), output
    proc.wait(timeout=10)
    pytest.fail("algobot serve exited early:\n" + "".join(output))


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["http", "socket_mode"])
def test_sigterm_lets_the_command_in_progress_finish_then_exits(mode, slack, sandbox, tmp_path, fake_socket):
    env = _env(slack, sandbox, tmp_path)
    if mode == "http":
        del env["SLACK_APP_TOKEN"]
        env["SLACK_SIGNING_SECRET"] = slack.signing_secret
    slack.socket_mode_url = fake_socket.url
    migrate(env["ALGOBOT_DB"])
    cipher = load_cipher(env["ALGOBOT_SECRET_KEY"], env["ALGOBOT_DB"], logging.getLogger("tests"))
    with database(env["ALGOBOT_DB"]) as db:
        ChannelStore(db, cipher).set_key(
            ChannelRef(TEAM_ID, DEV_CHANNEL), sandbox.key("demo"), sandbox.url, ADMIN, datetime.now(UTC)
        )
    sandbox.create_algorithm("demo/hello")

    proc, url, output = start_serve(env, "Slack over Socket Mode" if mode == "socket_mode" else "Slack endpoint")
    try:
        assert requests.get(url + "/healthz", timeout=5).json()["ok"] is True
        sandbox.box.latency_ms = 800  # every Algorithmia call of the command now takes a while
        if mode == "http":
            ack = slack.send_command(url + "/slack/events", user=ADMIN, channel=DEV_CHANNEL, text="info demo/hello")
            assert ack.status_code == 200
        else:
            fake_socket.wait_connected()
            envelope_id = fake_socket.send("slash_commands", command_payload(slack, "info demo/hello"))
            assert "payload" not in fake_socket.wait_ack(envelope_id)

        stopped_at, signalled_at = time.monotonic(), time.time()
        proc.send_signal(signal.SIGTERM)  # while the command waits on Algorithmia
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - stopped_at < 10
        # The command acked before SIGTERM was still answered, after the signal.
        reply = ephemeral_containing(slack, "Latest version")
        assert "demo/hello" in message_text(reply) and float(reply.ts) > signalled_at
        if mode == "socket_mode":
            fake_socket.wait_all_closed()
    finally:
        if proc.poll() is None:
            proc.kill()
        rest = proc.communicate(timeout=10)[1]
    log = "".join(output) + rest
    assert "shutting down" in log and "algobot stopped" in log, log
    for secret in (APP_TOKEN, slack.bot_token, slack.signing_secret, "socket-mode-secret"):
        assert secret not in log


def test_socket_mode_with_a_refused_app_token_stops_with_one_clear_line(slack, sandbox, tmp_path):
    slack.revoke_token(APP_TOKEN)
    done = subprocess.run(
        [sys.executable, "-m", "algobot", "serve", "--no-poller"],
        env=_env(slack, sandbox, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "algobot: Socket Mode could not connect (token_revoked): check SLACK_APP_TOKEN" in done.stderr
    assert APP_TOKEN not in done.stderr


def test_app_token_must_look_like_one():
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN must be an app-level token"):
        Settings.from_env({"SLACK_APP_TOKEN": "xoxb-not-an-app-token"})
    settings = Settings.from_env({"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_BOT_TOKEN": "xoxb-1"})
    settings.require_slack()  # no signing secret needed in Socket Mode
    assert settings.socket_mode and APP_TOKEN in settings.secrets() and APP_TOKEN not in repr(settings)
