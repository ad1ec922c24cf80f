"""Publishing releases the build people pointed at: a notice's *Publish…* publishes that build's
commit or nothing, and every announcement names the build and commit it released."""

from __future__ import annotations

import json

import pytest

from algobot.algorithmia import InvalidInput
from algobot.ids import ACTION_CONFIRM_PUBLISH, ACTION_OPEN_PUBLISH, ACTION_PUBLISH_NOTES, BLOCK_PUBLISH_NOTES
from tests.fixtures.bot import button_value, message_text
from tests.fixtures.sandbox import BROKEN_PY, HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL
from tests.test_notifications import Clock, make_job, notices, run_until, watched


def _open_publish(bot, message, *, ephemeral: bool = False):
    """Click a message's Publish… and return the dialog it opened."""
    before = {v.id for v in bot.slack.views(user=ADMIN)}
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=message.ts,
        action_id=ACTION_OPEN_PUBLISH,
        value=button_value(message, ACTION_OPEN_PUBLISH),
    )
    return bot.slack.wait_for(
        lambda: [v for v in bot.slack.views(user=ADMIN) if v.callback_id == "algo_publish" and v.id not in before]
    )[0]


def _builds(bot, algorithm="demo/hello"):
    return bot.sandbox.client().builds(algorithm)["results"]


def test_publish_on_an_older_notice_refuses_names_the_newer_build_and_offers_it(bot, tmp_path):
    job, clock = make_job(bot), Clock()
    clone = watched(bot)
    first_sha = push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, message="first")
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: notices(bot))
    old_notice = notices(bot)[0]
    old_build = _builds(bot)[0]["build_id"]
    assert json.loads(button_value(old_notice, ACTION_OPEN_PUBLISH))["git_hash"] == first_sha

    second_sha = push_files(clone, {"src/hello.py": HELLO_PY + "# v2\n"}, tmp_path, message="second")
    bot.box.wait_for_builds()
    new_build = _builds(bot)[0]["build_id"]

    dialog = _open_publish(bot, old_notice)
    shown = json.dumps(dialog.to_dict())
    assert f"build `{old_build}`" in shown and f"commit `{first_sha[:7]}`" in shown

    bot.slack.submit_view(bot.url, user=ADMIN, view_id=dialog.id, values={})
    refusal = bot.reply_containing("is no longer the newest")
    text = message_text(refusal)
    assert refusal.is_ephemeral and refusal.ephemeral_to == ADMIN
    assert f"Build `{old_build}`" in text and f"build `{new_build}`" in text and "succeeded" in text
    assert f"commit `{second_sha[:7]}`" in text and "Nothing was published" in text
    assert bot.sandbox.client().versions("demo/hello", published=True)["results"] == []

    # The refusal offers the newer build instead; its dialog publishes exactly that commit.
    dialog = _open_publish(bot, refusal)
    assert f"build `{new_build}`" in json.dumps(dialog.to_dict())
    bot.slack.submit_view(
        bot.url, user=ADMIN, view_id=dialog.id, values={BLOCK_PUBLISH_NOTES: {ACTION_PUBLISH_NOTES: "v2"}}
    )
    announcement = bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello* *0.1.0*" in message_text(m))
    assert f"from build `{new_build}` (commit `{second_sha[:7]}`)" in message_text(announcement)
    (version,) = bot.sandbox.client().versions("demo/hello", published=True)["results"]
    assert version["version_info"]["git_hash"] == second_sha


def test_publish_by_build_refuses_while_a_newer_build_runs(bot, created_algorithm, tmp_path):
    push_files(created_algorithm, {"src/hello.py": HELLO_PY}, tmp_path, message="first")
    bot.box.wait_for_builds()
    old_build = _builds(bot)[0]["build_id"]
    bot.box.hold_builds = True
    push_files(created_algorithm, {"src/hello.py": HELLO_PY + "# v2\n"}, tmp_path, message="second")
    running = _builds(bot)[0]["build_id"]

    bot.command(f"publish demo/hello build={old_build}")
    refusal = bot.reply_containing("is no longer the newest")
    assert f"build `{running}`" in message_text(refusal) and "is still running" in message_text(refusal)
    assert ACTION_OPEN_PUBLISH not in json.dumps(refusal.blocks)  # nothing to publish yet
    assert bot.sandbox.client().versions("demo/hello", published=True)["results"] == []
    bot.box.release_builds()
    bot.box.wait_for_builds()


def test_publish_by_build_names_unknown_and_failed_builds(bot, created_algorithm, tmp_path):
    push_files(created_algorithm, {"src/hello.py": BROKEN_PY}, tmp_path)
    bot.box.wait_for_builds()
    failed = _builds(bot)[0]["build_id"]

    bot.command(f"publish demo/hello build={failed}")
    assert "only a succeeded build can be published" in message_text(bot.reply_containing(f"`{failed}`"))
    bot.command("publish demo/hello build=00000000-0000-0000-0000-000000000000")
    assert bot.reply_containing("has no build `00000000-0000-0000-0000-000000000000`").is_ephemeral
    assert bot.sandbox.client().versions("demo/hello", published=True)["results"] == []


def test_publish_names_the_build_and_commit_it_released(bot, created_algorithm, tmp_path):
    sha = push_files(created_algorithm, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    build_id = _builds(bot)[0]["build_id"]
    bot.command("publish demo/hello")
    announcement = bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello*" in message_text(m))
    assert f"*0.1.0* (private) from build `{build_id}` (commit `{sha[:7]}`)." in message_text(announcement)


def test_the_client_pins_the_commit_it_publishes(sandbox, tmp_path):
    clone = sandbox.create_algorithm("demo/hello")
    first = push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, message="first")
    sandbox.box.wait_for_builds()
    push_files(clone, {"src/hello.py": HELLO_PY + "# v2\n"}, tmp_path, message="second")
    sandbox.box.wait_for_builds()
    client = sandbox.client()
    with pytest.raises(InvalidInput, match="git_hash"):
        client.publish("demo/hello", git_hash=first)
    assert client.versions("demo/hello", published=True)["results"] == []


def test_a_public_publish_confirmed_after_a_newer_build_publishes_nothing(bot, created_algorithm, tmp_path):
    push_files(created_algorithm, {"src/hello.py": HELLO_PY}, tmp_path, message="first")
    bot.box.wait_for_builds()
    asked_about = _builds(bot)[0]["build_id"]
    bot.command("publish demo/hello callability=public")
    question = bot.reply_containing("*public* callability")
    assert f"build `{asked_about}`" in message_text(question)

    push_files(created_algorithm, {"src/hello.py": HELLO_PY + "# v2\n"}, tmp_path, message="second")
    bot.box.wait_for_builds()
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=question.ts,
        action_id=ACTION_CONFIRM_PUBLISH,
        value=button_value(question, ACTION_CONFIRM_PUBLISH),
    )
    refusal = bot.reply_containing("is no longer the newest")
    assert f"Build `{asked_about}`" in message_text(refusal)
    assert bot.sandbox.client().versions("demo/hello", published=True)["results"] == []
