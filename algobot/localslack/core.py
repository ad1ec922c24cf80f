"""`LocalSlack`: the state of a fake Slack workspace and every operation on it.

One re-entrant lock guards all state; a condition variable on it is notified after every change,
so `LocalSlack.wait_for` wakes exactly when something happened instead of sleeping in a loop.
The Web API handlers (`webapi`), the WSGI routing (`wsgi`) and the signing client (`client`) all
go through the methods here.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from . import client, webapi
from .model import (
    Call,
    Channel,
    File,
    Interaction,
    Message,
    ResponseUrl,
    SlackError,
    Trigger,
    User,
    View,
    Workspace,
)
from .validation import validate_message
from .wsgi import LocalSlackWSGI

log = logging.getLogger(__name__)

T = TypeVar("T")

SLACKBOT = "USLACKBOT"
NOWHERE = "http://localslack.invalid"
_SECRET_KEYS = frozenset({"token", "access_token", "client_secret", "refresh_token"})


@dataclass
class _Script:
    response: Any
    status: int
    headers: dict[str, str]
    remaining: int


def truthy(value: Any) -> bool:
    """Slack's boolean args arrive as JSON booleans or as form strings ("true", "1")."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


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


class LocalSlack:
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
        self._seq = itertools.count(1)
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
        self._scripts: dict[str, deque[_Script]] = {}

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

        self.wsgi_app = LocalSlackWSGI(self)

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
        with self._changing():  # an open page notices (its "no bot" banner goes away)
            self._bot_url = url

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
        with self._changing():
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
        with self._changing():
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
        with self._changing():
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
        with self._changing():
            channel = self.channel(channel_id)
            for key, value in changes.items():
                if not hasattr(channel, key) or key in ("id", "messages"):
                    raise AttributeError(f"Channel has no settable field {key!r}")
                setattr(channel, key, set(value) if key == "members" and value is not None else value)
            return channel

    def revoke_token(self, token: str) -> None:
        """Make every later call with ``token`` answer ``token_revoked`` (app uninstalled)."""
        with self._changing():
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
        with self._changing():
            entry = _Script(copy.deepcopy(response), status, dict(headers or {}), times)
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

    def channels(self) -> list[Channel]:
        with self._cond:
            return list(self._channels.values())

    def users(self) -> list[User]:
        with self._cond:
            return list(self._users.values())

    def messages(self, channel: str, include_ephemeral_for: str | bool | None = None) -> list[Message]:
        """Every live message in ``channel`` (thread replies included) in ``ts`` order.

        Ephemeral messages are left out unless ``include_ephemeral_for`` is their user id (or True
        for all of them), because that is who would see them.
        """
        with self._cond:
            return [m for m in self.channel(channel).messages if _visible(m, include_ephemeral_for)]

    def message(self, channel: str, ts: str) -> Message | None:
        with self._cond:
            return self._find_message(channel, ts, include_ephemeral_for=True)

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

    def home_view(self, user: str) -> View | None:
        with self._cond:
            return self._home_views.get(user)

    def files(self) -> list[File]:
        with self._cond:
            return list(self._files.values())

    @property
    def version(self) -> int:
        """A counter bumped by every change of state (``GET /_ui/changes`` waits for it to move)."""
        with self._cond:
            return self._version

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
                args = _short(json.dumps(call.args, default=str), 160)
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
                    lines.append(f"  {m.ts} {m.user}{flags}: {_short(m.text, 120)!r}")
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

    # ------------------------------------------------------------------ the Slack side of interactions

    def send_command(
        self,
        bot_url: str,
        *,
        user: str,
        channel: str,
        text: str,
        command: str = "/algo",
        timestamp: int | str | None = None,
        secret: str | None = None,
        timeout: float = 10.0,
    ) -> requests.Response:
        """POST a signed slash command to the bot exactly as Slack does; apply its immediate reply."""
        return client.send_command(
            self,
            bot_url,
            user=user,
            channel=channel,
            text=text,
            command=command,
            timestamp=timestamp,
            secret=secret,
            timeout=timeout,
        )

    def click(
        self,
        bot_url: str,
        *,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
        timeout: float = 10.0,
    ) -> requests.Response:
        """POST a signed ``block_actions`` payload for a button (or select) in a stored message."""
        return client.click(
            self,
            bot_url,
            user=user,
            channel=channel,
            message_ts=message_ts,
            action_id=action_id,
            value=value,
            block_id=block_id,
            timestamp=timestamp,
            secret=secret,
            timeout=timeout,
        )

    def submit_view(
        self,
        bot_url: str,
        *,
        user: str,
        view_id: str,
        values: Mapping[str, Any] | None = None,
        timestamp: int | str | None = None,
        secret: str | None = None,
        timeout: float = 10.0,
    ) -> requests.Response:
        """POST a signed ``view_submission`` for an open modal; apply its ``response_action``."""
        return client.submit_view(
            self,
            bot_url,
            user=user,
            view_id=view_id,
            values=values,
            timestamp=timestamp,
            secret=secret,
            timeout=timeout,
        )

    def issue_trigger_id(self, user: str, channel: str | None = None, team_id: str | None = None) -> str:
        """A fresh trigger_id (what Slack puts in every interaction payload)."""
        with self._changing():
            team = team_id or self._team_of(channel=channel, user=user)
            number = next(self._seq)
            trigger_id = f"{number}.{int(self.clock())}.{secrets.token_hex(8)}"
            self._triggers[trigger_id] = Trigger(trigger_id, team, user, self.clock(), channel)
            return trigger_id

    def issue_response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A fresh response_url bound to (channel, user) and optionally the message clicked."""
        with self._changing():
            url_id = secrets.token_hex(12)
            url = f"{self.base_url}/response/{url_id}"
            team = self._team_of(channel=channel, user=user)
            self._response_urls[url_id] = ResponseUrl(url_id, url, team, channel, user, self.clock(), message_ts)
            return url

    # ------------------------------------------------------------------ request entry points (wsgi)

    def handle_api(
        self, method: str, args: dict[str, Any], token: str | None, headers: dict[str, str], base_url: str
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one Web API call: scripted answer if any, else the real behaviour. Always recorded."""
        with self._changing():
            scripted = self._pop_script(method)
            if scripted is not None:
                status, body, extra_headers = scripted.status, scripted.response, scripted.headers
            else:
                status, extra_headers = 200, {}
                try:
                    workspace = self._authenticate(method, token)
                    body = webapi.dispatch(self, method, args, workspace, base_url, headers)
                except SlackError as exc:
                    body = exc.to_dict()
            self._record(method, args, headers, status, body, scripted is not None)
            log.debug("local Slack %s -> %s", method, body.get("error", "ok") if isinstance(body, dict) else status)
            return status, body, extra_headers

    def handle_response_url(
        self, url_id: str, payload: Any, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        """A POST to a response_url: Slack's use limit and expiry, then post/replace/delete."""
        with self._changing():
            args = payload if isinstance(payload, dict) else {"raw": payload}
            scripted = self._pop_script("response_url")
            if scripted is not None:
                status, body, extra = scripted.status, scripted.response, scripted.headers
            else:
                extra = {}
                status, body = self._respond(url_id, payload)
            self._record("response_url", {**args, "response_url_id": url_id}, headers, status, body, bool(scripted))
            return status, body, extra

    def handle_upload(self, file_id: str, content: bytes, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        """The bytes of a files.getUploadURLExternal upload arrive here."""
        with self._changing():
            scripted = self._pop_script("upload")
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
            self._record("upload", {"file_id": file_id, "size": len(content)}, headers, status, body, bool(scripted))
            return status, body, extra

    # ------------------------------------------------------------------ internals (lock held)

    def _changing(self) -> _Changing:
        return _Changing(self)

    def _pop_script(self, method: str) -> _Script | None:
        queue = self._scripts.get(method)
        if not queue:
            return None
        entry = queue[0]
        entry.remaining -= 1
        if entry.remaining <= 0:
            queue.popleft()
        return entry

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        headers: dict[str, str],
        status: int,
        body: Any,
        scripted: bool,
    ) -> None:
        self._calls.append(Call(method, _redact(args), dict(headers), time.time(), status, _redact(body), scripted))

    def _authenticate(self, method: str, token: str | None) -> Workspace:
        if method in webapi.NO_AUTH:
            return self.workspaces[self.default_team_id]
        if not token:
            raise SlackError("not_authed")
        if token in self._revoked:
            raise SlackError("token_revoked")
        entry = self._tokens.get(token)
        if entry is None:
            raise SlackError("invalid_auth")
        kind, team_id = entry
        if (kind == "app") != (method in webapi.APP_TOKEN_METHODS):
            raise SlackError("not_allowed_token_type")
        return self.workspaces[team_id]

    def _team_of(self, *, channel: str | None = None, user: str | None = None) -> str:
        if channel and channel in self._channels:
            return self._channels[channel].team_id
        if user and user in self._users:
            return self._users[user].team_id
        return self.default_team_id

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):08d}"

    def _next_ts(self) -> str:
        """Message timestamps: current time in microseconds, strictly increasing like Slack's."""
        self._last_ts_us = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _fill_ids(self, blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """Slack stores a block_id on every block and an action_id on every element; so do we."""
        if blocks is None:
            return None
        blocks = copy.deepcopy(blocks)
        for block in blocks:
            block.setdefault("block_id", f"ls{next(self._seq)}")
            for element in _elements(block):
                if "type" in element and element["type"] not in ("plain_text", "mrkdwn", "image"):
                    element.setdefault("action_id", f"la{next(self._seq)}")
        return blocks

    def _find_message(self, channel: str, ts: str, include_ephemeral_for: str | bool | None = None) -> Message | None:
        found = self._channels.get(channel)
        if found is None:
            return None
        for m in found.messages:
            if m.ts == ts and _visible(m, include_ephemeral_for):
                return m
        return None

    def _post(
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
        ws = self.workspaces[channel.team_id]
        from_bot = user is None
        ts = self._next_ts()
        parent = None
        if thread_ts:
            parent = self._find_message(channel.id, str(thread_ts))
            if parent is not None and parent.is_reply:
                thread_ts = parent.thread_ts
                parent = self._find_message(channel.id, str(thread_ts))
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

    def _edit(self, message: Message, fields: dict[str, Any], editor: str) -> None:
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
        message.edited = {"user": editor, "ts": self._next_ts()}

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
            self._apply_reply(target, payload)
        except SlackError as exc:
            return 400, exc.error
        target.uses += 1
        return 200, "ok"

    def _apply_reply(self, target: ResponseUrl, payload: dict[str, Any]) -> None:
        """What Slack does with a response_url post (or with the body of a slash command's ack)."""
        channel = self._channels[target.channel]
        original = (
            self._find_message(target.channel, target.message_ts, include_ephemeral_for=target.user)
            if target.message_ts
            else None
        )
        if truthy(payload.get("delete_original")):
            if original is not None:
                original.deleted = True
            return
        fields = validate_message(payload)
        if truthy(payload.get("replace_original")) and original is not None:
            self._edit(original, fields, self.workspaces[channel.team_id].bot_user_id)
            return
        thread_ts = payload.get("thread_ts")
        if payload.get("response_type") == "in_channel":
            self._post(channel, fields, thread_ts=thread_ts, source="response_url")
        else:
            self._post(channel, fields, thread_ts=thread_ts, ephemeral_to=target.user, source="response_url")

    def _consume_trigger(self, trigger_id: Any, team_id: str) -> Trigger:
        trigger = self._triggers.get(str(trigger_id or ""))
        if trigger is None or trigger.team_id != team_id:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        return trigger

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

    def _replace_view(self, view: View, payload: dict[str, Any]) -> None:
        view.history.append(view.payload)
        view.payload = dict(payload, blocks=self._fill_ids(payload.get("blocks")))
        view.hash = self._new_hash()
        view.errors = None

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{secrets.token_hex(4)}"

    def _close_view(self, view: View) -> None:
        view.closed = True
        stack = self._stacks.get(view.user, [])
        if view.id in stack:
            del stack[stack.index(view.id) :]

    def _clear_views(self, user: str) -> None:
        for view_id in self._stacks.pop(user, []):
            self._views[view_id].closed = True


class _Changing:
    """``with slack._changing():`` holds the lock; on the way out bumps the version and wakes every waiter."""

    def __init__(self, slack: LocalSlack) -> None:
        self._slack = slack
        self._cond = slack._cond

    def __enter__(self) -> None:
        self._cond.acquire()

    def __exit__(self, *exc: object) -> None:
        try:
            self._slack._version += 1
            self._cond.notify_all()
        finally:
            self._cond.release()


def _visible(message: Message, include_ephemeral_for: str | bool | None) -> bool:
    if message.deleted:
        return False
    if message.ephemeral_to is None:
        return True
    return include_ephemeral_for is True or message.ephemeral_to == include_ephemeral_for


def _elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Interactive elements of a block: actions.elements, section.accessory, input.element."""
    found: list[dict[str, Any]] = []
    for key in ("elements", "accessory", "element"):
        value = block.get(key)
        if isinstance(value, dict):
            found.append(value)
        elif isinstance(value, list) and block.get("type") == "actions":
            found.extend(v for v in value if isinstance(v, dict))
    return found


def _redact(value: Any) -> Any:
    """A deep copy with credentials blanked, so records and the inspection endpoint never hold one."""
    if isinstance(value, dict):
        return {k: "(redacted)" if k in _SECRET_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return copy.deepcopy(value)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
