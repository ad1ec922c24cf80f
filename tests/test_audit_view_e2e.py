"""`/algo audit` reads as a record people understand: who, what (as the command is typed), on what,
result, when; never internals (`button:compile`, raw user ids, build ids, setting names)."""

from __future__ import annotations

import json

from slack_sdk import WebClient

from algobot import audit, blocks
from algobot.db import database
from algobot.ids import ACTION_REBUILD
from tests.fixtures.bot import message_text
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER


def audit_text(bot) -> str:
    bot.command("audit limit=20")
    return message_text(bot.reply_containing("Audit trail of this channel"))


def test_the_audit_view_words_each_row_as_people_would(bot, built_algorithm):
    bot.command("publish demo/hello")
    bot.reply(lambda m: not m.is_ephemeral and "published" in message_text(m))
    # A Rebuild button on a build notice, pressed.
    notice = blocks.build_notice_message("demo/hello", {"build_id": "b-1", "status": "failed"}, started_by=None)
    posted = WebClient(token=bot.settings.slack_bot_token, base_url=bot.settings.slack_api_url).chat_postMessage(
        channel=DEV_CHANNEL, **notice
    )
    rebuild = json.dumps({"cmd": "compile", "args": ["demo/hello"]})
    bot.slack.click(
        bot.url, user=ADMIN, channel=DEV_CHANNEL, message_ts=posted["ts"], action_id=ACTION_REBUILD, value=rebuild
    )
    bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    bot.command(f"allow <@{MEMBER}>")
    bot.reply_containing("may now run")
    bot.command("login channel", user=MEMBER)  # refused: bob is no admin
    bot.reply_containing("Nothing was changed", user=MEMBER)
    with database(bot.settings.db_path) as db:
        stored = {row["action"]: row for row in audit.iter_rows(db)}
    build_id = stored["button:compile"]["result"]
    assert build_id  # the machine form keeps it, for `algobot audit export`

    text = audit_text(bot)

    assert "<@U0ADMIN> ran `/algo publish` on *demo/hello* → version *0.1.0*" in text
    assert "<@U0ADMIN> ran `/algo compile` (with a button) on *demo/hello*" in text
    assert f"<@U0ADMIN> ran `/algo allow` for <@{MEMBER}>" in text
    assert f"<@{MEMBER}> ran `/algo login` — refused: only workspace admins" in text
    assert " UTC" in text
    for internal in ("button:", "modal:", build_id, f"→ `{MEMBER}`", "ALGOBOT_ADMINS", "_Only", "._"):
        assert internal not in text, internal
