"""State objects of the local Slack: workspaces, channels, users, messages, views, files, calls.

Plain dataclasses with a ``to_dict()`` that renders Slack's JSON shape, so the Web API answers,
the interaction payloads and the inspection endpoint all describe an object the same way.
The ``to_dict()`` methods look alike on purpose (a deliberate mirror, paired by `duplicates`): each
lists its own object's fields in Slack's JSON, with no logic to share.
They are mutated only by `LocalSlack` under its lock; tests read them. The small helpers at the
end are shared by the state (`state`), the Web API (`webapi`) and the signing client (`client`).
"""

from __future__ import annotations

import copy
import mimetypes
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

SLACKBOT = "USLACKBOT"
_SECRET_KEYS = frozenset({"token", "access_token", "client_secret", "refresh_token"})


class SlackError(Exception):
    """A Web API error answer: ``{"ok": false, "error": error, **extra}`` (HTTP 200, like Slack)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


@dataclass
class Workspace:
    """One team the app is installed in; the bot's identity there comes with it."""

    team_id: str
    domain: str
    name: str
    bot_user_id: str
    bot_id: str
    app_id: str
    enterprise_id: str | None = None
    enterprise_name: str | None = None

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.domain, "name": self.name}


@dataclass
class User:
    """A workspace member; ``is_admin``/``is_owner`` are what the bot's permission checks read."""

    id: str
    name: str
    team_id: str
    real_name: str = ""
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "UTC"

    def to_dict(self) -> dict[str, Any]:
        real_name = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": real_name,
            "deleted": self.deleted,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "tz": self.tz,
            "profile": {"real_name": real_name, "display_name": self.name, "team": self.team_id},
        }


@dataclass
class Channel:
    """A conversation. ``members=None`` means every user of the workspace is in it."""

    id: str
    name: str
    team_id: str
    created: int
    is_private: bool = False
    is_archived: bool = False
    is_im: bool = False
    bot_member: bool = True
    members: set[str] | None = None
    im_user: str | None = None
    messages: list[Message] = field(default_factory=list, repr=False)

    def has_member(self, user_id: str) -> bool:
        return self.members is None or user_id in self.members

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_im": self.is_im,
            "context_team_id": self.team_id,
        }
        if self.is_im:
            data.update({"user": self.im_user, "is_open": True})
            return data
        data.update(
            {
                "name": self.name,
                "name_normalized": self.name,
                "is_channel": not self.is_private,
                "is_group": self.is_private,
                "is_private": self.is_private,
                "is_general": False,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "is_member": self.bot_member,
                "shared_team_ids": [self.team_id],
            }
        )
        return data


@dataclass
class File:
    """A file uploaded through files.getUploadURLExternal → upload URL → files.completeUploadExternal."""

    id: str
    team_id: str
    user: str
    name: str
    length: int
    created: int
    title: str = ""
    alt_txt: str | None = None
    snippet_type: str | None = None
    content: bytes | None = None
    completed: bool = False
    channels: list[str] = field(default_factory=list)
    thread_ts: str | None = None

    @property
    def text(self) -> str:
        """The uploaded bytes as UTF-8 text (what tests usually want to assert on)."""
        return (self.content or b"").decode("utf-8", errors="replace")

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "timestamp": self.created,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": self.mimetype,
            "filetype": self.name.rsplit(".", 1)[-1] if "." in self.name else "binary",
            "user": self.user,
            "user_team": self.team_id,
            "size": len(self.content) if self.content is not None else 0,
            "mode": "hosted",
            "is_external": False,
            "is_public": bool(self.channels),
            "channels": list(self.channels),
            "alt_txt": self.alt_txt,
            "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{self.id}/{self.name}",
        }


@dataclass
class Message:
    """A message in a channel (or an ephemeral one, visible only to ``ephemeral_to``).

    ``history`` keeps every earlier version (``{"text", "blocks", "edited_ts"}``) so tests can see
    that the bot updated a message in place rather than posting a new one.
    """

    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    attachments: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    ephemeral_to: str | None = None
    files: list[File] = field(default_factory=list)
    bot_id: str | None = None
    app_id: str | None = None
    team_id: str | None = None
    metadata: dict[str, Any] | None = None
    reply_broadcast: bool = False
    edited: dict[str, str] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    source: str = "api"
    replies: list[str] = field(default_factory=list)

    @property
    def is_ephemeral(self) -> bool:
        return self.ephemeral_to is not None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def visible_to(self, include_ephemeral_for: str | bool | None) -> bool:
        """Not deleted, and not someone else's ephemeral (``True``: every ephemeral counts)."""
        if self.deleted:
            return False
        if self.ephemeral_to is None:
            return True
        return include_ephemeral_for is True or self.ephemeral_to == include_ephemeral_for

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "user": self.user, "text": self.text}
        if self.bot_id:
            data.update({"bot_id": self.bot_id, "app_id": self.app_id})
        if self.team_id:
            data["team"] = self.team_id
        if self.blocks is not None:
            data["blocks"] = self.blocks
        if self.attachments is not None:
            data["attachments"] = self.attachments
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.replies:
            data.update({"reply_count": len(self.replies), "latest_reply": self.replies[-1]})
        if self.files:
            data.update({"files": [f.to_dict() for f in self.files], "upload": True})
        if self.metadata is not None:
            data["metadata"] = self.metadata
        if self.edited:
            data["edited"] = dict(self.edited)
        if self.reply_broadcast:
            data["subtype"] = "thread_broadcast"
        return data


@dataclass
class View:
    """A modal (or Home tab) the bot opened; ``errors`` holds the last ``response_action: errors``."""

    id: str
    team_id: str
    user: str
    payload: dict[str, Any]
    hash: str
    root_view_id: str
    app_id: str
    bot_id: str
    previous_view_id: str | None = None
    state_values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] | None = None
    closed: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def type(self) -> str:
        return str(self.payload.get("type", "modal"))

    @property
    def callback_id(self) -> str:
        return str(self.payload.get("callback_id") or "")

    @property
    def private_metadata(self) -> str:
        return str(self.payload.get("private_metadata") or "")

    @property
    def external_id(self) -> str:
        return str(self.payload.get("external_id") or "")

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.payload.get("blocks") or [])

    @property
    def title(self) -> str:
        title = self.payload.get("title") or {}
        return str(title.get("text", "")) if isinstance(title, dict) else str(title)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "team_id": self.team_id,
            "type": self.type,
            "blocks": self.blocks,
            "private_metadata": self.private_metadata,
            "callback_id": self.callback_id,
            "state": {"values": self.state_values},
            "hash": self.hash,
            "title": self.payload.get("title"),
            "clear_on_close": bool(self.payload.get("clear_on_close", False)),
            "notify_on_close": bool(self.payload.get("notify_on_close", False)),
            "close": self.payload.get("close"),
            "submit": self.payload.get("submit"),
            "previous_view_id": self.previous_view_id,
            "root_view_id": self.root_view_id,
            "app_id": self.app_id,
            "external_id": self.external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }


@dataclass(frozen=True)
class Call:
    """One request the double received. ``args`` never holds a token; headers carry no credential."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    time: float
    status: int
    response: Any
    scripted: bool = False


@dataclass
class Trigger:
    """A trigger_id the double handed out with an interaction; single use and short-lived."""

    id: str
    team_id: str
    user: str
    issued_at: float
    channel: str | None = None
    used: bool = False


@dataclass
class ResponseUrl:
    """A response_url bound to (channel, user) and, for clicks, to the message clicked."""

    id: str
    url: str
    team_id: str
    channel: str
    user: str
    issued_at: float
    message_ts: str | None = None
    uses: int = 0


@dataclass
class Interaction:
    """One request the double sent to the bot as Slack would, and what the bot answered."""

    kind: str
    payload: dict[str, Any]
    status: int
    body: str
    elapsed: float
    response_url: str | None = None
    trigger_id: str | None = None
    error: str | None = None


@dataclass
class Script:
    """A canned answer queued with `LocalSlack.script`, used for the next ``remaining`` calls."""

    response: Any
    status: int
    headers: dict[str, str]
    remaining: int


# ---------------------------------------------------------------------- shared helpers


def truthy(value: Any) -> bool:
    """Slack's boolean args arrive as JSON booleans or as form strings ("true", "1")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Interactive elements of a block: actions.elements, section.accessory, input.element."""
    found: list[dict[str, Any]] = []
    for key in ("elements", "accessory", "element"):
        value = block.get(key)
        if isinstance(value, dict):
            found.append(value)
        elif isinstance(value, list) and block.get("type") == "actions":
            found.extend(v for v in value if isinstance(v, dict))
    return found


def redact(value: Any) -> Any:
    """A deep copy with credentials blanked, so records and the inspection endpoint never hold one."""
    if isinstance(value, dict):
        return {k: "(redacted)" if k in _SECRET_KEYS else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return copy.deepcopy(value)


def short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (for dumps, never for Slack)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wait_until(cond: threading.Condition, predicate: Callable[[], T], timeout: float) -> T | None:
    """Wait on `cond` (notified on every change) until predicate() is truthy; None on timeout.

    The predicate runs with the condition's lock held, so it sees a consistent state.
    """
    deadline = time.monotonic() + timeout
    with cond:
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            cond.wait(remaining)
