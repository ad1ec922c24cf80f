"""The PostgreSQL schema, as the same ordered, named steps as `algobot.migrations` (SQLite).

Append-only, as on SQLite: a shipped step is never edited; change the schema by adding a step at the
end of both lists under the same name. Each step runs in its own transaction and is recorded in
``algobot_migrations``; `algobot.store.migrate` runs them under an advisory lock, so replicas
starting together apply each exactly once. Columns have SQLite's types (text, double precision for
the poller's UNIX seconds, integer flags) so the shared SQL reads the same values on both engines.
This module is a deliberate mirror of `algobot.migrations`, step for step: the two engines need
their own DDL, and keeping each list whole makes a missing step on one side easy to see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol


class Store(Protocol):
    """What the steps need of `algobot.store.Store`, which runs them.

    A protocol rather than an import, so the store and its schema do not import each other.
    """

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None: ...

    def insert(
        self, table: str, row: Mapping[str, Any], *, conflict: str = "", returning: str | None = None
    ) -> Any: ...

    def transaction(
        self, lock: str = "write", *, what: str = "writing", retry_seconds: float | None = None
    ) -> AbstractContextManager[Any]: ...


CHANNEL = "enterprise_id TEXT NOT NULL DEFAULT '', team_id TEXT NOT NULL, channel_id TEXT NOT NULL"
CHANNEL_PK = "enterprise_id, team_id, channel_id"

STEPS: list[tuple[str, list[str]]] = [
    (
        "0001_channel_keys",
        [
            f"""CREATE TABLE IF NOT EXISTS channel_keys ({CHANNEL}, endpoint TEXT, key_encrypted TEXT NOT NULL,
                key_last4 TEXT NOT NULL, set_by TEXT NOT NULL, set_at TEXT NOT NULL, PRIMARY KEY ({CHANNEL_PK}))"""
        ],
    ),
    (
        "0002_channel_configurers",
        [
            f"""CREATE TABLE IF NOT EXISTS channel_configurers ({CHANNEL}, user_id TEXT NOT NULL,
                first_configured_at TEXT NOT NULL, last_configured_at TEXT NOT NULL,
                PRIMARY KEY ({CHANNEL_PK}, user_id))"""
        ],
    ),
    (
        "0003_channel_allowed_users",
        [
            f"""CREATE TABLE IF NOT EXISTS channel_allowed_users ({CHANNEL}, user_id TEXT NOT NULL,
                added_by TEXT NOT NULL, added_at TEXT NOT NULL, PRIMARY KEY ({CHANNEL_PK}, user_id))"""
        ],
    ),
    (
        "0004_audit",
        [
            """CREATE TABLE IF NOT EXISTS audit (
                id BIGSERIAL PRIMARY KEY, time TEXT NOT NULL, enterprise_id TEXT NOT NULL DEFAULT '',
                team_id TEXT NOT NULL DEFAULT '', channel_id TEXT NOT NULL DEFAULT '',
                user_id TEXT NOT NULL DEFAULT '', action TEXT NOT NULL, source TEXT NOT NULL, algorithm TEXT,
                arguments TEXT NOT NULL DEFAULT '{}', outcome TEXT NOT NULL, error TEXT, result TEXT,
                prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
            "CREATE UNIQUE INDEX IF NOT EXISTS audit_prev_hash ON audit (prev_hash)",
            "CREATE INDEX IF NOT EXISTS audit_channel ON audit (enterprise_id, team_id, channel_id, id)",
            "CREATE INDEX IF NOT EXISTS audit_algorithm ON audit (algorithm, action, id)",
            "CREATE INDEX IF NOT EXISTS audit_time ON audit (time)",
            # Application code cannot edit or delete rows (tampering needs raw access; `verify` finds it).
            """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'audit rows are append-only'; END $$""",
            "DROP TRIGGER IF EXISTS audit_no_update ON audit",
            "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()",
            "DROP TRIGGER IF EXISTS audit_no_truncate ON audit",
            "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
        ],
    ),
    ("0005_wal", []),  # SQLite's write-ahead log; PostgreSQL has its own.
    (
        "0006_build_notifications",
        [
            f"""CREATE TABLE IF NOT EXISTS subscriptions ({CHANNEL}, algorithm TEXT NOT NULL,
                "only" TEXT NOT NULL DEFAULT 'all', created_by TEXT NOT NULL, created_at TEXT NOT NULL,
                next_discovery_at DOUBLE PRECISION DEFAULT 0.0, PRIMARY KEY ({CHANNEL_PK}, algorithm))""",
            f"""CREATE TABLE IF NOT EXISTS tracked_builds (id BIGSERIAL PRIMARY KEY, {CHANNEL},
                algorithm TEXT NOT NULL, build_id TEXT NOT NULL, origin TEXT NOT NULL, started_by TEXT,
                message_ts TEXT, commit_sha TEXT, started_at TEXT, finished_at TEXT,
                status TEXT NOT NULL DEFAULT 'in-progress', state TEXT NOT NULL DEFAULT 'tracking',
                first_seen_at DOUBLE PRECISION NOT NULL, next_poll_at DOUBLE PRECISION NOT NULL,
                polls INTEGER NOT NULL DEFAULT 0, long_running_notified INTEGER NOT NULL DEFAULT 0,
                claimed_by TEXT, claimed_until DOUBLE PRECISION,
                UNIQUE (enterprise_id, team_id, channel_id, algorithm, build_id))""",
            "CREATE INDEX IF NOT EXISTS tracked_builds_due ON tracked_builds (state, next_poll_at)",
            f"""CREATE TABLE IF NOT EXISTS outbox (id BIGSERIAL PRIMARY KEY, dedupe_key TEXT NOT NULL UNIQUE,
                {CHANNEL}, kind TEXT NOT NULL, parts TEXT NOT NULL, step INTEGER NOT NULL DEFAULT 0,
                parent_ts TEXT, created_at DOUBLE PRECISION NOT NULL, next_attempt_at DOUBLE PRECISION NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, claimed_by TEXT, claimed_until DOUBLE PRECISION)""",
            "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at)",
            """CREATE TABLE IF NOT EXISTS notices_sent (dedupe_key TEXT PRIMARY KEY,
                sent_at DOUBLE PRECISION NOT NULL)""",
            f"""CREATE TABLE IF NOT EXISTS channel_send_state ({CHANNEL}, next_send_at DOUBLE PRECISION,
                PRIMARY KEY ({CHANNEL_PK}))""",
            f"""CREATE TABLE IF NOT EXISTS channel_poll_state ({CHANNEL}, auth_failed INTEGER DEFAULT 0,
                outage_notified INTEGER DEFAULT 0, PRIMARY KEY ({CHANNEL_PK}))""",
            """CREATE TABLE IF NOT EXISTS endpoint_state (endpoint TEXT PRIMARY KEY,
                failing_since DOUBLE PRECISION, failures INTEGER DEFAULT 0,
                next_attempt_at DOUBLE PRECISION DEFAULT 0.0)""",
        ],
    ),
    (
        "0007_secret_kdf",
        [
            """CREATE TABLE IF NOT EXISTS secret_kdf (id INTEGER PRIMARY KEY, version TEXT NOT NULL,
                salt TEXT NOT NULL, n INTEGER NOT NULL, r INTEGER NOT NULL, p INTEGER NOT NULL)"""
        ],
    ),
    (
        "0008_poll_by_algorithm",
        [
            "CREATE INDEX IF NOT EXISTS subscriptions_next_discovery_at ON subscriptions (next_discovery_at)",
            "CREATE INDEX IF NOT EXISTS subscriptions_algorithm ON subscriptions (algorithm)",
        ],
    ),
    (
        "0009_channel_policy",
        [
            f"""CREATE TABLE IF NOT EXISTS channel_policy ({CHANNEL}, approvals INTEGER NOT NULL DEFAULT 0,
                public_only INTEGER NOT NULL DEFAULT 0, expires_seconds INTEGER NOT NULL DEFAULT 86400,
                keys TEXT NOT NULL DEFAULT 'channel', set_by TEXT NOT NULL, set_at TEXT NOT NULL,
                PRIMARY KEY ({CHANNEL_PK}))"""
        ],
    ),
    (
        "0010_release_requests",
        [
            f"""CREATE TABLE IF NOT EXISTS release_requests (id TEXT PRIMARY KEY, {CHANNEL},
                algorithm TEXT NOT NULL, build_id TEXT NOT NULL, commit_sha TEXT, version_type TEXT NOT NULL,
                notes TEXT, callability TEXT, sample_input TEXT, requested_by TEXT NOT NULL,
                requested_at TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
                status TEXT NOT NULL DEFAULT 'open', decided_by TEXT, decided_at TEXT, reason TEXT,
                published_version TEXT, message_ts TEXT)""",
            "CREATE INDEX IF NOT EXISTS release_requests_due ON release_requests (status, expires_at)",
            """CREATE INDEX IF NOT EXISTS release_requests_channel
                ON release_requests (team_id, channel_id, status)""",
        ],
    ),
    (
        "0011_personal_keys",
        [
            """CREATE TABLE IF NOT EXISTS personal_keys (enterprise_id TEXT NOT NULL DEFAULT '',
                team_id TEXT NOT NULL, user_id TEXT NOT NULL, endpoint TEXT, key_encrypted TEXT NOT NULL,
                key_last4 TEXT NOT NULL, set_at TEXT NOT NULL, PRIMARY KEY (enterprise_id, team_id, user_id))"""
        ],
    ),
    (
        "0012_release_watch",
        [
            "ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS mention INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS last_result TEXT",
            "ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS streak_commit TEXT",
            "ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS streak_failures INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS release_seen TEXT",
            """ALTER TABLE subscriptions
                ADD COLUMN IF NOT EXISTS next_release_at DOUBLE PRECISION NOT NULL DEFAULT 0.0""",
            """ALTER TABLE subscriptions
                ADD COLUMN IF NOT EXISTS release_burst_until DOUBLE PRECISION NOT NULL DEFAULT 0.0""",
            """CREATE TABLE IF NOT EXISTS algorithmia_users (enterprise_id TEXT NOT NULL DEFAULT '',
                team_id TEXT NOT NULL, user_id TEXT NOT NULL, algorithmia_user TEXT NOT NULL, set_at TEXT NOT NULL,
                PRIMARY KEY (enterprise_id, team_id, user_id))""",
            """CREATE INDEX IF NOT EXISTS algorithmia_users_name
                ON algorithmia_users (enterprise_id, team_id, algorithmia_user)""",
        ],
    ),
    (
        "0013_try_inputs",
        [
            f"""CREATE TABLE IF NOT EXISTS try_inputs ({CHANNEL}, algorithm TEXT NOT NULL, input TEXT NOT NULL,
                commit_sha TEXT, result_line TEXT, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL,
                PRIMARY KEY ({CHANNEL_PK}, algorithm))"""
        ],
    ),
    # When a notice part's delivery became uncertain; the sender then looks for it in Slack first.
    ("0014_sender_batch", ["ALTER TABLE outbox ADD COLUMN IF NOT EXISTS unsure_since DOUBLE PRECISION"]),
    # The audit trail's highest id, rolled back with a failed append (a sequence is not), so a rollback
    # leaves no gap for `verify` to read as a removed row. Seeded from what the sequence handed out.
    (
        "0015_audit_high_water",
        [
            "CREATE TABLE IF NOT EXISTS id_high_water (name TEXT PRIMARY KEY, last_id BIGINT NOT NULL)",
            """INSERT INTO id_high_water (name, last_id)
                SELECT 'audit', GREATEST(COALESCE((SELECT MAX(id) FROM audit), 0),
                    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM audit_id_seq))
                ON CONFLICT (name) DO NOTHING""",
        ],
    ),
]

NAMES = [name for name, _ in STEPS]


def apply(store: Store, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[str]:
    """Apply the steps not yet recorded, each in its own transaction; the caller holds the lock."""
    store.execute("CREATE TABLE IF NOT EXISTS algobot_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row["name"] for row in store.query("SELECT name FROM algobot_migrations")}
    applied = []
    for name, statements in STEPS:
        if name in done:
            continue
        with store.transaction("migrations-step"):
            for statement in statements:
                store.execute(statement)
            store.insert("algobot_migrations", {"name": name, "applied_at": str(now())})
        applied.append(name)
    return applied


def pending(store: Store) -> list[str]:
    """Names of the steps a database has not applied yet."""
    rows = store.query("SELECT name FROM algobot_migrations") if _has_table(store) else []
    done = {row["name"] for row in rows}
    return [name for name in NAMES if name not in done]


def _has_table(store: Store) -> bool:
    return bool(store.one("SELECT to_regclass('algobot_migrations') AS t")["t"])
