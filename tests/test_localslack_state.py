"""The local Slack's state helpers: wait_for, inspection over HTTP, workspaces, server lifecycle."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from algobot.localslack import LocalSlack, LocalSlackServer
from tests.fixtures.slack import ADMIN, BOT_TOKEN, DEV_CHANNEL, MEMBER, seeded_local_slack


def test_wait_for_wakes_on_a_change_from_another_thread(slack: LocalSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    timer = threading.Timer(0.05, lambda: client.chat_postMessage(channel=DEV_CHANNEL, text="later"))
    started = time.monotonic()
    timer.start()
    try:
        [message] = slack.wait_for(lambda: slack.messages(DEV_CHANNEL), timeout=5)
    finally:
        timer.join()
    assert message.text == "later" and time.monotonic() - started < 2


def test_wait_for_timeout_explains_what_happened(slack: LocalSlack) -> None:
    WebClient(token=BOT_TOKEN, base_url=slack.api_url).chat_postMessage(channel=DEV_CHANNEL, text="hello")
    with pytest.raises(AssertionError) as info:
        slack.wait_for(lambda: False, timeout=0.05, message="a goodbye")
    report = str(info.value)
    assert "a goodbye not met" in report and "chat.postMessage -> 200 ok" in report and "'hello'" in report


def test_reply_to_a_reply_joins_the_parents_thread(slack: LocalSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    parent = client.chat_postMessage(channel=DEV_CHANNEL, text="p")["ts"]
    reply = client.chat_postMessage(channel=DEV_CHANNEL, text="r1", thread_ts=parent)["ts"]
    client.chat_postMessage(channel=DEV_CHANNEL, text="r2", thread_ts=reply)
    assert [m.text for m in slack.thread(DEV_CHANNEL, parent)] == ["p", "r1", "r2"]
    history = client.conversations_history(channel=DEV_CHANNEL)["messages"]
    assert [m["text"] for m in history] == ["p"]


def test_inspection_endpoint(slack: LocalSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    client.chat_postMessage(channel=DEV_CHANNEL, text="public")
    client.chat_postEphemeral(channel=DEV_CHANNEL, user=MEMBER, text="private")

    state = requests.get(slack.url + "/_state").json()
    assert {c["id"] for c in state["channels"]} >= {"C0DEV", "C0OTHER"}
    assert {u["id"] for u in state["users"]} >= {ADMIN, MEMBER}
    messages = requests.get(f"{slack.url}/_state/channels/{DEV_CHANNEL}/messages").json()["messages"]
    assert [m["text"] for m in messages] == ["public"]
    url = f"{slack.url}/_state/channels/{DEV_CHANNEL}/messages"
    mine = requests.get(url, params={"user": MEMBER}).json()["messages"]
    assert [(m["text"], m["ephemeral_to"]) for m in mine] == [("public", None), ("private", MEMBER)]
    calls = requests.get(slack.url + "/_state/calls", params={"method": "chat.postMessage"}).json()["calls"]
    assert len(calls) == 1 and BOT_TOKEN not in str(calls)
    assert requests.get(slack.url + "/nope").status_code == 404


def test_workspaces_are_isolated(slack: LocalSlack) -> None:
    slack.add_workspace("T0002", domain="other", name="Other", bot_token="xoxb-other-token")
    slack.add_channel("C2GEN", "general", team_id="T0002")
    other = WebClient(token="xoxb-other-token", base_url=slack.api_url)
    assert other.auth_test()["team_id"] == "T0002"
    assert other.chat_postMessage(channel="C2GEN", text="hi")["ok"]
    with pytest.raises(SlackApiError) as info:
        other.chat_postMessage(channel=DEV_CHANNEL, text="cross-team")
    assert info.value.response["error"] == "channel_not_found"


def test_server_lifecycle_is_quick_and_clean() -> None:
    local = seeded_local_slack()
    started = time.monotonic()
    with LocalSlackServer(local) as server:
        assert server.api_url == local.api_url == server.url + "/api/"
        assert requests.get(server.url + "/healthz").json()["ok"]
        session = requests.Session()  # a kept-alive connection must not hold the loop open
        assert session.post(server.api_url + "api.test").json()["ok"]
    assert time.monotonic() - started < 2
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/healthz", timeout=1)
