"""The daily audit checkpoint (ALGOBOT_AUDIT_CHANNEL): posted by the scheduler's job on its passed
clock, recorded in the trail, and usable with `algobot audit verify --head --rows`."""

from __future__ import annotations

import logging
import re

import pytest

from algobot import audit
from algobot.cli import main
from algobot.db import database
from algobot.notify.scheduler import build_job
from algobot.settings import Settings, SettingsError
from tests.fixtures.bot import message_text
from tests.fixtures.slack import DEV_CHANNEL, OTHER_CHANNEL

T = 1_780_000_000.0  # a fixed moment: the job runs on this clock, never the wall clock
DAY = 86400.0


@pytest.fixture
def bot_settings_overrides():
    return {"audit_channel": DEV_CHANNEL}


def checkpoints(bot) -> list[str]:
    return [message_text(m) for m in bot.slack.messages(DEV_CHANNEL) if "Audit checkpoint" in (m.text or "")]


def test_a_checkpoint_is_posted_once_a_day_and_verifies_the_trail(bot, monkeypatch, capsys):
    job = build_job(bot.settings, bot.cipher)

    job.tick(T)
    job.tick(T + 60)
    job.tick(T + DAY - 1)

    (posted,) = checkpoints(bot)
    rows, head = re.search(r"--rows (\d+)`", posted).group(1), re.search(r"--head ([0-9a-f]{64})", posted).group(1)
    assert f"*{rows}* rows" in posted and "UTC" in posted
    with database(bot.settings.db_path) as db:
        (row,) = [r for r in audit.iter_rows(db) if r["action"] == "checkpoint"]
    assert row["source"] == "system" and row["arguments"] == {"rows": int(rows), "head": head, "channel": DEV_CHANNEL}

    job.tick(T + DAY)
    assert len(checkpoints(bot)) == 2

    monkeypatch.setenv("ALGOBOT_SECRET_KEY", bot.settings.secret_key)
    assert main(["audit", "verify", "--db", bot.settings.db_path, "--head", head, "--rows", rows]) == 0
    assert "still carries the checkpoint's hash" in capsys.readouterr().out


def test_a_restart_remembers_the_last_checkpoint_from_the_trail(bot):
    build_job(bot.settings, bot.cipher).tick(T)

    restarted = build_job(bot.settings, bot.cipher)
    restarted.tick(T + 3600)
    assert len(checkpoints(bot)) == 1
    restarted.tick(T + DAY + 1)
    assert len(checkpoints(bot)) == 2


def test_a_channel_slack_refuses_is_logged_retried_hourly_and_not_recorded(bot, caplog):
    settings = Settings(**{**bot.settings.__dict__, "audit_channel": OTHER_CHANNEL})  # the bot is not a member
    job = build_job(settings, bot.cipher)
    caplog.set_level(logging.WARNING)

    job.tick(T)

    assert "audit checkpoint not posted" in caplog.text and "not_in_channel" in caplog.text
    with database(bot.settings.db_path) as db:
        assert not [r for r in audit.iter_rows(db) if r["action"] == "checkpoint"]
    assert job.checkpoint.next_due == T + 3600


@pytest.mark.parametrize("value", ["#algo-audit", "c0123", "T1/", "https://slack.com/C0123"])
def test_a_malformed_audit_channel_stops_start_up_naming_it(value):
    with pytest.raises(SettingsError, match="ALGOBOT_AUDIT_CHANNEL must be a Slack channel id"):
        Settings.from_env({"ALGOBOT_AUDIT_CHANNEL": value})


def test_with_oauth_the_audit_channel_names_its_team():
    env = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "x"}
    with pytest.raises(SettingsError, match="T0123ABCD/C0123ABCD"):
        Settings.from_env({**env, "ALGOBOT_AUDIT_CHANNEL": "C0123"}).require_slack()
    Settings.from_env({**env, "ALGOBOT_AUDIT_CHANNEL": "T0123/C0123"}).require_slack()
