"""Secrets never leave through the bot's own messages, and dialogs act only on the channel they were
opened for: key-shaped notes, labels and summaries are refused before any API call, and a publish
dialog whose metadata was not signed for its submitter does nothing."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from algobot import audit, blocks
from algobot.db import database
from algobot.ids import (
    ACTION_OPEN_PUBLISH,
    ACTION_PUBLISH_NOTES,
    ACTION_PUBLISH_SAMPLE,
    BLOCK_PUBLISH_NOTES,
    BLOCK_PUBLISH_SAMPLE,
    BLOCK_PUBLISH_VERSION,
    VIEW_PUBLISH,
)
from tests.fixtures.bot import message_text
from tests.fixtures.sandbox import HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL

ALGORITHMIA_KEY = "simQ7eR8tY9uI0oP1aS2dF3gH4"
SLACK_TOKEN = "xoxb-2222222222-3333333333-AbCdEfGhIjKlMnOpQrSt"


def api_calls(bot) -> int:
    return sum(bot.sandbox.sandbox.request_counts.values())


def trail_actions(bot) -> list[str]:
    with database(bot.settings.db_path) as db:
        return [row["action"] for row in audit.iter_rows(db)]


@pytest.mark.parametrize(
    "text",
    [
        f'publish demo/hello notes="rotated the key, new one is {ALGORITHMIA_KEY}"',
        f'create demo/newalgo label="bot {SLACK_TOKEN}"',
        f'update demo/hello summary="uses {ALGORITHMIA_KEY} internally"',
        f"update demo/hello tagline={SLACK_TOKEN}",
    ],
    ids=["publish notes", "create label", "update summary", "update tagline"],
)
def test_key_shaped_free_text_is_refused_before_any_api_call(bot, text):
    bot.login_demo()
    before = api_calls(bot)

    response = bot.command(text)

    reply = bot.reply_containing("shaped like an API key or a Slack token")
    assert reply.is_ephemeral and "nothing was sent" in message_text(reply)
    for secret in (ALGORITHMIA_KEY, SLACK_TOKEN):
        assert secret not in response.text and secret not in message_text(reply)
    assert api_calls(bot) == before
    assert [m for m in bot.slack.messages(DEV_CHANNEL) if not m.is_ephemeral] == []
    assert trail_actions(bot) == ["anchor"]


def test_ordinary_notes_still_publish(bot, tmp_path):
    """The detector is not a blanket ban on long words: a version note with a git hash goes through."""
    bot.login_demo()
    clone = bot.sandbox.create_algorithm("demo/hello")
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.sandbox.sandbox.wait_for_builds()

    bot.command('publish demo/hello notes="fixes 3f9a2c1d5e7b9a0c2e4f6a8b0c1d3e5f7a9b1c3d, a simulation bug"')

    bot.reply(lambda m: not m.is_ephemeral and "published" in message_text(m))


def open_publish_dialog(bot) -> object:
    """A build notice with its Publish… button, as the poller posts it, then the button pressed."""
    notice = blocks.build_notice_message(
        "demo/hello", {"build_id": "b-1", "status": "succeeded", "commit_sha": "abc"}, started_by=None
    )
    client = WebClient(token=bot.settings.slack_bot_token, base_url=bot.settings.slack_api_url)
    posted = client.chat_postMessage(channel=DEV_CHANNEL, **notice)
    value = json.dumps({"algorithm": "demo/hello", "build_id": "b-1"})
    bot.slack.click(
        bot.url, user=ADMIN, channel=DEV_CHANNEL, message_ts=posted["ts"], action_id=ACTION_OPEN_PUBLISH, value=value
    )
    return bot.slack.wait_for(lambda: [v for v in bot.slack.views(user=ADMIN) if v.callback_id == VIEW_PUBLISH])[0]


def test_a_publish_dialog_pointing_at_another_teams_channel_publishes_nothing(bot):
    bot.login_demo()
    view = open_publish_dialog(bot)
    bot.slack.view(view.id).payload["private_metadata"] = json.dumps(
        {"algorithm": "demo/hello", "team": "T0002", "channel": "C0THEIRS", "enterprise": ""}
    )
    before = api_calls(bot)

    response = bot.slack.submit_view(bot.url, user=ADMIN, view_id=view.id, values={})

    assert response.json()["response_action"] == "errors"
    assert "not opened for you" in response.json()["errors"][BLOCK_PUBLISH_VERSION]
    assert api_calls(bot) == before
    assert trail_actions(bot) == ["anchor"]


def test_key_shaped_notes_in_the_publish_dialog_keep_it_open_with_the_reason(bot):
    bot.login_demo()
    view = open_publish_dialog(bot)
    before = api_calls(bot)

    response = bot.slack.submit_view(
        bot.url,
        user=ADMIN,
        view_id=view.id,
        values={
            BLOCK_PUBLISH_NOTES: {ACTION_PUBLISH_NOTES: f"new key {ALGORITHMIA_KEY}"},
            BLOCK_PUBLISH_SAMPLE: {ACTION_PUBLISH_SAMPLE: SLACK_TOKEN},
        },
    )

    assert response.json()["response_action"] == "errors"
    errors = response.json()["errors"]
    assert set(errors) == {BLOCK_PUBLISH_NOTES, BLOCK_PUBLISH_SAMPLE}
    assert "shaped like an API key" in errors[BLOCK_PUBLISH_NOTES] and ALGORITHMIA_KEY not in response.text
    assert api_calls(bot) == before
    assert trail_actions(bot) == ["anchor"]
