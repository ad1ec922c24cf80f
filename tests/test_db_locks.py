"""Database locks: concurrent migrations and writes wait for each other instead of failing."""

from __future__ import annotations

import io
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from algobot import audit
from algobot.channels import ChannelRef, ChannelStore
from algobot.cli import main
from algobot.crypto import load_cipher
from algobot.db import DatabaseLocked, database, immediate, migrate, retry_locked
from algobot.pending import PendingWrites
from tests.fixtures.locks import eventually, held_lock, on_log, short_locks
from tests.fixtures.store import TEST_API_KEY, TEST_SECRET

WAITING = "database is locked"


def _set_key_processes(db_path, count):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ALGOBOT_", "SLACK_", "ALGORITHMIA_"))},
        "ALGOBOT_DB": str(db_path),
        "ALGOBOT_SECRET_KEY": TEST_SECRET,
    }
    procs = []
    for n in range(count):
        argv = [sys.executable, "-m", "algobot", "channel", "set-key", "--team", "T1", "--channel", f"C{n}"]
        procs.append(
            subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        )
    return procs


class _Output:
    """Collects a process's stderr lines on a thread, so a test can wait for a line without blocking."""

    def __init__(self, proc):
        self.proc = proc
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def waiting_or_done(self) -> bool:
        return any(WAITING in line for line in self.lines) or self.proc.poll() is not None


def _assert_all_stored(db_path, count):
    cipher = load_cipher(TEST_SECRET, db_path, logging.getLogger(__name__), create=False)
    with database(db_path) as db:
        store = ChannelStore(db, cipher)
        assert sorted(c.channel.channel_id for c in store.list()) == sorted(f"C{n}" for n in range(count))
        assert store.api_key(ChannelRef("T1", "C0")).api_key == TEST_API_KEY
        assert audit.verify(db, cipher.audit_key).rows == count


@pytest.mark.slow
def test_twelve_set_keys_started_at_once_on_a_fresh_database_all_succeed(tmp_path):
    db_path = tmp_path / "fresh.db"
    procs = _set_key_processes(db_path, 12)
    for proc in procs:
        proc.stdin.write(TEST_API_KEY + "\n")
        proc.stdin.close()
    outputs = [_Output(p) for p in procs]
    codes = [p.wait(timeout=120) for p in procs]
    for out in outputs:
        out.thread.join(5)
    assert codes == [0] * 12, [out.lines for out in outputs]
    _assert_all_stored(db_path, 12)


@pytest.mark.slow
def test_set_keys_wait_for_a_lock_held_on_the_new_file_then_all_succeed(tmp_path):
    """Twelve first runs find the brand-new file locked (by another migrator, a shell): each says it is
    waiting, in one log line, and all finish once the lock goes, instead of dying at the first migration."""
    db_path = tmp_path / "fresh.db"
    with held_lock(db_path) as lock:
        procs = _set_key_processes(db_path, 12)
        for proc in procs:
            proc.stdin.write(TEST_API_KEY + "\n")
            proc.stdin.close()
        outputs = [_Output(p) for p in procs]
        # Twelve interpreters starting at once on two busy cores can take minutes to reach the lock:
        # the lock is released only once every one of them has said it waits (or has ended).
        deadline = time.monotonic() + 300
        while not all(out.waiting_or_done() for out in outputs) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the children's output: a condition wait
        assert all(out.waiting_or_done() for out in outputs), [out.lines for out in outputs]
        lock.release()
        codes = [p.wait(timeout=120) for p in procs]
    for out in outputs:
        out.thread.join(5)
    assert codes == [0] * 12, [out.lines for out in outputs]
    for out in outputs:
        assert sum(f"{WAITING} while applying migration" in line for line in out.lines) == 1, out.lines
    _assert_all_stored(db_path, 12)


# -- the pieces: retry_locked and the in-memory queue -----------------------------------------------


@pytest.fixture
def db_path(tmp_path):
    path = tmp_path / "locks.db"
    migrate(path)
    return path


def test_a_write_waits_out_a_lock_then_succeeds_and_other_errors_are_not_retried(db_path, monkeypatch):
    short_locks(monkeypatch, busy_ms=50, retry_seconds=5)
    with held_lock(db_path) as lock, database(db_path) as db, on_log("database is locked while testing", lock.release):
        retry_locked(lambda: db.execute("insert into notices_sent values ('k', 1)"), "testing")
    calls = []

    def broken():
        calls.append(1)
        raise sqlite3.OperationalError("no such table: nowhere")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_locked(broken, "testing")
    assert calls == [1]


def test_a_lock_past_the_bound_raises_database_locked(db_path, monkeypatch):
    short_locks(monkeypatch, busy_ms=50, retry_seconds=0.2)
    with held_lock(db_path), database(db_path) as db:
        with pytest.raises(DatabaseLocked, match="stayed locked"), immediate(db, what="testing"):
            db.execute("insert into notices_sent values ('k', 1)")
        assert not db.conn.in_transaction


def test_pending_writes_wait_for_the_database_keep_their_order_and_skip_a_broken_one(db_path, monkeypatch, caplog):
    short_locks(monkeypatch, busy_ms=50, retry_seconds=0.2)
    queue = PendingWrites(db_path, retry_every=3600)  # flushed by the test only

    def note(key):
        return lambda db: db.execute("insert into notices_sent values (?, 1)", [key])

    def broken(db):
        raise ValueError("a defect")

    for what, write in (("first", note("a")), ("broken", broken), ("last", note("b"))):
        queue.add(what, write)
    with held_lock(db_path):
        assert queue.flush() == 0 and len(queue) == 3
    assert queue.flush() == 2 and len(queue) == 0
    with database(db_path) as db:
        assert [r["dedupe_key"] for r in db.query("select dedupe_key from notices_sent order by rowid")] == ["a", "b"]
    assert "dropped broken" in caplog.text
    assert queue.close() == []


def test_pending_writes_are_retried_on_their_own_and_named_when_lost_at_shutdown(db_path, monkeypatch, caplog):
    short_locks(monkeypatch, busy_ms=50, retry_seconds=0.2)
    queue = PendingWrites(db_path, retry_every=0.05)
    with held_lock(db_path):
        queue.add("the record of publish", lambda db: db.execute("insert into notices_sent values ('p', 1)"))
    eventually(lambda: len(queue) == 0)  # no command, no tick: the helper thread writes it once the lock went

    with held_lock(db_path):
        queue.add("the record of update", lambda db: db.execute("insert into notices_sent values ('u', 1)"))
        assert queue.close() == ["the record of update"]
    assert "lost at shutdown, the database never answered: the record of update" in caplog.text


def test_a_cli_call_that_cannot_get_the_lock_says_so_in_one_line_and_changes_nothing(db_path, monkeypatch, capsys):
    monkeypatch.setenv("ALGOBOT_DB", str(db_path))
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST_API_KEY + "\n"))
    short_locks(monkeypatch, busy_ms=50, retry_seconds=0.2)
    with held_lock(db_path):
        code = main(["channel", "set-key", "--team", "T1", "--channel", "C1"])
    err = capsys.readouterr().err
    assert code == 1 and "algobot: error: the database stayed locked" in err and "Traceback" not in err
    assert TEST_API_KEY not in err
    with database(db_path) as db:
        assert db.table("channel_keys").count == 0
