"""A channel's release policy: two-person approval for publishes, and whose key makes changes.

One row per channel in ``channel_policy``; a channel without a row has the default policy (no
approvals, the channel's key). `/algo policy` shows and sets it; the publish path and the key choice
read it through `load`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from algobot.channels import ChannelRef
from algobot.db import utc_iso
from algobot.store import Store

KEYS_CHANNEL = "channel"  # changes use the channel's key, or the person's own when they have one
KEYS_PERSONAL = "personal"  # changes need the person's own key
KEY_POLICIES = (KEYS_CHANNEL, KEYS_PERSONAL)

DEFAULT_EXPIRES_SECONDS = 24 * 3600
MIN_EXPIRES_SECONDS = 10 * 60
MAX_EXPIRES_SECONDS = 30 * 24 * 3600
_DURATION = re.compile(r"^\s*(\d{1,6})\s*(m|min|h|d)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class ChannelPolicy:
    """What a channel requires of releases and changes."""

    approvals: bool = False  # a publish becomes a release request another person approves
    public_only: bool = False  # ...only when it makes the algorithm publicly callable
    expires_seconds: int = DEFAULT_EXPIRES_SECONDS  # an open request lapses after this long
    keys: str = KEYS_CHANNEL  # KEYS_PERSONAL: changes need the person's own key
    set_by: str = ""
    set_at: str = ""

    def needs_approval(self, callability: str | None) -> bool:
        """Whether a publish with this callability ("public", "private", or None: unchanged) needs a second person."""
        if not self.approvals:
            return False
        return not self.public_only or callability == "public"

    def with_changes(self, **changes: object) -> ChannelPolicy:
        return replace(self, **changes)  # type: ignore[arg-type]


def parse_duration(text: str) -> int | None:
    """Seconds in ``30m``, ``24h`` or ``7d``; None when it is not such a duration or out of bounds."""
    match = _DURATION.match(text)
    if match is None:
        return None
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    return seconds if MIN_EXPIRES_SECONDS <= seconds <= MAX_EXPIRES_SECONDS else None


def format_duration(seconds: int) -> str:
    """The shortest exact way to write a policy duration back: ``24h``, ``7d``, ``90m``."""
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


def load(db: Store, ref: ChannelRef) -> ChannelPolicy:
    """The channel's policy; the default one when it never set any."""
    where, params = ref.where()
    row = db.one(
        f"SELECT approvals, public_only, expires_seconds, keys, set_by, set_at FROM channel_policy WHERE {where}",
        params,
    )
    if row is None:
        return ChannelPolicy()
    return ChannelPolicy(
        approvals=bool(row["approvals"]),
        public_only=bool(row["public_only"]),
        expires_seconds=int(row["expires_seconds"]),
        keys=str(row["keys"]),
        set_by=str(row["set_by"]),
        set_at=str(row["set_at"]),
    )


def save(db: Store, ref: ChannelRef, policy: ChannelPolicy, user_id: str, now: datetime) -> ChannelPolicy:
    """Store the channel's policy (one row per channel) and return it as stored."""
    stored = replace(policy, set_by=user_id, set_at=utc_iso(now))
    row = {
        **ref.columns(),
        "approvals": int(stored.approvals),
        "public_only": int(stored.public_only),
        "expires_seconds": stored.expires_seconds,
        "keys": stored.keys,
        "set_by": stored.set_by,
        "set_at": stored.set_at,
    }
    db.insert(
        "channel_policy",
        row,
        conflict="""ON CONFLICT (enterprise_id, team_id, channel_id) DO UPDATE SET approvals = excluded.approvals,
            public_only = excluded.public_only, expires_seconds = excluded.expires_seconds, keys = excluded.keys,
            set_by = excluded.set_by, set_at = excluded.set_at""",
    )
    return stored
