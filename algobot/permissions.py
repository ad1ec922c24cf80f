"""Who may do what in a channel: pure functions over facts the caller gathers.

The caller supplies `is_workspace_admin` from Slack's `users.info` (`is_admin or is_owner or
is_primary_owner`), ALGOBOT_ADMINS from Settings, and the channel's configurers and allow list from
`ChannelStore`; nothing here does I/O, so the whole policy is a table test. Every decision carries a
reason the bot can show as is, refusals included.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from algobot import messages


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def can_configure(
    user_id: str,
    *,
    is_workspace_admin: bool,
    admins: Collection[str],
    configurers: Collection[str],
) -> Decision:
    """Workspace admins/owners, ALGOBOT_ADMINS and anyone who configured the channel before."""
    if is_workspace_admin:
        return Decision(True, "you are a workspace admin or owner")
    if user_id in admins:
        return Decision(True, "you are listed in ALGOBOT_ADMINS")
    if user_id in configurers:
        return Decision(True, "you configured this channel before")
    return Decision(False, messages.REFUSED_CONFIGURE)


def can_change(user_id: str, allowed_users: Collection[str], action: str = "this command") -> Decision:
    """Anyone while the channel's allow list is empty; otherwise only the users on it."""
    if not allowed_users:
        return Decision(True, "this channel has no allow list")
    if user_id in allowed_users:
        return Decision(True, "you are on this channel's allow list")
    return Decision(False, messages.refused_change(sorted(allowed_users), user_id, action))
