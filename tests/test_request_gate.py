"""Requests that cannot be verified, bodies too large or not UTF-8: refused at the door, logged safely.

Every test drives the real bot over HTTP. Where a test needs a response_url an attacker would pick,
it uses one the local Slack issued, so any POST the bot made to it would be recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import quote, quote_plus, urlencode

import pytest
import requests

from algobot import logs
from algobot.localslack.client import post_signed
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, TEAM_ID
from tests.test_channel_config_e2e import open_login, submit_key

WAIT = 10.0


def command_body(slack, text: str = "help") -> str:
    return urlencode(
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


def block_actions_body(slack) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": ADMIN, "team_id": TEAM_ID},
        "channel": {"id": DEV_CHANNEL},
        "response_url": slack.issue_response_url(DEV_CHANNEL, ADMIN),
        "trigger_id": slack.issue_trigger_id(ADMIN, DEV_CHANNEL),
        "actions": [{"action_id": "cancel", "value": "{}", "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def nothing_sent(slack) -> bool:
    return not slack.calls("response_url") and not slack.messages(DEV_CHANNEL, include_ephemeral_for=ADMIN)


@pytest.mark.parametrize(
    ("timestamp", "body_of"),
    [("abc", command_body), ("1e9", block_actions_body), ("", command_body), ("-1", command_body)],
)
def test_unverifiable_requests_get_401_and_nothing_is_sent_to_their_response_url(bot, timestamp, body_of):
    response, _ = post_signed(bot.slack, bot.url, body_of(bot.slack), timestamp=timestamp, secret=None, timeout=WAIT)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid request"}
    bot.command("status")  # a real command after it, to be sure the bot had time to misbehave
    bot.reply_containing("no Algorithmia API key")
    assert len(bot.slack.calls("response_url")) == 1  # only the real command's reply


def test_wrong_signature_and_stale_timestamp_are_refused_the_same_way(bot):
    for kwargs in ({"secret": "not-the-secret"}, {"timestamp": int(time.time()) - 600}):
        response = bot.slack.send_command(bot.url, user=ADMIN, channel=DEV_CHANNEL, text="help", **kwargs)
        assert response.status_code == 401
    assert not bot.slack.calls("response_url")


@pytest.mark.parametrize("signed", [True, False])
def test_a_body_that_is_not_utf8_gets_400_not_a_traceback(bot, caplog, signed):
    body = b"text=\xff\xfe&response_url=" + quote(bot.slack.issue_response_url(DEV_CHANNEL, ADMIN)).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(bot.slack.signing_secret if signed else "wrong", timestamp, body),
    }
    response = requests.post(bot.url, data=body, headers=headers, timeout=WAIT)
    assert response.status_code == 400
    assert "Traceback" not in caplog.text
    assert not bot.slack.calls("response_url")


def test_a_body_over_the_limit_is_refused_with_413_and_never_logged(bot, caplog):
    caplog.set_level(logging.DEBUG)
    body = ("text=" + "A" * 2_000_000).encode()
    response = requests.post(
        bot.url,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": "1"},
        timeout=WAIT,
    )
    assert response.status_code == 413
    assert "A" * 100 not in caplog.text


def test_a_chunked_body_over_the_limit_is_refused_too(bot):
    chunks = iter([b"text=" + b"A" * 65536] * 32)  # no Content-Length: sent chunked, 2 MB in all
    response = requests.post(bot.url, data=chunks, headers={"X-Slack-Request-Timestamp": "1"}, timeout=WAIT)
    assert response.status_code == 413


def test_a_refused_body_is_logged_as_one_short_escaped_line(bot, capsys):
    logs.configure("INFO")
    try:
        forged = "help\n2026-01-01 00:00:00,000 ERROR algobot: FORGED " + "x" * 500
        response = bot.slack.send_command(bot.url, user=ADMIN, channel=DEV_CHANNEL, text=forged, secret="wrong")
        assert response.status_code == 401
        bot.slack.send_command(bot.url, user=ADMIN, channel=DEV_CHANNEL, text="help")  # flushes ordering
    finally:
        _remove_algobot_handler()
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "refused a request" in line]
    assert "signature does not match" in line and len(line) < 400
    assert "x" * 100 not in err
    assert not any(line.startswith("2026-01-01") for line in err.splitlines())


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_a_login_dialog_with_a_bad_signature_never_logs_the_key(bot, capsys, fmt, level):
    key = bot.sandbox.key("demo")
    view = open_login(bot)
    logs.configure(level, fmt, bot.settings.secrets())
    try:
        original = bot.slack.signing_secret
        bot.slack.signing_secret = "rotated-signing-secret"  # Slack now signs with a new secret
        try:
            response = submit_key(bot, view, key)
        finally:
            bot.slack.signing_secret = original
        assert response.status_code == 401
    finally:
        _remove_algobot_handler()
    err = capsys.readouterr().err
    assert "refused a request" in err
    for shape in (key, quote(key, safe=""), quote_plus(key), json.dumps(key)[1:-1], key[3:19]):
        assert shape not in err


def test_the_scrubber_finds_keys_and_tokens_inside_encoded_text():
    key = "simAbC+dEf/GhIjK=lMnOpQrStUv12"
    scrub = logs.SecretFilter().scrub
    for text in (
        quote_plus(json.dumps({"value": key})),  # a form-encoded JSON payload: ...%22simAbC%2BdEf...
        json.dumps({"value": key}),
        json.dumps("\n" + key),  # \nsim...
        json.dumps('"' + key, ensure_ascii=True).replace('\\"', "\\u0022"),
        quote(json.dumps({"token": "xoxb-1234-5678-abcdef"})),
    ):
        scrubbed = scrub(text)
        assert logs.REDACTED in scrubbed and "AbC" not in scrubbed and "abcdef" not in scrubbed, text
    assert scrub("a facsimile of simple things") == "a facsimile of simple things"


def test_third_party_info_lines_are_dropped_unless_debug(capsys):
    try:
        logs.configure("INFO")
        logging.getLogger("apscheduler.executors.default").info('Running job "NotificationJob.tick"')
        logging.getLogger("waitress").warning("a warning stays")
        logging.getLogger("algobot.serve_cli").info("algobot listening")
        quiet = capsys.readouterr().err
        logs.configure("DEBUG")
        logging.getLogger("apscheduler.executors.default").info('Running job "NotificationJob.tick"')
        loud = capsys.readouterr().err
    finally:
        _remove_algobot_handler()
    assert "Running job" not in quiet and "a warning stays" in quiet and "algobot listening" in quiet
    assert "Running job" in loud


def _remove_algobot_handler() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == logs.HANDLER_NAME:
            root.removeHandler(handler)
    root.setLevel(logging.WARNING)
