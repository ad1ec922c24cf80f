"""Every subcommand end to end: signed slash commands over real HTTP, sandbox and local Slack."""

from __future__ import annotations

import time

from tests.fixtures.bot import message_text
from tests.fixtures.sandbox import BROKEN_PY, HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER


def test_help_lists_commands(bot):
    response = bot.command("help")
    assert response.status_code == 200
    reply = bot.reply_containing("/algo publish")
    assert reply.is_ephemeral
    assert "/algo compile" in message_text(reply)


def test_info_of_a_new_algorithm(bot):
    bot.login_demo()
    bot.sandbox.create_algorithm("demo/hello")
    started = time.monotonic()
    response = bot.command("info demo/hello")
    assert response.status_code == 200
    assert time.monotonic() - started < 3
    reply = bot.reply_containing("not published")
    assert reply.is_ephemeral and reply.ephemeral_to == ADMIN
    assert "demo/hello" in message_text(reply)


def test_compile_publish_flow(bot, tmp_path):
    bot.login_demo()
    clone = bot.sandbox.create_algorithm("demo/hello")
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.sandbox.sandbox.wait_for_builds()
    bot.command('publish demo/hello minor notes="first release"')
    announce = bot.reply(lambda m: not m.is_ephemeral and "published" in message_text(m))
    text = message_text(announce)
    assert "0.1.0" in text and "first release" in text and f"<@{ADMIN}>" in text


def test_compile_broken_build_then_logs(bot, tmp_path):
    bot.login_demo()
    clone = bot.sandbox.create_algorithm("demo/broken")
    push_files(clone, {"src/broken.py": BROKEN_PY}, tmp_path)
    bot.sandbox.sandbox.wait_for_builds()
    bot.command("compile demo/broken")
    announce = bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    assert "demo/broken" in message_text(announce)
    bot.sandbox.sandbox.wait_for_builds()
    bot.command("builds demo/broken")
    listing = bot.reply_containing("Builds of demo/broken")
    assert "failed" in message_text(listing)


def test_no_key_says_how_to_login(bot):
    bot.command("info demo/hello", user=MEMBER)
    reply = bot.reply_containing("/algo login", user=MEMBER)
    assert reply.is_ephemeral
    assert DEV_CHANNEL
