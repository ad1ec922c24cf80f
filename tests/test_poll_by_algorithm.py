"""The poller lists each watched algorithm once per interval, whatever its builds and channels.

Requests are counted by the sandbox at the HTTP level: that is what an operator pays for (and what
Algorithmia rate-limits).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from slack_sdk import WebClient

from algobot.algorithmia import AlgorithmiaClient
from algobot.channels import ChannelRef
from algobot.db import database, migrate
from algobot.notify import store
from algobot.notify.poller import Poller
from algobot.notify.scheduler import NotificationJob
from algobot.notify.sender import OutboxSender
from algobot.store import connect
from tests.fixtures.bot import message_text
from tests.fixtures.sandbox import HELLO_PY, push_files
from tests.fixtures.slack import DEV_CHANNEL, TEAM_ID

SECOND_CHANNEL = "C0SECOND"
LIST = ("GET", "/v1/algorithms/{u}/{a}/builds")
LOGS = ("GET", "/v1/algorithms/{u}/{a}/builds/{build_id}/logs")


def make_job(bot) -> NotificationJob:
    client = WebClient(token=bot.settings.slack_bot_token, base_url=bot.settings.slack_api_url)
    poller = Poller(bot.settings, bot.cipher, executor=ThreadPoolExecutor(max_workers=4))
    return NotificationJob(poller, OutboxSender(bot.settings.database_location, client, audit_key=bot.cipher.audit_key))


def watch(bot, channel: str, algorithm: str, key: str | None = None) -> str:
    """Subscribe `channel` with `key` (default: a fresh key of the sandbox user demo); returns the key."""
    key = key or bot.sandbox.key("demo")
    bot.set_key(key, channel=channel)
    with connect(bot.settings.database_location) as db:
        store.subscribe(db, ChannelRef(TEAM_ID, channel), algorithm, "all", "U0ADMIN", datetime.now(UTC).isoformat())
    return key


def start_builds(bot, tmp_path, algorithm: str, count: int) -> AlgorithmiaClient:
    """A pushed algorithm with `count` builds held in progress."""
    clone = bot.sandbox.create_algorithm(algorithm)
    bot.sandbox.sandbox.hold_builds = True
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    api = AlgorithmiaClient(bot.sandbox.key("demo"), bot.sandbox.url)
    for _ in range(count - 1):
        api.compile(algorithm)
    return api


def ticks(job: NotificationJob, start: float, seconds: int) -> float:
    """Tick once a second of the passed clock, as the scheduler does."""
    for second in range(seconds):
        job.tick(start + second)
    return start + seconds


def test_builds_of_one_algorithm_share_its_list_request(bot, tmp_path):
    watch(bot, DEV_CHANNEL, "demo/hello")
    start_builds(bot, tmp_path, "demo/hello", 6)
    job = make_job(bot)
    interval = bot.settings.poll_seconds
    now = ticks(job, 1_000_000.0, 5)  # the builds are discovered and tracked
    with connect(bot.settings.database_location) as db:
        assert len([b for b in store.tracked(db) if b["state"] == "tracking"]) == 6
    bot.sandbox.sandbox.reset_request_counts()
    ticks(job, now, 6 * interval)
    lists = bot.sandbox.sandbox.request_counts.get(LIST, 0)
    # Six builds with schedules of their own would be listed up to six times an interval.
    assert lists <= 6 + 1, bot.sandbox.sandbox.request_counts
    assert set(bot.sandbox.sandbox.request_counts) == {LIST}  # the page shows them all: no GET per build


def test_one_list_serves_every_channel_watching_with_the_same_key(bot, tmp_path):
    bot.slack.add_channel(SECOND_CHANNEL, "algo-second", bot_member=True)
    key = watch(bot, DEV_CHANNEL, "demo/hello")
    watch(bot, SECOND_CHANNEL, "demo/hello", key)
    start_builds(bot, tmp_path, "demo/hello", 1)
    job = make_job(bot)
    interval = bot.settings.poll_seconds
    now = ticks(job, 1_000_000.0, interval + 1)
    bot.sandbox.sandbox.reset_request_counts()
    now = ticks(job, now, 4 * interval)
    assert bot.sandbox.sandbox.request_counts.get(LIST, 0) <= 4 + 1  # not one per channel
    bot.sandbox.sandbox.release_builds()
    bot.sandbox.sandbox.wait_for_builds()
    ticks(job, now, 3 * interval)
    for channel in (DEV_CHANNEL, SECOND_CHANNEL):
        messages = bot.slack.messages(channel)
        notices = [m for m in messages if m.thread_ts in (None, m.ts) and "Build `" in message_text(m)]
        assert len(notices) == 1, channel  # each channel still gets its own notice, once
    assert bot.sandbox.sandbox.request_counts.get(LOGS, 0) == 1  # one log request serves both


def test_channels_with_different_keys_are_listed_each_with_its_own(bot, tmp_path):
    """A key is a channel's own authority: another channel's key never polls for it."""
    bot.slack.add_channel(SECOND_CHANNEL, "algo-second", bot_member=True)
    watch(bot, DEV_CHANNEL, "demo/hello")
    watch(bot, SECOND_CHANNEL, "demo/hello")  # a second key of the same user
    start_builds(bot, tmp_path, "demo/hello", 1)
    job = make_job(bot)
    interval = bot.settings.poll_seconds
    now = ticks(job, 1_000_000.0, interval + 1)
    bot.sandbox.sandbox.reset_request_counts()
    ticks(job, now, 4 * interval)
    assert 2 * 4 <= bot.sandbox.sandbox.request_counts.get(LIST, 0) <= 2 * (4 + 1)


def test_due_work_is_found_by_index_not_by_scanning(tmp_path):
    """A cycle's queries read what is due, not every subscription or build (10,000 builds, 1 s ticks)."""
    migrate(tmp_path / "t.db")
    with database(tmp_path / "t.db") as db:
        queries = {
            "due subscriptions": ("select * from subscriptions where next_discovery_at <= ?", [0]),
            "watchers": ("select * from subscriptions where algorithm in (?)", ["a/b"]),
            "due builds": (
                "select id from tracked_builds where state in ('tracking', 'final') and next_poll_at <= ?",
                [0],
            ),
        }
        for what, (sql, args) in queries.items():
            plan = " ".join(str(row[-1]) for row in db.execute(f"explain query plan {sql}", args).fetchall())
            assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (what, plan)
