"""`algobot backup PATH`: a consistent copy of the live database (and its key file), and restoring it."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from algobot import audit
from algobot.channels import ChannelRef, ChannelStore
from algobot.cli import main
from algobot.crypto import key_file_path, load_cipher
from algobot.db import database, migrate
from tests.fixtures.store import T0, TEST_API_KEY, TEST_SECRET

REF = ChannelRef("T1", "C1")
LOG = logging.getLogger("tests.backup")


@pytest.fixture
def live(monkeypatch, tmp_path) -> Path:
    """A migrated database at $ALGOBOT_DB with no ALGOBOT_SECRET_KEY: its key file sits beside it."""
    path = tmp_path / "live" / "algobot.db"
    path.parent.mkdir()
    monkeypatch.setenv("ALGOBOT_DB", str(path))
    migrate(path)
    cipher = load_cipher(None, path, LOG)
    with database(path) as db:
        ChannelStore(db, cipher).set_key(REF, TEST_API_KEY, "https://api.example.com", "U1", T0)
        ChannelStore(db).allow(REF, "U2", "U1", T0)
        entry = audit.AuditEntry.in_channel(REF, user_id="U1", action="login", source="command")
        audit.record(db, entry, now=T0, key=cipher.audit_key)
    return path


def audit_key(db) -> bytes:
    """The trail's key, from the key file beside the database `db` is open on."""
    path = next(db.query("PRAGMA database_list"))["file"]
    return load_cipher(None, path, LOG).audit_key


def record(db, number: int) -> None:
    entry = audit.AuditEntry.in_channel(REF, user_id="U1", action="publish", source="command", result=f"1.0.{number}")
    audit.record(db, entry, now=datetime.now(UTC), key=audit_key(db))


def audit_rows(path: Path) -> list[dict]:
    with database(path) as db:
        return list(audit.iter_rows(db))


def integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_backup_is_consistent_while_another_thread_writes(live, tmp_path, capsys):
    started, stop, errors = threading.Event(), threading.Event(), []

    def writer() -> None:
        try:
            with database(live) as db:
                number = 0
                while not stop.is_set():
                    record(db, number)
                    number += 1
                    if number == 25:
                        started.set()
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
            started.set()

    thread = threading.Thread(target=writer, name="audit-writer")
    thread.start()
    copies = [tmp_path / f"copy{i}.db" for i in range(4)]
    try:
        assert started.wait(10)
        for copy in copies:
            assert main(["backup", str(copy)]) == 0
    finally:
        stop.set()
        thread.join(10)
    assert not errors, errors

    final = audit_rows(live)
    sizes = []
    for copy in copies:
        assert integrity(copy) == "ok"
        assert main(["audit", "verify", "--db", str(copy)]) == 0
        rows = audit_rows(copy)
        assert rows == final[: len(rows)]  # a snapshot: a prefix of the trail, never a torn one
        sizes.append(len(rows))
        assert not Path(f"{copy}-wal").exists() and not Path(f"{copy}-shm").exists()
        assert mode(copy) == 0o600
    assert 26 <= sizes[0] <= sizes[-1] <= len(final)
    out = capsys.readouterr().out
    assert f"Backed up {live} to {copies[0]}" in out and "integrity ok" in out
    with database(live) as db:
        assert audit.verify(db, audit_key(db)).ok  # the backups did not disturb the live chain either


def test_backup_copies_the_key_file_and_a_restore_brings_everything_back(live, tmp_path, capsys):
    backup = tmp_path / "backups" / "nightly.db"
    backup.parent.mkdir()
    before = audit_rows(live)

    assert main(["backup", str(backup)]) == 0

    out = capsys.readouterr().out
    backup_key = key_file_path(backup)
    assert f"Copied the encryption key file {key_file_path(live)} to {backup_key}" in out
    assert backup_key.read_bytes() == key_file_path(live).read_bytes()
    assert mode(backup_key) == 0o600 and mode(backup) == 0o600

    # Later the bot writes more, then the disk is lost: database, WAL and key file.
    with database(live) as db:
        record(db, 99)
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)

    # Restore = copy back, key file included (the bot is stopped).
    shutil.copy2(backup, live)
    shutil.copy2(backup_key, key_file_path(live))
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0
    assert audit_rows(live) == before
    with database(live) as db:
        store = ChannelStore(db, load_cipher(None, live, LOG))
        assert store.api_key(REF) == (TEST_API_KEY, "https://api.example.com")
        assert store.allowed_users(REF) == {"U2"} and store.configurers(REF) == {"U1"}
        assert next(db.query("PRAGMA journal_mode"))["journal_mode"] == "wal"


def test_backup_refuses_to_overwrite_unless_forced(live, tmp_path, capsys):
    target = tmp_path / "copy.db"
    target.write_text("an older backup")

    assert main(["backup", str(target)]) == 1
    assert f"{target} already exists; pass --force" in capsys.readouterr().err
    assert target.read_text() == "an older backup"

    target.unlink()
    key_file_path(target).write_text("an older key")
    assert main(["backup", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert not target.exists() and key_file_path(target).read_text() == "an older key"

    target.write_text("an older backup")
    assert main(["backup", "--force", str(target)]) == 0
    assert integrity(target) == "ok"
    assert key_file_path(target).read_bytes() == key_file_path(live).read_bytes()


def test_backup_into_a_directory_names_the_file_by_time(live, tmp_path, capsys):
    folder = tmp_path / "backups"
    folder.mkdir()

    assert main(["backup", "--db", str(live), f"{folder}/"]) == 0

    (copy,) = folder.glob("algobot-*.db")
    assert copy.name.endswith("Z.db") and key_file_path(copy).exists()
    assert str(copy) in capsys.readouterr().out
    assert main(["audit", "verify", "--db", str(copy)]) == 0


def test_with_a_secret_key_there_is_no_key_file_and_the_output_says_where_the_key_is(tmp_path, monkeypatch, capsys):
    path = tmp_path / "algobot.db"
    migrate(path)
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)

    assert main(["backup", "--db", str(path), str(tmp_path / "copy.db")]) == 0

    out = capsys.readouterr().out
    assert "ALGOBOT_SECRET_KEY is set" in out and "not in the backup" in out
    assert TEST_SECRET not in out
    assert not key_file_path(tmp_path / "copy.db").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--db", "{tmp}/missing.db", "{tmp}/copy.db"], "there is no database at"),
        (["{tmp}/no-such-dir/copy.db"], "its directory does not exist"),
        (["{tmp}/no-such-dir/"], "does not exist"),
        (["{db}"], "is the database itself"),
    ],
    ids=["no-database", "no-directory", "no-target-directory", "same-file"],
)
def test_backup_explains_what_is_wrong_and_writes_nothing(live, tmp_path, capsys, arguments, message):
    before = sorted(os.listdir(tmp_path))
    argv = [part.format(tmp=tmp_path, db=live) for part in arguments]

    assert main(["backup", *argv]) == 1

    assert message in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == before
    assert integrity(live) == "ok"


def test_a_file_that_is_not_a_database_is_refused_without_leaving_a_partial_copy(tmp_path, capsys):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"this is not SQLite" * 100)

    assert main(["backup", "--db", str(damaged), str(tmp_path / "copy.db")]) == 1

    assert "cannot back up" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.db"]


def test_the_database_and_its_wal_are_created_private_under_umask_022(tmp_path):
    path = tmp_path / "fresh.db"
    previous = os.umask(0o022)
    try:
        migrate(path)  # creates the file, switches it to WAL
        with database(path) as db:  # a write while the connection is open keeps -wal and -shm around
            db.table("channel_allowed_users").insert(
                {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "added_by": "U1", "added_at": "x"}
            )
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        os.umask(previous)
