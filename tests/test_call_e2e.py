"""`/algo call` and the *Try* button end to end: signed Slack requests, the sandbox running the algorithm
for real, the answer where people see it, and the audit trail (lengths, never the text)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from algobot import audit
from algobot.channels import ChannelRef
from algobot.ids import ACTION_OPEN_PUBLISH, ACTION_OPEN_TRY, ACTION_TRY_INPUT, BLOCK_TRY_INPUT, VIEW_TRY
from algobot.store import connect
from tests.fixtures.bot import (
    RunningBot,
    button_value,
    message_text,
)
from tests.fixtures.engines import on_both_engines  # noqa: F401 - every test here runs on both engines
from tests.fixtures.sandbox import push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, TEAM_ID
from tests.test_notifications import Clock, make_job, notices, run_until, watched

CALLED_PY = """import time


def apply(input):
    if input == "fail":
        raise ValueError("no fail for me")
    if input == "slow":
        while True:
            time.sleep(0.05)
    if input == "big":
        return "<&>" * 5000
    if isinstance(input, dict):
        return {"hello": input.get("name"), "list": [1, 2]}
    return "Hi {}".format(input)
"""


@pytest.fixture
def called(bot: RunningBot, created_algorithm: str, tmp_path: Path) -> str:
    """demo/hello built from CALLED_PY; its commit."""
    sha = push_files(created_algorithm, {"src/hello.py": CALLED_PY}, tmp_path)
    bot.box.wait_for_builds()
    return sha


def _audit_rows(bot: RunningBot) -> list[dict[str, Any]]:
    with connect(bot.settings.database_location) as db:
        return audit.recent(db, ChannelRef(TEAM_ID, DEV_CHANNEL), algorithm="demo/hello")


def test_call_with_text_answers_privately_with_result_type_and_duration(bot, called):
    assert bot.command(f"call demo/hello/{called} input=Sam").status_code == 200
    reply = bot.reply_containing("answered")
    text = message_text(reply)
    assert reply.is_ephemeral and reply.ephemeral_to == ADMIN
    assert "Hi Sam" in text and "· text" in text and f"`{called}`" in text and " s · " in text
    [row] = [r for r in _audit_rows(bot) if r["action"] == "call"]
    assert row["outcome"] == "ok"
    arguments = json.loads(row["arguments"]) if isinstance(row["arguments"], str) else row["arguments"]
    assert arguments["input"] == {"length": 3} and arguments["result"] == {"length": 6}
    assert arguments["content_type"] == "text" and "Sam" not in json.dumps(row, default=str)


def test_call_with_json_pretty_prints_the_json_result(bot, called):
    bot.command(f"""call demo/hello/{called} input='{{"name": "Sam"}}'""")
    text = message_text(bot.reply_containing("answered"))
    assert '"hello": "Sam"' in text and '{\n  "hello"' in text and "· json" in text


def test_json_that_lost_its_quotes_is_explained(bot, called):
    bot.command(f'call demo/hello/{called} input={{"name":"Sam"}}')
    reply = bot.reply_containing("not valid JSON")
    assert "single quotes" in message_text(reply) and reply.is_ephemeral


def test_a_big_result_is_escaped_and_cut_to_fit(bot, called):
    bot.command(f"call demo/hello/{called} input=big")
    reply = bot.reply_containing("answered")
    text = message_text(reply)
    assert "&lt;&amp;&gt;" in text and "more characters not shown" in text and "<&>" not in text


def test_the_algorithms_error_is_shown_as_its_message(bot, called):
    bot.command(f"call demo/hello/{called} input=fail")
    reply = bot.reply_containing("failed")
    assert "no fail for me" in message_text(reply) and reply.is_ephemeral
    row = next(r for r in _audit_rows(bot) if r["action"] == "call")
    assert row["outcome"] == "error" and "no fail" not in json.dumps(row, default=str)


def test_a_call_past_its_timeout_says_so(bot, called):
    bot.command(f"call demo/hello/{called} input=slow timeout=1")
    assert "timed out" in message_text(bot.reply_containing("failed"))


def test_bad_targets_and_timeouts_are_refused_before_calling(bot, called):
    bot.command("call demo/hello/not-a-version input=x")
    assert "is not a version to call" in message_text(bot.reply_containing("not a version"))
    bot.command("call demo/hello input=x timeout=600")
    assert "from 1 to 60" in message_text(bot.reply_containing("timeout= must be"))
    bot.command("call demo/hello/0.9.9 input=x")
    assert "No callable version of *demo/hello*" in message_text(bot.reply_containing("No callable version"))


def test_calls_obey_the_allow_list(bot, called):
    bot.command(f"allow <@{MEMBER}>")
    bot.reply_containing("may now run")
    bot.command(f"call demo/hello/{called} input=secretish")
    refusal = bot.reply_containing("limits create, update, compile, publish and call")
    assert refusal.is_ephemeral
    row = next(r for r in _audit_rows(bot) if r["action"] == "call")
    assert row["outcome"] == "refused" and "secretish" not in json.dumps(row, default=str)


# -- Try on a build notice ---------------------------------------------------------------------------


def _open_try(bot: RunningBot, notice) -> Any:
    before = {v.id for v in bot.slack.views(user=ADMIN)}
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=notice.ts,
        action_id=ACTION_OPEN_TRY,
        value=button_value(notice, ACTION_OPEN_TRY),
    )
    return bot.slack.wait_for(
        lambda: [v for v in bot.slack.views(user=ADMIN) if v.callback_id == VIEW_TRY and v.id not in before]
    )[0]


def _initial_input(view: Any) -> str | None:
    block = next(b for b in view.to_dict()["blocks"] if b.get("block_id") == BLOCK_TRY_INPUT)
    return block["element"].get("initial_value")


def test_try_on_an_older_notice_calls_that_build_and_answers_in_its_thread(bot, tmp_path):
    job, clock = make_job(bot), Clock()
    clone = watched(bot)
    bot.sandbox.client().update("demo/hello", version_info={"sample_input": '"sample"'})
    first = push_files(clone, {"src/hello.py": 'def apply(input):\n    return "one " + input\n'}, tmp_path)
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: notices(bot))
    old_notice = notices(bot)[0]
    push_files(clone, {"src/hello.py": 'def apply(input):\n    return "two " + input\n'}, tmp_path, message="2")
    bot.box.wait_for_builds()
    assert json.loads(button_value(old_notice, ACTION_OPEN_TRY))["git_hash"] == first

    dialog = _open_try(bot, old_notice)
    assert f"commit `{first[:7]}`" in json.dumps(dialog.to_dict())
    assert _initial_input(dialog) == '"sample"'  # nothing tried here yet: the algorithm's sample input

    bot.slack.submit_view(bot.url, user=ADMIN, view_id=dialog.id, values={BLOCK_TRY_INPUT: {ACTION_TRY_INPUT: "Ada"}})
    answer = bot.reply(lambda m: not m.is_ephemeral and "tried *demo/hello*" in message_text(m))
    assert answer.thread_ts == old_notice.ts
    assert "one Ada" in message_text(answer) and "two" not in message_text(answer)
    assert f"<@{ADMIN}> tried" in message_text(answer) and f"`{first[:7]}`" in message_text(answer)
    row = next(r for r in _audit_rows(bot) if r["action"] == "modal:call")
    assert row["outcome"] == "ok" and "Ada" not in json.dumps(row, default=str)

    # The next Try starts from the last input used here, and Publish… shows what the try answered.
    assert _initial_input(_open_try(bot, old_notice)) == "Ada"
    before = {v.id for v in bot.slack.views(user=ADMIN)}
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=old_notice.ts,
        action_id=ACTION_OPEN_PUBLISH,
        value=button_value(old_notice, ACTION_OPEN_PUBLISH),
    )
    publish = bot.slack.wait_for(
        lambda: [v for v in bot.slack.views(user=ADMIN) if v.callback_id == "algo_publish" and v.id not in before]
    )[0]
    assert "one Ada" in json.dumps(publish.to_dict())


def test_try_obeys_the_allow_list_and_calls_nothing_when_refused(bot, tmp_path):
    job, clock = make_job(bot), Clock()
    clone = watched(bot)
    push_files(clone, {"src/hello.py": CALLED_PY}, tmp_path)
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: notices(bot))
    notice = notices(bot)[0]
    bot.command(f"allow <@{MEMBER}>")
    bot.reply_containing("may now run")
    dialog = _open_try(bot, notice)
    assert _initial_input(dialog) is None  # nothing tried here, and demo/hello has no sample input
    bot.box.reset_request_counts()
    bot.slack.submit_view(bot.url, user=ADMIN, view_id=dialog.id, values={BLOCK_TRY_INPUT: {ACTION_TRY_INPUT: "x"}})
    refusal = bot.reply_containing("limits create, update, compile, publish and call")
    assert refusal.is_ephemeral and refusal.ephemeral_to == ADMIN
    assert not any(path.startswith("/v1/algo/") for _, path in bot.box.request_counts)
