"""The local Slack's Web API, driven by the real slack_sdk WebClient (no mocks)."""

from __future__ import annotations

import json
from functools import partial

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from algobot.localslack import LocalSlack
from tests.fixtures.slack import ADMIN, BOT_TOKEN, DEV_CHANNEL, MEMBER, OTHER_CHANNEL


@pytest.fixture
def client(slack: LocalSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value.response["error"]


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


HEADER_151 = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}


def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    response = client.auth_test()
    assert (response["team_id"], response["user_id"], response["bot_id"]) == ("T0001", "U0BOT", "B0BOT")


def test_unknown_or_missing_token_is_rejected(slack: LocalSlack) -> None:
    assert error_of(WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test) == "invalid_auth"
    assert error_of(WebClient(base_url=slack.api_url).auth_test) == "not_authed"
    slack.revoke_token(BOT_TOKEN)
    assert error_of(WebClient(token=BOT_TOKEN, base_url=slack.api_url).auth_test) == "token_revoked"


def test_post_message_then_update_in_place(slack: LocalSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=DEV_CHANNEL, text="building", blocks=[section("*building*")])
    assert posted["channel"] == DEV_CHANNEL and posted["message"]["user"] == "U0BOT"
    client.chat_update(channel=DEV_CHANNEL, ts=posted["ts"], text="built", blocks=[section("*built*")])

    [message] = slack.messages(DEV_CHANNEL)
    assert (message.ts, message.text, message.user) == (posted["ts"], "built", "U0BOT")
    assert message.blocks[0]["text"]["text"] == "*built*" and message.blocks[0]["block_id"]
    assert [h["text"] for h in message.history] == ["building"] and message.edited
    missing = error_of(lambda: client.chat_update(channel=DEV_CHANNEL, ts="1.000001", text="x"))
    assert missing == "message_not_found"


def test_timestamps_strictly_increase_and_threads_attach(slack: LocalSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=DEV_CHANNEL, text="parent")["ts"]
    all_ts = [parent]
    for i in range(3):
        all_ts.append(client.chat_postMessage(channel=DEV_CHANNEL, text=f"r{i}", thread_ts=parent)["ts"])
    assert all_ts == sorted(all_ts, key=float) and len(set(all_ts)) == 4
    thread = slack.thread(DEV_CHANNEL, parent)
    assert [m.text for m in thread] == ["parent", "r0", "r1", "r2"]
    assert client.conversations_replies(channel=DEV_CHANNEL, ts=parent)["messages"][0]["reply_count"] == 3


def test_message_metadata_is_checked_kept_and_listed_only_when_asked_for(client: WebClient) -> None:
    metadata = {"event_type": "algobot_notice", "event_payload": {"key": "k1", "part": 0}}
    first = client.chat_postMessage(channel=DEV_CHANNEL, text="first", metadata=metadata)["ts"]
    reply = client.chat_postMessage(channel=DEV_CHANNEL, text="reply", thread_ts=first, metadata=metadata)["ts"]
    second = client.chat_postMessage(channel=DEV_CHANNEL, text="second")["ts"]
    for bad in ({"event_type": "x"}, {"event_payload": {}}, {"event_type": "x", "event_payload": "y"}):
        assert error_of(lambda bad=bad: client.chat_postMessage(channel=DEV_CHANNEL, text="t", metadata=bad)) == (
            "invalid_metadata_format"
        )

    plain = client.conversations_history(channel=DEV_CHANNEL)["messages"]
    assert [m["ts"] for m in plain] == [second, first] and all("metadata" not in m for m in plain)
    listed = client.conversations_history(channel=DEV_CHANNEL, include_all_metadata=True, oldest=first)["messages"]
    assert [m["ts"] for m in listed] == [second]  # oldest is exclusive
    listed = client.conversations_history(channel=DEV_CHANNEL, include_all_metadata=True)["messages"]
    assert listed[1]["metadata"] == metadata
    thread = client.conversations_replies(channel=DEV_CHANNEL, ts=first, include_all_metadata=True)["messages"]
    assert [(m["ts"], m.get("metadata")) for m in thread] == [(first, metadata), (reply, metadata)]
    changed = {"event_type": "algobot_notice", "event_payload": {"key": "k1", "part": 1}}
    client.chat_update(channel=DEV_CHANNEL, ts=second, text="second, edited", metadata=changed)
    assert (
        client.conversations_history(channel=DEV_CHANNEL, include_all_metadata=True)["messages"][0]["metadata"]
        == changed
    )


def test_post_ephemeral_is_visible_only_to_its_user(slack: LocalSlack, client: WebClient) -> None:
    ts = client.chat_postEphemeral(channel=DEV_CHANNEL, user=MEMBER, text="only you")["message_ts"]
    assert slack.messages(DEV_CHANNEL) == []
    assert slack.messages(DEV_CHANNEL, include_ephemeral_for=ADMIN) == []
    [message] = slack.messages(DEV_CHANNEL, include_ephemeral_for=MEMBER)
    assert (message.ts, message.ephemeral_to, message.text) == (ts, MEMBER, "only you")
    assert error_of(lambda: client.chat_postEphemeral(channel=DEV_CHANNEL, user="U0NOPE", text="x")) == (
        "user_not_found"
    )


def test_channel_errors(slack: LocalSlack, client: WebClient) -> None:
    assert error_of(lambda: client.chat_postMessage(channel="C0NOPE", text="x")) == "channel_not_found"
    assert error_of(lambda: client.chat_postMessage(channel=OTHER_CHANNEL, text="x")) == "not_in_channel"
    slack.update_channel(DEV_CHANNEL, is_archived=True)
    assert error_of(lambda: client.chat_postMessage(channel=DEV_CHANNEL, text="x")) == "is_archived"
    slack.add_channel("G0SECRET", "secret", is_private=True, bot_member=False)
    assert error_of(lambda: client.conversations_info(channel="G0SECRET")) == "channel_not_found"


def test_post_to_a_user_id_lands_in_the_bots_dm(slack: LocalSlack, client: WebClient) -> None:
    channel = client.chat_postMessage(channel=MEMBER, text="psst")["channel"]
    assert channel.startswith("D") and [m.text for m in slack.messages(channel)] == ["psst"]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x", "blocks": [section(str(i)) for i in range(51)]}, "invalid_blocks"),
        ({"text": "x", "blocks": [section("y" * 3001)]}, "invalid_blocks"),
        ({"text": "x", "blocks": [HEADER_151]}, "invalid_blocks"),
        ({"text": "x", "blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
        ({"text": "x", "blocks": [{"type": "section"}]}, "invalid_blocks"),
        ({"text": "x" * 40001}, "msg_too_long"),
        ({}, "no_text"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_message_limits_are_enforced(slack: LocalSlack, client: WebClient, kwargs: dict, error: str) -> None:
    assert error_of(lambda: client.chat_postMessage(channel=DEV_CHANNEL, **kwargs)) == error
    assert slack.messages(DEV_CHANNEL) == []


def test_fifty_blocks_are_fine(client: WebClient) -> None:
    assert client.chat_postMessage(channel=DEV_CHANNEL, text="x", blocks=[section("s")] * 50)["ok"]


def test_users_info_and_conversations_info(client: WebClient) -> None:
    admin = client.users_info(user=ADMIN)["user"]
    assert (admin["id"], admin["is_admin"], admin["is_owner"]) == (ADMIN, True, False)
    assert client.users_info(user=MEMBER)["user"]["is_admin"] is False
    assert error_of(lambda: client.users_info(user="U0NOPE")) == "user_not_found"
    info = client.conversations_info(channel=OTHER_CHANNEL)["channel"]
    assert (info["name"], info["is_member"]) == ("algo-other", False)


def test_views_open_needs_a_fresh_trigger(slack: LocalSlack, client: WebClient) -> None:
    view = {
        "type": "modal",
        "callback_id": "set_key",
        "private_metadata": "C0DEV",
        "title": {"type": "plain_text", "text": "API key"},
        "blocks": [
            {
                "type": "input",
                "block_id": "key",
                "label": {"type": "plain_text", "text": "Key"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    assert error_of(lambda: client.views_open(trigger_id="1.2.nope", view=view)) == "invalid_trigger_id"
    trigger = slack.issue_trigger_id(ADMIN, DEV_CHANNEL)
    opened = client.views_open(trigger_id=trigger, view=view)["view"]
    assert opened["id"] and opened["callback_id"] == "set_key"
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=view)) == "exchanged_trigger_id"
    assert slack.view(opened["id"]).user == ADMIN

    updated = client.views_update(view_id=opened["id"], view={**view, "private_metadata": "changed"})["view"]
    assert updated["private_metadata"] == "changed" and updated["hash"] != opened["hash"]
    bad = {**view, "title": {"type": "plain_text", "text": "t" * 30}}
    assert error_of(lambda: client.views_update(view_id=opened["id"], view=bad)) == "invalid_arguments"


def test_trigger_ids_expire() -> None:
    now = [1_700_000_000.0]
    slack = LocalSlack("s", "xoxb-t", clock=lambda: now[0])
    slack.add_user(ADMIN, "alice")
    trigger = slack.issue_trigger_id(ADMIN)
    now[0] += 3.5
    status, body, _ = slack.handle_api("views.open", {"trigger_id": trigger, "view": "{}"}, "xoxb-t", {}, "http://x")
    assert body["error"] == "expired_trigger_id"


def test_files_upload_v2_into_a_thread(slack: LocalSlack, client: WebClient) -> None:
    parent = client.chat_postMessage(channel=DEV_CHANNEL, text="build 42")["ts"]
    done = client.files_upload_v2(
        channel=DEV_CHANNEL,
        thread_ts=parent,
        content="line 1\nline 2\n",
        filename="build.log",
        title="Build log",
        initial_comment="full log",
    )
    assert done["file"]["title"] == "Build log"
    [_, reply] = slack.thread(DEV_CHANNEL, parent)
    assert reply.text == "full log" and reply.thread_ts == parent
    [file] = reply.files
    assert (file.name, file.title, file.text) == ("build.log", "Build log", "line 1\nline 2\n")
    assert [c.method for c in slack.calls() if c.method.startswith(("files.", "upload"))] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]


def test_complete_upload_without_bytes_is_file_not_found(client: WebClient) -> None:
    file_id = client.files_getUploadURLExternal(filename="a.txt", length=3)["file_id"]
    complete = partial(client.files_completeUploadExternal, files=[{"id": file_id}], channel_id=DEV_CHANNEL)
    assert error_of(complete) == "file_not_found"


def test_scripted_429_is_retried_by_the_sdk_handler(slack: LocalSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    limited = {"ok": False, "error": "ratelimited"}
    slack.script("chat.postMessage", limited, status=429, headers={"Retry-After": "0"})
    assert client.chat_postMessage(channel=DEV_CHANNEL, text="eventually")["ok"]
    assert [(c.status, c.scripted) for c in slack.calls("chat.postMessage")] == [(429, True), (200, False)]
    assert [m.text for m in slack.messages(DEV_CHANNEL)] == ["eventually"]


def test_scripted_error_applies_times_then_normal_behaviour(slack: LocalSlack, client: WebClient) -> None:
    slack.script("users.info", {"ok": False, "error": "fatal_error"}, times=2)
    assert error_of(lambda: client.users_info(user=ADMIN)) == "fatal_error"
    assert error_of(lambda: client.users_info(user=ADMIN)) == "fatal_error"
    assert client.users_info(user=ADMIN)["ok"]


def test_unknown_methods_answer_ok_and_are_recorded(slack: LocalSlack, client: WebClient) -> None:
    assert client.reactions_add(channel=DEV_CHANNEL, timestamp="1.000001", name="eyes")["ok"]
    [call] = slack.calls("reactions.add")
    assert call.args["name"] == "eyes"


def test_calls_never_hold_the_token(slack: LocalSlack, client: WebClient) -> None:
    client.auth_test()
    requests.post(slack.api_url + "auth.test", data={"token": BOT_TOKEN})
    for call in slack.calls("auth.test"):
        assert BOT_TOKEN not in json.dumps([call.args, call.headers, call.response])
    assert BOT_TOKEN not in repr(slack) and BOT_TOKEN not in slack.dump()
    assert slack.calls("auth.test")[0].headers["Authorization"] == "(redacted)"


def test_get_query_string_and_form_bodies_are_accepted(slack: LocalSlack) -> None:
    url, bearer = slack.api_url + "users.info", {"Authorization": f"Bearer {BOT_TOKEN}"}
    by_get = requests.get(url, params={"user": ADMIN}, headers=bearer).json()
    by_form = requests.post(url, data={"user": ADMIN, "token": BOT_TOKEN}).json()
    by_json = requests.post(url, json={"user": ADMIN}, headers=bearer).json()
    assert by_get["user"]["id"] == by_form["user"]["id"] == by_json["user"]["id"] == ADMIN


def test_socket_mode_and_oauth_stubs(slack: LocalSlack) -> None:
    app_client = WebClient(token="xapp-test-token", base_url=slack.api_url)
    assert app_client.apps_connections_open(app_token="xapp-test-token")["url"].startswith("ws://")
    bot_client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    assert error_of(lambda: bot_client.apps_connections_open(app_token=BOT_TOKEN)) == "not_allowed_token_type"
    slack.oauth_response = {"access_token": "xoxb-installed", "team": {"id": "T0002"}}
    answer = WebClient(base_url=slack.api_url).oauth_v2_access(client_id="c", client_secret="s", code="abc")
    assert answer["team"]["id"] == "T0002"
    assert slack.calls("oauth.v2.access")[0].response["access_token"] == "(redacted)"


def test_form_encoded_blocks_arrive_as_json_strings(slack: LocalSlack) -> None:
    blocks = json.dumps([section("from a form")])
    answer = requests.post(
        slack.api_url + "chat.postMessage",
        data={"token": BOT_TOKEN, "channel": DEV_CHANNEL, "text": "t", "blocks": blocks},
    ).json()
    assert answer["ok"] and slack.messages(DEV_CHANNEL)[0].blocks[0]["text"]["text"] == "from a form"
    broken = requests.post(
        slack.api_url + "chat.postMessage",
        data={"token": BOT_TOKEN, "channel": DEV_CHANNEL, "text": "t", "blocks": "[{not json"},
    ).json()
    assert broken["error"] == "invalid_blocks_format"


def test_upload_url_accepts_multipart_too(slack: LocalSlack, client: WebClient) -> None:
    grant = client.files_getUploadURLExternal(filename="a.txt", length=5)
    assert requests.post(grant["upload_url"], files={"file": ("a.txt", b"hello")}).status_code == 200
    client.files_completeUploadExternal(files=[{"id": grant["file_id"]}], channel_id=DEV_CHANNEL)
    assert slack.messages(DEV_CHANNEL)[0].files[0].text == "hello"


def test_home_tab_is_published_per_user(slack: LocalSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": [section("your subscriptions")]}
    client.views_publish(user_id=MEMBER, view=home)
    assert slack.home_view(MEMBER).blocks[0]["text"]["text"] == "your subscriptions"
    assert slack.views(MEMBER) == [] and len(slack.views(MEMBER, kind=None)) == 1
    assert error_of(lambda: client.views_publish(user_id=MEMBER, view={**home, "type": "modal"})) == (
        "invalid_arguments"
    )
