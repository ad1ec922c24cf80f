"""Issue 12 and 13 together: an approved release acts with the approver's own key, and the release
notice and `/algo releases` say who requested and who approved it. Both engines."""

from __future__ import annotations

from algobot.ids import ACTION_APPROVE_REQUEST
from algobot.sandbox.store import hash_key
from tests.fixtures.bot import message_text
from tests.fixtures.engines import on_both_engines  # noqa: F401 - every test here runs on both engines
from tests.fixtures.slack import ADMIN, MEMBER
from tests.test_notifications import Clock, make_job, run_until
from tests.test_personal_keys_e2e import login_me, row_for
from tests.test_release_notices import releases_posted
from tests.test_release_requests import approvals_on, click, pushed, request_message


def test_an_approved_release_uses_the_approvers_key_and_says_who_asked_and_who_approved(
    bot, created_algorithm, tmp_path
):
    clock, job = Clock(), make_job(bot)
    own = bot.sandbox.key("demo")  # a second key of the same account, told apart by the sandbox
    login_me(bot, ADMIN, own)
    bot.command("watch demo/hello only=releases")
    bot.reply(lambda m: "subscribed this channel" in message_text(m))
    approvals_on(bot)
    pushed(bot, created_algorithm, tmp_path)
    bot.command('publish demo/hello notes="reviewed"', user=MEMBER)
    message = request_message(bot)
    bot.box.reset_request_counts()

    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello* *0.1.0*" in message_text(m))
    publishes = [s.key_hash for s in bot.box.callers if s.method == "POST" and s.route.endswith("/versions")]
    assert publishes == [hash_key(own)]  # Algorithmia saw the approver, not the channel's key
    approved = row_for(bot, "button:publish")
    assert approved["arguments"]["acted_with"] == "personal" and approved["arguments"]["requested_by"] == MEMBER

    run_until(job, clock, lambda: releases_posted(bot))
    [notice] = releases_posted(bot)
    assert f"requested by <@{MEMBER}>, approved by <@{ADMIN}>" in message_text(notice)

    bot.command("releases demo/hello", user=MEMBER)
    page = message_text(bot.reply_containing("Releases of demo/hello", user=MEMBER))
    assert "0.1.0" in page and f"requested by <@{MEMBER}>, approved by <@{ADMIN}>" in page
