"""Listeners through `app.dispatch` with signed requests and an inline executor (no HTTP server).

The inline executor runs the listener before `dispatch` returns, so these tests see the whole
effect of a command deterministically; the HTTP-level tests cover the real timing model.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import Executor, Future
from urllib.parse import urlencode

import pytest
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier

from algobot.crypto import load_cipher
from algobot.db import migrate
from algobot.slack_app import create_app
from tests.fixtures.bot import make_settings, message_text
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, TEAM_ID


class InlineExecutor(Executor):
    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@pytest.fixture
def app(tmp_path, slack, sandbox):
    settings = make_settings(tmp_path, slack, sandbox.url)
    migrate(settings.db_path)
    cipher = load_cipher(settings.secret_key, settings.db_path, logging.getLogger("t"))
    return create_app(settings, cipher, listener_executor=InlineExecutor())


def signed(slack, text: str, *, secret: str | None = None, age: int = 0) -> BoltRequest:
    body = urlencode(
        {
            "team_id": TEAM_ID,
            "channel_id": DEV_CHANNEL,
            "user_id": ADMIN,
            "command": "/algo",
            "text": text,
            "response_url": slack.issue_response_url(DEV_CHANNEL, ADMIN),
            "trigger_id": slack.issue_trigger_id(ADMIN, DEV_CHANNEL),
        }
    )
    timestamp = str(int(time.time()) - age)
    signature = SignatureVerifier(secret or slack.signing_secret).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "content-type": ["application/x-www-form-urlencoded"],
        "x-slack-request-timestamp": [timestamp],
        "x-slack-signature": [signature],
    }
    return BoltRequest(body=body, headers=headers)


def test_help_is_answered_through_the_response_url(app, slack):
    response = app.dispatch(signed(slack, "help"))
    assert response.status == 200
    [call] = slack.calls("response_url")
    assert "/algo publish" in str(call.args)


def test_parse_error_is_the_ack_itself(app, slack):
    response = app.dispatch(signed(slack, 'publish demo/x notes="open'))
    assert response.status == 200 and "quote is not closed" in response.body
    assert slack.calls("response_url") == []


def test_no_key_reply_and_no_api_call(app, slack, sandbox):
    before = sum(sandbox.box.request_counts.values())
    app.dispatch(signed(slack, "info demo/hello"))
    replies = [m for m in slack.messages(DEV_CHANNEL, include_ephemeral_for=ADMIN) if "/algo login" in message_text(m)]
    assert replies and sum(sandbox.box.request_counts.values()) == before


def test_parse_error_names_the_usage_of_the_command_it_was_for(app, slack):
    response = app.dispatch(signed(slack, 'update demo/x summary="open'))
    assert "quote is not closed" in response.body and "/algo update USER/ALGO" in response.body


def test_a_refused_login_text_shows_one_icon(app, slack):
    response = app.dispatch(signed(slack, "login simA1b2C3d4E5f6G7h8I9j0"))
    text = json.loads(response.body)["text"]
    assert text.startswith(":no_entry:") and ":warning:" not in text


def test_an_unparsable_timestamp_never_makes_the_error_handler_post_to_the_bodys_response_url(app, slack):
    request = signed(slack, "help")
    request.headers["x-slack-request-timestamp"] = ["abc"]  # Bolt's verifier raises on it
    response = app.dispatch(request)
    assert response.status >= 400
    assert slack.calls("response_url") == []


@pytest.mark.parametrize("secret, age", [("wrong-secret", 0), (None, 600)])
def test_bad_signature_or_stale_timestamp_is_401(app, slack, secret, age):
    response = app.dispatch(signed(slack, "help", secret=secret, age=age))
    assert response.status == 401
    assert slack.calls("response_url") == []
