"""Opening, migrating and writing to algobot's SQLite database.

A `sqlite_utils.Database` wraps one `sqlite3` connection, which must not cross threads: open one per
unit of work (a Slack request, a scheduler job, a CLI command) with `database(path)`; opening is cheap.
Every sqlite-utils write auto-commits; group writes with `db.atomic()`, or with `immediate(db)` when a
write depends on something read first (the audit chain's last hash) and must hold the write lock
across both.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import sqlite_utils

from algobot.migrations import migrations

# How long a connection waits for another writer before raising "database is locked".
BUSY_TIMEOUT_MS = 5000


def open_db(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open one connection for one unit of work; the caller closes it (or use `database`)."""
    create_private(path)
    db = sqlite_utils.Database(path)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return db


def create_private(path: str | os.PathLike[str]) -> None:
    """Create the database file with mode 0600 if it does not exist yet, whatever the umask.

    It holds encrypted keys and the audit trail: nobody but the service user should read it. SQLite
    gives the `-wal` and `-shm` files it creates beside it the database file's own mode.
    """
    name = os.fspath(path)
    if name in ("", ":memory:") or name.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@contextlib.contextmanager
def database(path: str | os.PathLike[str]) -> Iterator[sqlite_utils.Database]:
    """Open a connection for a unit of work and always close it, even on error."""
    db = open_db(path)
    try:
        yield db
    finally:
        db.close()


def migrate(path: str | os.PathLike[str]) -> list[str]:
    """Apply pending migrations to the database at `path` (created if missing); return their names."""
    with database(path) as db:
        before = {m.name for m in migrations.applied(db)}
        migrations.apply(db)
        return [m.name for m in migrations.applied(db) if m.name not in before]


@contextlib.contextmanager
def immediate(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """A transaction that takes the write lock up front (`BEGIN IMMEDIATE`).

    Use it when a write depends on a read (read the last audit hash, then append): with a plain
    deferred `BEGIN` two writers could read the same state and then race for the lock. Inside an
    already open transaction this becomes a savepoint, so the outer transaction must itself have been
    started with `immediate` for the guarantee to hold.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()


def utc_iso(moment: datetime) -> str:
    """The one timestamp format stored: UTC ISO 8601 with microseconds, so text order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware (pass datetime.now(UTC))")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
