"""The database schema as an ordered list of named migrations.

Append-only: a migration that has shipped is never edited or reordered, because databases in the field
record it by name as applied. Change the schema by adding a new step at the end. Apply with
`algobot.db.migrate(path)`, `algobot migrate`, or `sqlite-utils migrate algobot.db algobot/migrations.py`.

Every channel-scoped table keys on (enterprise_id, team_id, channel_id); `enterprise_id` is "" outside
Enterprise Grid, never NULL, so the composite keys stay unique.
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

migrations = Migrations("algobot")

CHANNEL_PK = ("enterprise_id", "team_id", "channel_id")


@migrations(name="0001_channel_keys")
def _channel_keys(db: Database) -> None:
    """One row per channel that has an API key; deleting the row is logging out."""
    db.table("channel_keys").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "endpoint": str,  # API base URL; NULL means the default (ALGORITHMIA_API)
            "key_encrypted": str,  # Fernet token
            "key_last4": str,  # "" when the key is too short to show any of it
            "set_by": str,  # Slack user id, or "cli"
            "set_at": str,  # UTC ISO
        },
        pk=CHANNEL_PK,
        not_null={*CHANNEL_PK, "key_encrypted", "key_last4", "set_by", "set_at"},
        defaults={"enterprise_id": ""},
        if_not_exists=True,
    )


@migrations(name="0002_channel_configurers")
def _channel_configurers(db: Database) -> None:
    """Everyone who ever set a channel's key: they may configure it again, even after a logout."""
    db.table("channel_configurers").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "user_id": str,
            "first_configured_at": str,
            "last_configured_at": str,
        },
        pk=(*CHANNEL_PK, "user_id"),
        not_null={*CHANNEL_PK, "user_id", "first_configured_at", "last_configured_at"},
        defaults={"enterprise_id": ""},
        if_not_exists=True,
    )


@migrations(name="0003_channel_allowed_users")
def _channel_allowed_users(db: Database) -> None:
    """Who may run changing commands in a channel; no rows for a channel means anyone may."""
    db.table("channel_allowed_users").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "user_id": str,
            "added_by": str,
            "added_at": str,
        },
        pk=(*CHANNEL_PK, "user_id"),
        not_null={*CHANNEL_PK, "user_id", "added_by", "added_at"},
        defaults={"enterprise_id": ""},
        if_not_exists=True,
    )


@migrations(name="0004_audit")
def _audit(db: Database) -> None:
    """The hash-chained audit trail (see algobot/audit.py).

    Written as SQL because the table needs AUTOINCREMENT, which `Table.create` does not offer: ids are
    then never reused and `sqlite_sequence` remembers the highest one, so removing the newest rows is
    detectable too. The unique index on `prev_hash` stops two writers from forking the chain, and the
    triggers keep application code from editing or deleting rows (tampering needs raw access, and then
    `verify` finds it).
    """
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS "audit" (
            "id" INTEGER PRIMARY KEY AUTOINCREMENT,
            "time" TEXT NOT NULL,
            "enterprise_id" TEXT NOT NULL DEFAULT '',
            "team_id" TEXT NOT NULL DEFAULT '',
            "channel_id" TEXT NOT NULL DEFAULT '',
            "user_id" TEXT NOT NULL DEFAULT '',
            "action" TEXT NOT NULL,
            "source" TEXT NOT NULL,
            "algorithm" TEXT,
            "arguments" TEXT NOT NULL DEFAULT '{}',
            "outcome" TEXT NOT NULL,
            "error" TEXT,
            "result" TEXT,
            "prev_hash" TEXT NOT NULL,
            "hash" TEXT NOT NULL
        )
        """
    )
    audit = db.table("audit")
    audit.create_index(["prev_hash"], unique=True, if_not_exists=True)
    audit.create_index(["enterprise_id", "team_id", "channel_id", "id"], if_not_exists=True)
    audit.create_index(["algorithm", "action", "id"], if_not_exists=True)
    audit.create_index(["time"], if_not_exists=True)
    db.execute(
        """
        CREATE TRIGGER IF NOT EXISTS "audit_no_update" BEFORE UPDATE ON "audit"
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END
        """
    )
    db.execute(
        """
        CREATE TRIGGER IF NOT EXISTS "audit_no_delete" BEFORE DELETE ON "audit"
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END
        """
    )


@migrations(name="0005_wal", transactional=False)
def _wal(db: Database) -> None:
    """Write-ahead logging lets readers work while one writer writes (Bolt + scheduler + CLI)."""
    db.enable_wal()
