"""*Full log* delivers where the request came from: privately for a private reply, into the notice's
thread for a channel notice, and privately when the bot has left that channel."""

from __future__ import annotations

from algobot.ids import ACTION_FULL_LOG
from tests.fixtures.bot import button_value, message_text
from tests.fixtures.sandbox import BROKEN_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, OTHER_CHANNEL
from tests.test_notifications import Clock, make_job, notices, run_until, watched


def _click_full_log(bot, message, channel=DEV_CHANNEL):
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=channel,
        message_ts=message.ts,
        action_id=ACTION_FULL_LOG,
        value=button_value(message, ACTION_FULL_LOG),
    )
    return bot.slack.wait_for(lambda: [f for f in bot.slack.files() if f.completed])[0]


def _is_dm_with(bot, channel_id, user):
    channel = bot.slack.channel(channel_id)
    return channel.is_im and channel.im_user == user


def test_full_log_from_a_channel_the_bot_is_not_in_arrives_privately(bot, tmp_path):
    bot.login_demo(channel=OTHER_CHANNEL)
    clone = bot.sandbox.create_algorithm("demo/broken")
    push_files(clone, {"src/broken.py": BROKEN_PY}, tmp_path)
    bot.box.wait_for_builds()
    build_id = bot.sandbox.client().builds("demo/broken")["results"][0]["build_id"]
    bot.command(f"logs demo/broken {build_id}", channel=OTHER_CHANNEL)
    logs = bot.reply_containing("SyntaxError", channel=OTHER_CHANNEL)

    uploaded = _click_full_log(bot, logs, channel=OTHER_CHANNEL)
    assert b"SyntaxError" in uploaded.content
    assert len(uploaded.channels) == 1 and _is_dm_with(bot, uploaded.channels[0], ADMIN)
    assert bot.slack.calls("files.completeUploadExternal")[-1].response["ok"]


def test_full_log_on_a_notice_goes_into_its_thread(bot, tmp_path):
    job, clock = make_job(bot), Clock()
    clone = watched(bot)
    push_files(clone, {"src/hello.py": BROKEN_PY}, tmp_path)
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: notices(bot))
    notice = notices(bot)[0]
    assert "finished <!date^" in message_text(notice)  # each reader sees their own time zone
    uploaded = _click_full_log(bot, notice)
    assert uploaded.channels == [DEV_CHANNEL] and uploaded.thread_ts == notice.ts


def test_full_log_on_a_notice_after_the_bot_left_falls_back_to_private(bot, tmp_path):
    job, clock = make_job(bot), Clock()
    clone = watched(bot)
    push_files(clone, {"src/hello.py": BROKEN_PY}, tmp_path)
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: notices(bot))
    notice = notices(bot)[0]
    bot.slack.channel(DEV_CHANNEL).bot_member = False  # someone removed the bot from the channel

    uploaded = _click_full_log(bot, notice)
    assert len(uploaded.channels) == 1 and _is_dm_with(bot, uploaded.channels[0], ADMIN)
    note = bot.reply_containing("I'm not a member of this channel")
    assert note.is_ephemeral and "/invite" in message_text(note)
    assert not any("Something went wrong" in message_text(m) for m in bot.slack.messages(DEV_CHANNEL, ADMIN))


def test_full_log_without_the_im_write_scope_says_what_to_do_and_posts_nothing(bot, demo_channel, tmp_path):
    clone = bot.sandbox.create_algorithm("demo/broken")
    push_files(clone, {"src/broken.py": BROKEN_PY}, tmp_path)
    bot.box.wait_for_builds()
    build_id = bot.sandbox.client().builds("demo/broken")["results"][0]["build_id"]
    bot.command(f"logs demo/broken {build_id}")
    logs = bot.reply_containing("SyntaxError")
    # An installation made before algobot asked for im:write.
    bot.slack.script("conversations.open", {"ok": False, "error": "missing_scope", "needed": "im:write"})
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=logs.ts,
        action_id=ACTION_FULL_LOG,
        value=button_value(logs, ACTION_FULL_LOG),
    )
    note = bot.reply_containing("lacks Slack's `im:write` scope")
    assert note.is_ephemeral and "reinstall" in message_text(note)
    assert not [f for f in bot.slack.files() if f.completed]
    assert not any(m.files for m in bot.slack.messages(DEV_CHANNEL))
