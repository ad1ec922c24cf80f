"""Schema migrations, connections and transactions (algobot.migrations, algobot.db, algobot.store).

What the schema holds and how a transaction commits are checked on both engines (`engine_location`).
The rest is SQLite-only on purpose: sqlite-utils' Migrations bookkeeping, the file's pragmas (WAL,
synchronous, busy_timeout), BEGIN IMMEDIATE and connection closing have no PostgreSQL counterpart
(PostgreSQL's advisory locks and migration lock are tested in tests/test_store_engines.py).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest

from algobot import migrations_pg
from algobot import store as engines
from algobot.db import database, immediate, migrate, utc_iso
from algobot.migrations import migrations

TABLES = {
    "channel_keys",
    "channel_configurers",
    "channel_allowed_users",
    "audit",
    "subscriptions",
    "tracked_builds",
    "outbox",
    "notices_sent",
    "secret_kdf",
}


def all_migration_names() -> list[str]:
    with database(":memory:") as empty:
        return [m.name for m in migrations.pending(empty)]


def test_migrate_creates_every_table_on_an_empty_file(tmp_path):
    path = tmp_path / "new.db"

    applied = migrate(path)

    assert applied == all_migration_names()
    assert applied[0] == "0001_channel_keys"
    with database(path) as db:
        assert set(db.table_names()) >= TABLES
        assert db.table("channel_keys").pks == ["enterprise_id", "team_id", "channel_id"]
        assert db.table("channel_allowed_users").pks == ["enterprise_id", "team_id", "channel_id", "user_id"]
        assert db.table("channel_configurers").pks == ["enterprise_id", "team_id", "channel_id", "user_id"]
        assert {tuple(index.columns) for index in db.table("audit").indexes} >= {
            ("prev_hash",),
            ("enterprise_id", "team_id", "channel_id", "id"),
            ("algorithm", "action", "id"),
            ("time",),
        }
        assert "AUTOINCREMENT" in db.table("audit").schema


def test_both_engines_apply_the_same_steps_and_hold_every_table(engine_location):
    applied = engines.migrate(engine_location)

    assert applied == all_migration_names() == migrations_pg.NAMES
    assert engines.migrate(engine_location) == []
    with engines.connect(engine_location) as db:
        assert all(db.has_table(table) for table in TABLES)
        # 0014_sender_batch: the outbox records when a part's delivery became uncertain
        assert db.query("SELECT id, unsure_since FROM outbox") == []


def test_a_transaction_commits_or_rolls_back_as_one_on_both_engines(engine_location):
    engines.migrate(engine_location)
    row = ["T1", "C1", "U0", "2024-01-01T00:00:00.000000+00:00"]
    insert = (
        "INSERT INTO channel_allowed_users (enterprise_id, team_id, channel_id, user_id, added_by, added_at) "
        "VALUES ('', ?, ?, ?, ?, ?)"
    )
    with engines.connect(engine_location) as db:
        with pytest.raises(RuntimeError), db.transaction("write"):
            db.execute(insert, [*row[:2], "U1", *row[2:]])
            raise RuntimeError("boom")
        assert db.one("SELECT count(*) AS n FROM channel_allowed_users")["n"] == 0

        with db.transaction("write"):
            db.execute(insert, [*row[:2], "U1", *row[2:]])
            with db.transaction("write"):  # nested: commits with the outer one
                db.execute(insert, [*row[:2], "U2", *row[2:]])
    with engines.connect(engine_location) as other:  # committed: another connection sees both
        assert other.one("SELECT count(*) AS n FROM channel_allowed_users")["n"] == 2


def test_reapplying_is_a_no_op(db_path):
    with database(db_path) as db:
        before = db.schema

    assert migrate(db_path) == []
    with database(db_path) as db:
        assert db.schema == before
        assert len(migrations.applied(db)) == len(all_migration_names())


def test_the_database_is_in_wal_mode_and_connections_wait_for_writers(db_path):
    with database(db_path) as db:
        assert next(db.query("PRAGMA journal_mode"))["journal_mode"] == "wal"
        assert next(db.query("PRAGMA busy_timeout"))["timeout"] == 5000


def test_database_closes_its_connection(db_path):
    with database(db_path) as db:
        pass
    with pytest.raises(sqlite3.ProgrammingError):
        db.execute("SELECT 1")


def test_immediate_commits_or_rolls_back_as_one(db):
    row = {
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "added_by": "U0",
        "added_at": "2024-01-01T00:00:00.000000+00:00",
    }
    with pytest.raises(RuntimeError), immediate(db):
        db.table("channel_allowed_users").insert(row)
        raise RuntimeError("boom")
    assert db.table("channel_allowed_users").count == 0
    assert not db.conn.in_transaction

    with immediate(db):
        db.table("channel_allowed_users").insert(row)
        with immediate(db):  # nested: a savepoint inside the outer transaction
            db.table("channel_allowed_users").insert({**row, "user_id": "U2"})
    assert db.table("channel_allowed_users").count == 2


def test_immediate_holds_the_write_lock_from_the_start(db_path):
    with database(db_path) as first, database(db_path) as second:
        second.execute("PRAGMA busy_timeout=0")
        with immediate(first), pytest.raises(sqlite3.OperationalError, match="locked"):
            second.execute("BEGIN IMMEDIATE")


def test_timestamps_are_utc_with_microseconds():
    assert utc_iso(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == "2024-05-01T12:00:00.000000+00:00"
    plus_two = timezone(timedelta(hours=2))
    assert utc_iso(datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=plus_two)) == "2024-05-01T12:00:00.000005+00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        utc_iso(datetime(2024, 5, 1, 12, 0))


def test_connections_to_a_migrated_file_use_wal_with_normal_sync(db_path):
    """WAL with synchronous=NORMAL: commits do not wait for an fsync each (the sender marks every part);
    a killed process loses nothing committed (SQLite-only: PostgreSQL has its own durability settings)."""
    with database(db_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_a_connection_to_a_locked_new_file_opens_without_waiting(tmp_path):
    """Setting synchronous reads the file; on a new file a migrator holds, it keeps the safe default."""
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        with database(path) as db:
            assert db.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    finally:
        holder.rollback()
        holder.close()
    with database(path) as db:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1
