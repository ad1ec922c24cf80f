"""Per-channel configuration: the channel's API key and endpoint, its configurers and its allow list.

Everything is keyed by the full (enterprise, team, channel) triple and looked up by exactly that, so a
key set in one channel is never used for a command from another. A person's own key (`PersonalKeys`)
is keyed by (enterprise, team, user) instead. `ChannelStore._decrypt` is the only place a stored key
is decrypted; everything else sees `ChannelConfig` or `PersonalKeyConfig`, which hold no key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlparse

import sqlite_utils

from algobot.crypto import KeyCipher
from algobot.db import utc_iso
from algobot.store import Store, as_store

# `set_by` for keys stored with `algobot channel set-key`; never a Slack user id.
CLI_ACTOR = "cli"

# Keys shorter than this are never shown, not even their last characters.
MIN_KEY_LENGTH_TO_SHOW = 8


@dataclass(frozen=True)
class ChannelRef:
    """A Slack channel, unambiguously: channel ids are only unique within a workspace (team)."""

    team_id: str
    channel_id: str
    enterprise_id: str = ""

    def __post_init__(self) -> None:
        if self.enterprise_id is None:  # Slack sends null outside Enterprise Grid
            object.__setattr__(self, "enterprise_id", "")

    def columns(self) -> dict[str, str]:
        """The key columns of this channel's rows.

        Raises ValueError for a ref without team or channel (a modal submission, an App Home event):
        it may be logged, but storing or looking up under it would share one configuration between
        every such request.
        """
        if not self.team_id or not self.channel_id:
            raise ValueError(f"'{self}' is not a complete channel reference: it needs a team and a channel id")
        return {"enterprise_id": self.enterprise_id, "team_id": self.team_id, "channel_id": self.channel_id}

    def where(self) -> tuple[str, list[str]]:
        """SQL condition and parameters selecting this channel's rows (always the full triple)."""
        columns = self.columns()
        return " AND ".join(f"{name} = ?" for name in columns), list(columns.values())

    def __str__(self) -> str:
        prefix = f"{self.enterprise_id}/" if self.enterprise_id else ""
        return f"{prefix}{self.team_id}/{self.channel_id}"

    def to_metadata(self, cipher: KeyCipher, user_id: str, **extra: Any) -> str:
        """A dialog's private_metadata: this channel and who opened the dialog (plus ``extra``), signed
        with the deployment's secret. Slack hands it back untouched on submit but does not vouch for it,
        so the signature is what lets a submission name no other channel (see `from_metadata`)."""
        fields = {"team": self.team_id, "channel": self.channel_id, "enterprise": self.enterprise_id, "user": user_id}
        return cipher.sign_metadata({**extra, **fields})

    @classmethod
    def from_metadata(cls, cipher: KeyCipher, text: str | None) -> DialogMetadata | None:
        """What `to_metadata` sealed; None when the text is missing, forged, or names no channel."""
        fields = cipher.open_metadata(text)
        if fields is None or not fields.get("channel"):
            return None
        ref = cls(
            team_id=str(fields.pop("team", "") or ""),
            channel_id=str(fields.pop("channel")),
            enterprise_id=str(fields.pop("enterprise", "") or ""),
        )
        return DialogMetadata(ref=ref, user_id=str(fields.pop("user", "") or ""), extra=fields)


class DialogMetadata(NamedTuple):
    """A dialog's signed private_metadata, opened: the channel, who opened it, and the rest it carried."""

    ref: ChannelRef
    user_id: str
    extra: dict[str, Any]


@dataclass(frozen=True)
class ChannelConfig:
    """What may be shown about a channel's configuration: never the key, only its last 4 characters."""

    channel: ChannelRef
    endpoint: str | None  # None = the deployment's default API (ALGORITHMIA_API)
    key_last4: str
    set_by: str  # Slack user id, or "cli"
    set_at: str  # UTC ISO

    @property
    def masked_key(self) -> str:
        return f"****{self.key_last4}"


@dataclass(frozen=True)
class PersonalKeyConfig:
    """What may be shown about a person's own key: its last 4 characters, endpoint and when it was set."""

    user_id: str
    endpoint: str | None  # None = the deployment's default API (ALGORITHMIA_API)
    key_last4: str
    set_at: str  # UTC ISO

    @property
    def masked_key(self) -> str:
        return f"****{self.key_last4}"


class Credentials(NamedTuple):
    """What a channel's API client needs; unpacks as `key, endpoint` and never shows the key."""

    api_key: str
    endpoint: str | None  # None = the deployment's default API

    def __repr__(self) -> str:
        return f"Credentials(api_key={mask_key(self.api_key)!r}, endpoint={self.endpoint!r})"


def mask_key(api_key: str) -> str:
    """`****` plus the key's last 4 characters (nothing of a key too short to reveal any of)."""
    return f"****{_last4(api_key)}"


def _last4(api_key: str) -> str:
    return api_key[-4:] if len(api_key) >= MIN_KEY_LENGTH_TO_SHOW else ""


def normalize_endpoint(endpoint: str | None) -> str | None:
    """An http(s) base URL without trailing slash; None or "" means the default API."""
    if endpoint is None or not endpoint.strip():
        return None
    endpoint = endpoint.strip().rstrip("/")
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"The endpoint must be an http(s) URL such as https://api.algorithmia.com, not '{endpoint}'.")
    return endpoint


class ChannelStore:
    """Reads and writes channel configuration through one open database (one unit of work).

    `cipher` is needed only to store or read a key; listing and the allow list work without it, so
    read-only tools never have to load (or generate) the secret.
    """

    def __init__(self, db: Store | sqlite_utils.Database, cipher: KeyCipher | None = None) -> None:
        self.db = db
        self.store = as_store(db)  # every query goes through the store: SQLite or PostgreSQL
        self._cipher = cipher

    def _require_cipher(self) -> KeyCipher:
        if self._cipher is None:
            raise ValueError("this ChannelStore was opened without a KeyCipher; keys cannot be read or stored")
        return self._cipher

    # -- the key ---------------------------------------------------------------------------------

    def set_key(
        self, channel: ChannelRef, api_key: str, endpoint: str | None, set_by: str, now: datetime
    ) -> ChannelConfig:
        """Store (or replace) the channel's key, encrypted, and remember who configured it."""
        api_key = api_key.strip()
        if not api_key:
            raise ValueError("The API key is empty.")
        if not set_by:
            raise ValueError("set_by must name who set the key")
        endpoint = normalize_endpoint(endpoint)
        at = utc_iso(now)
        row = {
            **channel.columns(),
            "endpoint": endpoint,
            "key_encrypted": self._require_cipher().encrypt(api_key),
            "key_last4": _last4(api_key),
            "set_by": set_by,
            "set_at": at,
        }
        with self.store.transaction("channel_keys", what="storing a channel key"):
            self.store.insert(
                "channel_keys",
                row,
                conflict="ON CONFLICT (enterprise_id, team_id, channel_id) DO UPDATE SET endpoint = excluded.endpoint, "
                "key_encrypted = excluded.key_encrypted, key_last4 = excluded.key_last4, set_by = excluded.set_by, "
                "set_at = excluded.set_at",
            )
            if set_by != CLI_ACTOR:
                self.store.execute(
                    """
                    INSERT INTO channel_configurers
                        (enterprise_id, team_id, channel_id, user_id, first_configured_at, last_configured_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (enterprise_id, team_id, channel_id, user_id)
                    DO UPDATE SET last_configured_at = excluded.last_configured_at
                    """,
                    [*channel.columns().values(), set_by, at, at],
                )
        return ChannelConfig(channel, endpoint, row["key_last4"], set_by, at)

    def config(self, channel: ChannelRef) -> ChannelConfig | None:
        """The channel's configuration without its key, or None if no key is set."""
        where, params = channel.where()
        row = self.store.one(f"SELECT * FROM channel_keys WHERE {where}", params)
        return _config(row) if row else None

    def api_key(self, channel: ChannelRef) -> Credentials | None:
        """The channel's decrypted key and its endpoint, or None when the channel has no key.

        The only place a stored key is decrypted. Raises SecretKeyError if the secret is wrong.
        """
        where, params = channel.where()
        row = self.store.one(f"SELECT key_encrypted, endpoint FROM channel_keys WHERE {where}", params)
        return self._decrypt(row) if row is not None else None

    def _decrypt(self, row: Mapping[str, Any]) -> Credentials:
        """The one place a stored key (a channel's or a person's) is decrypted."""
        return Credentials(self._require_cipher().decrypt(row["key_encrypted"]), row["endpoint"])

    @property
    def personal(self) -> PersonalKeys:
        """People's own keys, through the same database and cipher."""
        return PersonalKeys(self)

    def remove(self, channel: ChannelRef) -> bool:
        """Forget the channel's key and endpoint (logout). Configurers and allow list stay."""
        where, params = channel.where()
        return self.store.execute(f"DELETE FROM channel_keys WHERE {where}", params).rowcount > 0

    def list(self, team_id: str | None = None, enterprise_id: str | None = None) -> list[ChannelConfig]:
        """Configured channels (optionally of one team / enterprise), without keys."""
        clauses, params = [], []
        if team_id is not None:
            clauses.append("team_id = ?")
            params.append(team_id)
        if enterprise_id is not None:
            clauses.append("enterprise_id = ?")
            params.append(enterprise_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.store.query(
            f"SELECT * FROM channel_keys {where} ORDER BY enterprise_id, team_id, channel_id", params
        )
        return [_config(row) for row in rows]

    # -- who may do what ----------------------------------------------------------------------------

    def configurers(self, channel: ChannelRef) -> frozenset[str]:
        """Every Slack user who ever set this channel's key."""
        where, params = channel.where()
        rows = self.store.query(f"SELECT user_id FROM channel_configurers WHERE {where}", params)
        return frozenset(row["user_id"] for row in rows)

    def allowed_users(self, channel: ChannelRef) -> frozenset[str]:
        """Who may run changing commands here; empty means anyone."""
        where, params = channel.where()
        rows = self.store.query(f"SELECT user_id FROM channel_allowed_users WHERE {where}", params)
        return frozenset(row["user_id"] for row in rows)

    def allow(self, channel: ChannelRef, user_id: str, added_by: str, now: datetime) -> bool:
        """Add a user to the allow list; False if they were already on it."""
        if not user_id:
            raise ValueError("user_id is empty")
        row = {**channel.columns(), "user_id": user_id, "added_by": added_by, "added_at": utc_iso(now)}
        return self.store.insert("channel_allowed_users", row, conflict="ON CONFLICT DO NOTHING") > 0

    def deny(self, channel: ChannelRef, user_id: str) -> bool:
        """Remove a user from the allow list; False if they were not on it."""
        where, params = channel.where()
        sql = f"DELETE FROM channel_allowed_users WHERE {where} AND user_id = ?"
        return self.store.execute(sql, [*params, user_id]).rowcount > 0


class PersonalKeys:
    """A person's own key per (enterprise, team, user), set with `/algo login` "for me".

    Changes that person runs use it instead of the channel's key (see `algobot.dispatch`), so
    Algorithmia records who acted. The endpoint is the one the person gave: the key is used in a
    channel only when it equals the channel's endpoint.
    """

    def __init__(self, channels: ChannelStore) -> None:
        self._channels = channels
        self.store = channels.store

    @staticmethod
    def _where(channel: ChannelRef, user_id: str) -> tuple[str, list[str]]:
        columns = channel.columns()  # refuses an incomplete reference
        if not user_id:
            raise ValueError("a personal key needs a Slack user id")
        return "enterprise_id = ? AND team_id = ? AND user_id = ?", [
            columns["enterprise_id"],
            columns["team_id"],
            user_id,
        ]

    def set_key(
        self, channel: ChannelRef, user_id: str, api_key: str, endpoint: str | None, now: datetime
    ) -> PersonalKeyConfig:
        """Store (or replace) the person's key, encrypted; ``channel`` only names their workspace."""
        api_key = api_key.strip()
        if not api_key:
            raise ValueError("The API key is empty.")
        self._where(channel, user_id)
        row = {
            "enterprise_id": channel.enterprise_id,
            "team_id": channel.team_id,
            "user_id": user_id,
            "endpoint": normalize_endpoint(endpoint),
            "key_encrypted": self._channels._require_cipher().encrypt(api_key),
            "key_last4": _last4(api_key),
            "set_at": utc_iso(now),
        }
        self.store.insert(
            "personal_keys",
            row,
            conflict="ON CONFLICT (enterprise_id, team_id, user_id) DO UPDATE SET endpoint = excluded.endpoint, "
            "key_encrypted = excluded.key_encrypted, key_last4 = excluded.key_last4, set_at = excluded.set_at",
        )
        return PersonalKeyConfig(user_id, row["endpoint"], row["key_last4"], row["set_at"])

    def config(self, channel: ChannelRef, user_id: str) -> PersonalKeyConfig | None:
        """The person's key without the key, or None when they have none in this workspace."""
        where, params = self._where(channel, user_id)
        row = self.store.one(f"SELECT user_id, endpoint, key_last4, set_at FROM personal_keys WHERE {where}", params)
        if row is None:
            return None
        return PersonalKeyConfig(row["user_id"], row["endpoint"], row["key_last4"], row["set_at"])

    def api_key(self, channel: ChannelRef, user_id: str) -> Credentials | None:
        """The person's decrypted key and its endpoint, or None when they have none."""
        where, params = self._where(channel, user_id)
        row = self.store.one(f"SELECT key_encrypted, endpoint FROM personal_keys WHERE {where}", params)
        return self._channels._decrypt(row) if row is not None else None

    def remove(self, channel: ChannelRef, user_id: str) -> bool:
        """Forget the person's key (`/algo logout me`); False when there was none."""
        where, params = self._where(channel, user_id)
        return self.store.execute(f"DELETE FROM personal_keys WHERE {where}", params).rowcount > 0


def _config(row: Mapping[str, Any]) -> ChannelConfig:
    return ChannelConfig(
        channel=ChannelRef(row["team_id"], row["channel_id"], row["enterprise_id"]),
        endpoint=row["endpoint"],
        key_last4=row["key_last4"],
        set_by=row["set_by"],
        set_at=row["set_at"],
    )
