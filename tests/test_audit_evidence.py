"""The audit trail as evidence: what `algobot audit verify` catches with only the database file in hand,
and what it catches against a checkpoint kept elsewhere (the "audit head" log line)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta

import pytest

from algobot import audit
from algobot.audit import GENESIS_HASH, HASHED_COLUMNS, AuditEntry
from algobot.channels import ChannelRef
from algobot.cli import main
from algobot.crypto import load_cipher
from algobot.db import database, migrate
from tests.fixtures.store import T0, TEST_SECRET

LOG = logging.getLogger("test.audit_evidence")
HERE = ChannelRef("T1", "C1")
COLUMNS = ", ".join(audit.COLUMNS)


@pytest.fixture
def trail(monkeypatch, tmp_path) -> str:
    """A database whose trail algobot started (anchor row) and then wrote five publishes to; its path."""
    path = str(tmp_path / "trail.db")
    monkeypatch.setenv("ALGOBOT_DB", path)
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    migrate(path)
    key = load_cipher(TEST_SECRET, path, LOG).audit_key
    with database(path) as db:
        audit.ensure_keyed(db, key, now=T0)
        for i in range(5):
            entry = AuditEntry.in_channel(HERE, user_id="U1", action="publish", source="command", result=f"1.0.{i}")
            audit.record(db, entry, now=T0 + timedelta(seconds=i), key=key)
    return path


def sha256_hash(row: dict) -> str:
    """What a forger without the key can compute: the old, unkeyed hash."""
    content = json.dumps({c: row[c] for c in HASHED_COLUMNS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(content.encode()).hexdigest()


def raw(path: str, *statements: tuple[str, list]) -> None:
    """Edit the file as someone with write access to it would: guards dropped first."""
    with database(path) as db:
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        for sql, params in statements:
            db.execute(sql, params)
        db.conn.commit()


def rows(path: str) -> list[dict]:
    with database(path) as db:
        return list(db.query(f"SELECT {COLUMNS} FROM audit ORDER BY id"))


def run_verify(capsys, *argv: str) -> tuple[int, str]:
    code = main(["audit", "verify", *argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_an_untouched_trail_verifies(trail, capsys):
    code, text = run_verify(capsys)
    assert code == 0 and "6 rows verified" in text


def test_rewriting_and_re_hashing_the_chain_from_a_row_on_is_detected(trail, capsys):
    chain = rows(trail)
    statements, prev = [], chain[2]["hash"]
    for row in chain[3:]:  # from row 4 on: change the user, re-link and re-hash every row after it
        forged = {**row, "user_id": "UFORGER", "prev_hash": prev}
        forged["hash"] = prev = sha256_hash(forged)
        statements.append(
            (
                "UPDATE audit SET user_id = ?, prev_hash = ?, hash = ? WHERE id = ?",
                [forged["user_id"], forged["prev_hash"], forged["hash"], row["id"]],
            )
        )
    raw(trail, *statements)

    code, text = run_verify(capsys)

    assert code == 1 and "FAILED at row 4" in text and "edited" in text


def test_appending_a_correctly_chained_forged_row_is_detected(trail, capsys):
    last = rows(trail)[-1]
    forged = {**last, "id": last["id"] + 1, "user_id": "UFORGER", "result": "6.6.6", "prev_hash": last["hash"]}
    forged["hash"] = sha256_hash(forged)
    raw(
        trail,
        (
            f"INSERT INTO audit ({COLUMNS}) VALUES ({', '.join('?' * len(audit.COLUMNS))})",
            [forged[c] for c in audit.COLUMNS],
        ),
    )

    code, text = run_verify(capsys)

    assert code == 1 and f"FAILED at row {forged['id']}" in text


def test_deleting_every_row_is_detected(trail, capsys):
    raw(trail, ("DELETE FROM audit", []), ("DELETE FROM sqlite_sequence WHERE name = 'audit'", []))

    code, text = run_verify(capsys)

    assert code == 1 and "the trail is empty" in text


def test_deleting_the_newest_rows_is_caught_against_a_logged_checkpoint(trail, capsys, caplog):
    caplog.set_level(logging.INFO, logger="algobot.audit")
    with database(trail) as db:
        entry = AuditEntry.in_channel(HERE, user_id="U2", action="logout", source="command")
        audit.record(db, entry, now=T0 + timedelta(minutes=1), key=load_cipher(TEST_SECRET, trail, LOG).audit_key)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("audit head:")]
    count, head = line.removeprefix("audit head: ").split(" rows, hash ")
    assert (int(count), head) == (7, rows(trail)[-1]["hash"])
    # Cut the newest rows off, and SQLite's record of the highest id with them.
    raw(trail, ("DELETE FROM audit WHERE id >= 6", []), ("UPDATE sqlite_sequence SET seq = 5 WHERE name = 'audit'", []))

    assert run_verify(capsys)[0] == 0  # the file alone cannot tell a shorter trail from a younger one
    code, text = run_verify(capsys, "--head", head, "--rows", count)

    assert code == 1 and "rows 6-7 (the newest at the checkpoint) were removed" in text


def test_a_replaced_trail_is_caught_against_a_checkpoint(trail, capsys):
    head = rows(trail)[-1]["hash"]
    code, text = run_verify(capsys, "--head", head, "--rows", "6")
    assert code == 0 and "Row 6 still carries the checkpoint's hash" in text

    code, text = run_verify(capsys, "--head", "f" * 64, "--rows", "6")

    assert code == 1 and "row 6 does not carry the checkpoint's hash" in text


def test_head_and_rows_go_together_and_must_look_right(trail, capsys):
    code, text = run_verify(capsys, "--rows", "3")
    assert code == 2 and "--head and --rows go together" in text
    code, text = run_verify(capsys, "--head", "abc", "--rows", "3")
    assert code == 2 and "64 hexadecimal" in text


def test_verify_with_another_secret_says_so(trail, capsys, monkeypatch):
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", "not the secret it was written with")

    code, text = run_verify(capsys)

    assert code == 1 and "FAILED at row 1" in text and "ALGOBOT_SECRET_KEY" in text


def test_verify_without_any_secret_writes_no_key_file_and_says_what_to_set(trail, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("ALGOBOT_SECRET_KEY")

    code, text = run_verify(capsys)

    assert code == 1 and "ALGOBOT_SECRET_KEY" in text
    assert not (tmp_path / "trail.db.key").exists()


# -- trails from before the chain was keyed ---------------------------------------------------------------


@pytest.fixture
def plain_trail(monkeypatch, tmp_path) -> str:
    """Three rows as an older algobot wrote them: plain SHA-256, no key."""
    path = str(tmp_path / "plain.db")
    monkeypatch.setenv("ALGOBOT_DB", path)
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    migrate(path)
    prev, statements = GENESIS_HASH, []
    for i in range(3):
        row = {
            "id": i + 1,
            "time": f"2024-05-0{i + 1}T12:00:00.000000+00:00",
            "enterprise_id": "",
            "team_id": "T1",
            "channel_id": "C1",
            "user_id": "U1",
            "action": "publish",
            "source": "command",
            "algorithm": "demo/hello",
            "arguments": "{}",
            "outcome": "ok",
            "error": None,
            "result": f"0.{i}.0",
            "prev_hash": prev,
        }
        row["hash"] = prev = sha256_hash(row)
        statements.append(
            (
                f"INSERT INTO audit ({COLUMNS}) VALUES ({', '.join('?' * len(audit.COLUMNS))})",
                [row[c] for c in audit.COLUMNS],
            )
        )
    raw(path, *statements)
    return path


def start(path: str) -> dict | None:
    with database(path) as db:
        return audit.ensure_keyed(db, load_cipher(TEST_SECRET, path, LOG).audit_key, now=T0 + timedelta(days=30))


def test_an_old_trail_is_re_anchored_once_by_a_row_of_its_own(plain_trail, capsys):
    code, text = run_verify(capsys)
    assert code == 1 and "start algobot once" in text  # the passphrase has no salt in this database yet
    key = load_cipher(TEST_SECRET, plain_trail, LOG).audit_key
    with database(plain_trail) as db:
        result = audit.verify(db, key)
        assert not result and "no row is sealed with the secret key" in result.reason

    anchor = start(plain_trail)

    assert (anchor["id"], anchor["action"], anchor["source"]) == (4, "anchor", "system")
    assert anchor["prev_hash"] == rows(plain_trail)[2]["hash"]
    assert anchor["arguments"] == {"plain_rows": 3, "plain_head": anchor["prev_hash"], "plain_chain": "intact"}
    assert start(plain_trail) is None  # once
    code, text = run_verify(capsys)
    assert code == 0 and "4 rows verified" in text


def test_rewriting_the_old_rows_after_the_anchor_is_detected(plain_trail, capsys):
    start(plain_trail)
    chain, prev, statements = rows(plain_trail), GENESIS_HASH, []
    for row in chain[:3]:  # rewrite all three plain rows consistently, as a forger could
        forged = {**row, "result": "9.9.9", "prev_hash": prev}
        forged["hash"] = prev = sha256_hash(forged)
        statements.append(
            (
                "UPDATE audit SET result = ?, prev_hash = ?, hash = ? WHERE id = ?",
                [forged["result"], forged["prev_hash"], forged["hash"], row["id"]],
            )
        )
    raw(plain_trail, *statements)

    code, text = run_verify(capsys)

    assert code == 1 and "FAILED at row 4" in text and "does not follow row 3" in text


def test_a_fresh_database_starts_with_a_sealed_row(tmp_path, monkeypatch, capsys):
    path = str(tmp_path / "new.db")
    monkeypatch.setenv("ALGOBOT_DB", path)
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    migrate(path)

    anchor = start(path)

    assert anchor["arguments"] == {"plain_rows": 0, "plain_head": GENESIS_HASH}
    assert run_verify(capsys)[0] == 0


def test_starting_with_another_secret_appends_nothing_and_warns(trail, caplog):
    other = load_cipher("a different secret", trail + ".other", LOG).audit_key  # its own salt, its own key
    caplog.set_level(logging.WARNING, logger="algobot.audit")
    before = rows(trail)

    with database(trail) as db:
        assert audit.ensure_keyed(db, other, now=T0 + timedelta(days=1)) is None

    assert rows(trail) == before
    assert "not sealed with this deployment's secret key" in caplog.text
