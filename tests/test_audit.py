"""The hash-chained audit trail (algobot.audit), on both engines: SQLite and a real PostgreSQL.

The `db` fixture here is a `Store` on each engine in turn; "tampering" uses what raw access to each
database allows (dropping SQLite's triggers, disabling PostgreSQL's), as an attacker with it would.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy.exc

from algobot import audit
from algobot.audit import GENESIS_HASH, REDACTED, AuditEntry, redact
from algobot.channels import ChannelRef
from algobot.crypto import KeyCipher
from algobot.store import Store, connect, migrate
from tests.fixtures.store import TEST_API_KEY, TEST_SALT, TEST_SECRET

KEY = KeyCipher.from_secret(TEST_SECRET, salt=TEST_SALT).audit_key
# What each engine raises when the append-only guard refuses an edit.
REFUSED = (sqlite3.IntegrityError, sqlalchemy.exc.DBAPIError)


@pytest.fixture
def db(engine_location) -> Iterator[Store]:
    """A migrated store on each engine in turn (SQLite file, then the test PostgreSQL cluster)."""
    migrate(engine_location)
    with connect(engine_location) as store:
        yield store


def one(db: Store, sql: str, params=()) -> dict:
    return db.query(sql, params)[0]


def record(db, entry: AuditEntry, *, now: datetime) -> dict:
    return audit.record(db, entry, now=now, key=KEY)


def verify(db, **checkpoint) -> audit.VerifyResult:
    return audit.verify(db, KEY, **checkpoint)


SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"


HERE = ChannelRef("T1", "C1")


def entry(channel: ChannelRef = HERE, **fields) -> AuditEntry:
    fields = {"user_id": "U1", "action": "publish", "source": "command", **fields}
    return AuditEntry.in_channel(channel, **fields)


def fill(db, now, count: int = 5) -> list[dict]:
    return [
        record(db, entry(algorithm="demo/hello", result=f"1.0.{i}"), now=now + timedelta(seconds=i))
        for i in range(count)
    ]


def tamper(db: Store, sql: str, params=()) -> None:
    """What someone with raw access to the database can do: drop the guards, then edit."""
    if db.dialect == "postgresql":
        db.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        db.execute("DROP INDEX IF EXISTS audit_prev_hash")
    else:
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        db.execute("DROP INDEX IF EXISTS idx_audit_prev_hash")
    db.execute(sql, params)


def test_rows_form_a_chain_from_the_genesis_hash(db, now):
    first, second = fill(db, now, 2)

    assert first["id"] == 1 and first["prev_hash"] == GENESIS_HASH
    assert second["prev_hash"] == first["hash"] != second["hash"]
    assert first["time"] == "2024-05-01T12:00:00.123456+00:00"
    assert first == audit.recent(db, ChannelRef("T1", "C1"))[-1]


def test_an_intact_trail_verifies(db, now):
    rows = fill(db, now, 5)

    result = verify(db)

    assert result.ok and result.rows == 5 and result.head_hash == rows[-1]["hash"]
    assert result.bad_row_id is None


def test_application_code_cannot_edit_or_delete_rows(db, now):
    fill(db, now, 1)
    with pytest.raises(REFUSED, match="append-only"):
        db.execute("UPDATE audit SET outcome = 'error'")
    with pytest.raises(REFUSED, match="append-only"):
        db.execute("DELETE FROM audit")
    assert verify(db).ok


def test_an_edited_row_is_named(db, now):
    fill(db, now, 5)
    tamper(db, "UPDATE audit SET result = '9.9.9' WHERE id = 3")

    result = verify(db)

    assert not result and result.bad_row_id == 3 and result.rows == 2
    assert "edited" in result.reason


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link(db, now):
    """Even someone holding the key cannot edit a row in the middle without breaking the next link."""
    fill(db, now, 5)
    row = one(db, "SELECT * FROM audit WHERE id = 3")
    forged = {**row, "user_id": "UOTHER"}
    tamper(db, "UPDATE audit SET user_id = ?, hash = ? WHERE id = 3", [forged["user_id"], audit.row_hash(forged, KEY)])

    result = verify(db)

    assert result.bad_row_id == 4 and "does not follow row 3" in result.reason


def test_an_edited_row_re_hashed_without_the_key_is_named(db, now):
    fill(db, now, 5)
    row = one(db, "SELECT * FROM audit WHERE id = 3")
    forged = {**row, "user_id": "UOTHER"}
    tamper(db, "UPDATE audit SET user_id = ?, hash = ? WHERE id = 3", [forged["user_id"], audit.row_hash(forged, None)])

    result = verify(db)

    assert result.bad_row_id == 3 and "edited" in result.reason


def test_a_removed_row_is_named(db, now):
    fill(db, now, 5)
    tamper(db, "DELETE FROM audit WHERE id = 2")

    result = verify(db)

    assert result.bad_row_id == 3 and "row 2 (before row 3) was removed" in result.reason


def test_removing_the_first_rows_is_detected(db, now):
    fill(db, now, 5)
    tamper(db, "DELETE FROM audit WHERE id <= 2")

    result = verify(db)

    assert result.bad_row_id == 3 and "rows 1-2" in result.reason


def test_removing_the_newest_rows_is_detected(db, now):
    fill(db, now, 5)
    tamper(db, "DELETE FROM audit WHERE id >= 4")

    result = verify(db)

    assert result.bad_row_id == 4 and "rows 4-5 (the newest) were removed" in result.reason
    assert result.rows == 3


def test_swapped_rows_are_detected(db, now):
    fill(db, now, 5)
    columns = [c for c in audit.COLUMNS if c != "id"]
    row2, row3 = (one(db, "SELECT * FROM audit WHERE id = ?", [i]) for i in (2, 3))
    assignments = ", ".join(f"{c} = ?" for c in columns)
    tamper(db, f"UPDATE audit SET {assignments} WHERE id = 2", [row3[c] for c in columns])
    db.execute(f"UPDATE audit SET {assignments} WHERE id = 3", [row2[c] for c in columns])

    result = verify(db)

    assert result.bad_row_id == 2 and "does not follow row 1" in result.reason


def test_an_inserted_row_is_detected(db, now):
    rows = fill(db, now, 3)
    forged = {**rows[0], "id": 4, "user_id": "UFORGER", "arguments": "{}"}
    forged["hash"] = audit.row_hash(forged, KEY)  # chains from row 1, as if it had been written after it
    tamper(
        db,
        f"INSERT INTO audit ({', '.join(audit.COLUMNS)}) VALUES ({', '.join('?' * len(audit.COLUMNS))})",
        [forged[c] for c in audit.COLUMNS],
    )

    result = verify(db)

    assert result.bad_row_id == 4 and "does not follow row 3" in result.reason


def test_concurrent_writers_keep_one_valid_chain(db, engine_location, now):
    per_thread, threads = 25, 8
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def write(number: int) -> None:
        try:
            with connect(engine_location) as own:  # one connection per thread, as in the bot
                start.wait()
                for i in range(per_thread):
                    record(own, entry(user_id=f"U{number}", result=str(i)), now=now)
        except BaseException as error:  # collected and re-raised in the main thread
            failures.append(error)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    result = verify(db)
    assert result.ok and result.rows == per_thread * threads


def test_a_failed_transaction_leaves_no_row_and_no_gap(db, now):
    # On both engines: ids come back with the rollback (PostgreSQL's sequence alone would not).
    fill(db, now, 2)
    with pytest.raises(RuntimeError), db.transaction("audit"):
        record(db, entry(), now=now)
        raise RuntimeError("the configuration change failed")
    fill(db, now, 1)

    assert verify(db).ok and verify(db).rows == 3


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"api_key": "whatever"}, {"api_key": REDACTED}),
        (
            {"apiKey": "whatever", "Authorization": "Simple abc"},
            {"apiKey": REDACTED, "Authorization": REDACTED},
        ),
        (
            {"key": "x", "token": "y", "client_secret": "z", "password": "p"},
            dict.fromkeys(["key", "token", "client_secret", "password"], REDACTED),
        ),
        (
            {"settings": {"access_token": "t", "language": "python3-1"}},
            {"settings": {"access_token": REDACTED, "language": "python3-1"}},
        ),
        ({"notes": f"rotated {TEST_API_KEY} today"}, {"notes": f"rotated {REDACTED} today"}),
        ({"args": ["demo/hello", SLACK_TOKEN]}, {"args": ["demo/hello", REDACTED]}),
        ({"notes": "xoxp-1-2-3 and xapp-1-A0-abc"}, {"notes": f"{REDACTED} and {REDACTED}"}),
        (
            {"notes": "a simple, similar simulation", "monkey": 3, "api_key": None},
            {"notes": "a simple, similar simulation", "monkey": 3, "api_key": None},
        ),
    ],
)
def test_secrets_are_redacted(arguments, expected):
    assert redact(arguments) == expected


def stored_bytes(db: Store, location: str) -> bytes:
    """Everything the database holds: the SQLite file and its log, or every PostgreSQL audit row as text."""
    if db.dialect == "postgresql":
        return "\n".join(str(row) for row in db.query("SELECT * FROM audit")).encode()
    return b"".join(Path(p).read_bytes() for p in (location, f"{location}-wal") if Path(p).exists())


def test_secrets_never_reach_the_database(engine_location, db, now):
    record(
        db,
        entry(
            arguments={"api_key": "plain-secret-value", "notes": f"key {TEST_API_KEY}", "t": SLACK_TOKEN},
            outcome="error",
            error=f"Unauthorized: {TEST_API_KEY}",
        ),
        now=now,
    )
    raw = stored_bytes(db, engine_location)
    assert b"Unauthorized" in raw  # what is read is where the row went

    for secret in ("plain-secret-value", TEST_API_KEY, SLACK_TOKEN):
        assert secret.encode() not in raw
    (row,) = audit.recent(db, ChannelRef("T1", "C1"))
    assert row["error"] == f"Unauthorized: {REDACTED}"
    assert verify(db).ok


@pytest.mark.parametrize(("field", "value"), [("source", "slack"), ("outcome", "maybe"), ("action", "")])
def test_entries_are_validated(db, now, field, value):
    with pytest.raises(ValueError):
        record(db, entry(**{field: value}), now=now)


def test_recent_is_newest_first_and_only_this_channel(db, now):
    here, there = ChannelRef("T1", "C1"), ChannelRef("T1", "C2")
    record(db, entry(here, action="login", source="modal"), now=now)
    record(db, entry(there, action="publish", algorithm="demo/a"), now=now)
    record(db, entry(ChannelRef("T2", "C1"), action="publish", algorithm="demo/a"), now=now)
    record(db, entry(here, action="compile", algorithm="demo/a"), now=now)
    record(db, entry(here, action="button:rebuild", source="button", algorithm="demo/b"), now=now)

    assert [r["action"] for r in audit.recent(db, here)] == ["button:rebuild", "compile", "login"]
    assert [r["action"] for r in audit.recent(db, here, algorithm="demo/a")] == ["compile"]
    assert [r["action"] for r in audit.recent(db, here, limit=1)] == ["button:rebuild"]
    assert audit.recent(db, ChannelRef("T1", "C1", "E1")) == []


def test_releases_are_successful_publishes_with_their_notes(db, now):
    here = ChannelRef("T1", "C1")
    publish = {"action": "publish", "algorithm": "demo/hello"}
    record(db, entry(here, **publish, result="1.0.0", arguments={"notes": "first"}), now=now)
    record(db, entry(here, **publish, outcome="error", error="boom"), now=now + timedelta(minutes=1))
    record(db, entry(here, **publish, outcome="refused"), now=now + timedelta(minutes=2))
    record(db, entry(here, action="compile", algorithm="demo/hello", result="build-1"), now=now)
    record(db, entry(here, action="publish", algorithm="demo/other", result="3.0.0"), now=now)
    record(
        db,
        entry(
            ChannelRef("T1", "C2"),
            **publish,
            result="1.1.0",
            user_id="U2",
            arguments={"release_notes": "more"},
        ),
        now=now + timedelta(minutes=3),
    )
    record(
        db,
        entry(here, action="button:publish", source="button", algorithm="demo/hello", result="2.0.0"),
        now=now + timedelta(minutes=4),
    )

    in_channel = audit.releases(db, here, "demo/hello")
    assert [(r["version"], r["notes"]) for r in in_channel] == [("2.0.0", None), ("1.0.0", "first")]
    assert in_channel[1]["time"] == "2024-05-01T12:00:00.123456+00:00" and in_channel[1]["user_id"] == "U1"

    in_team = audit.releases(db, "T1", "demo/hello")
    assert [(r["version"], r["channel_id"], r["notes"]) for r in in_team] == [
        ("2.0.0", "C1", None),
        ("1.1.0", "C2", "more"),
        ("1.0.0", "C1", "first"),
    ]
    assert [r["version"] for r in audit.releases(db, "T1", "demo/hello", limit=1)] == ["2.0.0"]
    assert audit.releases(db, "T2", "demo/hello") == []


def test_export_jsonl_and_csv_since_a_date(db, now):
    record(db, entry(arguments={"notes": "old"}), now=now - timedelta(days=2))
    record(db, entry(arguments={"notes": "new, with a comma"}), now=now)
    record(db, entry(), now=now + timedelta(days=1))

    out = io.StringIO()
    assert audit.export(db, "jsonl", since=date(2024, 5, 1), out=out) == 2
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["id"] for line in lines] == [2, 3]
    assert lines[0]["arguments"] == {"notes": "new, with a comma"}
    assert set(lines[0]) == set(audit.COLUMNS)

    out = io.StringIO()
    assert audit.export(db, "csv", since=datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC), out=out) == 1
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["id"] == "3" and row["hash"] == audit.recent(db, ChannelRef("T1", "C1"), limit=1)[0]["hash"]

    out = io.StringIO()
    assert audit.export(db, "csv", out=out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert json.loads(rows[1]["arguments"]) == {"notes": "new, with a comma"}
    assert all(audit.row_hash(r | _nulls(r), KEY) == r["hash"] for r in rows)

    with pytest.raises(ValueError, match="jsonl"):
        audit.export(db, "xml", out=io.StringIO())


def _nulls(row: dict) -> dict:
    """CSV has no NULL: empty optional cells were NULL when hashed."""
    return {c: None for c in ("algorithm", "error", "result") if row[c] == ""}
