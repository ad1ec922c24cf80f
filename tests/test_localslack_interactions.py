"""The Slack side of interactions: signed requests to a real Bolt app served over HTTP, and response URLs."""

from __future__ import annotations

import time
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from algobot.localslack import LocalSlack
from tests.fixtures.slack import ADMIN, BOT_TOKEN, DEV_CHANNEL, MEMBER, SIGNING_SECRET

KEY_MODAL = {
    "type": "modal",
    "callback_id": "set_key",
    "private_metadata": "C0DEV",
    "title": {"type": "plain_text", "text": "API key"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "key",
            "label": {"type": "plain_text", "text": "Key"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        },
        {
            "type": "input",
            "block_id": "env",
            "label": {"type": "plain_text", "text": "Environment"},
            "element": {
                "type": "static_select",
                "action_id": "choice",
                "options": [
                    {"text": {"type": "plain_text", "text": "CPU"}, "value": "cpu"},
                    {"text": {"type": "plain_text", "text": "GPU"}, "value": "gpu"},
                ],
            },
        },
    ],
}

PLAIN_YES = {"type": "plain_text", "text": "Yes"}
PLAIN_NO = {"type": "plain_text", "text": "No"}
APPROVE_BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Publish demo/hello?"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {"type": "button", "action_id": "approve", "value": "demo/hello", "text": PLAIN_YES},
            {"type": "button", "action_id": "reject", "value": "no", "text": PLAIN_NO},
        ],
    },
]


class Bot:
    """A tiny Bolt app standing in for algobot; remembers what each listener received."""

    def __init__(self, slack: LocalSlack) -> None:
        self.received: dict[str, list[dict[str, Any]]] = {"command": [], "action": [], "view": []}
        app = App(
            signing_secret=SIGNING_SECRET,
            client=WebClient(base_url=slack.api_url, token=BOT_TOKEN),
            token_verification_enabled=False,
        )

        @app.command("/algo")
        def algo(ack, command, respond, client, body) -> None:
            self.received["command"].append(command)
            if command["text"] == "key":
                client.views_open(trigger_id=body["trigger_id"], view=KEY_MODAL)
                ack()
                return
            ack("on it")
            respond(response_type="in_channel", text=f"running {command['text']}")
            client.chat_postMessage(channel=command["channel_id"], text="done", thread_ts=None)

        @app.action("approve")
        def approve(ack, body, respond) -> None:
            ack()
            self.received["action"].append(body)
            respond(replace_original=True, text=f"Approved {body['actions'][0]['value']}")

        @app.view("set_key")
        def set_key(ack, view, client, body) -> None:
            self.received["view"].append(view)
            values = view["state"]["values"]
            if not values["key"]["value"]["value"]:
                ack(response_action="errors", errors={"key": "A key is required"})
                return
            if values["key"]["value"]["value"] == "confirm":
                ack(
                    response_action="update",
                    view={**KEY_MODAL, "title": {"type": "plain_text", "text": "Confirm"}},
                )
                return
            ack()
            env = values["env"]["choice"]["selected_option"]["value"]
            client.chat_postMessage(channel=view["private_metadata"], text=f"key saved for {env}")

        self.app = app


@pytest.fixture
def bot(slack: LocalSlack, serve_wsgi) -> tuple[Bot, str]:
    bot = Bot(slack)
    return bot, serve_wsgi(SlackRequestHandler(bot.app)) + "/slack/events"


def test_slash_command_is_signed_and_shaped_like_slack(slack: LocalSlack, bot: tuple[Bot, str]) -> None:
    app, url = bot
    response = slack.send_command(url, user=ADMIN, channel=DEV_CHANNEL, text="build demo/hello")
    assert response.status_code == 200 and response.text == "on it"

    [command] = app.received["command"]
    fields = ("team_id", "channel_id", "channel_name", "user_id", "user_name", "command")
    assert {k: command[k] for k in fields} == {
        "team_id": "T0001",
        "channel_id": DEV_CHANNEL,
        "channel_name": "algo-dev",
        "user_id": ADMIN,
        "user_name": "alice",
        "command": "/algo",
    }
    assert command["text"] == "build demo/hello" and command["api_app_id"] == "A0APP"
    assert command["response_url"].startswith(slack.url + "/response/") and command["trigger_id"]

    slack.wait_for(lambda: len(slack.messages(DEV_CHANNEL)) == 2, message="respond() + chat.postMessage")
    assert sorted(m.text for m in slack.messages(DEV_CHANNEL)) == ["done", "running build demo/hello"]
    # the ack text is shown to the invoking user only, as Slack does
    assert [m.text for m in slack.ephemerals(DEV_CHANNEL, ADMIN)] == ["on it"]
    assert slack.ephemerals(DEV_CHANNEL, MEMBER) == []


@pytest.mark.parametrize(
    "overrides",
    [{"secret": "not-the-secret"}, {"timestamp": int(time.time()) - 600}],
    ids=["wrong-secret", "stale-timestamp"],
)
def test_bad_signatures_are_rejected(slack: LocalSlack, bot: tuple[Bot, str], overrides: dict) -> None:
    app, url = bot
    response = slack.send_command(url, user=ADMIN, channel=DEV_CHANNEL, text="build x", **overrides)
    assert response.status_code == 401
    assert app.received["command"] == []
    [note] = slack.ephemerals(DEV_CHANNEL, ADMIN)
    assert (note.user, note.text) == ("USLACKBOT", '/algo failed with the error "dispatch_failed"')


def test_click_sends_block_actions_and_respond_replaces(slack: LocalSlack, bot: tuple[Bot, str]) -> None:
    app, url = bot
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    ts = client.chat_postMessage(channel=DEV_CHANNEL, text="Publish?", blocks=APPROVE_BLOCKS)["ts"]

    response = slack.click(url, user=ADMIN, channel=DEV_CHANNEL, message_ts=ts, action_id="approve")
    assert response.status_code == 200

    [body] = app.received["action"]
    assert body["type"] == "block_actions" and body["user"]["id"] == ADMIN and body["team"]["id"] == "T0001"
    container = {"type": "message", "message_ts": ts, "channel_id": DEV_CHANNEL, "is_ephemeral": False}
    assert body["container"] == container
    assert body["message"]["ts"] == ts and body["message"]["blocks"][1]["block_id"] == "decide"
    [action] = body["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "approve",
        "decide",
        "demo/hello",
        "button",
    )

    slack.wait_for(lambda: slack.message(DEV_CHANNEL, ts).text == "Approved demo/hello")
    assert len(slack.messages(DEV_CHANNEL)) == 1  # replaced in place, not posted anew


def test_click_on_a_missing_button_is_a_test_error(slack: LocalSlack, bot: tuple[Bot, str]) -> None:
    _, url = bot
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    ts = client.chat_postMessage(channel=DEV_CHANNEL, text="x")["ts"]
    with pytest.raises(ValueError, match="no element"):
        slack.click(url, user=ADMIN, channel=DEV_CHANNEL, message_ts=ts, action_id="approve")


def test_modal_opened_from_a_command_then_submitted(slack: LocalSlack, bot: tuple[Bot, str]) -> None:
    app, url = bot
    assert slack.send_command(url, user=ADMIN, channel=DEV_CHANNEL, text="key").status_code == 200
    [view] = slack.wait_for(lambda: slack.views(ADMIN))
    assert (view.callback_id, view.private_metadata) == ("set_key", "C0DEV")

    # empty key -> the bot answers response_action=errors, the modal stays open with the error
    slack.submit_view(url, user=ADMIN, view_id=view.id, values={"env": "gpu"})
    assert view.errors == {"key": "A key is required"} and not view.closed
    sent = app.received["view"][0]
    gpu_option = {"text": {"type": "plain_text", "text": "GPU"}, "value": "gpu"}
    assert sent["state"]["values"] == {
        "key": {"value": {"type": "plain_text_input", "value": None}},
        "env": {"choice": {"type": "static_select", "selected_option": gpu_option}},
    }
    assert (sent["callback_id"], sent["private_metadata"], sent["id"]) == ("set_key", "C0DEV", view.id)

    slack.submit_view(url, user=ADMIN, view_id=view.id, values={"key": "confirm", "env": "cpu"})
    assert view.title == "Confirm" and view.errors is None and not view.closed

    slack.submit_view(url, user=ADMIN, view_id=view.id, values={"key": {"value": "sim-123"}, "env": "cpu"})
    assert view.closed
    slack.wait_for(lambda: [m for m in slack.messages(DEV_CHANNEL) if m.text == "key saved for cpu"])


def test_response_url_via_webhook_client(slack: LocalSlack) -> None:
    url = slack.issue_response_url(DEV_CHANNEL, MEMBER)
    webhook = WebhookClient(url)
    assert webhook.send(text="just you").status_code == 200
    assert webhook.send(text="everyone", response_type="in_channel").body == "ok"
    assert [m.text for m in slack.messages(DEV_CHANNEL)] == ["everyone"]
    assert [m.text for m in slack.ephemerals(DEV_CHANNEL, MEMBER)] == ["just you"]

    bad = webhook.send(text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "y"}}] * 51)
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    for _ in range(3):
        assert webhook.send(text="more").status_code == 200
    sixth = webhook.send(text="too many")
    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert len(slack.calls("response_url")) == 7


def test_response_url_replace_and_delete_original(slack: LocalSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    first = client.chat_postMessage(channel=DEV_CHANNEL, text="one")["ts"]
    second = client.chat_postMessage(channel=DEV_CHANNEL, text="two")["ts"]
    WebhookClient(slack.issue_response_url(DEV_CHANNEL, ADMIN, message_ts=first)).send(
        text="one, edited", replace_original=True
    )
    WebhookClient(slack.issue_response_url(DEV_CHANNEL, ADMIN, message_ts=second)).send_dict({"delete_original": True})
    [message] = slack.messages(DEV_CHANNEL)
    assert (message.ts, message.text) == (first, "one, edited")


def test_response_urls_expire() -> None:
    now = [1_700_000_000.0]
    slack = LocalSlack("s", "xoxb-t", clock=lambda: now[0])
    slack.add_channel(DEV_CHANNEL, "algo-dev")
    slack.add_user(ADMIN, "alice")
    url_id = slack.issue_response_url(DEV_CHANNEL, ADMIN).rsplit("/", 1)[-1]
    now[0] += 31 * 60
    assert slack.handle_response_url(url_id, {"text": "late"}, {})[:2] == (404, "expired_url")


def test_response_url_can_be_scripted(slack: LocalSlack) -> None:
    slack.script("response_url", "rate_limited", status=429, headers={"Retry-After": "1"})
    webhook = WebhookClient(slack.issue_response_url(DEV_CHANNEL, ADMIN))
    limited = webhook.send(text="x")
    assert (limited.status_code, limited.body, limited.headers["Retry-After"]) == (429, "rate_limited", "1")
    assert webhook.send(text="x").status_code == 200
