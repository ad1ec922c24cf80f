"""The operator commands on both engines: `algobot migrate`, `channel set-key|show|remove`,
`audit verify|export` with ALGOBOT_DATABASE_URL set to a real PostgreSQL, and the same on SQLite."""

from __future__ import annotations

import io
import json
import sys

import pytest

from algobot import migrations_pg
from algobot.cli import main
from algobot.store import connect
from tests.fixtures.store import TEST_API_KEY, TEST_SECRET


@pytest.fixture
def env(monkeypatch, engine_location) -> str:
    """The operator's environment for one engine; returns where the store is."""
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    if engine_location.startswith("postgresql://"):
        monkeypatch.setenv("ALGOBOT_DATABASE_URL", engine_location)
    else:
        monkeypatch.setenv("ALGOBOT_DB", engine_location)
    return engine_location


def test_channel_commands_and_the_audit_trail_work_on_both(env, monkeypatch, capsys):
    assert main(["migrate"]) == 0
    assert f"Applied {len(migrations_pg.NAMES)} migration(s)" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST_API_KEY + "\n"))
    assert main(["channel", "set-key", "--team", "T1", "--channel", "C1"]) == 0
    assert "****K1L2" in capsys.readouterr().out
    assert main(["channel", "show"]) == 0
    assert "T1/C1  key ****K1L2" in capsys.readouterr().out
    assert main(["channel", "remove", "--team", "T1", "--channel", "C1"]) == 0
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "rows verified" in out
    assert main(["audit", "export"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["action"] for row in rows][-2:] == ["login", "logout"]
    with connect(env) as store:
        assert TEST_API_KEY not in json.dumps(store.query("SELECT * FROM channel_keys"))


def test_verify_fails_naming_the_row_edited_behind_algobots_back(env, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(TEST_API_KEY))
    assert main(["channel", "set-key", "--team", "T1", "--channel", "C1"]) == 0
    with connect(env) as store:
        if store.dialect == "postgresql":
            store.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        else:
            store.execute("DROP TRIGGER audit_no_update")
        store.execute("UPDATE audit SET user_id = 'U666' WHERE id = 1")
    capsys.readouterr()
    assert main(["audit", "verify"]) == 1
    assert "Audit trail check FAILED at row 1" in capsys.readouterr().err


def test_backup_of_a_postgresql_store_says_to_use_pg_dump(pg_url, monkeypatch, capsys):
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("ALGOBOT_DATABASE_URL", pg_url.replace("postgres@", "postgres:hunter2@"))
    assert main(["backup", "/tmp/"]) == 1
    err = capsys.readouterr().err
    assert "pg_dump" in err and "algobot audit verify" in err and "hunter2" not in err


def test_an_unreachable_postgresql_is_one_line_without_the_password(monkeypatch, capsys):
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("ALGOBOT_DATABASE_URL", "postgresql://algobot:hunter2@127.0.0.1:1/algobot")
    assert main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("algobot: error: the database answered:") and "hunter2" not in err
    assert "Traceback" not in err


def test_a_postgresql_url_without_a_secret_key_is_refused_at_once(monkeypatch, capsys):
    monkeypatch.setenv("ALGOBOT_DATABASE_URL", "postgresql://algobot@db/algobot")
    assert main(["migrate"]) == 1
    assert "ALGOBOT_SECRET_KEY is not set" in capsys.readouterr().err


def test_a_database_url_that_is_not_postgresql_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("ALGOBOT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("ALGOBOT_DATABASE_URL", "mysql://algobot@db/algobot")
    assert main(["migrate"]) == 1
    assert "ALGOBOT_DATABASE_URL must be a PostgreSQL URL" in capsys.readouterr().err
