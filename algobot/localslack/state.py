"""`SlackState`: the state of a fake Slack workspace and its public API.

One re-entrant lock guards all state; a condition variable on it is notified after every change,
so `SlackState.wait_for` wakes exactly when something happened instead of sleeping in a loop.

The Web API handlers (`webapi`), the signing client (`client`), the page (`ui`), the history file
(`history`) and the HTTP routing (`wsgi`) use only the public methods here: none of them touches a
``_private`` member (a test enforces it). Several calls that must happen as one go inside
``with state.changing():`` (one wake-up at the end) or ``with state.reading():`` (a consistent read).
This module imports none of those, so they can all import it: the modules form no import cycle.

The constructor and the ``add_*`` / ``create_*`` helpers take their fields as keyword arguments,
one a line, as do their callers; `duplicates` pairs them (and such signatures elsewhere: the intake
queue, the responder, the signing client, the waitress server) by shape alone. A deliberate mirror:
each declares different fields, with no logic to share.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from .model import (
    SLACKBOT,
    Call,
    Channel,
    File,
    Interaction,
    Message,
    ResponseUrl,
    Script,
    SlackError,
    Trigger,
    User,
    View,
    Workspace,
    elements,
    redact,
    short,
    truthy,
    wait_until,
)
from .validation import validate_message

T = TypeVar("T")

NOWHERE = "http://localslack.invalid"
VIEW_STACK_MAX = 3  # Slack's modal stack: views.open plus two pushes


class SlackState:
    """A Slack workspace double with real state; see the package docstring for the public API."""

    def __init__(
        self,
        signing_secret: str,
        bot_token: str,
        team_id: str = "T0001",
        *,
        team_domain: str = "algobot-dev",
        team_name: str = "Algobot Dev",
        enterprise_id: str | None = None,
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0APP",
        app_token: str | None = None,
        socket_mode_url: str = "ws://127.0.0.1:9/localslack-socket-mode",
        verification_token: str = "localslack-verification-token",
        clock: Callable[[], float] = time.time,
        trigger_ttl: float = 3.0,
        response_url_ttl: float = 1800.0,
        response_url_max_uses: int = 5,
    ) -> None:
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.app_token = app_token
        self.socket_mode_url = socket_mode_url
        self.verification_token = verification_token
        self.clock = clock
        self.trigger_ttl = trigger_ttl
        self.response_url_ttl = response_url_ttl
        self.response_url_max_uses = response_url_max_uses
        self.default_team_id = team_id
        self.base_url = NOWHERE  # set by LocalSlackServer.start(); used for response/upload URLs
        self.server: Any = None  # the LocalSlackServer serving this, once started
        self.oauth_response: dict[str, Any] | None = None  # oauth.v2.access answer; None → derived
        self._bot_url: str | None = None  # see `bot_url`

        self._cond = threading.Condition(threading.RLock())
        self._version = 0  # bumped on every change; the browser page long-polls on it
        self._seq = 0  # the last number handed out for an id, a block_id or a trigger
        self._last_ts_us = 0
        self._tokens: dict[str, tuple[str, str]] = {}  # token → (kind, team_id)
        self._revoked: set[str] = set()
        self.workspaces: dict[str, Workspace] = {}
        self._channels: dict[str, Channel] = {}
        self._users: dict[str, User] = {}
        self._views: dict[str, View] = {}
        self._home_views: dict[str, View] = {}
        self._stacks: dict[str, list[str]] = {}
        self._files: dict[str, File] = {}
        self._triggers: dict[str, Trigger] = {}
        self._response_urls: dict[str, ResponseUrl] = {}
        self._calls: list[Call] = []
        self._interactions: list[Interaction] = []
        self._scripts: dict[str, deque[Script]] = {}

        self.add_workspace(
            team_id,
            domain=team_domain,
            name=team_name,
            bot_token=bot_token,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            enterprise_id=enterprise_id,
        )
        if app_token:
            self._tokens[app_token] = ("app", team_id)

    def __repr__(self) -> str:  # never the token or the secret
        return f"<LocalSlack team={self.default_team_id} base_url={self.base_url}>"

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def api_url(self) -> str:
        """What the bot's ``SLACK_API_URL`` / ``WebClient(base_url=...)`` is set to."""
        return self.base_url + "/api/"

    @property
    def bot_url(self) -> str | None:
        """The bot's request URL (``.../slack/events``), where the browser page sends commands and clicks."""
        return self._bot_url

    @bot_url.setter
    def bot_url(self, url: str | None) -> None:
        with self.changing():  # an open page notices (its "no bot" banner goes away)
            self._bot_url = url

    @property
    def default_workspace(self) -> Workspace:
        return self.workspaces[self.default_team_id]

    # ------------------------------------------------------------------ locking

    @contextlib.contextmanager
    def changing(self) -> Iterator[None]:
        """``with state.changing():`` several changes as one: lock held, then the version bumped and
        every waiter (`wait_for`, the page's long poll, the history file) woken once."""
        with self._cond:
            try:
                yield
            finally:
                self._version += 1
                self._cond.notify_all()

    def reading(self) -> AbstractContextManager[Any]:
        """``with state.reading():`` several reads that must agree (the lock, without a wake-up)."""
        return self._cond

    def wake(self) -> None:
        """Wake every waiter as if something changed (a thread that waits for changes uses it to stop)."""
        with self.changing():
            pass

    # ------------------------------------------------------------------ setup helpers

    def add_workspace(
        self,
        team_id: str,
        *,
        domain: str,
        name: str,
        bot_token: str,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        app_id: str = "A0APP",
        enterprise_id: str | None = None,
    ) -> Workspace:
        """Install the app in one more team (its own bot token, bot user and channels)."""
        with self.changing():
            suffix = team_id[1:]
            ws = Workspace(
                team_id=team_id,
                domain=domain,
                name=name,
                bot_user_id=bot_user_id or f"U0BOT{suffix}",
                bot_id=bot_id or f"B0BOT{suffix}",
                app_id=app_id,
                enterprise_id=enterprise_id,
                enterprise_name=f"Enterprise {enterprise_id}" if enterprise_id else None,
            )
            self.workspaces[team_id] = ws
            self._tokens[bot_token] = ("bot", team_id)
            self._users[ws.bot_user_id] = User(ws.bot_user_id, "algobot", team_id, "algobot", is_bot=True)
            return ws

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        team_id: str | None = None,
        is_private: bool = False,
        is_archived: bool = False,
        bot_member: bool = True,
        members: Iterable[str] | None = None,
    ) -> Channel:
        """Create a channel; ``members=None`` means every user is in it (the bot: ``bot_member``)."""
        with self.changing():
            channel = Channel(
                id=channel_id,
                name=name,
                team_id=team_id or self.default_team_id,
                created=int(self.clock()),
                is_private=is_private,
                is_archived=is_archived,
                bot_member=bot_member,
                members=set(members) if members is not None else None,
            )
            self._channels[channel_id] = channel
            return channel

    def open_dm(self, team_id: str, user_id: str) -> Channel:
        """The bot's direct-message channel with ``user_id``, created on first use (conversations.open)."""
        with self.changing():
            for channel in self._channels.values():
                if channel.is_im and channel.im_user == user_id:
                    return channel
            bot = self.workspaces[team_id].bot_user_id
            channel = self.add_channel(f"D0{user_id}", user_id, team_id=team_id, members={user_id, bot})
            channel.is_im, channel.im_user = True, user_id
            return channel

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        team_id: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        real_name: str = "",
        deleted: bool = False,
    ) -> User:
        with self.changing():
            user = User(
                id=user_id,
                name=name,
                team_id=team_id or self.default_team_id,
                real_name=real_name,
                is_admin=is_admin,
                is_owner=is_owner,
                is_primary_owner=is_owner,
                deleted=deleted,
            )
            self._users[user_id] = user
            return user

    def update_channel(self, channel_id: str, **changes: Any) -> Channel:
        """Change a channel's flags (``is_archived``, ``bot_member``, ``members``, ...) and wake waiters."""
        with self.changing():
            channel = self.channel(channel_id)
            for key, value in changes.items():
                if not hasattr(channel, key) or key in ("id", "messages"):
                    raise AttributeError(f"Channel has no settable field {key!r}")
                setattr(channel, key, set(value) if key == "members" and value is not None else value)
            return channel

    def revoke_token(self, token: str) -> None:
        """Make every later call with ``token`` answer ``token_revoked`` (app uninstalled)."""
        with self.changing():
            self._revoked.add(token)

    def script(
        self,
        method: str,
        response: Mapping[str, Any] | str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``response`` instead of the real behaviour.

        ``method`` is a Web API method (``"chat.postMessage"``) or ``"response_url"`` / ``"upload"``
        for those endpoints. Scripts for one method queue up in order.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        with self.changing():
            entry = Script(copy.deepcopy(response), status, dict(headers or {}), times)
            self._scripts.setdefault(method, deque()).append(entry)

    # ------------------------------------------------------------------ inspection

    def channel(self, channel_id: str) -> Channel:
        with self._cond:
            try:
                return self._channels[channel_id]
            except KeyError:
                raise KeyError(f"no channel {channel_id!r} in the local Slack") from None

    def user(self, user_id: str) -> User:
        with self._cond:
            try:
                return self._users[user_id]
            except KeyError:
                raise KeyError(f"no user {user_id!r} in the local Slack") from None

    def channels(self, team_id: str | None = None) -> list[Channel]:
        """Every channel (DMs included), or only ``team_id``'s."""
        with self._cond:
            return [c for c in self._channels.values() if team_id is None or c.team_id == team_id]

    def users(self, team_id: str | None = None) -> list[User]:
        """Every user (bots included), or only ``team_id``'s."""
        with self._cond:
            return [u for u in self._users.values() if team_id is None or u.team_id == team_id]

    def messages(self, channel: str, include_ephemeral_for: str | bool | None = None) -> list[Message]:
        """Every live message in ``channel`` (thread replies included) in ``ts`` order.

        Ephemeral messages are left out unless ``include_ephemeral_for`` is their user id (or True
        for all of them), because that is who would see them.
        """
        with self._cond:
            return [m for m in self.channel(channel).messages if m.visible_to(include_ephemeral_for)]

    def message(self, channel: str, ts: str, include_ephemeral_for: str | bool | None = True) -> Message | None:
        """The live message ``ts`` in ``channel`` (None if there is none, or it is deleted or unseen)."""
        with self._cond:
            found = self._channels.get(channel)
            if found is None:
                return None
            return next((m for m in found.messages if m.ts == ts and m.visible_to(include_ephemeral_for)), None)

    def thread(self, channel: str, ts: str, include_ephemeral_for: str | bool | None = None) -> list[Message]:
        """The thread rooted at ``ts``: parent first, then replies in order."""
        with self._cond:
            return [
                m
                for m in self.messages(channel, include_ephemeral_for)
                if m.ts == ts or (m.thread_ts == ts and m.ts != ts)
            ]

    def ephemerals(self, channel: str, user: str) -> list[Message]:
        with self._cond:
            return [m for m in self.messages(channel, user) if m.ephemeral_to == user]

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded requests (Web API methods, ``"response_url"``, ``"upload"``), oldest first."""
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def interactions(self, kind: str | None = None) -> list[Interaction]:
        """Requests the double sent to the bot (``slash_command``, ``block_actions``, ``view_submission``)."""
        with self._cond:
            return [i for i in self._interactions if kind is None or i.kind == kind]

    def view(self, view_id: str) -> View:
        with self._cond:
            try:
                return self._views[view_id]
            except KeyError:
                raise KeyError(f"no view {view_id!r} in the local Slack") from None

    def views(self, user: str | None = None, *, open_only: bool = True, kind: str | None = "modal") -> list[View]:
        """Modals (``kind=None``: also Home tabs), optionally only ``user``'s, open ones by default."""
        with self._cond:
            return [
                v
                for v in self._views.values()
                if (user is None or v.user == user)
                and not (open_only and v.closed)
                and (kind is None or v.type == kind)
            ]

    def view_stack(self, user: str) -> list[str]:
        """Ids of ``user``'s modal stack, bottom first (the one Slack shows is last)."""
        with self._cond:
            return list(self._stacks.get(user, []))

    def home_view(self, user: str) -> View | None:
        with self._cond:
            return self._home_views.get(user)

    def file(self, file_id: str) -> File:
        with self._cond:
            try:
                return self._files[file_id]
            except KeyError:
                raise KeyError(f"no file {file_id!r} in the local Slack") from None

    def files(self) -> list[File]:
        with self._cond:
            return list(self._files.values())

    @property
    def version(self) -> int:
        """A counter bumped by every change of state (``GET /_ui/changes`` waits for it to move)."""
        with self._cond:
            return self._version

    @property
    def sequence(self) -> int:
        """The last number used for a generated id (the history file keeps it so ids are not reused)."""
        with self._cond:
            return self._seq

    def wait_for_change(self, since: int, timeout: float, *, poll: float = 0.25) -> int:
        """Wait until `version` differs from ``since`` (or ``timeout`` passes); return the version.

        Waits in slices of ``poll`` seconds so that once the `LocalSlackServer` is closing the
        request thread is released at once instead of holding up the shutdown for ``timeout``.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while self._version == since and not self._closing():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, poll))
            return self._version

    def _closing(self) -> bool:
        server = self.server  # a LocalSlackServer is marked closed first thing in close()
        return server is not None and bool(getattr(server, "closed", False))

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, message: str = "") -> T:
        """Block until ``predicate()`` is truthy and return it; woken by every state change.

        The predicate runs under the state lock, so it sees a consistent snapshot. On timeout
        raises AssertionError with the recent calls and messages, which is usually the diagnosis.
        """
        result = wait_until(self._cond, predicate, timeout)
        if not result:
            what = message or getattr(predicate, "__name__", "condition")
            raise AssertionError(f"local Slack: {what} not met within {timeout}s\n{self.dump()}")
        return result

    def dump(self, last_calls: int = 25) -> str:
        """A human-readable summary of recent calls, messages and open views."""
        with self._cond:
            lines = [f"calls (last {last_calls} of {len(self._calls)}):"]
            for call in self._calls[-last_calls:]:
                outcome = call.response.get("error", "ok") if isinstance(call.response, dict) else call.status
                args = short(json.dumps(call.args, default=str), 160)
                scripted = " (scripted)" if call.scripted else ""
                lines.append(f"  {call.method} -> {call.status} {outcome}{scripted} {args}")
            for channel in self._channels.values():
                if channel.messages:
                    lines.append(f"messages in {channel.id} ({channel.name}):")
                for m in channel.messages:
                    flags = "".join(
                        [
                            " deleted" if m.deleted else "",
                            f" ephemeral_to={m.ephemeral_to}" if m.ephemeral_to else "",
                            f" thread_ts={m.thread_ts}" if m.is_reply else "",
                            f" files={[f.name for f in m.files]}" if m.files else "",
                            f" blocks={len(m.blocks)}" if m.blocks else "",
                        ]
                    )
                    lines.append(f"  {m.ts} {m.user}{flags}: {short(m.text, 120)!r}")
            open_views = [v for v in self._views.values() if not v.closed]
            if open_views:
                lines.append("open views:")
                lines.extend(f"  {v.id} user={v.user} callback_id={v.callback_id!r}" for v in open_views)
            return "\n".join(lines)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able overview for the inspection endpoint (``GET /_state``)."""
        with self._cond:
            return {
                "teams": [ws.to_dict() for ws in self.workspaces.values()],
                "channels": [c.to_dict() for c in self._channels.values()],
                "users": [u.to_dict() for u in self._users.values()],
                "views": [v.to_dict() | {"user": v.user, "closed": v.closed} for v in self._views.values()],
                "calls": len(self._calls),
            }

    # ------------------------------------------------------------------ tokens, scripts and records

    def token_owner(self, token: str | None) -> tuple[str, Workspace]:
        """``(kind, workspace)`` of a token (``"bot"`` or ``"app"``); SlackError as Slack answers a bad one."""
        with self._cond:
            if not token:
                raise SlackError("not_authed")
            if token in self._revoked:
                raise SlackError("token_revoked")
            entry = self._tokens.get(token)
            if entry is None:
                raise SlackError("invalid_auth")
            kind, team_id = entry
            return kind, self.workspaces[team_id]

    def take_script(self, method: str) -> Script | None:
        """The scripted answer for this call of ``method``, if one is queued (it counts as used)."""
        with self.changing():
            queue = self._scripts.get(method)
            if not queue:
                return None
            entry = queue[0]
            entry.remaining -= 1
            if entry.remaining <= 0:
                queue.popleft()
            return entry

    def record_call(
        self, method: str, args: dict[str, Any], headers: dict[str, str], status: int, body: Any, scripted: bool
    ) -> None:
        """Keep one request the double answered (`calls`), credentials blanked."""
        with self.changing():
            self._calls.append(Call(method, redact(args), dict(headers), time.time(), status, redact(body), scripted))

    def record_interaction(self, interaction: Interaction) -> None:
        """Keep one request the double sent to the bot (`interactions`)."""
        with self.changing():
            self._interactions.append(interaction)

    # ------------------------------------------------------------------ ids and timestamps

    def next_ts(self) -> str:
        """Message timestamps: current time in microseconds, strictly increasing like Slack's."""
        with self.changing():
            self._last_ts_us = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def issue_trigger_id(self, user: str, channel: str | None = None, team_id: str | None = None) -> str:
        """A fresh trigger_id (what Slack puts in every interaction payload)."""
        with self.changing():
            team = team_id or self._team_of(channel=channel, user=user)
            number = self._next_seq()
            trigger_id = f"{number}.{int(self.clock())}.{secrets.token_hex(8)}"
            self._triggers[trigger_id] = Trigger(trigger_id, team, user, self.clock(), channel)
            return trigger_id

    def issue_response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A fresh response_url bound to (channel, user) and optionally the message clicked."""
        with self.changing():
            url_id = secrets.token_hex(12)
            url = f"{self.base_url}/response/{url_id}"
            team = self._team_of(channel=channel, user=user)
            self._response_urls[url_id] = ResponseUrl(url_id, url, team, channel, user, self.clock(), message_ts)
            return url

    def check_trigger(self, trigger_id: Any, team_id: str) -> Trigger:
        """The trigger a views.open/push names, if still usable (`open_view`/`push_view` use it up)."""
        with self._cond:
            trigger = self._triggers.get(str(trigger_id or ""))
            if trigger is None or trigger.team_id != team_id:
                raise SlackError("invalid_trigger_id")
            if trigger.used:
                raise SlackError("exchanged_trigger_id")
            if self.clock() - trigger.issued_at > self.trigger_ttl:
                raise SlackError("expired_trigger_id")
            return trigger

    # ------------------------------------------------------------------ messages

    def post(
        self,
        channel: Channel,
        fields: dict[str, Any],
        *,
        user: str | None = None,
        thread_ts: str | None = None,
        ephemeral_to: str | None = None,
        files: list[File] | None = None,
        reply_broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
        source: str = "api",
    ) -> Message:
        """Store a message (from the bot unless ``user``); ``fields`` are already validated.

        A reply to a reply joins the parent's thread, as in Slack.
        """
        with self.changing():
            ws = self.workspaces[channel.team_id]
            from_bot = user is None
            ts = self.next_ts()
            parent = None
            if thread_ts:
                parent = self.message(channel.id, str(thread_ts), include_ephemeral_for=None)
                if parent is not None and parent.is_reply:
                    thread_ts = parent.thread_ts
                    parent = self.message(channel.id, str(thread_ts), include_ephemeral_for=None)
            message = Message(
                channel=channel.id,
                ts=ts,
                user=ws.bot_user_id if from_bot else str(user),
                text=fields.get("text", ""),
                blocks=self._fill_ids(fields.get("blocks")),
                attachments=fields.get("attachments"),
                thread_ts=str(thread_ts) if thread_ts else None,
                ephemeral_to=ephemeral_to,
                files=list(files or []),
                bot_id=ws.bot_id if from_bot else None,
                app_id=ws.app_id if from_bot else None,
                team_id=channel.team_id,
                metadata=metadata,
                reply_broadcast=reply_broadcast,
                source=source,
            )
            if parent is not None and ephemeral_to is None:
                parent.thread_ts = parent.ts
                parent.replies.append(ts)
            channel.messages.append(message)
            return message

    def post_slackbot_note(self, channel: str, user: str, text: str) -> Message:
        """Slackbot's ephemeral to ``user`` (how Slack reports a slash command that failed)."""
        with self.changing():
            return self.post(self.channel(channel), {"text": text}, user=SLACKBOT, ephemeral_to=user, source="slack")

    def update_message(
        self, message: Message, fields: dict[str, Any], editor: str, *, metadata: dict[str, Any] | None = None
    ) -> None:
        """Edit in place (chat.update, replace_original), keeping the earlier version in ``history``;
        ``metadata``, when given, replaces the message's metadata (as chat.update's does)."""
        with self.changing():
            message.history.append(
                {
                    "text": message.text,
                    "blocks": message.blocks,
                    "attachments": message.attachments,
                    "edited_ts": (message.edited or {}).get("ts"),
                }
            )
            if "text" in fields:
                message.text = fields["text"]
            if "blocks" in fields:
                message.blocks = self._fill_ids(fields["blocks"])
            if "attachments" in fields:
                message.attachments = fields["attachments"]
            if metadata is not None:
                message.metadata = metadata
            message.edited = {"user": editor, "ts": self.next_ts()}

    def delete_message(self, message: Message) -> None:
        with self.changing():
            message.deleted = True

    def apply_reply(self, response_url: str, payload: dict[str, Any]) -> None:
        """What Slack does with a response_url post (or with the body of a slash command's ack).

        Raises SlackError when Slack would refuse the message.
        """
        with self.changing():
            target = self._response_urls[response_url.rsplit("/", 1)[-1]]
            channel = self._channels[target.channel]
            original = (
                self.message(target.channel, target.message_ts, include_ephemeral_for=target.user)
                if target.message_ts
                else None
            )
            if truthy(payload.get("delete_original")):
                if original is not None:
                    original.deleted = True
                return
            fields = validate_message(payload)
            if truthy(payload.get("replace_original")) and original is not None:
                self.update_message(original, fields, self.workspaces[channel.team_id].bot_user_id)
                return
            thread_ts = payload.get("thread_ts")
            if payload.get("response_type") == "in_channel":
                self.post(channel, fields, thread_ts=thread_ts, source="response_url")
            else:
                self.post(channel, fields, thread_ts=thread_ts, ephemeral_to=target.user, source="response_url")

    def handle_response_url(
        self, url_id: str, payload: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """A POST to a response_url: Slack's use limit and expiry, then post/replace/delete."""
        with self.changing():
            args = payload if isinstance(payload, dict) else {"raw": payload}
            scripted = self.take_script("response_url")
            if scripted is not None:
                status, body, extra = scripted.status, scripted.response, scripted.headers
            else:
                extra = {}
                status, body = self._respond(url_id, payload)
            self.record_call("response_url", {**args, "response_url_id": url_id}, headers, status, body, bool(scripted))
            return status, body, extra

    # ------------------------------------------------------------------ views

    def open_view(self, ws: Workspace, trigger: Trigger, payload: dict[str, Any]) -> View:
        """views.open: uses up ``trigger`` and replaces the user's whole modal stack."""
        with self.changing():
            trigger.used = True
            self.clear_views(trigger.user)
            view = self._new_view(ws, trigger.user, payload)
            self._stacks[trigger.user] = [view.id]
            return view

    def push_view(
        self,
        ws: Workspace,
        user: str,
        payload: dict[str, Any],
        *,
        trigger: Trigger | None = None,
        on: View | None = None,
    ) -> View:
        """views.push (with its ``trigger``) or ``response_action: push`` (``on`` the submitted view).

        Raises ``push_limit_reached`` when the stack already holds three views, as Slack does.
        """
        with self.changing():
            stack = self._stacks.setdefault(user, [on.id] if on is not None else [])
            if len(stack) >= VIEW_STACK_MAX:
                raise SlackError("push_limit_reached")
            if trigger is not None:
                trigger.used = True
            previous = on if on is not None else (self._views[stack[-1]] if stack else None)
            view = self._new_view(ws, user, payload, previous=previous)
            stack.append(view.id)
            return view

    def find_view(self, team_id: str, *, view_id: str | None = None, external_id: str | None = None) -> View | None:
        """A team's view by id, else by ``external_id`` (views.update accepts either)."""
        with self._cond:
            for view in self._views.values():
                if view.team_id == team_id and (view.id == view_id if view_id else view.external_id == external_id):
                    return view
            return None

    def update_view(self, view: View, payload: dict[str, Any]) -> None:
        """Replace a view's content (views.update, ``response_action: update``); it gets a new hash."""
        with self.changing():
            view.history.append(view.payload)
            view.payload = dict(payload, blocks=self._fill_ids(payload.get("blocks")))
            view.hash = self._new_hash()
            view.errors = None

    def publish_home(self, ws: Workspace, user: str, payload: dict[str, Any]) -> View:
        """views.publish: the user's Home tab, created or replaced."""
        with self.changing():
            current = self._home_views.get(user)
            if current is None:
                current = self._home_views[user] = self._new_view(ws, user, payload)
            else:
                self.update_view(current, payload)
            return current

    def submit_state(self, view: View, state_values: dict[str, Any]) -> None:
        """What the user entered in a modal, as it goes out in the ``view_submission``."""
        with self.changing():
            view.state_values = state_values

    def show_errors(self, view: View, errors: dict[str, str]) -> None:
        """``response_action: errors``: the modal stays open with these messages under its inputs."""
        with self.changing():
            view.errors = errors

    def close_view(self, view: View) -> None:
        """Close a modal and every view pushed on top of it."""
        with self.changing():
            view.closed = True
            stack = self._stacks.get(view.user, [])
            if view.id in stack:
                del stack[stack.index(view.id) :]

    def clear_views(self, user: str) -> None:
        """Close the user's whole modal stack (``response_action: clear``)."""
        with self.changing():
            for view_id in self._stacks.pop(user, []):
                self._views[view_id].closed = True

    # ------------------------------------------------------------------ files

    def create_file(
        self,
        ws: Workspace,
        name: str,
        length: int,
        *,
        alt_txt: str | None = None,
        snippet_type: str | None = None,
    ) -> File:
        """files.getUploadURLExternal: a file waiting for its bytes (`handle_upload`)."""
        with self.changing():
            file = File(
                id=self._next_id("F"),
                team_id=ws.team_id,
                user=ws.bot_user_id,
                name=name,
                length=length,
                created=int(self.clock()),
                alt_txt=alt_txt,
                snippet_type=snippet_type,
            )
            self._files[file.id] = file
            return file

    def handle_upload(self, file_id: str, content: bytes, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """The bytes of a files.getUploadURLExternal upload arrive here."""
        with self.changing():
            scripted = self.take_script("upload")
            if scripted is not None:
                status, body, extra = scripted.status, scripted.response, scripted.headers
            else:
                extra = {}
                file = self._files.get(file_id)
                if file is None:
                    status, body = 404, "file_not_found"
                else:
                    file.content = content
                    status, body = 200, f"OK - {len(content)}"
            args = {"file_id": file_id, "size": len(content)}
            self.record_call("upload", args, headers, status, body, bool(scripted))
            return status, body, extra

    def share_files(
        self, files: list[tuple[File, str]], channels: list[Channel], *, thread_ts: str | None, comment: str
    ) -> None:
        """files.completeUploadExternal: each ``(file, title)`` completed, one message per channel."""
        with self.changing():
            for file, title in files:
                file.title = title
                file.completed = True
                file.channels = [c.id for c in channels]
                file.thread_ts = thread_ts
            shared = [file for file, _ in files]
            for channel in channels:
                self.post(channel, {"text": comment}, thread_ts=thread_ts, files=shared, source="files")

    # ------------------------------------------------------------------ history (see `history`)

    def restore(self, messages: Mapping[str, list[Message]], files: Mapping[str, File], sequence: int) -> int:
        """Put saved messages back before any new ones, in the channels that exist; returns how many.

        New timestamps come after every restored one and new ids after ``sequence``, so nothing is reused.
        """
        count = 0
        with self.changing():
            self._files.update(files)
            for channel_id, kept in messages.items():
                channel = self._channels.get(channel_id)
                if channel is None:
                    continue
                channel.messages[:0] = kept
                count += len(kept)
                for message in kept:
                    for ts in (message.ts, (message.edited or {}).get("ts")):
                        if ts:
                            seconds, _, micros = str(ts).partition(".")
                            stamp = int(seconds) * 1_000_000 + int(micros.ljust(6, "0")[:6] or 0)
                            self._last_ts_us = max(self._last_ts_us, stamp)
            self._seq = max(self._seq, sequence)
        return count

    # ------------------------------------------------------------------ internals (lock held)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _next_id(self, prefix: str) -> str:
        """A fresh id such as ``F00000012`` (files, views)."""
        return f"{prefix}{self._next_seq():08d}"

    def _team_of(self, *, channel: str | None = None, user: str | None = None) -> str:
        if channel and channel in self._channels:
            return self._channels[channel].team_id
        if user and user in self._users:
            return self._users[user].team_id
        return self.default_team_id

    def _fill_ids(self, blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """Slack stores a block_id on every block and an action_id on every element; so do we."""
        if blocks is None:
            return None
        blocks = copy.deepcopy(blocks)
        for block in blocks:
            block.setdefault("block_id", f"ls{self._next_seq()}")
            for element in elements(block):
                if "type" in element and element["type"] not in ("plain_text", "mrkdwn", "image"):
                    element.setdefault("action_id", f"la{self._next_seq()}")
        return blocks

    def _respond(self, url_id: str, payload: Any) -> tuple[int, str]:
        target = self._response_urls.get(url_id)
        if target is None:
            return 404, "no_service"
        if self.clock() - target.issued_at > self.response_url_ttl:
            return 404, "expired_url"
        if target.uses >= self.response_url_max_uses:
            return 404, "used_url"
        if not isinstance(payload, dict):
            return 400, "invalid_payload"
        try:
            self.apply_reply(target.url, payload)
        except SlackError as exc:
            return 400, exc.error
        target.uses += 1
        return 200, "ok"

    def _new_view(self, ws: Workspace, user: str, payload: dict[str, Any], previous: View | None = None) -> View:
        view_id = self._next_id("V")
        payload = dict(payload, blocks=self._fill_ids(payload.get("blocks")))
        view = View(
            id=view_id,
            team_id=ws.team_id,
            user=user,
            payload=payload,
            hash=self._new_hash(),
            root_view_id=previous.root_view_id if previous else view_id,
            app_id=ws.app_id,
            bot_id=ws.bot_id,
            previous_view_id=previous.id if previous else None,
        )
        self._views[view_id] = view
        return view

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"
