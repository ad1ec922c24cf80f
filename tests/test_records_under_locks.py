"""Nothing a command did at Algorithmia goes unrecorded: database locks and Slack refusals.

Another connection holds SQLite's write lock (`BEGIN EXCLUSIVE`, as a backup, an operator's shell or a
second process would) while a command runs. Lock waits are scaled down (busy timeout 0.1-0.2 s instead
of 5 s, retry bound under a second to a few seconds instead of 30 s), except in one slow test that keeps
the real ones, and the lock is released on a condition, never after a sleep: when the bot logs that it
is waiting, or once the user has been told what happened.
"""

from __future__ import annotations

import pytest
import requests
from slack_sdk import WebClient

from algobot.channels import ChannelRef
from algobot.db import LOCKS, database
from algobot.notify import store
from algobot.notify.scheduler import NotificationJob
from algobot.notify.sender import CLAIM_LEASE, OutboxSender
from tests.fixtures.bot import message_text
from tests.fixtures.locks import HeldLock, eventually, held_lock, on_log, short_locks
from tests.fixtures.sandbox import HELLO_PY, push_files
from tests.fixtures.slack import DEV_CHANNEL, TEAM_ID
from tests.test_notifications import Clock, make_job, run_until

REF = ChannelRef(TEAM_ID, DEV_CHANNEL)

COMMANDS = {
    "compile": ("compile demo/hello", "started a build of *demo/hello*"),
    "publish": ('publish demo/hello notes="locked"', "published *demo/hello* *0.1.0*"),
    "update": ("update demo/hello license=mit", "updated *demo/hello*"),
}


def audit_rows(bot, action):
    with database(bot.settings.db_path) as db:
        return list(db.query("select * from audit where action = ? order by id", [action]))


def tracked(bot):
    with database(bot.settings.db_path) as db:
        return store.tracked(db, REF)


def channel_message(bot, text):
    return bot.reply(lambda m: not m.is_ephemeral and text in message_text(m))


def metrics_text(bot):
    return requests.get(bot.url.removesuffix("/slack/events") + "/metrics", timeout=5).text


def no_internal_error(bot):
    texts = [message_text(m) for m in bot.slack.messages(DEV_CHANNEL, include_ephemeral_for=True)]
    assert not [t for t in texts if "Something went wrong" in t]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_lock_held_while_a_change_reaches_algorithmia_is_waited_out_and_recorded(
    bot, built_algorithm, monkeypatch, name
):
    command, announcement = COMMANDS[name]
    short_locks(monkeypatch, busy_ms=200, retry_seconds=10)
    with held_lock(bot.settings.db_path) as lock, on_log(f"database is locked while recording {name}", lock.release):
        bot.command(command)
        posted = channel_message(bot, announcement)
    [row] = audit_rows(bot, name)
    assert row["outcome"] == "ok"
    no_internal_error(bot)
    if name == "compile":
        eventually(lambda: tracked(bot) and tracked(bot)[0]["message_ts"])
        [build] = tracked(bot)
        assert row["result"] == build["build_id"] and build["message_ts"] == posted.ts and build["origin"] == "compile"
    if name == "publish":
        assert row["result"] == "0.1.0"


@pytest.mark.slow
def test_compile_publish_and_update_outwait_a_lock_held_past_the_busy_timeout_with_the_real_bounds(bot, tmp_path):
    """The production policy (busy timeout 5 s, retries up to 30 s): the lock is released only once all
    three commands have waited out a whole busy timeout, the point where records used to be lost."""
    assert LOCKS.retry_seconds >= 5 * LOCKS.busy_timeout_ms / 1000
    bot.login_demo()
    for name in ("demo/hello", "demo/other"):
        push_files(bot.sandbox.create_algorithm(name), {"src/hello.py": HELLO_PY}, tmp_path)
    bot.sandbox.create_algorithm("demo/third")
    bot.box.wait_for_builds()
    commands = {
        "compile demo/other": "started a build of *demo/other*",
        "publish demo/hello": "published *demo/hello* *0.1.0*",
        "update demo/third license=mit": "updated *demo/third*",
    }
    with held_lock(bot.settings.db_path) as lock:
        with on_log("database is locked while recording", lock.release, times=3) as waited:
            for command in commands:
                bot.command(command)
            for announcement in commands.values():
                channel_message(bot, announcement)
        assert waited.fired.is_set()
    for name in ("compile", "publish", "update"):
        assert [row["outcome"] for row in audit_rows(bot, name)] == ["ok"]
    assert [b["algorithm"] for b in tracked(bot)] == ["demo/other"]
    no_internal_error(bot)


def test_a_compile_whose_record_outlasts_the_lock_bound_is_kept_told_and_followed(bot, built_algorithm, monkeypatch):
    short_locks(monkeypatch, busy_ms=100, retry_seconds=0.5)
    job, clock = make_job(bot), Clock()
    bot.box.hold_builds = True
    with held_lock(bot.settings.db_path):
        bot.command("compile demo/hello")
        told = bot.reply(lambda m: m.is_ephemeral and "could not record it yet" in message_text(m))
        started = channel_message(bot, "started a build of *demo/hello*")
        [build] = bot.sandbox.client().builds("demo/hello")["results"][:1]
        assert f"Build `{build['build_id']}`" in message_text(told) and build["build_id"] in message_text(started)
        assert audit_rows(bot, "compile") == [] and tracked(bot) == []
        eventually(lambda: "algobot_records_waiting 2.0" in metrics_text(bot))  # the build, its message
    no_internal_error(bot)

    job.tick(clock.advance(1))  # the database answers: the waiting record is written first
    eventually(lambda: tracked(bot) and tracked(bot)[0]["message_ts"])
    [row] = audit_rows(bot, "compile")
    [followed] = tracked(bot)
    assert row["result"] == build["build_id"] == followed["build_id"] and followed["message_ts"] == started.ts
    bot.box.release_builds()
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: "succeeded" in message_text(bot.slack.message(DEV_CHANNEL, started.ts)))
    assert "algobot_records_waiting 0.0" in metrics_text(bot)


@pytest.mark.parametrize(("name", "result"), [("publish", "0.1.0"), ("update", None)])
def test_a_change_whose_record_outlasts_the_lock_bound_is_written_by_the_next_command(
    bot, built_algorithm, monkeypatch, name, result
):
    command, announcement = COMMANDS[name]
    short_locks(monkeypatch, busy_ms=100, retry_seconds=0.5)
    with held_lock(bot.settings.db_path):
        bot.command(command)
        told = bot.reply(lambda m: m.is_ephemeral and "could not write it to the audit trail yet" in message_text(m))
        channel_message(bot, announcement)
        assert f"/algo {name}" in message_text(told) and (result is None or result in message_text(told))
        assert audit_rows(bot, name) == []
    no_internal_error(bot)
    bot.command("status")  # the next command finds the database answering and writes the waiting record
    eventually(lambda: audit_rows(bot, name))
    [row] = audit_rows(bot, name)
    assert row["outcome"] == "ok" and row["result"] == result


def test_a_compile_slack_refuses_to_announce_is_still_followed_and_its_end_posted(bot, built_algorithm):
    job, clock = make_job(bot), Clock()
    bot.box.hold_builds = True
    bot.slack.script("chat.postMessage", {"ok": False, "error": "fatal_error"})
    bot.command("compile demo/hello")
    told = bot.reply(lambda m: m.is_ephemeral and "Slack refused to post this in the channel" in message_text(m))
    assert "started a build of *demo/hello*" in message_text(told) and "as a new message" in message_text(told)
    no_internal_error(bot)
    [followed] = tracked(bot)
    assert followed["message_ts"] is None and audit_rows(bot, "compile")[0]["result"] == followed["build_id"]

    bot.box.release_builds()
    bot.box.wait_for_builds()
    build_id = followed["build_id"]
    run_until(
        job,
        clock,
        lambda: any(
            f"Build `{build_id}`" in message_text(m) and "succeeded" in message_text(m)
            for m in bot.slack.messages(DEV_CHANNEL)
            if not m.is_ephemeral
        ),
    )


# -- the outbox: a notice Slack accepted is marked, through a lock, and never sent twice -------------


class LockAfterPost(WebClient):
    """The bot's real Web API client; right after Slack accepts post number ``lock_after``, another
    connection takes the database's write lock (the moment the sender must mark the part as sent)."""

    def __init__(self, lock: HeldLock, lock_after: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.lock = lock
        self.lock_after = lock_after
        self.posts = 0

    def chat_postMessage(self, **kwargs):  # noqa: N802 - slack_sdk's method name
        response = super().chat_postMessage(**kwargs)
        self.posts += 1
        if self.posts == self.lock_after:
            self.lock.hold()
        return response


def queued_notice(bot, tmp_path, clock):
    """A finished build of a watched algorithm, decided by the poller and waiting in the outbox."""
    bot.login_demo()
    clone = bot.sandbox.create_algorithm("demo/hello")
    bot.command("watch demo/hello")
    channel_message(bot, "subscribed this channel")
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    poller_only = make_job(bot).poller
    for _ in range(3):
        poller_only.run(clock.advance(11))
    with database(bot.settings.db_path) as db:
        assert len(store.outbox_rows(db)) == 1


def locking_sender(bot, lock, lock_after=1):
    client = LockAfterPost(lock, lock_after, token=bot.settings.slack_bot_token, base_url=bot.settings.slack_api_url)
    return OutboxSender(bot.settings.db_path, client, audit_key=bot.cipher.audit_key)


def build_notices(bot):
    return [
        m
        for m in bot.slack.messages(DEV_CHANNEL)
        if not m.is_ephemeral and m.thread_ts in (None, m.ts) and "Build `" in message_text(m)
    ]


def assert_delivered_once(bot):
    [notice] = build_notices(bot)
    assert len(bot.slack.thread(DEV_CHANNEL, notice.ts)) == 2  # the notice and its log tail, in its thread
    with database(bot.settings.db_path) as db:
        assert store.outbox_rows(db) == [] and db.table("notices_sent").count == 1


def test_a_lock_just_after_slack_accepts_a_notice_is_waited_out_and_the_notice_sent_once(bot, tmp_path, monkeypatch):
    clock = Clock()
    queued_notice(bot, tmp_path, clock)
    short_locks(monkeypatch, busy_ms=100, retry_seconds=10)
    lock = HeldLock(bot.settings.db_path)
    try:
        sender = locking_sender(bot, lock)
        with on_log("database is locked while marking part 1", lock.release) as released:
            report = sender.run(clock.advance(1))
        assert released.fired.is_set() and report.parts == 1  # marked: the thread reply waits its 1 s turn
    finally:
        lock.close()
    for _ in range(3):
        sender.run(clock.advance(CLAIM_LEASE + 1))
    assert_delivered_once(bot)


def test_a_lock_outlasting_the_mark_retries_never_resends_the_part_slack_accepted(bot, tmp_path, monkeypatch):
    clock = Clock()
    queued_notice(bot, tmp_path, clock)
    short_locks(monkeypatch, busy_ms=100, retry_seconds=0.5)
    lock = HeldLock(bot.settings.db_path)
    try:
        sender = locking_sender(bot, lock)
        job = NotificationJob(make_job(bot).poller, sender)
        job.tick(clock.advance(1))  # part 1 accepted, its mark refused past the bound
        assert len(build_notices(bot)) == 1 and len(bot.slack.thread(DEV_CHANNEL, build_notices(bot)[0].ts)) == 1
        job.tick(clock.advance(2))  # still locked: nothing is sent again
        assert sender.client.posts == 1
    finally:
        lock.close()
    job.tick(clock.advance(2))  # well inside the claim's lease: the sender resumes its own row at once
    assert_delivered_once(bot)
    for _ in range(3):
        job.tick(clock.advance(CLAIM_LEASE + 1))
    assert_delivered_once(bot)


def test_a_configuration_change_that_cannot_get_the_lock_changes_nothing_and_says_so(bot, monkeypatch):
    short_locks(monkeypatch, busy_ms=100, retry_seconds=0.3)
    with held_lock(bot.settings.db_path):
        bot.command("allow <@U0MEMBER>")
        told = bot.reply(lambda m: m.is_ephemeral and "database is locked" in message_text(m))
    assert "nothing was changed" in message_text(told)
    no_internal_error(bot)
    with database(bot.settings.db_path) as db:
        assert db.table("channel_allowed_users").count == 0 and audit_rows(bot, "allow") == []


def test_a_lock_after_the_last_part_outlasting_the_retries_finishes_the_notice_without_resending(
    bot, tmp_path, monkeypatch
):
    clock = Clock()
    queued_notice(bot, tmp_path, clock)
    short_locks(monkeypatch, busy_ms=100, retry_seconds=0.5)
    lock = HeldLock(bot.settings.db_path)
    try:
        sender = locking_sender(bot, lock, lock_after=2)
        job = NotificationJob(make_job(bot).poller, sender)
        job.tick(clock.advance(1))  # the notice; its log tail waits its turn in the channel
        job.tick(clock.advance(2))  # the log tail accepted, then the lock: the notice cannot be marked done
        [notice] = build_notices(bot)
        assert len(bot.slack.thread(DEV_CHANNEL, notice.ts)) == 2 and sender.client.posts == 2
        with database(bot.settings.db_path) as db:
            assert len(store.outbox_rows(db)) == 1
        job.tick(clock.advance(2))
        assert sender.client.posts == 2
    finally:
        lock.close()
    job.tick(clock.advance(2))
    assert sender.client.posts == 2
    assert_delivered_once(bot)
