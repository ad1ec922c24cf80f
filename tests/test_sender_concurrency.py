"""The outbox sender talks to many channels at once, still one message at a time per channel, and a
notice Slack accepted from a sender killed before it could mark it is not sent again."""

from __future__ import annotations

import logging
import threading

import pytest
from slack_sdk import WebClient

from algobot import blocks
from algobot.channels import ChannelRef
from algobot.db import database, migrate
from algobot.notify import store
from algobot.notify.sender import OutboxSender
from algobot.notify.types import NoticePart
from algobot.store import connect
from algobot.store import migrate as migrate_store
from tests.fixtures.slack import TEAM_ID

CHANNELS = [f"C0CONC{i}" for i in range(4)]


def gated(app, parties: int, broken: list[str]):
    """Slack in front of which chat.postMessage waits until `parties` of them are in flight together."""
    barrier = threading.Barrier(parties, timeout=5)

    def wsgi(environ, start_response):
        if environ.get("PATH_INFO", "").endswith("/chat.postMessage"):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                broken.append(environ["PATH_INFO"])
        return app(environ, start_response)

    return wsgi


def queue_notices(db_path: str, channels: list[str], per_channel: int, now: float) -> None:
    with database(db_path) as db:
        for channel in channels:
            for n in range(per_channel):
                part = NoticePart.of("post", blocks.text_message(f"notice {n} for {channel}"))
                store.enqueue(db, ChannelRef(TEAM_ID, channel), f"test:{channel}:{n}", "test", [part], now)


def test_notices_to_different_channels_are_sent_concurrently(slack, serve_wsgi, tmp_path):
    for channel in CHANNELS:
        slack.add_channel(channel, channel.lower(), bot_member=True)
    db_path = str(tmp_path / "algobot.db")
    migrate(db_path)
    queue_notices(db_path, CHANNELS, 1, 1000.0)
    broken: list[str] = []
    url = serve_wsgi(gated(slack.wsgi_app, len(CHANNELS), broken))
    sender = OutboxSender(
        db_path, WebClient(token=slack.bot_token, base_url=f"{url}/api/"), audit_key=b"k" * 32, workers=8
    )
    report = sender.run(1000.0)
    # Sent one after another, the first post would wait for the others until the barrier broke.
    assert broken == []
    assert report.sent == len(CHANNELS)
    for channel in CHANNELS:
        assert [m.text for m in slack.messages(channel)] == [f"notice 0 for {channel}"]


def test_one_channel_still_gets_at_most_one_message_a_second(slack, tmp_path):
    for channel in CHANNELS:
        slack.add_channel(channel, channel.lower(), bot_member=True)
    db_path = str(tmp_path / "algobot.db")
    migrate(db_path)
    queue_notices(db_path, CHANNELS, 3, 1000.0)
    sender = OutboxSender(db_path, WebClient(token=slack.bot_token, base_url=slack.api_url), audit_key=b"k" * 32)
    for second in range(3):
        sender.run(1000.0 + second)
        for channel in CHANNELS:  # each run: one more message in every channel, in order
            assert [m.text for m in slack.messages(channel)] == [f"notice {n} for {channel}" for n in range(second + 1)]


class Killed(BaseException):
    """The process dying: nothing after it runs, no handler catches it."""


def queue_threaded_notice(location: str, channel: str, now: float) -> str:
    """A notice in two parts (a post, then a reply in its thread); returns its dedupe key."""
    key = f"test:{channel}:threaded"
    parts = [
        NoticePart.of("post", blocks.text_message(f"build ended in {channel}")),
        NoticePart.of("thread", blocks.text_message(f"log tail for {channel}")),
    ]
    with connect(location) as db:
        store.enqueue(db, ChannelRef(TEAM_ID, channel), key, "test", parts, now)
    return key


def sender_for(location: str, slack, sender_id: str) -> OutboxSender:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url)
    return OutboxSender(location, client, sender_id=sender_id, audit_key=b"k" * 32)


def die_after_slack_answers(monkeypatch, sender: OutboxSender, now: float) -> None:
    """Run one tick of ``sender`` that is killed right after Slack accepted a part, before its mark."""
    with monkeypatch.context() as patched:
        patched.setattr(store, "mark_part_sent", lambda *args, **kwargs: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            sender.run(now)
        sender.close()  # every worker of the tick dies at its mark, not just the first one to get there


@pytest.mark.parametrize("killed_at", ["post", "thread reply"])
def test_a_part_slack_took_from_a_killed_sender_is_not_sent_again(
    monkeypatch, slack, engine_location, killed_at, caplog
):
    channel = "C0KILL1"
    slack.add_channel(channel, "kill", bot_member=True)
    migrate_store(engine_location)
    key = queue_threaded_notice(engine_location, channel, 1000.0)
    survivor = sender_for(engine_location, slack, "survivor")
    now = 1000.0
    if killed_at == "thread reply":
        sender_for(engine_location, slack, "first").run(now)  # the post goes out and is marked
        now += 1
    die_after_slack_answers(monkeypatch, sender_for(engine_location, slack, "killed"), now)
    assert len(slack.messages(channel)) == (1 if killed_at == "post" else 2)

    # The killed sender's claim is still on the row: nobody touches it before its lease ends.
    assert survivor.run(now + 30).parts == 0
    for second in range(61, 65):  # after the lease: looked up in Slack, adopted, then the rest is sent
        survivor.run(now + second)

    messages = slack.messages(channel)
    assert [m.text for m in messages] == [f"build ended in {channel}", f"log tail for {channel}"]
    assert messages[1].thread_ts == messages[0].ts  # the reply went into the adopted post's thread
    with connect(engine_location) as db:
        assert store.outbox_rows(db) == []
        assert db.execute("select 1 from notices_sent where dedupe_key = ?", [key]).fetchone()
    lookups = [c for c in slack.calls() if c.method in ("conversations.history", "conversations.replies")]
    assert len(lookups) == 1  # only the uncertain part was looked for
    assert [r.getMessage() for r in caplog.records if "already in Slack" in r.getMessage()] == [
        f"part {0 if killed_at == 'post' else 1} of notice test to T0001/{channel} was already in Slack: not sent again"
    ]


def test_every_post_names_its_notice_and_part_in_metadata(slack, engine_location):
    channel = "C0META1"
    slack.add_channel(channel, "meta", bot_member=True)
    migrate_store(engine_location)
    key = queue_threaded_notice(engine_location, channel, 1000.0)
    sender = sender_for(engine_location, slack, "one")
    sender.run(1000.0)
    sender.run(1001.0)
    assert [m.metadata for m in slack.messages(channel)] == [
        {"event_type": "algobot_notice", "event_payload": {"key": key, "part": 0}},
        {"event_type": "algobot_notice", "event_payload": {"key": key, "part": 1}},
    ]
    assert not [c for c in slack.calls() if c.method == "conversations.history"]  # nothing uncertain: no lookup


def test_without_the_history_scope_an_uncertain_notice_is_posted_again_and_logged_once(
    monkeypatch, slack, engine_location, caplog
):
    channels = ["C0NOSCOPE1", "C0NOSCOPE2"]
    migrate_store(engine_location)
    for channel in channels:
        slack.add_channel(channel, channel.lower(), bot_member=True)
        queue_threaded_notice(engine_location, channel, 1000.0)
    die_after_slack_answers(monkeypatch, sender_for(engine_location, slack, "killed"), 1000.0)
    refusal = {"ok": False, "error": "missing_scope", "needed": "channels:history"}
    slack.script("conversations.history", refusal, times=2)
    survivor = sender_for(engine_location, slack, "survivor")

    with caplog.at_level(logging.WARNING, logger="algobot.notify.sender"):
        survivor.run(1061.0)

    for channel in channels:  # today's behaviour without the scope: posted again, never lost
        assert [m.text for m in slack.messages(channel)] == [f"build ended in {channel}"] * 2
    refused = [r for r in caplog.records if "cannot read channel history" in r.getMessage()]
    assert len(refused) == 1 and "missing_scope" in refused[0].getMessage()


def test_due_notices_are_found_by_index(tmp_path):
    """A tick's claim reads the due rows (next_attempt_at index), not the whole outbox (SQLite's plan)."""
    migrate(str(tmp_path / "t.db"))
    with database(str(tmp_path / "t.db")) as db:
        sql = """select o.id from outbox o left join channel_send_state c on c.enterprise_id = o.enterprise_id
                   and c.team_id = o.team_id and c.channel_id = o.channel_id
                 where o.next_attempt_at <= ? and coalesce(c.next_send_at, 0) <= ?"""
        plan = " ".join(str(row[-1]) for row in db.execute(f"explain query plan {sql}", [0, 0]).fetchall())
    assert "SEARCH o USING INDEX idx_outbox_next_attempt_at" in plan and "SCAN" not in plan, plan
