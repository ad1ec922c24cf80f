"""The one way modules reach the database, on SQLite or PostgreSQL.

algobot keeps its state in SQLite at ``ALGOBOT_DB`` by default, or in PostgreSQL when
``ALGOBOT_DATABASE_URL`` is set (several replicas sharing one database). Every module writes its SQL
once, in the part of SQL both engines speak, through a `Store`:

- placeholders are ``?`` on both (converted to bound parameters for PostgreSQL here);
- upserts are ``INSERT ... ON CONFLICT (...) DO UPDATE SET c = excluded.c`` or ``ON CONFLICT DO
  NOTHING``, and ``RETURNING`` works, on both (SQLite >= 3.35);
- ``store.execute`` returns a cursor-like result (``rowcount``, ``fetchone()``, ``fetchall()`` of
  tuples, as sqlite3's cursor); ``store.query`` returns a list of dicts; ``store.insert`` inserts a
  dict and can return the new ``id``;
- ``with store.transaction("audit"):`` is the write transaction for a read-then-write (the audit
  chain head, a row claim). On SQLite it is ``BEGIN IMMEDIATE`` (the file's one write lock, waited
  for with `algobot.db.retry_locked`); on PostgreSQL a transaction that first takes
  ``pg_advisory_xact_lock`` on the named lock, so replicas serialise on that one thing only;
- ``store.for_update_skip_locked`` is appended to a claim's ``SELECT``: ``FOR UPDATE SKIP LOCKED``
  on PostgreSQL, nothing on SQLite, where the transaction's write lock already excludes others.

Outside `transaction` every statement commits on its own on both engines. Open a store per unit of
work with ``with connect(location) as store:``; ``location`` is the settings' `database_location`
(a ``postgresql://`` URL or a SQLite path). Code still holding a ``sqlite_utils.Database`` passes it
through `as_store`. Nothing else in algobot knows which engine it runs on.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import sqlite_utils
from sqlalchemy import create_engine, text

from algobot import db as sqlite_db
from algobot import migrations_pg

log = logging.getLogger(__name__)

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_postgres(location: str | os.PathLike[str]) -> bool:
    """True when ``location`` is a PostgreSQL URL rather than a SQLite file path."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def sqlalchemy_url(url: str) -> str:
    """The operator writes ``postgresql://``; SQLAlchemy needs the driver named (psycopg 3)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def redact_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def lock_id(name: str) -> int:
    """A stable signed 64-bit advisory lock number for a lock name ("audit", "migrations")."""
    return int.from_bytes(hashlib.sha256(f"algobot:{name}".encode()).digest()[:8], "big", signed=True)


def describe(error: BaseException) -> str:
    """One line for an operator about a database error (the driver's own words, no SQL or parameters)."""
    origin = getattr(error, "orig", None) or error
    return str(origin).strip().splitlines()[0] if str(origin).strip() else type(origin).__name__


class Store:
    """One connection for one unit of work; see the module docstring for the SQL it accepts."""

    dialect: str = ""
    for_update_skip_locked: str = ""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; return a cursor-like result (``rowcount``, ``fetchone``, ``fetchall``)."""
        raise NotImplementedError

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run one query; return its rows as dicts."""
        raise NotImplementedError

    def transaction(
        self, lock: str = "write", *, what: str = "writing", retry_seconds: float | None = None
    ) -> contextlib.AbstractContextManager[Store]:
        """A write transaction serialised on ``lock`` (see the module docstring). On SQLite taking the
        lock waits up to ``retry_seconds`` (default `algobot.db.LOCKS`), then raises `DatabaseLocked`."""
        raise NotImplementedError

    def highest_id_ever(self, table: str) -> int:
        """The highest id the table's id sequence ever gave, even if that row was removed since."""
        raise NotImplementedError

    def append_numbered(self, table: str, row: Mapping[str, Any]) -> int:
        """Insert ``row`` under the next id of ``table`` and return it; a rolled-back append gives its id
        back, so ids stay gapless (the audit trail reads a gap as a removed row). The caller serialises
        appends (the audit lock)."""
        return int(self.insert(table, row, returning="id"))

    def has_table(self, table: str) -> bool:
        """True once migrations created ``table``."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def insert(self, table: str, row: Mapping[str, Any], *, conflict: str = "", returning: str | None = None) -> Any:
        """Insert ``row``; ``conflict`` is an ``ON CONFLICT ...`` clause; return the ``returning`` column
        of the new row (None when the conflict clause skipped it), else the row count."""
        columns = ", ".join(f'"{name}"' for name in row)
        marks = ", ".join("?" for _ in row)
        sql = f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) {conflict}'
        if returning is None:
            return self.execute(sql, list(row.values())).rowcount
        found = self.query(f'{sql} RETURNING "{returning}"', list(row.values()))
        return found[0][returning] if found else None


class SqliteStore(Store):
    """SQLite through the ``sqlite3`` connection sqlite-utils holds, so transactions opened with
    `algobot.db.immediate`, `retry_locked` and `algobot.pending.PendingWrites` keep working unchanged around it."""

    dialect = "sqlite"

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.execute(sql, list(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        was_in_transaction = self.db.conn.in_transaction
        cursor = self.db.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        if not was_in_transaction and self.db.conn.in_transaction:
            self.db.conn.commit()  # an INSERT ... RETURNING outside a transaction commits on its own
        return rows

    @contextlib.contextmanager
    def transaction(
        self, lock: str = "write", *, what: str = "writing", retry_seconds: float | None = None
    ) -> Iterator[Store]:
        with sqlite_db.immediate(self.db, what=what, retry_seconds=retry_seconds):
            yield self

    def has_table(self, table: str) -> bool:
        return self.db.table(table).exists()

    def highest_id_ever(self, table: str) -> int:
        rows = self.query("SELECT seq FROM sqlite_sequence WHERE name = ?", [table])
        return int(rows[0]["seq"]) if rows else 0

    def close(self) -> None:
        self.db.close()


class Fetched:
    """A statement's outcome read in full before its transaction ends, shaped like a sqlite3 cursor."""

    def __init__(self, rowcount: int, rows: list[tuple[Any, ...]]) -> None:
        self.rowcount = rowcount
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


def _named(sql: str, params: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``?`` placeholders to SQLAlchemy's ``:p0`` binds (never inside quoted text)."""
    parts = re.split(r"('(?:[^']|'')*'|\"[^\"]*\")", sql)
    count = 0
    for index in range(0, len(parts), 2):

        def bind(_match: re.Match[str]) -> str:
            nonlocal count
            count += 1
            return f":p{count - 1}"

        parts[index] = re.sub(r"\?", bind, parts[index])
    if count != len(params):
        raise ValueError(f"the statement has {count} placeholders but {len(params)} parameters")
    return "".join(parts), {f"p{i}": value for i, value in enumerate(params)}


class PostgresStore(Store):
    """PostgreSQL through SQLAlchemy Core 2 and psycopg 3 (one pooled connection per unit of work)."""

    dialect = "postgresql"
    for_update_skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self._depth = 0
        self._locks: set[str] = set()  # advisory locks this transaction holds

    def _run(self, sql: str, params: Sequence[Any]) -> Any:
        statement, binds = _named(sql, params)
        # Colons in text are binds for SQLAlchemy; the shared SQL never uses :: casts or :name.
        result = self.connection.execute(text(statement), binds)
        return result

    def _autocommit(self) -> None:
        if not self._depth and self.connection.in_transaction():
            self.connection.commit()

    @contextlib.contextmanager
    def _statement(self) -> Iterator[None]:
        """Outside a transaction one statement is its own: rolled back if it fails, committed if not."""
        try:
            yield
        except BaseException:
            if not self._depth:
                self.connection.rollback()
            raise
        self._autocommit()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._statement():
            result = self._run(sql, params)
            fetched = Fetched(result.rowcount, [tuple(row) for row in result] if result.returns_rows else [])
        return fetched

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._statement():
            rows = [dict(row) for row in self._run(sql, params).mappings()]
        return rows

    @contextlib.contextmanager
    def transaction(
        self, lock: str = "write", *, what: str = "writing", retry_seconds: float | None = None
    ) -> Iterator[Store]:
        if self._depth:  # inside a caller's transaction: take this lock too, commit with the caller
            if lock not in self._locks:
                self._run("SELECT pg_advisory_xact_lock(?)", [lock_id(lock)])
                self._locks.add(lock)
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        if self.connection.in_transaction():
            self.connection.commit()
        self._depth = 1
        try:
            self._run("SELECT pg_advisory_xact_lock(?)", [lock_id(lock)])
            self._locks.add(lock)
            yield self
        except BaseException:
            self.connection.rollback()
            raise
        else:
            self.connection.commit()
        finally:
            self._depth = 0
            self._locks.clear()

    def has_table(self, table: str) -> bool:
        return bool(self.one("SELECT to_regclass(?) AS t", [table])["t"])

    def append_numbered(self, table: str, row: Mapping[str, Any]) -> int:
        # A sequence value is never given back by a rollback; the high-water row is, with the transaction.
        found = self.one(
            f"""UPDATE id_high_water SET last_id = GREATEST(last_id, (SELECT COALESCE(MAX(id), 0) FROM "{table}")) + 1
                WHERE name = ? RETURNING last_id""",
            [table],
        )
        if found is None:  # first append to this table: start past whatever the sequence handed out
            start = max(
                self._sequence_last_value(table), int(self.one(f'SELECT COALESCE(MAX(id), 0) AS m FROM "{table}"')["m"])
            )
            self.insert("id_high_water", {"name": table, "last_id": start + 1})
            new_id = start + 1
        else:
            new_id = int(found["last_id"])
        self.insert(table, {"id": new_id, **row})
        return new_id

    def highest_id_ever(self, table: str) -> int:
        found = (
            self.one("SELECT last_id FROM id_high_water WHERE name = ?", [table])
            if self.has_table("id_high_water")
            else None
        )
        return max(int(found["last_id"]) if found else 0, self._sequence_last_value(table))

    def _sequence_last_value(self, table: str) -> int:
        """What the table's BIGSERIAL sequence handed out (ids given before `append_numbered`)."""
        row = self.one("SELECT pg_get_serial_sequence(?, 'id') AS seq", [table])
        if not row or not row["seq"]:
            return 0
        # The sequence's last value; 0 before the first row (is_called false).
        found = self.one(f"SELECT last_value, is_called FROM {row['seq']}")
        return int(found["last_value"]) if found and found["is_called"] else 0

    def close(self) -> None:
        self.connection.close()


_ENGINES: dict[str, Any] = {}
_ENGINES_GUARD = threading.Lock()


def engine(url: str) -> Any:
    """This process's pooled SQLAlchemy engine for a PostgreSQL URL (created on first use)."""
    with _ENGINES_GUARD:
        if url not in _ENGINES:
            # A command holds its connection while it waits on Algorithmia: room for the command workers
            # (64 by default) plus the poller, sender and HTTP threads, most of it opened only in bursts.
            _ENGINES[url] = create_engine(
                sqlalchemy_url(url), pool_pre_ping=True, pool_size=10, max_overflow=70, hide_parameters=True
            )
        return _ENGINES[url]


def dispose_engines() -> None:
    """Close every pooled connection (tests dropping a database, a process shutting down)."""
    with _ENGINES_GUARD:
        for item in _ENGINES.values():
            item.dispose()
        _ENGINES.clear()


def open_store(location: str | os.PathLike[str]) -> Store:
    """Open one connection for one unit of work; the caller closes it (or use `connect`)."""
    if is_postgres(location):
        return PostgresStore(engine(str(location)).connect())
    return SqliteStore(sqlite_db.open_db(location))


@contextlib.contextmanager
def connect(location: str | os.PathLike[str]) -> Iterator[Store]:
    """A store for one unit of work, always closed, even on error."""
    store = open_store(location)
    try:
        yield store
    finally:
        store.close()


def as_store(db: Store | sqlite_utils.Database) -> Store:
    """A `Store` for what a caller holds: a store already, or a sqlite-utils database."""
    if isinstance(db, Store):
        return db
    return SqliteStore(db)


def migrate(location: str | os.PathLike[str], *, clock: Callable[[], float] = time.monotonic) -> list[str]:
    """Apply pending migrations on either engine; return the names applied by this process.

    On PostgreSQL the steps run under a session advisory lock, so any number of replicas starting at
    once apply each step exactly once; a process that has to wait for the lock says so in one log line.
    """
    if not is_postgres(location):
        return sqlite_db.migrate(location)
    with engine(str(location)).connect() as connection:
        store = PostgresStore(connection)
        number = lock_id("migrations")
        got = store.one("SELECT pg_try_advisory_lock(?) AS got", [number])
        if not (got and got["got"]):
            started = clock()
            log.info("another process is applying migrations to %s; waiting for it", redact_url(str(location)))
            store.query("SELECT pg_advisory_lock(?)", [number])
            log.info("migrations lock taken after %.1fs", clock() - started)
        try:
            return migrations_pg.apply(store)
        finally:
            store.query("SELECT pg_advisory_unlock(?)", [number])
