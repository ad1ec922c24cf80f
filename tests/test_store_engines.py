"""The store contract on both engines: SQLite and a real PostgreSQL (tests/fixtures/postgres.py).

Migrations, channel configuration and the audit chain run through `algobot.store` the same way on
both; these tests are parametrized over the engine, so a difference in SQL or locking shows up here.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from slack_sdk.oauth.installation_store import Installation

from algobot import audit, workspaces
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import KeyCipher
from algobot.db import DatabaseLocked, retry_locked
from algobot.migrations import migrations as sqlite_steps
from algobot.migrations_pg import NAMES as PG_STEPS
from algobot.settings import Settings
from algobot.store import connect, engine, lock_id, migrate, redact_url, sqlalchemy_url
from tests.fixtures.postgres import skip_or_fail
from tests.fixtures.store import T0, TEST_API_KEY, TEST_SALT, TEST_SECRET

KEY = b"k" * 32


@pytest.fixture
def location(engine_location):
    migrate(engine_location)
    return engine_location


@pytest.fixture
def cipher() -> KeyCipher:
    return KeyCipher.from_secret(TEST_SECRET, salt=TEST_SALT)


def test_the_operator_url_is_given_the_psycopg_driver_and_logged_without_password():
    assert sqlalchemy_url("postgresql://algobot@db/algobot") == "postgresql+psycopg://algobot@db/algobot"
    assert sqlalchemy_url("postgres://a@db/x") == "postgresql+psycopg://a@db/x"
    assert redact_url("postgresql://algobot:s3cret@db/algobot") == "postgresql://algobot:***@db/algobot"


def test_migrations_apply_once_and_a_second_run_has_nothing_to_do(engine_location):
    first = migrate(engine_location)
    assert first[0] == "0001_channel_keys" and "0007_secret_kdf" in first
    assert first == PG_STEPS
    assert migrate(engine_location) == []


def test_processes_migrating_at_once_apply_each_step_exactly_once(engine_location):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: migrate(engine_location), range(8)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(PG_STEPS)


def test_a_channel_key_round_trips_encrypted_and_is_replaced(location, cipher):
    channel = ChannelRef("T1", "C1")
    with connect(location) as store:
        channels = ChannelStore(store, cipher)
        channels.set_key(channel, TEST_API_KEY, "https://api.example.com/", "U1", T0)
        channels.set_key(channel, TEST_API_KEY + "x", None, "U2", T0)
        assert channels.api_key(channel) == (TEST_API_KEY + "x", None)
        assert channels.configurers(channel) == {"U1", "U2"}
        stored = store.query("SELECT key_encrypted FROM channel_keys")
        assert len(stored) == 1 and TEST_API_KEY not in stored[0]["key_encrypted"]
        assert [c.channel for c in channels.list()] == [channel]
        assert channels.list(team_id="T2") == []


def test_the_allow_list_and_logout_on_both_engines(location, cipher):
    channel, other = ChannelRef("T1", "C1"), ChannelRef("T1", "C2")
    with connect(location) as store:
        channels = ChannelStore(store, cipher)
        assert channels.allow(channel, "U1", "U9", T0) is True
        assert channels.allow(channel, "U1", "U9", T0) is False
        assert channels.allowed_users(channel) == {"U1"} and channels.allowed_users(other) == frozenset()
        assert channels.deny(channel, "U1") is True and channels.deny(channel, "U1") is False
        channels.set_key(channel, TEST_API_KEY, None, "U1", T0)
        assert channels.remove(channel) is True and channels.remove(channel) is False
        assert channels.config(channel) is None


def test_a_failed_transaction_leaves_nothing_behind(location, cipher):
    channel = ChannelRef("T1", "C1")
    with connect(location) as store:
        with pytest.raises(RuntimeError), store.transaction("channel_keys"):
            ChannelStore(store, cipher).set_key(channel, TEST_API_KEY, None, "U1", T0)
            raise RuntimeError("the command failed after the write")
        assert ChannelStore(store, cipher).config(channel) is None


def test_concurrent_appends_from_many_connections_stay_one_chain(location):
    """Replicas append through their own connections; the chain head is serialised, never forked."""
    start = threading.Barrier(6)

    def append(worker: int) -> None:
        start.wait()
        for n in range(5):
            with connect(location) as store:
                entry = audit.AuditEntry(user_id=f"U{worker}", action="publish", source="command", result=str(n))
                audit.record(store, entry, now=T0, key=KEY)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(append, range(6)))
    with connect(location) as store:
        result = audit.verify(store, KEY)
        assert result.ok, result.reason
        assert result.rows == 30 and audit.head(store) == (30, result.head_hash)


def test_verify_names_the_newest_rows_removed_on_both_engines(location):
    with connect(location) as store:
        for _ in range(3):
            audit.record(store, audit.AuditEntry(user_id="U1", action="login", source="command"), now=T0, key=KEY)
        if store.dialect == "postgresql":
            store.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        else:
            store.execute("DROP TRIGGER audit_no_delete")
        store.execute("DELETE FROM audit WHERE id = 3")
        result = audit.verify(store, KEY)
        assert not result.ok and result.reason == "rows 3-3 (the newest) were removed"


def test_application_code_cannot_edit_audit_rows(location):
    with connect(location) as store:
        audit.record(store, audit.AuditEntry(user_id="U1", action="login", source="command"), now=T0, key=KEY)
        with pytest.raises(Exception, match="append-only"):
            store.execute("UPDATE audit SET user_id = 'U2'")
        with pytest.raises(Exception, match="append-only"):
            store.execute("DELETE FROM audit")
        assert audit.verify(store, KEY).ok


def test_ensure_keyed_anchors_an_empty_trail_once(location):
    with connect(location) as store:
        anchor = audit.ensure_keyed(store, KEY, now=T0)
        assert anchor["action"] == "anchor" and anchor["id"] == 1
        assert audit.ensure_keyed(store, KEY, now=T0) is None
        assert audit.verify(store, KEY).ok


def _settings(location: str):
    if location.startswith("postgresql://"):
        return Settings(database_url=location, secret_key=TEST_SECRET, slack_client_id="111.222")
    return Settings(db_path=location, secret_key=TEST_SECRET, slack_client_id="111.222")


def test_oauth_installations_keep_tokens_encrypted_on_both_engines(location, cipher):

    installations = workspaces.installation_store(_settings(location), cipher)
    workspaces.installation_store(_settings(location), cipher)  # a second replica starting: tables exist
    token = "xoxb-1111-2222-abcdefABCDEF0123456789"
    installations.save(
        Installation(app_id="A1", team_id="T1", bot_token=token, bot_id="B1", bot_user_id="UB", user_id="U1")
    )
    assert workspaces.token_lookup(installations)(ChannelRef("T1", "C1")) == token
    with connect(location) as store:
        tables = ["slack_bots", "slack_installations"]
        dumped = "".join(str(store.query(f"SELECT * FROM {table}")) for table in tables)
        assert "xoxb-" not in dumped and "enc:" in dumped


def test_oauth_state_is_shared_by_replicas(location):
    issued = workspaces.oauth_state_store(_settings(location)).issue()
    assert workspaces.oauth_state_store(_settings(location)).consume(issued) is True


def test_an_uninstalled_team_is_forgotten_and_audited_on_both_engines(location, cipher):
    with connect(location) as store:
        ChannelStore(store, cipher).set_key(ChannelRef("T1", "C1"), TEST_API_KEY, None, "U1", T0)
        ChannelStore(store, cipher).set_key(ChannelRef("T2", "C1"), TEST_API_KEY, None, "U1", T0)
        removed = workspaces.forget_team(store, "T1", None, audit_key=KEY, now=T0)
        assert removed["channel_keys"] == 1 and removed["channel_configurers"] == 1
        assert [c.channel.team_id for c in ChannelStore(store).list()] == ["T2"]
        assert audit.head(store)[0] == 1 and audit.verify(store, KEY).ok


def test_both_engines_have_the_same_migration_steps():
    assert [step.name for step in sqlite_steps._migrations] == PG_STEPS


def test_a_replica_waiting_for_anothers_migrations_says_so_once(pg_url, caplog):

    with engine(pg_url).connect() as holder:  # another replica, in the middle of migrating
        holder.exec_driver_sql(f"SELECT pg_advisory_lock({lock_id('migrations')})")
        with caplog.at_level(logging.INFO, logger="algobot.store"), ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(migrate, pg_url)
            deadline = threading.Event()
            while not any("waiting for it" in r.getMessage() for r in caplog.records) and not deadline.wait(0.05):
                assert not waiting.done(), "migrate did not wait for the lock"
            holder.exec_driver_sql(f"SELECT pg_advisory_unlock({lock_id('migrations')})")
            holder.commit()
            assert waiting.result(timeout=30) == PG_STEPS
    lines = [r.getMessage() for r in caplog.records if "waiting for it" in r.getMessage()]
    assert len(lines) == 1 and "another process is applying migrations" in lines[0]


def test_a_lock_conflict_on_postgresql_is_retried_then_reported_like_sqlites(pg_url):
    """One retry mechanism: PostgreSQL's "lock not available" goes through retry_locked as SQLite's busy does."""

    migrate(pg_url)
    with connect(pg_url) as holder, connect(pg_url) as writer:
        holder.execute("INSERT INTO endpoint_state (endpoint, failures) VALUES ('https://x', 0)")
        with holder.transaction("other"):
            holder.execute("UPDATE endpoint_state SET failures = 1")  # holds the row lock

            def write():
                with writer.transaction("write"):
                    writer.execute("SET LOCAL lock_timeout = '50ms'")
                    writer.execute("UPDATE endpoint_state SET failures = 2")

            attempts = []
            with pytest.raises(DatabaseLocked, match="stayed locked"):
                retry_locked(
                    lambda: (attempts.append(1), write()),
                    "updating an endpoint",
                    retry_seconds=0.3,
                    sleep=lambda _s: None,
                )
            assert len(attempts) > 1
        write()  # the lock is gone: the same write goes through
        assert writer.one("SELECT failures FROM endpoint_state")["failures"] == 2


def test_without_postgresql_the_tests_skip_outside_ci_and_fail_on_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL tests skipped: no initdb"):
        skip_or_fail("no initdb")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the PostgreSQL tests: no initdb"):
        skip_or_fail("no initdb")
