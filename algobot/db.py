"""Opening, migrating and writing to algobot's SQLite database.

A `sqlite_utils.Database` wraps one `sqlite3` connection, which must not cross threads: open one per
unit of work (a Slack request, a scheduler job, a CLI command) with `database(path)`; opening is cheap.
Every sqlite-utils write auto-commits; group writes with `db.atomic()`, or with `immediate(db)` when a
write depends on something read first (the audit chain's last hash) and must hold the write lock
across both.

SQLite lets one writer at a time hold the file. Another writer (a CLI call, a backup, a second
process, an operator's `sqlite3` shell) can keep it for longer than a statement's busy timeout, so
writes that must not be lost go through `retry_locked` (or `immediate`, which uses it to take the
lock): the write is tried again with growing pauses until `LOCKS.retry_seconds` have passed, then
`DatabaseLocked` is raised and the caller decides what to tell people. What a command already did
at Algorithmia and could still not be written is kept in a `algobot.pending.PendingWrites` queue
and written as soon as the database answers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import sqlite_utils

from algobot.migrations import migrations

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class LockPolicy:
    """How long a writer waits for another writer's lock.

    ``busy_timeout_ms`` is SQLite's own wait inside one statement; ``retry_seconds`` bounds the whole
    retry loop around a write, well above the busy timeout so a lock held for tens of seconds (a
    backup, a long CLI transaction) delays a record instead of losing it.
    """

    busy_timeout_ms: int = 5000
    retry_seconds: float = 30.0
    first_pause: float = 0.05
    max_pause: float = 2.0


# The process-wide policy, read at every call (tests swap it for short bounds).
LOCKS = LockPolicy()
# How long a connection waits for another writer before raising "database is locked" (the default).
BUSY_TIMEOUT_MS = LOCKS.busy_timeout_ms


class DatabaseLocked(Exception):
    """A write still found the database locked after retrying for `LOCKS.retry_seconds`."""


# PostgreSQL's transient conflicts between replicas: serialization failure, deadlock, lock not available.
POSTGRES_RETRYABLE = frozenset({"40001", "40P01", "55P03"})


def is_locked(error: BaseException) -> bool:
    """True for SQLite's "database is locked" / busy errors, and PostgreSQL's lock conflicts (a
    deadlock, a lock not available), which a later attempt may not hit."""
    if getattr(getattr(error, "orig", None), "sqlstate", None) in POSTGRES_RETRYABLE:
        return True
    if not isinstance(error, sqlite3.OperationalError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(error) or "busy" in str(error)


def retry_locked(
    write: Callable[[], T],
    what: str,
    *,
    retry_seconds: float | None = None,
    waits: list[str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``write()``; while the database is locked, run it again with backoff, up to the bound.

    ``write`` must be safe to repeat: one statement, or one transaction that rolls back when it fails.
    The first wait is logged once (``what`` says what is being written); calls sharing a ``waits``
    list log only the first wait among them. The last failure is raised as `DatabaseLocked`. Any
    other error is raised at once.
    """
    bound = LOCKS.retry_seconds if retry_seconds is None else retry_seconds
    started = clock()
    pause = LOCKS.first_pause
    waited = False
    while True:
        try:
            result = write()
        except Exception as error:
            if not is_locked(error):
                raise
            elapsed = clock() - started
            if elapsed >= bound:
                raise DatabaseLocked(f"the database stayed locked for {elapsed:.1f}s while {what}") from error
            if not waited:
                if not waits:
                    log.warning("database is locked while %s; waiting up to %.0fs for it", what, bound)
                if waits is not None:
                    waits.append(what)
                waited = True
            sleep(min(pause * random.uniform(0.5, 1.0), max(bound - elapsed, 0.0)))
            pause = min(pause * 2, LOCKS.max_pause)
            continue
        if waited:
            log.info("database answered after %.1fs while %s", clock() - started, what)
        return result


def open_db(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open one connection for one unit of work; the caller closes it (or use `database`).

    ``synchronous=NORMAL``: under WAL (migration 0005) a commit then writes the log without waiting
    for the disk, and the log is synced at checkpoints. A killed process loses nothing committed; only
    a power cut or OS crash may roll back the last commits. For the outbox that means a notice whose
    mark was rolled back is looked for in Slack and, at worst, sent again: never lost. Commits cost
    microseconds instead of an fsync each, which is what the sender's per-notice marks were waiting on.
    """
    create_private(path)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout=0")
    try:
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.OperationalError as error:
        if not is_locked(error):
            raise
        # Reading the setting needs the file: a new file (not yet WAL) that a migrator or a shell holds
        # locked. This connection keeps SQLite's safe default rather than wait here.
    db.execute(f"PRAGMA busy_timeout={int(LOCKS.busy_timeout_ms)}")
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
    """Apply pending migrations to the database at `path` (created if missing); return their names.

    Several processes may start at once on a new file (replicas, CLI calls): each migration runs under
    the write lock, taken with `immediate` (so it waits and retries), and the list of pending steps is
    read under that lock, so each step is applied exactly once and the others simply find it done. A
    step registered with ``transactional=False`` (WAL) runs outside the lock first and must be
    idempotent; it is recorded under the lock.
    """
    applied: list[str] = []
    waits: list[str] = []  # one log line per process that waits, however many steps it waits for
    with database(path) as db:
        while True:
            with immediate(db, what="applying migrations", waits=waits):
                pending = migrations.pending(db)
                if not pending:
                    return applied
                step = pending[0]
                if step.transactional:
                    migrations.apply(db, stop_before=[m.name for m in pending[1:]])
                    applied.append(step.name)
                    continue
            retry_locked(lambda step=step: step.fn(db), f"applying migration {step.name}", waits=waits)
            with immediate(db, what="applying migrations", waits=waits):
                if step.name in {m.name for m in migrations.pending(db)}:  # not recorded by another process
                    # Recorded as sqlite-utils' own apply() records it (running the step again here would
                    # put it inside a transaction, which such a step cannot run in).
                    db.table(migrations.migrations_table).insert(
                        {"migration_set": migrations.name, "name": step.name, "applied_at": str(datetime.now(UTC))}
                    )
                    applied.append(step.name)


@contextlib.contextmanager
def immediate(
    db: sqlite_utils.Database,
    *,
    what: str = "writing",
    retry_seconds: float | None = None,
    waits: list[str] | None = None,
) -> Iterator[sqlite_utils.Database]:
    """A transaction that takes the write lock up front (`BEGIN IMMEDIATE`).

    Use it when a write depends on a read (read the last audit hash, then append): with a plain
    deferred `BEGIN` two writers could read the same state and then race for the lock. Inside an
    already open transaction this becomes a savepoint, so the outer transaction must itself have been
    started with `immediate` for the guarantee to hold.

    Taking the lock waits for other writers with `retry_locked` (``what`` names the write in its log
    line, ``waits`` is passed on) and raises `DatabaseLocked` past the bound; nothing has been written
    then. In WAL mode the lock, once taken, is kept until commit, so the body itself does not hit
    "database is locked".
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    retry_locked(lambda: db.execute("BEGIN IMMEDIATE"), what, retry_seconds=retry_seconds, waits=waits)
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
