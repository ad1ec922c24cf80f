"""Operating algobot: /metrics, /healthz, log format, and no secret in a full run's logs."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys

import pytest
import requests

from algobot.ids import ACTION_LOGIN_ENDPOINT, ACTION_LOGIN_KEY, BLOCK_LOGIN_ENDPOINT, BLOCK_LOGIN_KEY, VIEW_LOGIN
from algobot.logs import JsonFormatter, SecretFilter
from tests.fixtures.bot import clean_environ, message_text
from tests.fixtures.sandbox import HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL


def base(bot) -> str:
    return bot.url.rsplit("/slack/events", 1)[0]


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_commands_acks_api_calls_and_state(bot):
    before = requests.get(base(bot) + "/metrics", timeout=5).text
    bot.login_demo()
    bot.sandbox.create_algorithm("demo/hello")
    bot.command("info demo/hello")
    bot.reply_containing("Latest version")
    bot.command("watch demo/hello")
    bot.reply(lambda m: "subscribed this channel" in message_text(m))
    after = requests.get(base(bot) + "/metrics", timeout=5)
    assert after.status_code == 200 and after.headers["Content-Type"].startswith("text/plain")
    text = after.text
    labels = {"command": "info", "source": "command", "outcome": "ok"}
    assert metric(text, "algobot_commands_total", **labels) == metric(before, "algobot_commands_total", **labels) + 1
    assert metric(text, "algobot_ack_seconds_count") >= metric(before, "algobot_ack_seconds_count") + 2
    assert metric(text, "algobot_algorithmia_requests_total", method="GET", outcome="ok") >= 2
    assert metric(text, "algobot_subscriptions") == 1
    assert "algobot_builds_tracked" in text and "algobot_outbox_depth" in text


def test_health_reports_a_stale_poller(bot):
    wsgi = bot.server.wsgi
    now = [1_000_000.0]
    wsgi.clock = lambda: now[0]
    wsgi.poller_status = lambda: 999_990.0
    health = requests.get(base(bot) + "/healthz", timeout=5)
    assert health.status_code == 200
    assert health.json()["poller"] == "ok" and health.json()["poller_last_run_age_seconds"] == 10.0
    now[0] += 600
    health = requests.get(base(bot) + "/healthz", timeout=5)
    assert health.status_code == 503
    assert health.json()["ok"] is False and "no completed run for 610 s" in health.json()["poller"]


def test_health_reports_an_unreachable_database(bot, tmp_path):
    bot.server.wsgi.db_path = str(tmp_path / "missing" / "dir" / "algobot.db")
    health = requests.get(base(bot) + "/healthz", timeout=5)
    assert health.status_code == 503 and health.json()["database"].startswith("unreachable")


def test_secret_filter_and_json_lines():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "key %s and xoxb-abc-123456 and simABCDEFGHIJKLMNOPQRS", ("s3cr3t-value",), None
    )
    SecretFilter(["s3cr3t-value"]).filter(record)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "key [redacted] and [redacted] and [redacted]" and entry["level"] == "info"


@pytest.mark.slow
def test_no_secret_appears_in_a_full_runs_logs(slack, sandbox, tmp_path):
    """Serve for real at DEBUG, JSON logs: log in through the dialog, read, build, publish, get a notice."""
    api_key = sandbox.key("demo")
    secrets = {
        "bot token": slack.bot_token,
        "signing secret": slack.signing_secret,
        "secret key": "full-run-secret-key",
        "api key": api_key,
    }
    env = clean_environ()
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=slack.signing_secret,
        SLACK_API_URL=slack.api_url,
        ALGOBOT_DB=str(tmp_path / "full.db"),
        ALGOBOT_SECRET_KEY=secrets["secret key"],
        ALGORITHMIA_API=sandbox.url,
        ALGOBOT_POLL_SECONDS="1",
        ALGOBOT_LOG_FORMAT="json",
        HOST="127.0.0.1",
        PORT="0",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "algobot", "--log-level", "DEBUG", "serve"], env=env, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line)
            match = re.search(r"listening on (http://[0-9.:]+)", line)
            if match:
                url = match.group(1) + "/slack/events"
                break
        else:
            pytest.fail("serve exited:\n" + "".join(lines))
        reader = __import__("threading").Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        clone = sandbox.create_algorithm("demo/hello")
        slack.send_command(url, user=ADMIN, channel=DEV_CHANNEL, text="login")
        view = slack.wait_for(lambda: [v for v in slack.views(user=ADMIN) if v.callback_id == VIEW_LOGIN])[0]
        slack.submit_view(
            url,
            user=ADMIN,
            view_id=view.id,
            values={
                BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: api_key},
                BLOCK_LOGIN_ENDPOINT: {ACTION_LOGIN_ENDPOINT: sandbox.url},
            },
        )
        slack.wait_for(lambda: any("Saved the key" in message_text(m) for m in slack.messages(DEV_CHANNEL, True)))
        slack.send_command(url, user=ADMIN, channel=DEV_CHANNEL, text="watch demo/hello")
        push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
        slack.wait_for(lambda: any("Build `" in message_text(m) for m in slack.messages(DEV_CHANNEL)), timeout=30)
        slack.send_command(url, user=ADMIN, channel=DEV_CHANNEL, text="publish demo/hello")
        slack.wait_for(lambda: any("*0.1.0*" in message_text(m) for m in slack.messages(DEV_CHANNEL)), timeout=15)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    log = "".join(lines)
    assert len(lines) > 10
    for name, secret in secrets.items():
        assert secret not in log, f"the {name} appears in the logs"
    for line in lines:
        if line.strip():
            json.loads(line)  # every line is one JSON event
