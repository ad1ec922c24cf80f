"""The Bolt listeners: by kind under algobot/listeners/, dialogs' channel in signed metadata, login's field checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from algobot import messages
from algobot.channels import ChannelRef
from algobot.crypto import KeyCipher
from algobot.db import database
from algobot.ids import BLOCK_LOGIN_ENDPOINT, BLOCK_LOGIN_KEY
from tests.test_channel_config_e2e import open_login, submit_key

ROOT = Path(__file__).resolve().parent.parent
CODE = [*sorted((ROOT / "algobot").rglob("*.py")), *sorted((ROOT / "commands").rglob("*.py"))]


def _files_calling(pattern: str) -> set[str]:
    found = set()
    for path in CODE:
        if "localslack" in path.parts:  # the Slack double answers these calls; it does not make them
            continue
        if re.search(pattern, path.read_text()):
            found.add(path.relative_to(ROOT).as_posix())
    return found


def test_every_listener_lives_in_the_listeners_package():
    assert _files_calling(r"@app\.(command|action|view|event|shortcut|options)\(") == {
        "algobot/listeners/commands.py",
        "algobot/listeners/actions.py",
        "algobot/listeners/views.py",
        "algobot/listeners/events.py",
    }


def test_dialog_metadata_is_sealed_and_opened_only_by_channel_ref():
    assert _files_calling(r"\.(sign|open)_metadata\(") == {"algobot/channels.py"}


def test_dialogs_are_opened_only_by_the_responder_so_every_dialog_goes_through_a_reply():
    assert _files_calling(r"\.views_open\(") == {"algobot/listeners/responder.py"}


def test_channel_metadata_round_trips_with_what_the_dialog_carries():
    cipher = KeyCipher(Fernet.generate_key())
    ref = ChannelRef("T1", "C1", "E1")

    opened = ChannelRef.from_metadata(cipher, ref.to_metadata(cipher, "U1", algorithm="demo/hello", build_id="b1"))

    assert opened is not None
    assert (opened.ref, opened.user_id, opened.extra) == (ref, "U1", {"algorithm": "demo/hello", "build_id": "b1"})


def test_channel_metadata_from_another_deployment_or_edited_is_refused():
    cipher = KeyCipher(Fernet.generate_key())
    sealed = ChannelRef("T1", "C1").to_metadata(cipher, "U1")

    assert ChannelRef.from_metadata(KeyCipher(Fernet.generate_key()), sealed) is None
    assert ChannelRef.from_metadata(cipher, sealed.replace("C1", "C2")) is None
    assert ChannelRef.from_metadata(cipher, None) is None
    assert ChannelRef.from_metadata(cipher, cipher.sign_metadata({"team": "T1", "user": "U1"})) is None  # no channel


@pytest.mark.parametrize(
    "key, endpoint, block, sentence",
    [
        ("", None, BLOCK_LOGIN_KEY, messages.LOGIN_KEY_EMPTY),
        ("sim two-words", None, BLOCK_LOGIN_KEY, messages.LOGIN_KEY_HAS_SPACES),
        (None, "ftp://api.example.com", BLOCK_LOGIN_ENDPOINT, messages.LOGIN_ENDPOINT_BAD),
        (None, "api.algorithmia.com", BLOCK_LOGIN_ENDPOINT, messages.LOGIN_ENDPOINT_BAD),
    ],
    ids=["empty key", "key with a space", "not http", "no scheme"],
)
def test_a_login_dialog_with_a_bad_field_stays_open_naming_it_and_stores_nothing(bot, key, endpoint, block, sentence):
    key = bot.sandbox.key("demo") if key is None else key
    view = open_login(bot)

    response = submit_key(bot, view, key, endpoint=endpoint)

    assert response.status_code == 200
    assert response.json() == {"response_action": "errors", "errors": {block: sentence}}
    with database(bot.settings.db_path) as db:
        assert db["channel_keys"].count == 0


def test_a_login_dialog_with_an_endpoint_ending_in_a_slash_is_accepted(bot):
    view = open_login(bot)

    submit_key(bot, view, bot.sandbox.key("demo"), endpoint=bot.sandbox.url + "/")

    assert bot.reply_containing("Saved the key").is_ephemeral
