"""`/algo policy`: anyone may read a channel's release policy; only its configurers change it, audited."""

from __future__ import annotations

import pytest

from algobot import audit, policy
from algobot.channels import ChannelRef
from algobot.store import open_store
from tests.fixtures.bot import (
    message_text,
)
from tests.fixtures.engines import on_both_engines  # noqa: F401 - every test here runs on both engines
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, TEAM_ID

REF = ChannelRef(TEAM_ID, DEV_CHANNEL)


def stored(bot) -> tuple[policy.ChannelPolicy, list[dict]]:
    db = open_store(bot.settings.database_location)
    try:
        return policy.load(db, REF), audit.recent(db, REF)
    finally:
        db.close()


def test_anyone_reads_the_default_policy_privately_and_it_is_not_audited(bot):
    bot.command("policy", user=MEMBER)
    shown = bot.reply_containing("release policy", user=MEMBER)
    assert shown.is_ephemeral
    assert "need no approval" in message_text(shown) and "default policy" in message_text(shown)
    current, rows = stored(bot)
    assert current == policy.ChannelPolicy() and rows == []


def test_a_configurer_sets_the_policy_it_is_announced_shown_and_audited(bot):
    bot.command("policy approvals=on public_only=true expires=2h keys=personal")
    announced = bot.reply(lambda m: not m.is_ephemeral and "changed this channel's release policy" in message_text(m))
    assert "*public* need a second person" in message_text(announced) and "expire after 2h" in message_text(announced)
    assert "need your own key" in message_text(announced)

    current, rows = stored(bot)
    assert (current.approvals, current.public_only, current.expires_seconds, current.keys) == (
        True,
        True,
        7200,
        "personal",
    )
    assert current.set_by == ADMIN
    assert rows[0]["action"] == "policy" and rows[0]["outcome"] == "ok"
    assert "keys=personal" in rows[0]["result"]
    assert rows[0]["arguments"]["changes_use"] == "personal"  # not redacted as a secret

    bot.command("policy approvals=off")  # the other rules stay as they were
    bot.reply(lambda m: not m.is_ephemeral and "need no approval" in message_text(m))
    current, _ = stored(bot)
    assert not current.approvals and current.keys == "personal" and current.expires_seconds == 7200
    bot.command("policy", user=MEMBER)
    shown = bot.reply(lambda m: m.is_ephemeral and "Set by <@U0ADMIN>" in message_text(m), user=MEMBER)
    assert "need no approval" in message_text(shown)


def test_a_member_who_may_not_configure_is_refused_and_nothing_changes(bot):
    bot.command("policy approvals=on", user=MEMBER)
    assert bot.reply_containing("Only workspace admins and owners", user=MEMBER).is_ephemeral
    current, rows = stored(bot)
    assert not current.approvals
    assert rows[0]["action"] == "policy" and rows[0]["outcome"] == "refused"


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("policy expires=forever", "expires= must be a duration such as 30m, 24h or 7d, from 10m to 30d"),
        ("policy expires=31d", "not '31d'"),
        ("policy approvals=maybe", "approvals= must be one of on, off, not 'maybe'"),
        ("policy keys=mine", "keys= must be one of channel, personal"),
        ("policy approvals=on colour=red", "colour"),
    ],
)
def test_bad_policy_input_names_the_problem_and_changes_nothing(bot, typed, sentence):
    bot.command(typed)
    answer = bot.reply_containing(sentence)
    assert answer.is_ephemeral and "/algo policy" in message_text(answer)
    current, rows = stored(bot)
    assert current == policy.ChannelPolicy() and rows == []


def test_durations_read_back_as_written():
    assert policy.parse_duration("90m") == 5400 and policy.format_duration(5400) == "90m"
    assert policy.parse_duration("24H") == 86400 and policy.format_duration(86400) == "1d"
    assert policy.parse_duration("5m") is None and policy.parse_duration("1w") is None
