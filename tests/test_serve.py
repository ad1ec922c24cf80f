"""The production entry point and the global error handler."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys

import pytest
import requests

from algobot.crypto import load_cipher
from algobot.server import BotServer, build_wsgi
from tests.fixtures.bot import RunningBot, make_settings, message_text, serve_env
from tests.fixtures.slack import ADMIN, DEV_CHANNEL


def _env(slack, sandbox, tmp_path, **extra):
    return serve_env(slack, sandbox.url, tmp_path, **extra)


@pytest.mark.slow
@pytest.mark.parametrize(
    "flags, poller",
    [([], ("ok", "starting")), (["--no-poller"], ("not in this process",))],
    ids=["poller", "no-poller"],
)
def test_algobot_serve_process_answers_signed_commands(slack, sandbox, tmp_path, flags, poller):
    proc = subprocess.Popen(
        [sys.executable, "-m", "algobot", "serve", *flags],
        env=_env(slack, sandbox, tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    output = []
    try:
        for line in proc.stderr:  # blocks until the server says where it listens
            output.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                url = match.group(1)
                break
        else:
            pytest.fail("algobot serve exited early:\n" + "".join(output))
        health = requests.get(url + "/healthz", timeout=5).json()
        assert health["ok"] is True and health["poller"] in poller
        response = slack.send_command(url + "/slack/events", user=ADMIN, channel=DEV_CHANNEL, text="help")
        assert response.status_code == 200
        slack.wait_for(
            lambda: any(
                "/algo publish" in message_text(m) for m in slack.messages(DEV_CHANNEL, include_ephemeral_for=ADMIN)
            )
        )
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=10)[1]
    log = "".join(output) + rest
    for secret in (slack.bot_token, slack.signing_secret, "smoke-test-secret"):
        assert secret not in log
    assert "will be unused" not in log  # Bolt's notice about SLACK_BOT_TOKEN and our client, at every start


def test_missing_setting_stops_start_up_with_one_clear_line(slack, sandbox, tmp_path):
    env = _env(slack, sandbox, tmp_path)
    del env["SLACK_SIGNING_SECRET"]
    done = subprocess.run(
        [sys.executable, "-m", "algobot", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "algobot: SLACK_SIGNING_SECRET is not set: copy it from your Slack app's settings page."
    ]


def test_bad_setting_value_is_named(slack, sandbox, tmp_path):
    env = _env(slack, sandbox, tmp_path, SLACK_API_URL="not a url")
    done = subprocess.run(
        [sys.executable, "-m", "algobot", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "SLACK_API_URL must be an http(s) URL" in done.stderr


def test_unexpected_failure_gets_a_reference_and_is_logged(slack, sandbox, tmp_path, caplog):
    def broken_factory(key, endpoint):
        raise RuntimeError("the factory is broken")

    settings = make_settings(tmp_path, slack, sandbox.url)
    server = BotServer.create(build_wsgi(settings, api_factory=broken_factory), "127.0.0.1", 0).start()
    try:
        bot = RunningBot(server.url + "/slack/events", settings, slack, sandbox, server, None)
        bot.cipher = load_cipher(settings.secret_key, settings.db_path, logging.getLogger("t"))
        bot.login_demo()
        with caplog.at_level(logging.ERROR):
            bot.command("info demo/hello")
            reply = bot.reply_containing("Something went wrong")
        reference = re.search(r"Reference `([0-9a-f]{8})`", message_text(reply)).group(1)
        assert reply.is_ephemeral
        assert f"ref={reference}" in caplog.text and "the factory is broken" in caplog.text
    finally:
        server.close()


@pytest.mark.slow
def test_algobot_poller_runs_alone_and_stops_on_sigterm(slack, sandbox, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "algobot", "poller"],
        env=_env(slack, sandbox, tmp_path),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stderr:
            if "poller running" in line:
                break
        else:
            pytest.fail("algobot poller exited early")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
