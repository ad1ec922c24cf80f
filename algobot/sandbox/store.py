"""SQLite state of the sandbox: schema (as `sqlite_utils.Migrations`), connections and small helpers.

One database file, ``DATA/sandbox.db``, in WAL mode so the API threads, the build threads and a
second process (``algobot sandbox key``) can use it at once. A `Database` is opened per unit of
work and closed after it; connections are never shared across threads (sqlite3 refuses that).

A "version" of an algorithm is a build that succeeded (a *hash version*); publishing gives it a
semantic version. Both live in the ``builds`` table so a build and its version cannot disagree.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

DB_FILENAME = "sandbox.db"

migrations = Migrations("algobot-sandbox")


@migrations()
def m001_initial(db: Database) -> None:
    """Users, hashed API keys, algorithms and builds (which double as versions)."""
    db.table("users").create({"name": str, "created_at": str}, pk="name", not_null={"created_at"})
    db.table("api_keys").create(
        {"key_hash": str, "user": str, "manage": int, "created_at": str},
        pk="key_hash",
        not_null={"user", "manage", "created_at"},
    )
    db.table("algorithms").create(
        {
            "id": str,
            "owner": str,
            "name": str,
            "details": str,  # JSON object
            "settings": str,  # JSON object, algorithm_callability included
            "sample_input": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"owner", "name", "details", "settings", "created_at", "updated_at"},
    )
    db.table("algorithms").create_index(["owner", "name"], unique=True)
    db.table("builds").create(
        {
            "seq": int,  # monotonic; orders lists and pages
            "build_id": str,
            "algorithm_id": str,
            "commit_sha": str,
            "status": str,
            "trigger": str,
            "started_at": str,
            "finished_at": str,
            "logs": str,
            "version_uuid": str,
            "semantic_version": str,
            "release_notes": str,
            "sample_input": str,
            "sample_output": str,
            "algorithm_callability": str,
            "published_at": str,
        },
        pk="seq",
        not_null={"build_id", "algorithm_id", "commit_sha", "status", "started_at", "version_uuid"},
    )
    db.table("builds").create_index(["build_id"], unique=True)
    db.table("builds").create_index(["algorithm_id", "seq"])


@migrations(transactional=False)
def m002_wal(db: Database) -> None:
    """WAL lets readers and one writer work concurrently (it persists in the file)."""
    db.enable_wal()


def open_db(data_dir: Path) -> Database:
    """A fresh connection for one unit of work (close it, or use `connect`)."""
    return Database(str(Path(data_dir) / DB_FILENAME))


@contextlib.contextmanager
def connect(data_dir: Path) -> Iterator[Database]:
    """``with connect(dir) as db:`` opens a connection for this block only."""
    db = open_db(data_dir)
    try:
        yield db
    finally:
        db.close()


def initialise(data_dir: Path) -> None:
    """Create the data directory and bring the schema up to date (idempotent)."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with connect(data_dir) as db:
        migrations.apply(db)


def now_iso() -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, as the API shows timestamps."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hash_key(key: str) -> str:
    """Keys are stored as sha256 hex digests: a leaked database does not leak keys."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def loads(text: str | None) -> dict[str, Any]:
    """Decode a JSON object column (None or empty → {})."""
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def dumps(value: Any) -> str:
    """Encode a JSON column deterministically."""
    return json.dumps(value, sort_keys=True)


def get_algorithm(db: Database, owner: str, name: str) -> dict[str, Any] | None:
    """The algorithm row for owner/name, or None."""
    rows = list(db.query("select * from algorithms where owner = ? and name = ?", [owner, name]))
    return rows[0] if rows else None


def get_build(db: Database, build_id: str) -> dict[str, Any] | None:
    """The build row with this id, or None."""
    rows = list(db.query("select * from builds where build_id = ?", [build_id]))
    return rows[0] if rows else None


def latest_build(
    db: Database, algorithm_id: str, where: str = "", params: list[Any] | None = None
) -> dict[str, Any] | None:
    """The newest build of an algorithm matching an optional extra condition, or None."""
    sql = "select * from builds where algorithm_id = ?"
    if where:
        sql += f" and ({where})"
    sql += " order by seq desc limit 1"
    rows = list(db.query(sql, [algorithm_id, *(params or [])]))
    return rows[0] if rows else None
