"""The database schema as an ordered list of named migrations.

Append-only: a migration that has shipped is never edited or reordered, because databases in the field
record it by name as applied. Change the schema by adding a new step at the end. Apply with
`algobot.db.migrate(path)`, `algobot migrate`, or `sqlite-utils migrate algobot.db algobot/migrations.py`.
Steps that create alike tables (0001 to 0003) therefore look alike on purpose, a deliberate mirror:
folding them onto one helper would edit shipped steps.

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


@migrations(name="0006_build_notifications")
def _build_notifications(db: Database) -> None:
    """Subscriptions, tracked builds, the outbox of notices and the poller's health state.

    Everything the poller knows lives here (never in APScheduler's job store), so a restart resumes
    where it stopped and two pollers on one file coordinate through row claims. Times are UNIX
    seconds (REAL), the poller's clock being passed in.
    """
    db.table("subscriptions").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "algorithm": str,
            "only": str,  # all | failed | succeeded
            "created_by": str,
            "created_at": str,
            "next_discovery_at": float,
        },
        pk=(*CHANNEL_PK, "algorithm"),
        not_null={*CHANNEL_PK, "algorithm", "only", "created_by", "created_at"},
        defaults={"enterprise_id": "", "only": "all", "next_discovery_at": 0.0},
        if_not_exists=True,
    )
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS "tracked_builds" (
            "id" INTEGER PRIMARY KEY,
            "enterprise_id" TEXT NOT NULL DEFAULT '',
            "team_id" TEXT NOT NULL,
            "channel_id" TEXT NOT NULL,
            "algorithm" TEXT NOT NULL,
            "build_id" TEXT NOT NULL,
            "origin" TEXT NOT NULL,            -- compile | watch
            "started_by" TEXT,                 -- the /algo compile caller
            "message_ts" TEXT,                 -- the "build started" message, updated in place
            "commit_sha" TEXT,
            "started_at" TEXT,
            "finished_at" TEXT,
            "status" TEXT NOT NULL DEFAULT 'in-progress',
            "state" TEXT NOT NULL DEFAULT 'tracking',   -- tracking | final | done | dropped
            "first_seen_at" REAL NOT NULL,
            "next_poll_at" REAL NOT NULL,
            "polls" INTEGER NOT NULL DEFAULT 0,
            "long_running_notified" INTEGER NOT NULL DEFAULT 0,
            "claimed_by" TEXT,
            "claimed_until" REAL,
            UNIQUE ("enterprise_id", "team_id", "channel_id", "algorithm", "build_id")
        )
        """
    )
    db.table("tracked_builds").create_index(["state", "next_poll_at"], if_not_exists=True)
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS "outbox" (
            "id" INTEGER PRIMARY KEY,
            "dedupe_key" TEXT NOT NULL UNIQUE,
            "enterprise_id" TEXT NOT NULL DEFAULT '',
            "team_id" TEXT NOT NULL,
            "channel_id" TEXT NOT NULL,
            "kind" TEXT NOT NULL,
            "parts" TEXT NOT NULL,             -- JSON list of messages to deliver in order
            "step" INTEGER NOT NULL DEFAULT 0, -- how many parts Slack has accepted
            "parent_ts" TEXT,                  -- ts of the first part, for thread replies
            "created_at" REAL NOT NULL,
            "next_attempt_at" REAL NOT NULL,
            "attempts" INTEGER NOT NULL DEFAULT 0,
            "claimed_by" TEXT,
            "claimed_until" REAL
        )
        """
    )
    db.table("outbox").create_index(["next_attempt_at"], if_not_exists=True)
    db.table("notices_sent").create(
        {"dedupe_key": str, "sent_at": float}, pk="dedupe_key", not_null={"sent_at"}, if_not_exists=True
    )
    db.table("channel_send_state").create(
        {"enterprise_id": str, "team_id": str, "channel_id": str, "next_send_at": float},
        pk=CHANNEL_PK,
        defaults={"enterprise_id": ""},
        if_not_exists=True,
    )
    db.table("channel_poll_state").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "auth_failed": int,  # the key was refused: polling stops until /algo login
            "outage_notified": int,  # the channel was told its endpoint is unreachable
        },
        pk=CHANNEL_PK,
        defaults={"enterprise_id": "", "auth_failed": 0, "outage_notified": 0},
        if_not_exists=True,
    )
    db.table("endpoint_state").create(
        {"endpoint": str, "failing_since": float, "failures": int, "next_attempt_at": float},
        pk="endpoint",
        defaults={"failures": 0, "next_attempt_at": 0.0},
        if_not_exists=True,
    )


@migrations(name="0007_secret_kdf")
def _secret_kdf(db: Database) -> None:
    """How a passphrase in ALGOBOT_SECRET_KEY becomes the encryption key (see algobot/crypto.py).

    One row, written on the first start with a passphrase: the KDF's version tag, its random salt and
    its cost parameters. It lives in the database so a restored backup still decrypts.
    """
    db.table("secret_kdf").create(
        {"id": int, "version": str, "salt": str, "n": int, "r": int, "p": int},
        pk="id",
        not_null={"version", "salt", "n", "r", "p"},
        if_not_exists=True,
    )


@migrations(name="0008_poll_by_algorithm")
def _poll_by_algorithm(db: Database) -> None:
    """Indexes that keep a poll cycle's work proportional to what is due.

    The poller finds due subscriptions by time, then every channel watching the same algorithms (one
    list request serves them all), and the unclaimed ended builds of the (channel, algorithm) it lists.
    """
    db.table("subscriptions").create_index(["next_discovery_at"], if_not_exists=True)
    db.table("subscriptions").create_index(["algorithm"], if_not_exists=True)


@migrations(name="0009_channel_policy")
def _channel_policy(db: Database) -> None:
    """A channel's release policy (see algobot/policy.py): approvals for publishes and whose key changes."""
    db.table("channel_policy").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "approvals": int,
            "public_only": int,
            "expires_seconds": int,
            "keys": str,
            "set_by": str,
            "set_at": str,
        },
        pk=CHANNEL_PK,
        not_null={"team_id", "channel_id", "approvals", "public_only", "expires_seconds", "keys", "set_by", "set_at"},
        defaults={"enterprise_id": "", "approvals": 0, "public_only": 0, "expires_seconds": 86400, "keys": "channel"},
        if_not_exists=True,
    )


@migrations(name="0010_release_requests")
def _release_requests(db: Database) -> None:
    """Release requests (see algobot/release_requests.py): a publish pinned to one build, waiting for a
    second person. The expiry job looks rows up by (status, expires_at), so its cost follows what is due."""
    db.table("release_requests").create(
        {
            "id": str,  # short random id people can type (`/algo requests cancel ID`)
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "algorithm": str,
            "build_id": str,
            "commit_sha": str,
            "version_type": str,
            "notes": str,
            "callability": str,  # "public", "private", or NULL: unchanged
            "sample_input": str,
            "requested_by": str,
            "requested_at": str,  # UTC ISO
            "expires_at": float,  # UNIX seconds, as the scheduler's clock
            "status": str,  # open, publishing, approved, rejected, cancelled, expired, closed
            "decided_by": str,
            "decided_at": str,
            "reason": str,
            "published_version": str,
            "message_ts": str,
        },
        pk="id",
        not_null={"team_id", "channel_id", "algorithm", "build_id", "version_type", "requested_by"}
        | {"requested_at", "expires_at", "status"},
        defaults={"enterprise_id": "", "status": "open"},
        if_not_exists=True,
    )
    db.table("release_requests").create_index(["status", "expires_at"], if_not_exists=True)
    db.table("release_requests").create_index(["team_id", "channel_id", "status"], if_not_exists=True)


@migrations(name="0011_personal_keys")
def _personal_keys(db: Database) -> None:
    """A person's own Algorithmia key (see algobot/channels.py `PersonalKeys`), encrypted like channel keys.

    One per (enterprise, team, user): changes that person runs use it, so Algorithmia sees who acted.
    ``endpoint`` None is the deployment's default API, as in ``channel_keys``.
    """
    db.table("personal_keys").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "user_id": str,
            "endpoint": str,
            "key_encrypted": str,
            "key_last4": str,
            "set_at": str,
        },
        pk=("enterprise_id", "team_id", "user_id"),
        not_null={"team_id", "user_id", "key_encrypted", "key_last4", "set_at"},
        defaults={"enterprise_id": ""},
        if_not_exists=True,
    )


@migrations(name="0012_release_watch")
def _release_watch(db: Database) -> None:
    """Release notices, build-change alerts, mentions and who people are on Algorithmia.

    Per subscription: whether failures mention people, the previous final build's result and the
    current failing streak (for ``only=changes``), and the newest published version seen with when
    the versions are checked next (NULL ``release_seen``: no baseline yet, the first check takes it).
    ``only`` stays TEXT and now holds a comma list; old single words mean what they meant.
    ``algorithmia_users`` maps a Slack user (per workspace) to the Algorithmia user they said they are.
    """
    subscriptions = db.table("subscriptions")
    for column, kind, default in (
        ("mention", int, 1),
        ("last_result", str, None),
        ("streak_commit", str, None),
        ("streak_failures", int, 0),
        ("release_seen", str, None),
        ("next_release_at", float, 0.0),
        ("release_burst_until", float, 0.0),
    ):
        if column not in subscriptions.columns_dict:
            subscriptions.add_column(column, kind, not_null_default=default)
    db.table("algorithmia_users").create(
        {"enterprise_id": str, "team_id": str, "user_id": str, "algorithmia_user": str, "set_at": str},
        pk=("enterprise_id", "team_id", "user_id"),
        not_null={"enterprise_id", "team_id", "user_id", "algorithmia_user", "set_at"},
        defaults={"enterprise_id": ""},
        if_not_exists=True,
    )
    db.table("algorithmia_users").create_index(["enterprise_id", "team_id", "algorithmia_user"], if_not_exists=True)


@migrations(name="0013_try_inputs")
def _try_inputs(db: Database) -> None:
    """The last input a channel called an algorithm with (`/algo call`, *Try*), to prefill the next Try.

    With the commit it was called on and the first line of what came back, which the *Publish…*
    dialog of that build shows.
    """
    db.table("try_inputs").create(
        {
            "enterprise_id": str,
            "team_id": str,
            "channel_id": str,
            "algorithm": str,
            "input": str,
            "commit_sha": str,
            "result_line": str,
            "updated_by": str,
            "updated_at": str,
        },
        pk=(*CHANNEL_PK, "algorithm"),
        not_null={*CHANNEL_PK, "algorithm", "input", "updated_by", "updated_at"},
        defaults={"enterprise_id": ""},
        if_not_exists=True,
    )


@migrations(name="0014_sender_batch")
def _sender_batch(db: Database) -> None:
    """When a notice part's delivery became uncertain (a lapsed claim, a lost answer), if it did.

    The sender then looks for the part in Slack (by its message metadata) before posting it again.
    """
    if "unsure_since" not in db.table("outbox").columns_dict:
        db.table("outbox").add_column("unsure_since", float)


@migrations(name="0015_audit_high_water")
def _audit_high_water(db: Database) -> None:
    """Nothing on SQLite: AUTOINCREMENT's counter (``sqlite_sequence``) already goes back with a
    rolled-back transaction. On PostgreSQL this step adds the ``id_high_water`` table that does the same
    for the audit trail's ids (see `algobot.store.Store.append_numbered`); the two engines keep one
    list of step names."""
