"""Typed notice parts read and write the outbox's stored JSON exactly as earlier versions did."""

from __future__ import annotations

import json

from algobot import blocks
from algobot.channels import ChannelRef
from algobot.db import migrate, open_db
from algobot.notify import store
from algobot.notify.types import DONE, FINAL, TRACKING, NewBuild, NoticePart

REF = ChannelRef(team_id="T1", channel_id="C1")

# Rows as earlier versions wrote them: {"op": ..., **blocks.text_message(...)}, an update with its ts first.
OLD_ROWS = [
    json.dumps([{"op": "post", **blocks.text_message("demo/hello build b-0 succeeded")}]),
    json.dumps(
        [
            {"op": "update", "ts": "1700000000.000100", **blocks.text_message("build b-1 failed")},
            {"op": "thread", **blocks.text_message("log tail")},
        ]
    ),
    '[{"op": "post", "text": "demo/hello build b-0 succeeded"}]',  # the oldest form: text only
]


def test_old_outbox_rows_round_trip_unchanged():
    for stored in OLD_ROWS:
        parts = store.parts_of({"parts": stored})
        assert all(isinstance(p, NoticePart) for p in parts)
        assert json.dumps([p.to_json() for p in parts]) == stored


def test_enqueued_parts_are_stored_in_the_old_shape(tmp_path):
    migrate(tmp_path / "t.db")
    db = open_db(tmp_path / "t.db")
    message = blocks.text_message("build b-1 failed")
    parts = [NoticePart.of("update", message, ts="1700000000.000100"), NoticePart.of("thread", message)]
    assert store.enqueue(db, REF, "k", "build", parts, 1.0)
    [row] = store.outbox_rows(db)
    assert row["parts"] == json.dumps(
        [{"op": "update", "ts": "1700000000.000100", **message}, {"op": "thread", **message}]
    )
    assert store.parts_of(row) == parts


def test_new_build_from_api_one_mapping_for_watch_and_poller():
    ended = {"build_id": "b1", "status": "failed", "commit_sha": "abc", "finished_at": "2026-01-01T00:00:00Z"}
    running = {"build_id": "b2", "status": "in-progress"}
    assert NewBuild.from_api("a/b", ended, news=True).state == FINAL  # discovered: its notice is due
    assert NewBuild.from_api("a/b", ended, news=False).state == DONE  # baseline of /algo watch: history
    assert NewBuild.from_api("a/b", running, news=True).state == TRACKING
    assert NewBuild.from_api("a/b", running, news=False).state == TRACKING
    build = NewBuild.from_api("a/b", ended, news=True)
    assert (build.build_id, build.origin, build.status, build.commit_sha) == ("b1", "watch", "failed", "abc")
