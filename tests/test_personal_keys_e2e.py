"""Personal keys end to end: `/algo login` "for me", changes that reach Algorithmia with the person's own
key (the sandbox records which key acted), reads with the channel's, `keys=personal`, `/algo logout me`,
`/algo status`, and the audit trail saying which key acted. Both engines."""

from __future__ import annotations

import json
import logging

from slack_sdk import WebClient

from algobot import audit, blocks
from algobot.channels import ChannelRef
from algobot.ids import (
    ACTION_LOGIN_ENDPOINT,
    ACTION_LOGIN_KEY,
    ACTION_LOGIN_SCOPE,
    ACTION_REBUILD,
    BLOCK_LOGIN_ENDPOINT,
    BLOCK_LOGIN_KEY,
    BLOCK_LOGIN_SCOPE,
    VIEW_LOGIN,
)
from algobot.sandbox.store import hash_key
from algobot.store import open_store
from tests.fixtures.bot import message_text
from tests.fixtures.engines import on_both_engines  # noqa: F401 - every test here runs on both engines
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, TEAM_ID

REF = ChannelRef(TEAM_ID, DEV_CHANNEL)
CLUSTER = "https://cluster.example.com"


def open_login(bot, user: str, text: str = "login"):
    bot.command(text, user=user)
    return bot.slack.wait_for(lambda: [v for v in bot.slack.views(user=user) if v.callback_id == VIEW_LOGIN])[0]


def login_me(bot, user: str, key: str, endpoint: str | None = None) -> None:
    """Set `user`'s own key through the dialog, choosing "for me"."""
    view = open_login(bot, user)
    values = {BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: key}, BLOCK_LOGIN_SCOPE: {ACTION_LOGIN_SCOPE: "me"}}
    if endpoint is not None:
        values[BLOCK_LOGIN_ENDPOINT] = {ACTION_LOGIN_ENDPOINT: endpoint}
    assert bot.slack.submit_view(bot.url, user=user, view_id=view.id, values=values).status_code == 200
    bot.reply_containing("Saved your own key", user=user)


def acting_keys(bot, route_suffix: str) -> list[str]:
    """The sha256 of the key behind each sandbox request whose route ends with `route_suffix`."""
    return [seen.key_hash for seen in bot.box.callers if seen.route.endswith(route_suffix)]


def rows(bot, sql: str) -> list[dict]:
    db = open_store(bot.settings.database_location)
    try:
        return db.query(sql)
    finally:
        db.close()


def audit_rows(bot) -> list[dict]:
    db = open_store(bot.settings.database_location)
    try:
        return audit.recent(db, REF, limit=50)
    finally:
        db.close()


def row_for(bot, action: str) -> dict:
    return next(row for row in audit_rows(bot) if row["action"] == action)


def test_for_me_is_private_encrypted_audited_and_shown_masked_in_status(bot, demo_channel, caplog):
    caplog.set_level(logging.DEBUG)
    own = bot.sandbox.key("demo")
    view = open_login(bot, MEMBER)
    assert "for you" in message_text_of_view(view)  # a member is offered only their own key
    values = {BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: own}}  # no choice made: the dialog's only one, "for me"
    bot.slack.submit_view(bot.url, user=MEMBER, view_id=view.id, values=values)

    saved = bot.reply_containing("Saved your own key", user=MEMBER)
    assert saved.is_ephemeral and f"****{own[-4:]}" in message_text(saved) and own not in message_text(saved)
    assert not [m for m in bot.slack.messages(DEV_CHANNEL) if "key" in message_text(m)]  # nothing announced

    bot.command("status", user=MEMBER)
    status = bot.reply_containing("Your own key", user=MEMBER)
    assert f"****{own[-4:]}" in message_text(status) and bot.sandbox.url in message_text(status)
    assert "use your own key when you have one" in message_text(status)
    bot.command("status")  # someone else's status says nothing of it
    assert "You have no key of your own" in message_text(bot.reply_containing(":bust_in_silhouette:"))

    entry = row_for(bot, "modal:login")
    assert entry["user_id"] == MEMBER and entry["outcome"] == "ok" and entry["result"] == f"****{own[-4:]}"
    assert entry["arguments"]["scope"] == "personal"
    [stored] = rows(bot, "SELECT * FROM personal_keys")
    assert (stored["team_id"], stored["user_id"], stored["endpoint"]) == (TEAM_ID, MEMBER, None)
    assert rows(bot, "SELECT * FROM channel_keys")[0]["set_by"] == ADMIN  # the channel's key is untouched
    for place in (str(rows(bot, "SELECT * FROM personal_keys")), str(audit_rows(bot)), caplog.text):
        assert own not in place
    for call in bot.slack.calls():
        assert own not in str(call.args)


def message_text_of_view(view) -> str:
    return json.dumps(view.payload.get("blocks"))


def test_changes_reach_algorithmia_with_the_persons_key_and_reads_with_the_channels(bot, built_algorithm):
    own = bot.sandbox.key("demo")
    login_me(bot, ADMIN, own)
    bot.box.reset_request_counts()

    bot.command("compile demo/hello")
    bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    bot.box.wait_for_builds()
    bot.command("publish demo/hello")
    bot.reply(lambda m: not m.is_ephemeral and "published" in message_text(m))
    bot.command("info demo/hello")
    bot.reply_containing("Latest version")
    bot.command("update demo/hello license=mit", user=MEMBER)  # no key of their own: the channel's
    bot.reply(lambda m: not m.is_ephemeral and "updated *demo/hello*" in message_text(m))

    assert acting_keys(bot, "/compile") == [hash_key(own)]
    assert [s.key_hash for s in bot.box.callers if s.method == "POST" and s.route.endswith("/versions")] == [
        hash_key(own)
    ]
    info_keys = {seen.key_hash for seen in bot.box.callers if seen.method == "GET" and seen.route.endswith("{a}")}
    assert hash_key(own) not in info_keys and len(info_keys) == 1
    [update_key] = [s.key_hash for s in bot.box.callers if s.method == "PUT"]
    assert update_key in info_keys and update_key != hash_key(own)

    assert row_for(bot, "compile")["arguments"]["acted_with"] == "personal"
    assert row_for(bot, "publish")["arguments"]["acted_with"] == "personal"
    assert row_for(bot, "info")["arguments"]["acted_with"] == "channel"
    assert row_for(bot, "update")["arguments"]["acted_with"] == "channel"
    bot.command("audit limit=20")
    shown = message_text(bot.reply_containing("Audit trail of this channel"))
    assert "<@U0ADMIN> ran `/algo compile` with their own key on *demo/hello*" in shown
    assert "`/algo update` with their own key" not in shown and "`/algo info` with" not in shown


def test_a_button_runs_with_the_pressers_own_key(bot, built_algorithm):
    own = bot.sandbox.key("demo")
    login_me(bot, MEMBER, own)
    notice = blocks.build_notice_message("demo/hello", {"build_id": "b-1", "status": "failed"}, started_by=None)
    posted = WebClient(token=bot.settings.slack_bot_token, base_url=bot.settings.slack_api_url).chat_postMessage(
        channel=DEV_CHANNEL, **notice
    )
    rebuild = json.dumps({"cmd": "compile", "args": ["demo/hello"]})
    bot.box.reset_request_counts()
    bot.slack.click(
        bot.url, user=MEMBER, channel=DEV_CHANNEL, message_ts=posted["ts"], action_id=ACTION_REBUILD, value=rebuild
    )
    bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m), user=MEMBER)
    assert acting_keys(bot, "/compile") == [hash_key(own)]
    entry = row_for(bot, "button:compile")
    assert entry["user_id"] == MEMBER and entry["arguments"]["acted_with"] == "personal"


def test_keys_personal_refuses_a_change_without_ones_own_key_and_sends_nothing(bot, built_algorithm):
    bot.command("policy keys=personal")
    bot.reply(lambda m: not m.is_ephemeral and "need your own key" in message_text(m))
    bot.box.reset_request_counts()

    bot.command("compile demo/hello", user=MEMBER)
    refusal = bot.reply_containing("you have none here", user=MEMBER)
    assert refusal.is_ephemeral and "choose *for me*" in message_text(refusal)
    assert bot.box.callers == [] and bot.box.request_counts == {}
    entry = row_for(bot, "compile")
    assert entry["outcome"] == "refused" and entry["user_id"] == MEMBER and entry["algorithm"] == "demo/hello"
    bot.command("status", user=MEMBER)
    status = message_text(bot.reply_containing(":bust_in_silhouette:", user=MEMBER))
    assert "You have no key of your own" in status and "changes need the person's own key" in status
    bot.command("audit")
    shown = message_text(bot.reply_containing("Audit trail of this channel"))
    assert "refused: this channel's changes need the person's own key" in shown

    bot.command("info demo/hello", user=MEMBER)  # reads still use the channel's key
    bot.reply_containing("Latest version", user=MEMBER)

    own = bot.sandbox.key("demo")
    login_me(bot, MEMBER, own)
    bot.command("compile demo/hello", user=MEMBER)
    bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m), user=MEMBER)
    assert acting_keys(bot, "/compile") == [hash_key(own)]


def test_a_key_for_another_endpoint_is_not_sent_to_this_channels(bot, built_algorithm):
    login_me(bot, ADMIN, bot.sandbox.key("demo"), endpoint=CLUSTER)
    [stored] = rows(bot, "SELECT endpoint FROM personal_keys")
    assert stored["endpoint"] == CLUSTER
    bot.command("status")
    assert CLUSTER in message_text(bot.reply_containing("Your own key"))

    bot.command("compile demo/hello")  # the channel's key, on the channel's endpoint
    bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    assert row_for(bot, "compile")["arguments"]["acted_with"] == "channel"

    bot.command("policy keys=personal")
    bot.reply(lambda m: not m.is_ephemeral and "need your own key" in message_text(m))
    bot.box.reset_request_counts()
    bot.command("compile demo/hello")
    said = message_text(bot.reply_containing("Your own key is for"))
    assert CLUSTER in said and bot.sandbox.url in said
    assert bot.box.callers == []


def test_logout_me_removes_only_ones_own_key_privately(bot, built_algorithm):
    own = bot.sandbox.key("demo")
    login_me(bot, MEMBER, own)
    bot.command("logout me", user=MEMBER)
    done = bot.reply_containing("Removed your own Algorithmia key", user=MEMBER)
    assert done.is_ephemeral
    assert rows(bot, "SELECT * FROM personal_keys") == [] and len(rows(bot, "SELECT * FROM channel_keys")) == 1
    entry = row_for(bot, "logout")
    assert entry["user_id"] == MEMBER and entry["outcome"] == "ok" and entry["arguments"]["scope"] == "personal"
    bot.command("audit")
    shown = message_text(bot.reply_containing("Audit trail of this channel"))
    assert f"<@{MEMBER}> ran `/algo logout` for their own key" in shown
    assert f"<@{MEMBER}> ran `/algo login` (in a dialog) for their own key → key `****{own[-4:]}`" in shown

    bot.box.reset_request_counts()
    bot.command("compile demo/hello", user=MEMBER)
    bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m), user=MEMBER)
    assert acting_keys(bot, "/compile") != [hash_key(own)]

    bot.command("logout me", user=MEMBER)
    assert bot.reply_containing("no key of your own to remove", user=MEMBER).is_ephemeral
    bot.command("logout", user=MEMBER)  # the channel's key stays for its configurers
    bot.reply_containing("Only workspace admins and owners", user=MEMBER)
    bot.command("logout everything")
    bot.reply_containing("`/algo logout me` removes your own")
    assert len(rows(bot, "SELECT * FROM channel_keys")) == 1


def test_without_a_channel_key_changes_work_with_ones_own_key_and_reads_say_why_not(bot):
    own = bot.sandbox.key("demo")
    login_me(bot, ADMIN, own)
    bot.command('create demo/mine label="Mine"')
    bot.reply(lambda m: not m.is_ephemeral and "demo/mine" in message_text(m))
    assert acting_keys(bot, "/v1/algorithms/{u}") == [hash_key(own)]
    bot.command("info demo/mine")
    said = bot.reply_containing("reading needs the channel's key")
    assert said.is_ephemeral and "Your own key is used only for changes" in message_text(said)
    bot.command("info demo/mine", user=MEMBER)  # no key at all: the usual sentence
    bot.reply_containing("has no Algorithmia API key yet", user=MEMBER)


def test_login_me_opens_the_dialog_on_for_me_and_text_is_still_refused(bot):
    view = open_login(bot, ADMIN, "login me")
    scope = next(b for b in view.payload["blocks"] if b.get("block_id") == BLOCK_LOGIN_SCOPE)
    assert scope["element"]["initial_option"]["value"] == "me"
    bot.command("login me simA1b2C3d4E5f6G7h8I9j0")
    reply = bot.reply_containing("looks like an API key")
    assert "simA1b2C3d4E5f6G7h8I9j0" not in message_text(reply)


def test_an_own_key_algorithmia_refuses_is_named_as_yours_and_audited(bot, built_algorithm):
    login_me(bot, ADMIN, "simNotAKeyTheSandboxKnows01")  # Algorithmia answers 401 to it
    bot.command("compile demo/hello")
    said = bot.reply_containing("Algorithmia refused your own key")
    assert said.is_ephemeral and "`/algo logout me`" in message_text(said)
    assert "simNotAKeyTheSandboxKnows01" not in message_text(said)
    entry = row_for(bot, "compile")
    assert entry["outcome"] == "error" and entry["arguments"]["acted_with"] == "personal"
    bot.command("info demo/hello")  # the channel's key, which is fine, still reads
    bot.reply_containing("Latest version")


def test_a_crafted_scope_in_the_login_dialog_stores_nothing(bot):
    view = open_login(bot, ADMIN)
    key = bot.sandbox.key("demo")
    values = {
        BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: key},
        BLOCK_LOGIN_SCOPE: {ACTION_LOGIN_SCOPE: {"type": "radio_buttons", "selected_option": {"value": "team"}}},
    }
    response = bot.slack.submit_view(bot.url, user=ADMIN, view_id=view.id, values=values)
    assert response.json()["response_action"] == "errors" and key not in response.text
    assert rows(bot, "SELECT * FROM personal_keys") == [] and rows(bot, "SELECT * FROM channel_keys") == []
