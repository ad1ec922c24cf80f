"""Build notifications end to end: sandbox builds, the poller, the outbox and the local Slack.

Time is passed in: each test drives poll cycles with `tick(now)` on a clock of its own and never
sleeps. Builds are held in progress by the sandbox until a test releases them.
"""

from __future__ import annotations

import logging
import threading

import requests

from algobot import audit
from algobot.channels import ChannelRef, ChannelStore
from algobot.ids import ACTION_FULL_LOG, ACTION_OPEN_PUBLISH, ACTION_PUBLISH_NOTES, ACTION_REBUILD, BLOCK_PUBLISH_NOTES
from algobot.notify import store
from algobot.notify.scheduler import JOB_ID, SEND_JOB_ID, NotificationJob, start_scheduler
from algobot.store import connect
from tests.fixtures.bot import button_value, message_text
from tests.fixtures.notify import Clock, make_job  # noqa: F401 - also imported from here by other test modules
from tests.fixtures.sandbox import BROKEN_PY, HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, TEAM_ID

REF = ChannelRef(TEAM_ID, DEV_CHANNEL)


def notices(bot, channel=DEV_CHANNEL):
    """Channel messages (not ephemeral, not thread replies) that are build notices."""
    return [
        m
        for m in bot.slack.messages(channel)
        if not m.is_ephemeral and m.thread_ts in (None, m.ts) and "Build `" in message_text(m)
    ]


def tick_together(jobs, clock, *, ticks, step=11.0):
    """Tick several pollers (replicas on one database) at the same instant, `ticks` times."""
    for _ in range(ticks):
        now = clock.advance(step)
        barrier = threading.Barrier(len(jobs))

        def run(job, now=now, barrier=barrier):
            barrier.wait()
            job.tick(now)

        threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def run_until(job, clock, predicate, *, step=11.0, limit=40):
    """Tick the job on the fake clock until predicate() holds (bounded)."""
    for _ in range(limit):
        job.tick(clock.advance(step))
        if predicate():
            return
    raise AssertionError("condition not reached after ticks")


def watched(bot, name="demo/hello", only="all"):
    bot.login_demo()
    clone = bot.sandbox.create_algorithm(name)
    bot.command(f"watch {name} only={only}")
    bot.reply(lambda m: not m.is_ephemeral and "subscribed this channel" in message_text(m))
    return clone


def test_a_watched_push_gets_exactly_one_notice_with_the_tail(bot, job, clock, tmp_path):
    clone = watched(bot, "demo/broken")
    bot.box.hold_builds = True
    push_files(clone, {"src/broken.py": BROKEN_PY}, tmp_path)
    job.tick(clock.advance(1))  # discovered while running: tracked, nothing posted
    assert notices(bot) == []
    bot.box.release_builds()
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: len(bot.slack.messages(DEV_CHANNEL)) >= 3 and notices(bot))
    for _ in range(5):
        job.tick(clock.advance(11))
    [notice] = notices(bot)
    text = message_text(notice)
    assert ":x:" in text and "failed" in text and "demo/broken" in text
    thread = bot.slack.thread(DEV_CHANNEL, notice.ts)
    assert len(thread) == 2 and "SyntaxError" in message_text(thread[1])
    assert "```" in message_text(thread[1])


def test_watch_does_not_report_builds_that_ended_before_it(bot, built_algorithm, job, clock):
    bot.command("watch demo/hello")
    bot.reply(lambda m: "subscribed this channel" in message_text(m))
    for _ in range(3):
        job.tick(clock.advance(11))
    assert notices(bot) == []


def test_compile_from_slack_updates_its_own_message(bot, built_algorithm, job, clock):
    bot.box.hold_builds = True
    bot.command("compile demo/hello")
    started = bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    job.tick(clock.advance(1))
    bot.box.release_builds()
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: "succeeded" in message_text(bot.slack.message(DEV_CHANNEL, started.ts)))
    updated = bot.slack.message(DEV_CHANNEL, started.ts)
    assert updated.history and "started a build" in updated.history[0]["text"]
    assert f"Started by <@{ADMIN}>" in message_text(updated)
    assert len(bot.slack.calls("chat.update")) == 1
    run_until(job, clock, lambda: len(bot.slack.thread(DEV_CHANNEL, started.ts)) == 2)
    assert [m for m in bot.slack.messages(DEV_CHANNEL) if "Build `" in message_text(m)] == [updated]


def test_only_failed_filters_successes(bot, job, clock, tmp_path):
    clone = watched(bot, "demo/hello", only="failed")
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    for _ in range(4):
        job.tick(clock.advance(11))
    assert notices(bot) == []
    push_files(clone, {"src/bad.py": BROKEN_PY}, tmp_path, message="break it")
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: notices(bot))
    assert "failed" in message_text(notices(bot)[0])


def test_restart_between_deciding_and_posting_delivers_once(bot, clock, tmp_path):
    clone = watched(bot)
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    first = make_job(bot)
    for _ in range(3):
        first.poller.run(clock.advance(11))  # decides and writes the outbox, then "dies" before sending
    with connect(bot.settings.database_location) as db:
        assert len(store.outbox_rows(db)) == 1
    assert notices(bot) == []
    restarted = make_job(bot)
    run_until(restarted, clock, lambda: len(bot.slack.messages(DEV_CHANNEL)) >= 3 and notices(bot))
    for _ in range(4):
        restarted.tick(clock.advance(11))
    assert len(notices(bot)) == 1
    with connect(bot.settings.database_location) as db:
        assert store.outbox_rows(db) == []


def test_two_pollers_on_one_database_deliver_one_notice(bot, clock, tmp_path):
    clone = watched(bot)
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    tick_together([make_job(bot), make_job(bot)], clock, ticks=4)
    assert len(notices(bot)) == 1
    assert len(bot.slack.thread(DEV_CHANNEL, notices(bot)[0].ts)) == 2


def test_slack_429_is_retried_after_retry_after(bot, job, clock, tmp_path):
    clone = watched(bot)
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    bot.slack.script(
        "chat.postMessage", {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "30"}
    )
    for _ in range(3):
        job.poller.run(clock.advance(11))
    base = len(bot.slack.calls("chat.postMessage"))
    job.sender.run(clock.now)
    assert notices(bot) == [] and len(bot.slack.calls("chat.postMessage")) == base + 1
    job.sender.run(clock.advance(10))  # still inside Retry-After: nothing is tried
    assert len(bot.slack.calls("chat.postMessage")) == base + 1
    job.sender.run(clock.advance(21))
    assert len(notices(bot)) == 1


def test_outage_then_recovery_gets_one_notice_each_and_every_build_notice(bot, job, clock, tmp_path):
    clone = watched(bot)
    bot.box.hold_builds = True
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    job.tick(clock.advance(11))
    bot.box.fail_rate = 1.0
    before = sum(bot.box.request_counts.values())
    for _ in range(120):  # 20 minutes of one tick per 10 s: back-off keeps requests few
        job.tick(clock.advance(10))
    outage_requests = sum(bot.box.request_counts.values()) - before
    assert outage_requests < 15
    texts = [message_text(m) for m in bot.slack.messages(DEV_CHANNEL)]
    assert sum("has been unreachable" in t for t in texts) == 1
    bot.box.release_builds()
    bot.box.wait_for_builds()
    bot.box.fail_rate = 0.0
    run_until(job, clock, lambda: notices(bot), step=30)
    for _ in range(5):
        job.tick(clock.advance(11))
    texts = [message_text(m) for m in bot.slack.messages(DEV_CHANNEL)]
    assert sum("build notices resume" in t for t in texts) == 1
    assert sum("has been unreachable" in t for t in texts) == 1
    assert len(notices(bot)) == 1


def test_a_revoked_key_is_told_once_and_polling_stops(bot, job, clock, tmp_path):
    clone = watched(bot)
    bot.set_key("simRevokedKeyNobodyKnows", endpoint=bot.sandbox.url)
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    job.tick(clock.advance(11))
    job.tick(clock.advance(11))
    before = sum(bot.box.request_counts.values())
    for _ in range(5):
        job.tick(clock.advance(11))
    assert sum(bot.box.request_counts.values()) == before
    texts = [message_text(m) for m in bot.slack.messages(DEV_CHANNEL)]
    assert sum("refused this channel's key" in t for t in texts) == 1


def test_archived_channel_stops_its_subscriptions_and_is_audited(bot, job, clock, tmp_path):
    clone = watched(bot)
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    bot.slack.update_channel(DEV_CHANNEL, is_archived=True)
    for _ in range(4):
        job.tick(clock.advance(11))
    with connect(bot.settings.database_location) as db:
        assert store.subscriptions(db, REF) == []
        assert store.outbox_rows(db) == []
        rows = audit.recent(db, REF)
    assert rows[0]["action"] == "notify" and rows[0]["outcome"] == "error" and "is_archived" in rows[0]["error"]
    # algobot acted by itself: the same actor as its other system rows (anchor, checkpoint, uninstall)
    assert (rows[0]["source"], rows[0]["user_id"]) == ("system", "system")


def test_a_build_that_disappears_is_dropped_with_one_notice(bot, built_algorithm, job, clock):
    bot.box.hold_builds = True
    bot.command("compile demo/hello")
    bot.reply(lambda m: "started a build" in message_text(m))
    requests.delete(
        f"{bot.sandbox.url}/v1/algorithms/demo/hello",
        headers={"Authorization": f"Simple {bot.sandbox.key('demo')}"},
        timeout=10,
    )
    bot.box.release_builds()
    for _ in range(4):
        job.tick(clock.advance(11))
    texts = [message_text(m) for m in bot.slack.messages(DEV_CHANNEL)]
    assert sum("no longer exists" in t for t in texts) == 1


def test_still_running_after_two_hours_is_said_once(bot, job, clock, tmp_path):
    clone = watched(bot)
    bot.box.hold_builds = True
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    job.tick(clock.advance(1))
    for _ in range(50):
        job.tick(clock.advance(200))
    texts = [message_text(m) for m in bot.slack.messages(DEV_CHANNEL)]
    assert sum("running for over 2 hours" in t for t in texts) == 1
    bot.box.release_builds()
    bot.box.wait_for_builds()


def test_notice_buttons_full_log_rebuild_and_publish(bot, job, clock, tmp_path):
    clone = watched(bot)
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: notices(bot))
    notice = notices(bot)[0]

    def value(action_id):
        return button_value(notice, action_id)

    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=notice.ts,
        action_id=ACTION_FULL_LOG,
        value=value(ACTION_FULL_LOG),
    )
    uploaded = bot.slack.wait_for(lambda: [f for f in bot.slack.files() if f.completed])
    assert uploaded[0].thread_ts == notice.ts

    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=notice.ts,
        action_id=ACTION_OPEN_PUBLISH,
        value=value(ACTION_OPEN_PUBLISH),
    )
    view = bot.slack.wait_for(lambda: [v for v in bot.slack.views(user=ADMIN) if v.callback_id == "algo_publish"])[0]
    bot.slack.submit_view(
        bot.url, user=ADMIN, view_id=view.id, values={BLOCK_PUBLISH_NOTES: {ACTION_PUBLISH_NOTES: "from the notice"}}
    )
    bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello* *0.1.0*" in message_text(m))

    bot.slack.click(
        bot.url,
        user=MEMBER,
        channel=DEV_CHANNEL,
        message_ts=notice.ts,
        action_id=ACTION_REBUILD,
        value=value(ACTION_REBUILD),
    )
    bot.reply(
        lambda m: not m.is_ephemeral and "started a build" in message_text(m) and f"<@{MEMBER}>" in message_text(m)
    )
    with connect(bot.settings.database_location) as db:
        actions = [r["action"] for r in audit.recent(db, REF, limit=10)]
    assert "button:compile" in actions and "modal:publish" in actions and "button:logs" in actions
    bot.box.wait_for_builds()


def test_a_failing_poll_is_logged_and_the_outbox_still_drains(bot, clock, caplog):
    class Broken:
        def run(self, now):
            raise RuntimeError("poller exploded")

    sent = []

    class Sender:
        def run(self, now):
            sent.append(now)

    job = NotificationJob(Broken(), Sender())
    with caplog.at_level(logging.ERROR):
        job.tick(clock.now)
        job.tick(clock.advance(1))
    assert "poller exploded" in caplog.text and len(sent) == 2 and job.last_completed == clock.now


def test_scheduler_polls_and_sends_in_separate_jobs(job):
    scheduler = start_scheduler(job, interval=3600)
    try:  # a slow poll cycle must not hold the outbox back: each half is its own interval job
        assert sorted(j.id for j in scheduler.get_jobs()) == sorted([JOB_ID, SEND_JOB_ID])
    finally:
        scheduler.shutdown(wait=False)


def test_a_slow_poll_cycle_does_not_hold_the_outbox_back(job):
    release, sent = threading.Event(), threading.Event()

    class StuckPoller:  # a poll cycle that overruns many ticks (the 10,000-build benchmark's case)
        def run(self, now):
            release.wait(30)

    real = job.sender

    class WatchedSender:
        db_path = real.db_path

        def run(self, now):
            real.run(now)
            sent.set()

    job.poller, job.sender = StuckPoller(), WatchedSender()
    scheduler = start_scheduler(job, interval=0.05)
    try:
        assert sent.wait(10), "the outbox waited for a poll cycle that never ended"
    finally:
        release.set()
        scheduler.shutdown(wait=True)


def test_watching_and_unwatch(bot, created_algorithm):
    bot.sandbox.create_algorithm("demo/other")
    bot.command("watch demo/hello only=failed")
    bot.reply(lambda m: "failed builds of *demo/hello*" in message_text(m))
    bot.command("watch demo/other")
    bot.reply(lambda m: "every build and release of *demo/other*" in message_text(m))
    bot.command("watching")
    listing = bot.reply_containing("*demo/other* — every build and release")
    assert "*demo/hello* — failed builds" in message_text(listing)
    assert "(set up by <@U0ADMIN>)" in message_text(listing) and "since <@" not in message_text(listing)
    bot.command("unwatch demo/hello")
    bot.reply(lambda m: "unsubscribed this channel from *demo/hello*" in message_text(m))
    bot.command("unwatch all")
    bot.reply(lambda m: "unsubscribed this channel from *demo/other*" in message_text(m))
    bot.command("unwatch all")
    assert bot.reply_containing("watches nothing").is_ephemeral
    bot.command("watch demo/nothing")
    assert bot.reply_containing("No such algorithm").is_ephemeral
    bot.command("watch demo/hello only=sometimes")
    assert bot.reply_containing("'sometimes' is not one of them").is_ephemeral


def test_watch_is_a_configuring_action(bot, demo_channel):
    bot.command("watch demo/hello", user=MEMBER)
    assert bot.reply_containing("Only workspace admins", user=MEMBER).is_ephemeral
    with connect(bot.settings.database_location) as db:
        assert ChannelStore(db, bot.cipher).config(REF) is not None
        assert store.subscriptions(db, REF) == []
