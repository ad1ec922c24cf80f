"""The local Slack's browser page over real HTTP: the /_ui/ JSON endpoints, static files, long poll.

Acting endpoints are exercised against the real bot (``bot`` fixture) with ``slack.bot_url`` set;
the rendering itself happens in the browser (tests/test_playground_browser.py), so here we check
that the JSON carries what the page needs.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
from slack_sdk import WebClient

from algobot.ids import ACTION_CONFIRM_PUBLISH, ACTION_LOGIN_KEY, BLOCK_LOGIN_KEY, VIEW_LOGIN
from algobot.localslack import LocalSlack, LocalSlackServer
from tests.fixtures.bot import message_text
from tests.fixtures.sandbox import HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, BOT_TOKEN, DEV_CHANNEL, MEMBER, seeded_local_slack


def get(slack: LocalSlack, path: str, **params: str) -> requests.Response:
    return requests.get(slack.url + path, params=params, timeout=30)


def post(slack: LocalSlack, path: str, body: dict) -> requests.Response:
    return requests.post(slack.url + path, json=body, timeout=30)


def ui_messages(slack: LocalSlack, user: str | None = ADMIN, channel: str = DEV_CHANNEL) -> list[dict]:
    params = {"user": user} if user else {}
    response = get(slack, f"/_ui/channels/{channel}/messages", **params)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def everything(message: dict) -> str:
    """All text of a message JSON (fallback text and every text inside its blocks)."""
    return message["text"] + json.dumps(message["blocks"] or [])


@pytest.fixture
def ui_bot(bot):
    bot.slack.bot_url = bot.url
    return bot


# -- the page ---------------------------------------------------------------------------


def test_page_is_html_that_loads_only_its_own_files(slack):
    page = get(slack, "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'src="/static/app.js"' in page.text and 'href="/static/app.css"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    script = get(slack, "/static/app.js")
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert "/_ui/changes" in script.text and "innerHTML" not in script.text
    style = get(slack, "/static/app.css")
    assert style.status_code == 200 and style.headers["Content-Type"].startswith("text/css")
    assert "@import" not in style.text and "url(" not in style.text
    assert get(slack, "/static/favicon.svg").headers["Content-Type"] == "image/svg+xml"
    assert get(slack, "/static/../core.py").status_code == 404
    assert get(slack, "/static/nothing.js").status_code == 404
    assert get(slack, "/healthz").json() == {"ok": True, "service": "localslack"}


def test_workspace_lists_channels_users_and_the_bot_url(slack):
    data = get(slack, "/_ui/workspace").json()
    assert data["team"]["name"] == "Algobot Dev" and data["bot_url"] is None
    assert {c["name"] for c in data["channels"]} == {"algo-dev", "algo-other"}
    other = next(c for c in data["channels"] if c["name"] == "algo-other")
    assert other["bot_member"] is False and other["members"] is None
    people = {u["id"]: u for u in data["users"]}
    assert people[ADMIN]["is_admin"] and not people[MEMBER]["is_admin"] and people["U0BOT"]["is_bot"]
    slack.bot_url = "http://127.0.0.1:1/slack/events"
    after = get(slack, "/_ui/workspace").json()
    assert after["bot_url"] == "http://127.0.0.1:1/slack/events"
    assert after["version"] > data["version"]  # an open page is woken and drops its "no bot" banner


@pytest.mark.parametrize(
    "path, body",
    [
        ("/_ui/command", {"user": ADMIN, "channel": DEV_CHANNEL, "text": "help"}),
        ("/_ui/click", {"user": ADMIN, "channel": DEV_CHANNEL, "message_ts": "1.0", "action_id": "a"}),
        ("/_ui/submit_view", {"user": ADMIN, "view_id": "V1", "values": {}}),
    ],
)
def test_acting_without_a_bot_url_is_a_clear_409(slack, path, body):
    response = post(slack, path, body)
    assert response.status_code == 409
    assert response.json()["error"] == "no_bot_url" and "LocalSlack.bot_url" in response.json()["message"]
    assert slack.interactions() == []


def test_posts_must_be_json_and_name_a_real_member(slack):
    form = requests.post(slack.url + "/_ui/message", data={"user": ADMIN, "channel": DEV_CHANNEL, "text": "x"})
    assert form.status_code == 415
    assert requests.get(slack.url + "/_ui/message", timeout=5).status_code == 405
    assert post(slack, "/_ui/message", {"user": "U0NOBODY", "channel": DEV_CHANNEL, "text": "x"}).status_code == 400
    assert post(slack, "/_ui/message", {"user": "U0BOT", "channel": DEV_CHANNEL, "text": "x"}).status_code == 400
    slack.add_channel("C0PRIV", "secret", is_private=True, members={ADMIN})
    refused = post(slack, "/_ui/message", {"user": MEMBER, "channel": "C0PRIV", "text": "x"})
    assert refused.status_code == 400 and refused.json()["error"] == "not_in_channel"
    assert get(slack, "/_ui/channels/C0NOPE/messages").status_code == 404
    assert get(slack, "/_ui/nothing").status_code == 404


def test_a_typed_message_is_stored_escaped_like_slacks_client_does(slack):
    response = post(slack, "/_ui/message", {"user": MEMBER, "channel": DEV_CHANNEL, "text": "a <b> & c"})
    assert response.status_code == 200
    [message] = ui_messages(slack, MEMBER)
    assert message["text"] == "a &lt;b&gt; &amp; c" and message["user_name"] == "bob" and not message["is_bot"]


# -- messages as one user sees them ---------------------------------------------------------


def test_messages_group_replies_hide_others_ephemerals_and_show_edits(slack):
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    parent = client.chat_postMessage(channel=DEV_CHANNEL, text="parent")["ts"]
    client.chat_postMessage(channel=DEV_CHANNEL, text="reply", thread_ts=parent)
    client.chat_postMessage(channel=DEV_CHANNEL, text="broadcast", thread_ts=parent, reply_broadcast=True)
    client.chat_postEphemeral(channel=DEV_CHANNEL, user=ADMIN, text="just for alice")
    gone = client.chat_postMessage(channel=DEV_CHANNEL, text="deleted")["ts"]
    client.chat_delete(channel=DEV_CHANNEL, ts=gone)
    client.chat_update(channel=DEV_CHANNEL, ts=parent, text="parent, edited")

    alice = ui_messages(slack, ADMIN)
    assert [m["text"] for m in alice] == ["parent, edited", "broadcast", "just for alice"]
    head = alice[0]
    assert head["edited"] and head["versions"] == 2 and head["is_bot"] and head["user_name"] == "algobot"
    assert [r["text"] for r in head["replies"]] == ["reply", "broadcast"]
    assert alice[1]["broadcast_of"] == parent
    assert alice[2]["ephemeral"] is True and alice[1]["ephemeral"] is False

    bob = ui_messages(slack, MEMBER)
    assert [m["text"] for m in bob] == ["parent, edited", "broadcast"]
    assert [m["text"] for m in ui_messages(slack, None)] == ["parent, edited", "broadcast"]


def test_file_messages_link_to_the_content_as_plain_text(slack):
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    client.files_upload_v2(
        channel=DEV_CHANNEL, content="line 1\n<script>x</script>\n", filename="build.log", title="Log"
    )
    [message] = ui_messages(slack)
    [file] = message["files"]
    assert file["title"] == "Log" and file["name"] == "build.log" and file["url"] == f"/_ui/files/{file['id']}"
    content = get(slack, file["url"])
    assert content.status_code == 200 and content.text == "line 1\n<script>x</script>\n"
    assert content.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert content.headers["X-Content-Type-Options"] == "nosniff"
    assert get(slack, "/_ui/files/F0NOPE").status_code == 404


# -- long poll ------------------------------------------------------------------------------


def test_long_poll_answers_at_once_when_behind_and_promptly_after_a_change(slack):
    version = get(slack, "/_ui/workspace").json()["version"]
    assert get(slack, "/_ui/changes", since=str(version - 1)).json()["version"] == version  # behind: at once
    started = time.monotonic()
    assert get(slack, "/_ui/changes", since=str(version), timeout="0.2").json()["version"] == version  # timed out
    assert 0.15 < time.monotonic() - started < 5

    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    timer = threading.Timer(0.1, lambda: client.chat_postMessage(channel=DEV_CHANNEL, text="news"))
    started = time.monotonic()
    timer.start()
    try:
        answer = get(slack, "/_ui/changes", since=str(version)).json()  # would wait 25 s without the change
    finally:
        timer.join()
    assert answer["version"] > version and time.monotonic() - started < 5
    assert get(slack, "/_ui/changes", since="soon").status_code == 400


def test_closing_the_server_releases_a_waiting_long_poll():
    """Otherwise an open browser tab would hold a server thread (and the shutdown) for 25 s."""
    local = seeded_local_slack()
    server = LocalSlackServer(local).start()
    version = local.version
    answers: list[int] = []
    waiter = threading.Thread(target=lambda: answers.append(local.wait_for_change(version, timeout=25)))
    started = time.monotonic()
    waiter.start()
    server.close()
    waiter.join(timeout=10)
    assert answers == [version] and time.monotonic() - started < 3


# -- acting as a user against the real bot ------------------------------------------------------


def test_help_command_reaches_the_bot_and_shows_only_to_that_user(ui_bot):
    slack = ui_bot.slack
    response = post(slack, "/_ui/command", {"user": ADMIN, "channel": DEV_CHANNEL, "text": "help"})
    assert response.status_code == 200 and response.json() == {"ok": True, "status": 200}
    ui_bot.reply_containing("/algo publish")
    [interaction] = slack.interactions("slash_command")
    assert interaction.payload["command"] == "/algo" and interaction.payload["text"] == "help"

    alice = [m for m in ui_messages(slack, ADMIN) if "/algo publish" in everything(m)]
    assert len(alice) == 1 and alice[0]["ephemeral"] and alice[0]["is_bot"]
    assert any(b["type"] == "section" for b in alice[0]["blocks"])
    assert not [m for m in ui_messages(slack, MEMBER) if "/algo publish" in everything(m)]


def test_a_typed_mention_reaches_the_bot_as_slack_escapes_it_and_allow_succeeds(ui_bot):
    """Typing `@bob` in the composer: the command carries <@U0MEMBER|bob>, so `/algo allow` works."""
    slack = ui_bot.slack
    text = "allow @bob"
    response = post(slack, "/_ui/command", {"user": ADMIN, "channel": DEV_CHANNEL, "text": text})
    assert response.status_code == 200, response.text
    [interaction] = slack.interactions("slash_command")
    assert interaction.payload["text"] == f"allow <@{MEMBER}|bob>"
    ui_bot.reply(lambda m: f"<@{MEMBER}>" in message_text(m) and not m.is_ephemeral)  # announced in the channel


@pytest.mark.parametrize(
    ("typed", "delivered"),
    [
        ("@Bob, #algo-dev and @alice.", f"<@{MEMBER}|bob>, <#{DEV_CHANNEL}|algo-dev> and <@{ADMIN}|alice>."),
        ("@nobody #nowhere bob@example.com issue#12", "@nobody #nowhere bob@example.com issue#12"),
        ('notes="a < b & c" @bob', f'notes="a &lt; b &amp; c" <@{MEMBER}|bob>'),
        ("see https://example.invalid/@bob?a=1&b=2.", "see <https://example.invalid/@bob?a=1&amp;b=2>."),
    ],
    ids=["known", "unknown-stays-plain", "entities", "links"],
)
def test_typed_text_is_escaped_like_slack_does(slack, typed, delivered):
    assert slack.wsgi_app.ui.escape_typed(typed, ADMIN) == delivered
    assert post(slack, "/_ui/message", {"user": ADMIN, "channel": DEV_CHANNEL, "text": typed}).status_code == 200
    assert ui_messages(slack)[-1]["text"] == delivered


def test_unreachable_bot_answers_502_and_slackbot_says_so(slack):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    slack.bot_url = f"http://127.0.0.1:{port}/slack/events"
    response = post(slack, "/_ui/command", {"user": ADMIN, "channel": DEV_CHANNEL, "text": "help"})
    assert response.status_code == 502 and response.json()["error"] == "bot_unreachable"
    [note] = ui_messages(slack, ADMIN)
    assert note["user_name"] == "Slackbot" and note["ephemeral"] and "dispatch_failed" in note["text"]


def test_click_round_trip_publishes_after_the_confirm_button(ui_bot, tmp_path):
    ui_bot.login_demo()
    clone = ui_bot.sandbox.create_algorithm("demo/hello")
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    ui_bot.box.wait_for_builds()
    slack = ui_bot.slack
    post(
        slack, "/_ui/command", {"user": ADMIN, "channel": DEV_CHANNEL, "text": "publish demo/hello callability=public"}
    )
    ui_bot.reply_containing("*public* callability")

    question = next(m for m in ui_messages(slack) if "*public* callability" in everything(m))
    actions = next(b for b in question["blocks"] if b["type"] == "actions")
    button = next(e for e in actions["elements"] if e["action_id"] == ACTION_CONFIRM_PUBLISH)
    assert button["style"] == "danger" and button["confirm"]["title"]["text"]  # the page shows the dialog
    response = post(
        slack,
        "/_ui/click",
        {
            "user": ADMIN,
            "channel": DEV_CHANNEL,
            "message_ts": question["ts"],
            "action_id": button["action_id"],
            "block_id": actions["block_id"],
            "value": button["value"],
        },
    )
    assert response.status_code == 200 and response.json()["status"] == 200
    ui_bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello* *0.1.0* (public)" in message_text(m))
    announcement = next(m for m in ui_messages(slack, MEMBER) if "*0.1.0*" in everything(m))
    assert not announcement["ephemeral"]

    bad = post(
        slack, "/_ui/click", {"user": ADMIN, "channel": DEV_CHANNEL, "message_ts": question["ts"], "action_id": "nope"}
    )
    assert bad.status_code == 400 and "nope" in bad.json()["message"]


def test_modal_round_trip_shows_errors_then_saves_the_key(ui_bot):
    slack = ui_bot.slack
    post(slack, "/_ui/command", {"user": ADMIN, "channel": DEV_CHANNEL, "text": "login"})
    slack.wait_for(lambda: slack.views(user=ADMIN), message="the login modal")
    [view] = get(slack, "/_ui/views", user=ADMIN).json()["views"]
    assert view["callback_id"] == VIEW_LOGIN and view["submit"]["text"] == "Save" and view["title"]["text"]
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert inputs[BLOCK_LOGIN_KEY]["element"]["type"] == "plain_text_input"
    assert get(slack, "/_ui/views", user=MEMBER).json()["views"] == []

    values = {BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: "   "}}
    refused = post(slack, "/_ui/submit_view", {"user": ADMIN, "view_id": view["id"], "values": values}).json()
    assert refused["closed"] is False and refused["errors"][BLOCK_LOGIN_KEY]
    assert get(slack, "/_ui/views", user=ADMIN).json()["views"][0]["errors"] == refused["errors"]

    values = {BLOCK_LOGIN_KEY: {ACTION_LOGIN_KEY: ui_bot.sandbox.key("demo")}}
    saved = post(slack, "/_ui/submit_view", {"user": ADMIN, "view_id": view["id"], "values": values}).json()
    assert saved == {"ok": True, "status": 200, "closed": True, "errors": None}
    ui_bot.reply_containing("Saved the key")
    assert get(slack, "/_ui/views", user=ADMIN).json()["views"] == []
    assert post(slack, "/_ui/submit_view", {"user": ADMIN, "view_id": "V404", "values": {}}).status_code == 404


def test_closing_a_modal_from_the_page(ui_bot):
    slack = ui_bot.slack
    post(slack, "/_ui/command", {"user": ADMIN, "channel": DEV_CHANNEL, "text": "login"})
    [view] = slack.wait_for(lambda: slack.views(user=ADMIN), message="the login modal")
    assert post(slack, "/_ui/close_view", {"user": MEMBER, "view_id": view.id}).status_code == 404  # not bob's
    assert post(slack, "/_ui/close_view", {"user": ADMIN, "view_id": view.id}).json() == {"ok": True}
    assert slack.view(view.id).closed and get(slack, "/_ui/views", user=ADMIN).json()["views"] == []
