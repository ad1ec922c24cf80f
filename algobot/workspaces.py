"""Workspaces that installed algobot through OAuth: their tokens, and forgetting one that uninstalls.

With SLACK_CLIENT_ID / SLACK_CLIENT_SECRET set, each workspace (or Enterprise Grid org) installs the
app through `/slack/install`; slack-sdk's `SQLite3InstallationStore` keeps the installations in
algobot's own database file, and `SQLite3OAuthStateStore` the short-lived OAuth states (with
ALGOBOT_DATABASE_URL, slack-sdk's SQLAlchemy stores keep them in PostgreSQL, shared by every replica). Bolt looks the
bot token up for every request it handles; `token_lookup` does the same for the build notices the
scheduler sends. When a workspace uninstalls the app (`app_uninstalled`, or its bot token is revoked)
`uninstall` deletes the installation and `forget_team` every row algobot kept for that team.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from slack_sdk.oauth.installation_store import Bot, Installation, InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
from slack_sdk.oauth.state_store import OAuthStateStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

from algobot import audit
from algobot.channels import ChannelRef
from algobot.crypto import KeyCipher
from algobot.settings import Settings
from algobot.store import PostgresStore, Store, as_store, connect, engine, is_postgres, lock_id

log = logging.getLogger(__name__)

# The bot scopes the code uses: /algo (commands), posting and announcing (chat:write), full build logs
# (files:write), the DM a privately requested log goes to (im:write) and the workspace-admin check
# (users:read), and reading a channel back after a crash to see whether a notice already reached it
# (channels:history, groups:history; installations without them post again, see algobot/notify/sender.py).
SCOPES = ("commands", "chat:write", "files:write", "im:write", "users:read", "channels:history", "groups:history")
OAUTH_STATE_SECONDS = 600

# Every table holding per-channel rows, keyed by (enterprise_id, team_id, channel_id) (algobot/migrations.py),
# and people's own keys, keyed by (enterprise_id, team_id, user_id): they go with the installation too.
# The audit trail stays (it is append-only and records the uninstall itself); so do the dedupe keys of
# notices already sent and the per-endpoint health, which belong to no team.
TEAM_TABLES = (
    "channel_keys",
    "channel_configurers",
    "channel_allowed_users",
    "subscriptions",
    "tracked_builds",
    "outbox",
    "channel_send_state",
    "channel_poll_state",
    "personal_keys",
    "release_requests",
)

# In the audit row's arguments, a name containing "keys" would be redacted as a secret.
_LABELS = {"channel_keys": "channel_configs", "personal_keys": "personal_logins"}

TokenFor = Callable[[ChannelRef], "str | None"]


_TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token", "incoming_webhook_url")
_SEALED = "enc:"


class _Sealed:
    """Every token encrypted at rest like the API keys, around one of slack-sdk's installation stores.

    Tokens are sealed with the deployment's Fernet cipher on the way in and opened on the way out, so
    the database (and its backups) never hold a workspace's bot token in plain text.
    """

    def __init__(self, *, cipher: KeyCipher, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cipher = cipher

    def _seal(self, item: Any) -> Any:
        sealed = copy.copy(item)
        for name in _TOKEN_FIELDS:
            value = getattr(sealed, name, None)
            if isinstance(value, str) and value and not value.startswith(_SEALED):
                setattr(sealed, name, _SEALED + self._cipher.encrypt(value))
        return sealed

    def _open(self, item: Any) -> Any:
        if item is None:
            return None
        for name in _TOKEN_FIELDS:
            value = getattr(item, name, None)
            if isinstance(value, str) and value.startswith(_SEALED):
                setattr(item, name, self._cipher.decrypt(value[len(_SEALED) :]))
        return item

    def save(self, installation: Installation) -> None:
        super().save(self._seal(installation))

    def save_bot(self, bot: Bot) -> None:
        super().save_bot(self._seal(bot))

    def find_bot(self, **kwargs: Any) -> Bot | None:
        return self._open(super().find_bot(**kwargs))

    def find_installation(self, **kwargs: Any) -> Installation | None:
        return self._open(super().find_installation(**kwargs))


class EncryptedInstallationStore(_Sealed, SQLite3InstallationStore):
    """slack-sdk's SQLite installation store, tokens encrypted."""


class EncryptedSQLAlchemyInstallationStore(_Sealed, SQLAlchemyInstallationStore):
    """slack-sdk's SQLAlchemy installation store (PostgreSQL), tokens encrypted."""


def _create_shared_tables(url: str, create: Callable[[], None]) -> None:
    """slack-sdk's tables, created once however many replicas start at once (under an advisory lock)."""
    with engine(url).connect() as connection:
        store = PostgresStore(connection)
        store.query("SELECT pg_advisory_lock(?)", [lock_id("slack-oauth-tables")])
        try:
            create()
        finally:
            store.query("SELECT pg_advisory_unlock(?)", [lock_id("slack-oauth-tables")])


def installation_store(settings: Settings, cipher: KeyCipher) -> InstallationStore:
    """The installations of this app (its client id), in algobot's database; tables created now."""
    if not settings.slack_client_id:
        raise ValueError("installation_store needs SLACK_CLIENT_ID")
    if is_postgres(settings.database_location):
        shared = EncryptedSQLAlchemyInstallationStore(
            cipher=cipher,
            client_id=settings.slack_client_id,
            engine=engine(settings.database_location),
            logger=logging.getLogger("algobot.oauth"),
        )
        _create_shared_tables(settings.database_location, shared.create_tables)
        return shared
    store = EncryptedInstallationStore(
        cipher=cipher,
        database=settings.db_path,
        client_id=settings.slack_client_id,
        logger=logging.getLogger("algobot.oauth"),
    )
    store.init()  # up front: two first requests at once would otherwise both try to create the tables
    return store


def oauth_state_store(settings: Settings) -> OAuthStateStore:
    """The OAuth `state` values handed to installers, valid for ten minutes, in algobot's database (any
    replica may receive the installer back)."""
    if is_postgres(settings.database_location):
        shared = SQLAlchemyOAuthStateStore(
            expiration_seconds=OAUTH_STATE_SECONDS,
            engine=engine(settings.database_location),
            logger=logging.getLogger("algobot.oauth"),
        )
        _create_shared_tables(settings.database_location, shared.create_tables)
        return shared
    store = SQLite3OAuthStateStore(
        database=settings.db_path, expiration_seconds=OAUTH_STATE_SECONDS, logger=logging.getLogger("algobot.oauth")
    )
    store.init()
    return store


def token_lookup(store: InstallationStore) -> TokenFor:
    """``token_for(ref)``: the bot token of the workspace (or org-wide install) a channel belongs to, or None."""

    def token_for(ref: ChannelRef) -> str | None:
        enterprise_id = ref.enterprise_id or None
        bot = store.find_bot(enterprise_id=enterprise_id, team_id=ref.team_id)
        if bot is None and enterprise_id:  # a workspace of a Grid org that installed the app org-wide
            bot = store.find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
        return bot.bot_token if bot is not None else None

    return token_for


def _team_where(team_id: str | None, enterprise_id: str | None) -> tuple[str, list[str]]:
    if team_id:
        return "enterprise_id = ? and team_id = ?", [enterprise_id or "", team_id]
    if enterprise_id:  # an org-wide install: every workspace of the org
        return "enterprise_id = ?", [enterprise_id]
    raise ValueError("forget_team needs a team id or an enterprise id")


def forget_team(
    db: Store | sqlite_utils.Database,
    team_id: str | None,
    enterprise_id: str | None,
    *,
    audit_key: bytes,
    reason: str = "app_uninstalled",
    now: datetime | None = None,
) -> dict[str, int]:
    """Delete every row algobot keeps for a team and audit it; returns the rows removed per table.

    ``team_id`` None with an ``enterprise_id`` forgets the whole Grid org (an org-wide uninstall).
    One transaction: the deletions and the audit row (source "system", action "uninstall") commit
    together. Forgetting a team that has nothing left is harmless and still audited.
    """
    where, args = _team_where(team_id, enterprise_id)
    removed: dict[str, int] = {}
    db = as_store(db)
    with db.transaction("audit", what="forgetting an uninstalled team"):
        for table in TEAM_TABLES:
            if db.has_table(table):
                removed[table] = db.execute(f'delete from "{table}" where {where}', args).rowcount
        audit.record(
            db,
            audit.AuditEntry(
                team_id=team_id or "",
                enterprise_id=enterprise_id or "",
                user_id=audit.SYSTEM_ACTOR,
                action="uninstall",
                source="system",
                arguments={"event": reason, "removed": {_LABELS.get(k, k): v for k, v in removed.items() if v}},
            ),
            now=now or datetime.now(UTC),
            key=audit_key,
        )
    log.info("forgot team %s/%s after %s: %s", enterprise_id or "-", team_id or "-", reason, removed)
    return removed


def uninstall(
    db_path: str,
    store: InstallationStore,
    *,
    team_id: str | None,
    enterprise_id: str | None,
    reason: str,
    audit_key: bytes,
    now: datetime | None = None,
) -> dict[str, int] | None:
    """A workspace removed the app: delete its installation, then forget its data.

    Slack sends both `tokens_revoked` and `app_uninstalled` for one uninstall; only the first finds the
    installation, so the team is forgotten (and audited) once. Returns what was removed, or None when
    there was no installation left to remove.
    """
    is_org = not team_id and bool(enterprise_id)
    installed = store.find_bot(enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_org)
    store.delete_all(enterprise_id=enterprise_id, team_id=team_id)
    if installed is None:
        log.info("%s for %s/%s: no installation left, nothing to forget", reason, enterprise_id or "-", team_id or "-")
        return None
    with connect(db_path) as db:
        return forget_team(db, team_id, enterprise_id, audit_key=audit_key, reason=reason, now=now)
