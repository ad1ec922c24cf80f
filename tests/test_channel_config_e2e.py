"""Per-channel keys through the login modal, permissions and allow lists, end to end."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from algobot import audit
from algobot.channels import ChannelRef
from algobot.db import database
from algobot.ids import (
    ACTION_LOGIN_ENDPOINT,
    ACTION_LOGIN_KEY,
    ACTION_LOGIN_SCOPE,
    BLOCK_LOGIN_ENDPOINT,
    BLOCK_LOGIN_KEY,
    BLOCK_LOGIN_SCOPE,
    VIEW_LOGIN,
)
from tests.fixtures.bot import message_text
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, TEAM_ID

REF = ChannelRef(TEAM_ID, DEV_CHANNEL)


def open_login(bot, user=ADMIN):
    bot.command("login", user=user)
    return bot.slack.wait_for(lambda: [v for v in bot.slack.views(user=user) if v.callback_id == VIEW_LOGIN])[0]


def submit_key(bot, view, key: str, endpoint: str | None = None, user=ADMIN):
    values = {BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: key}}
    if endpoint is not None:
        values[BLOCK_LOGIN_ENDPOINT] = {ACTION_LOGIN_ENDPOINT: endpoint}
    return bot.slack.submit_view(bot.url, user=user, view_id=view.id, values=values)


def all_files_bytes(db_path: str) -> bytes:
    data = b""
    for path in Path(db_path).parent.glob(Path(db_path).name + "*"):
        data += path.read_bytes()
    return data


def test_login_modal_stores_the_key_encrypted_and_status_masks_it(bot, caplog):
    caplog.set_level(logging.DEBUG)
    key = bot.sandbox.key("demo")
    view = open_login(bot)
    assert "sim" not in str(view.payload.get("blocks")).replace("sim…", "")  # never pre-filled
    response = submit_key(bot, view, key, endpoint=bot.sandbox.url)
    assert response.status_code == 200
    saved = bot.reply_containing("Saved the key")
    assert saved.is_ephemeral and key not in message_text(saved) and key[-4:] in message_text(saved)
    bot.reply(lambda m: not m.is_ephemeral and "set this channel's Algorithmia API key" in message_text(m))

    bot.command("status")
    status = bot.reply_containing("set by <@U0ADMIN>")
    assert f"****{key[-4:]}" in message_text(status) and key not in message_text(status)

    bot.sandbox.create_algorithm("demo/hello")
    bot.command("info demo/hello")
    bot.reply_containing("Latest version")

    assert key.encode() not in all_files_bytes(bot.settings.db_path)
    assert key not in caplog.text
    for secret in bot.settings.secrets():
        assert secret not in caplog.text
    for call in bot.slack.calls():
        assert key not in str(call.args)


def test_login_modal_validates_input(bot):
    view = open_login(bot)
    submit_key(bot, view, "   ")
    assert bot.slack.view(view.id).errors == {BLOCK_LOGIN_KEY: "Paste the API key."}
    submit_key(bot, view, "simSomething", endpoint="ftp://nope")
    assert BLOCK_LOGIN_ENDPOINT in bot.slack.view(view.id).errors
    with database(bot.settings.db_path) as db:
        assert db["channel_keys"].count == 0


@pytest.mark.parametrize("text", ["login simA1b2C3d4E5f6G7h8I9j0", "login please"])
def test_login_never_takes_text_and_never_echoes_it(bot, text):
    response = bot.command(text)
    secret_part = text.split()[1]
    reply = bot.reply_containing("/algo login")
    assert secret_part not in response.text and secret_part not in message_text(reply)
    assert bot.slack.views(user=ADMIN) == []
    with database(bot.settings.db_path) as db:
        assert db["channel_keys"].count == 0
        assert [row["action"] for row in audit.iter_rows(db)] == ["anchor"]  # only the start's sealed row


def test_ordinary_member_cannot_configure_and_is_audited_as_refused(bot):
    # Anyone may open the dialog, but a member is offered only their own key...
    view = open_login(bot, user=MEMBER)
    scope = next(b for b in view.payload["blocks"] if b.get("block_id") == BLOCK_LOGIN_SCOPE)
    assert [o["value"] for o in scope["element"]["options"]] == ["me"]
    # ...and a crafted submission choosing the channel's key is refused at submit, where it counts.
    key = bot.sandbox.key("demo")
    values = {
        BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: key},
        BLOCK_LOGIN_SCOPE: {ACTION_LOGIN_SCOPE: {"type": "radio_buttons", "selected_option": {"value": "channel"}}},
    }
    bot.slack.submit_view(bot.url, user=MEMBER, view_id=view.id, values=values)
    refused = bot.reply_containing("Only workspace admins and owners", user=MEMBER)
    assert refused.is_ephemeral
    with database(bot.settings.db_path) as db:
        rows = audit.recent(db, REF)
        assert db["channel_keys"].count == 0 and db["personal_keys"].count == 0
    assert rows[0]["action"] == "modal:login" and rows[0]["outcome"] == "refused" and rows[0]["user_id"] == MEMBER
    bot.command("login channel", user=MEMBER)  # asking for the channel's dialog by name is refused too
    bot.reply(lambda m: "Only workspace admins" in message_text(m) and m.ts != refused.ts, user=MEMBER)


def test_a_configurer_is_offered_both_keys_and_the_channel_first(bot):
    view = open_login(bot)
    scope = next(b for b in view.payload["blocks"] if b.get("block_id") == BLOCK_LOGIN_SCOPE)
    assert [o["value"] for o in scope["element"]["options"]] == ["channel", "me"]
    assert scope["element"]["initial_option"]["value"] == "channel"


@pytest.fixture
def bot_settings_overrides(request):
    return getattr(request, "param", {})


@pytest.mark.parametrize("bot_settings_overrides", [{"admins": frozenset({MEMBER})}], indirect=True)
def test_algobot_admins_may_configure(bot):
    view = open_login(bot, user=MEMBER)
    submit_key(bot, view, bot.sandbox.key("demo"), endpoint=bot.sandbox.url, user=MEMBER)
    bot.reply_containing("Saved the key", user=MEMBER)


def test_whoever_configured_a_channel_may_configure_it_again_and_logout(bot):
    bot.login_demo()  # set by ADMIN
    with database(bot.settings.db_path) as db:
        db["channel_configurers"].insert(
            {
                "enterprise_id": "",
                "team_id": TEAM_ID,
                "channel_id": DEV_CHANNEL,
                "user_id": MEMBER,
                "first_configured_at": "2026-01-01T00:00:00Z",
                "last_configured_at": "2026-01-01T00:00:00Z",
            }
        )
    bot.command("logout", user=MEMBER)
    bot.reply(lambda m: not m.is_ephemeral and "removed this channel's Algorithmia API key" in message_text(m))
    bot.command("info demo/hello", user=MEMBER)
    bot.reply_containing("has no Algorithmia API key", user=MEMBER)
    bot.command("logout")
    bot.reply_containing("no API key to remove")


def test_allow_list_limits_changes_but_not_reads(bot, created_algorithm):
    bot.command("allow <@U0ADMIN|alice>")
    bot.reply(lambda m: not m.is_ephemeral and "may now run create" in message_text(m))

    bot.command("update demo/hello license=mit", user=MEMBER)
    assert bot.reply_containing("limits create, update, compile, publish and call", user=MEMBER).is_ephemeral
    assert bot.sandbox.client().info("demo/hello")["settings"]["license"] == "apl"
    bot.command("info demo/hello", user=MEMBER)
    bot.reply_containing("Latest version", user=MEMBER)

    bot.command("allow @bob", user=ADMIN)
    assert bot.reply_containing("@-mention").is_ephemeral

    bot.command("allow <@U0MEMBER>", user=MEMBER)
    bot.reply_containing("Only workspace admins and owners", user=MEMBER)

    bot.command("deny <@U0ADMIN>")
    bot.reply(lambda m: not m.is_ephemeral and "the list is empty" in message_text(m))
    bot.command("update demo/hello license=mit", user=MEMBER)
    bot.reply(lambda m: not m.is_ephemeral and "updated *demo/hello*" in message_text(m))

    with database(bot.settings.db_path) as db:
        outcomes = [(r["action"], r["outcome"], r["user_id"]) for r in audit.recent(db, REF, limit=20)]
    assert ("update", "refused", MEMBER) in outcomes and ("update", "ok", MEMBER) in outcomes
    assert ("allow", "refused", MEMBER) in outcomes


def test_deny_someone_not_listed(bot):
    bot.command("deny <@U0MEMBER>")
    assert bot.reply_containing("is not on this channel's list").is_ephemeral


# -- the channel a dialog was opened for is signed into its metadata --------------------------------------


def forge_metadata(bot, view, metadata: str) -> None:
    """What a crafted submission can carry: any private_metadata, in a request Slack signed."""
    bot.slack.view(view.id).payload["private_metadata"] = metadata


@pytest.mark.parametrize(
    "forged",
    [
        # Another team's channel, in the shape algobot used to trust.
        '{"team": "T0002", "channel": "C0THEIRS", "enterprise": ""}',
        # The same, dressed as signed metadata with a made-up signature.
        json.dumps({"v": '{"channel":"C0THEIRS","enterprise":"","team":"T0002","user":"U0ADMIN"}', "sig": "0" * 64}),
    ],
    ids=["unsigned", "bad signature"],
)
def test_a_login_dialog_pointing_at_another_teams_channel_stores_nothing(bot, forged):
    key = bot.sandbox.key("demo")
    view = open_login(bot)
    forge_metadata(bot, view, forged)

    response = submit_key(bot, view, key, endpoint=bot.sandbox.url)

    assert response.status_code == 200
    assert response.json()["response_action"] == "errors"
    assert "not opened for you" in response.json()["errors"][BLOCK_LOGIN_KEY]
    assert key not in response.text
    with database(bot.settings.db_path) as db:
        assert db["channel_keys"].count == 0
        assert [row["action"] for row in audit.iter_rows(db)] == ["anchor"]  # nothing but the start's row


def test_a_login_dialog_signed_for_this_channel_still_works_and_names_its_channel(bot):
    view = open_login(bot)
    metadata = json.loads(view.private_metadata)
    assert set(metadata) == {"v", "sig"} and json.loads(metadata["v"])["channel"] == DEV_CHANNEL

    submit_key(bot, view, bot.sandbox.key("demo"), endpoint=bot.sandbox.url)

    assert bot.reply_containing("Saved the key").is_ephemeral
    with database(bot.settings.db_path) as db:
        assert db["channel_keys"].count == 1
