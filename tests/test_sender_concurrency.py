"""The outbox sender talks to many channels at once, still one message at a time per channel."""

from __future__ import annotations

import threading

from slack_sdk import WebClient

from algobot import blocks
from algobot.channels import ChannelRef
from algobot.db import database, migrate
from algobot.notify import store
from algobot.notify.sender import OutboxSender
from algobot.notify.types import NoticePart
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
