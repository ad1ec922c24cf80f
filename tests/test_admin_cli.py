"""The operator commands: migrate, channel set-key|show|remove, audit verify|export (algobot.admin_cli)."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from algobot import audit
from algobot.channels import ChannelRef, ChannelStore
from algobot.cli import main
from algobot.crypto import KeyCipher, key_file_path, load_cipher
from algobot.db import database, migrate
from tests.fixtures.store import T0, TEST_API_KEY, TEST_SECRET
from tests.test_store_migrations import all_migration_names

LOG = logging.getLogger("test.admin_cli")

REF = ChannelRef("T1", "C1")


@pytest.fixture
def env(monkeypatch, tmp_path) -> str:
    """ALGOBOT_DB and ALGOBOT_SECRET_KEY as the operator would export them; returns the db path."""
    path = str(tmp_path / "ops.db")
    monkeypatch.setenv("ALGOBOT_DB", path)
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    return path


@pytest.fixture
def db_with_history(env) -> None:
    """Two publishes, on 1 and 2 May 2024."""
    migrate(env)
    with database(env) as db:
        for day, version in ((1, "1.0.0"), (2, "2.0.0")):
            entry = audit.AuditEntry.in_channel(REF, user_id="U1", action="publish", source="command", result=version)
            audit.record(db, entry, now=T0.replace(day=day), key=load_cipher(TEST_SECRET, env, LOG).audit_key)


def set_key(monkeypatch, stdin: str, *argv: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["channel", "set-key", "--team", "T1", "--channel", "C1", *argv])


def test_migrate_reports_what_it_applied(env, capsys):
    assert main(["migrate"]) == 0
    assert f"Applied {len(all_migration_names())} migration(s)" in capsys.readouterr().out and Path(env).exists()

    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_migrate_takes_an_explicit_database(tmp_path, capsys):
    other = tmp_path / "elsewhere.db"
    assert main(["migrate", "--db", str(other)]) == 0
    assert str(other) in capsys.readouterr().out and other.exists()


def test_set_key_reads_stdin_stores_it_encrypted_and_audits_it(env, monkeypatch, capsys):
    assert set_key(monkeypatch, f"{TEST_API_KEY}\n", "--endpoint", "https://api.example.com/") == 0

    out, err = capsys.readouterr()
    assert "****K1L2" in out and "T1/C1" in out and "https://api.example.com" in out
    assert TEST_API_KEY not in out + err
    with database(env) as db:
        store = ChannelStore(db, load_cipher(TEST_SECRET, env, LOG))
        assert store.api_key(REF) == (TEST_API_KEY, "https://api.example.com")
        assert store.config(REF).set_by == "cli"
        (row,) = audit.recent(db, REF)
        assert (row["action"], row["source"], row["user_id"], row["outcome"]) == ("login", "cli", "cli", "ok")
        assert row["arguments"] == {"endpoint": "https://api.example.com"}
        assert audit.verify(db, load_cipher(TEST_SECRET, env, LOG).audit_key).ok


@pytest.mark.parametrize(("stdin", "message"), [("", "no API key"), ("  \n", "no API key"), ("a b", "one word")])
def test_set_key_refuses_bad_input(env, monkeypatch, capsys, stdin, message):
    assert set_key(monkeypatch, stdin) == 2
    assert message in capsys.readouterr().err


def test_set_key_refuses_a_bad_endpoint_before_reading_the_key(env, monkeypatch, capsys):
    assert set_key(monkeypatch, TEST_API_KEY, "--endpoint", "ftp://x") == 2
    assert "http" in capsys.readouterr().err and not Path(env).exists()


def test_set_key_without_a_secret_generates_a_private_key_file(env, monkeypatch, caplog):
    monkeypatch.delenv("ALGOBOT_SECRET_KEY")

    assert set_key(monkeypatch, TEST_API_KEY) == 0

    key_file = key_file_path(env)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "ALGOBOT_SECRET_KEY is not set" in caplog.text
    assert key_file.read_text().strip() not in caplog.text
    with database(env) as db:
        assert ChannelStore(db, KeyCipher(key_file.read_bytes().strip())).api_key(REF).api_key == TEST_API_KEY


def test_show_lists_channels_with_masked_keys(env, monkeypatch, capsys):
    set_key(monkeypatch, TEST_API_KEY)
    with database(env) as db:
        ChannelStore(db).allow(REF, "U7", "U1", T0)
    capsys.readouterr()

    assert main(["channel", "show"]) == 0
    out = capsys.readouterr().out
    assert "T1/C1" in out and "****K1L2" in out and "endpoint default" in out and "set by cli" in out
    assert TEST_API_KEY not in out

    assert main(["channel", "show", "--team", "T1", "--channel", "C1"]) == 0
    out = capsys.readouterr().out
    assert "allowed to change algorithms: U7" in out and TEST_API_KEY not in out

    assert main(["channel", "show", "--team", "T2"]) == 0
    assert "No channel matches" in capsys.readouterr().out


def test_remove_forgets_the_key_and_audits_it(env, monkeypatch, capsys):
    set_key(monkeypatch, TEST_API_KEY)

    assert main(["channel", "remove", "--team", "T1", "--channel", "C1"]) == 0
    assert "Removed" in capsys.readouterr().out
    assert main(["channel", "remove", "--team", "T1", "--channel", "C1"]) == 1
    assert "nothing removed" in capsys.readouterr().err
    with database(env) as db:
        assert ChannelStore(db).config(REF) is None
        assert [r["action"] for r in audit.recent(db, REF)] == ["logout", "login"]


def test_remove_never_generates_a_key_to_seal_its_audit_row(env, monkeypatch, capsys):
    """Without ALGOBOT_SECRET_KEY and without the key file, a new random key would seal a row nobody
    could verify with the real key: remove refuses instead, naming the setting."""
    set_key(monkeypatch, TEST_API_KEY)
    monkeypatch.delenv("ALGOBOT_SECRET_KEY")

    assert main(["channel", "remove", "--team", "T1", "--channel", "C1"]) == 1

    assert "ALGOBOT_SECRET_KEY" in capsys.readouterr().err
    assert not key_file_path(env).exists()
    with database(env) as db:
        assert ChannelStore(db).config(REF) is not None


def test_commands_on_a_missing_database_say_so(env, capsys):
    for argv in (["channel", "show"], ["audit", "verify"], ["audit", "export"]):
        assert main(argv) == 1  # a runtime error; 2 is for a wrong command line
        assert "no database at" in capsys.readouterr().err
    assert not Path(env).exists()


def test_audit_verify_passes_then_names_the_tampered_row(env, monkeypatch, capsys):
    set_key(monkeypatch, TEST_API_KEY)
    set_key(monkeypatch, "simAnotherKey0000000000000000")
    main(["channel", "remove", "--team", "T1", "--channel", "C1"])
    capsys.readouterr()

    assert main(["audit", "verify"]) == 0
    assert "3 rows verified" in capsys.readouterr().out

    with database(env) as db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET user_id = 'U666' WHERE id = 2")
    assert main(["audit", "verify"]) == 1
    assert "row 2" in capsys.readouterr().err

    with database(env) as db:
        db.execute("DROP TRIGGER audit_no_delete")
        db.execute("DELETE FROM audit WHERE id = 2")
    assert main(["audit", "verify"]) == 1
    assert "row 2 (before row 3) was removed" in capsys.readouterr().err


def test_audit_export_to_stdout_and_to_a_file(env, db_with_history, capsys, tmp_path):
    assert main(["audit", "export"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["result"] for line in lines] == ["1.0.0", "2.0.0"]

    target = tmp_path / "trail.csv"
    assert main(["audit", "export", "--format", "csv", "--since", "2024-05-02", "--output", str(target)]) == 0
    assert "Exported 1 row(s)" in capsys.readouterr().err
    text = target.read_text()
    assert text.splitlines()[0].startswith("id,time,") and "2.0.0" in text and "1.0.0" not in text

    assert main(["audit", "export", "--since", "2024-05-02T12:00:00.5"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["audit", "export", "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err


@pytest.mark.slow
def test_set_key_in_a_real_process_keeps_the_key_out_of_argv_and_output(tmp_path):
    db_path = tmp_path / "algobot.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ALGOBOT_", "SLACK_", "ALGORITHMIA_"))},
        "ALGOBOT_DB": str(db_path),
        "ALGOBOT_SECRET_KEY": TEST_SECRET,
    }
    argv = [sys.executable, "-m", "algobot", "channel", "set-key", "--team", "T9", "--channel", "C9"]

    done = subprocess.run(argv, input=TEST_API_KEY + "\n", capture_output=True, text=True, env=env, timeout=60)

    assert done.returncode == 0, done.stderr
    assert all(TEST_API_KEY not in arg for arg in argv)
    assert TEST_API_KEY not in done.stdout and TEST_API_KEY not in done.stderr
    assert "****K1L2" in done.stdout
    raw = b"".join(Path(p).read_bytes() for p in (db_path, f"{db_path}-wal") if Path(p).exists())
    assert raw and TEST_API_KEY.encode() not in raw
    with database(db_path) as db:
        assert ChannelStore(db, load_cipher(TEST_SECRET, db_path, LOG)).api_key(ChannelRef("T9", "C9")).api_key == (
            TEST_API_KEY
        )


def test_set_key_refuses_empty_ids(env, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST_API_KEY))
    assert main(["channel", "set-key", "--team", " ", "--channel", "C1"]) == 2
    assert "must not be empty" in capsys.readouterr().err


def test_migrate_into_a_missing_directory_is_a_clear_error(tmp_path, capsys):
    assert main(["migrate", "--db", str(tmp_path / "nowhere" / "algobot.db")]) == 1
    assert "directory does not exist" in capsys.readouterr().err


def test_a_file_that_cannot_be_written_is_one_line_and_exit_1(env, db_with_history, capsys, tmp_path):
    assert main(["audit", "export", "--output", str(tmp_path / "no-such-dir" / "trail.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("algobot: error: ") and "No such file or directory" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
