"""The browser page of the local Slack: channels and messages, acting as a Slack user.

Served by the local Slack's own WSGI app (`algobot.localslack.wsgi`) next to the Web API:

- ``GET /``: the page (``static/index.html``); ``GET /static/app.js``, ``app.css``, ``favicon.svg``.
  Plain files shipped in the package, no build step and nothing loaded from elsewhere.
- ``GET /_ui/workspace``: the team, its channels and users, the bot URL and the state version.
- ``GET /_ui/channels/<id>/messages?user=U``: the channel as ``user`` sees it: their ephemerals
  only, deleted messages left out, thread replies grouped under their parent.
- ``GET /_ui/views?user=U``: ``user``'s open modals, the top of the stack last.
- ``GET /_ui/changes?since=N[&timeout=25]``: long poll; answers ``{"version": M}`` as soon as the
  state version differs from ``N`` (at once if it already does), else after ``timeout`` seconds.
- ``GET /_ui/files/<id>``: an uploaded file's content as ``text/plain``.
- ``POST /_ui/command`` ``{user, channel, text, command="/algo"}``: a signed slash command to the
  bot (`client.send_command`); its ack is applied like Slack does. The text is escaped as Slack
  does for a command with *Escape channels, users, and links* on (see `escape_typed`).
- ``POST /_ui/click`` ``{user, channel, message_ts, action_id, value, block_id}``: signed
  ``block_actions`` for a button or select in a message.
- ``POST /_ui/submit_view`` ``{user, view_id, values}``: signed ``view_submission``; answers the
  view's ``errors`` and whether it closed.
- ``POST /_ui/close_view`` ``{user, view_id}``: the modal's Cancel/✕ (no ``view_closed`` is sent).
- ``POST /_ui/message`` ``{user, channel, text}``: a plain message from a user (the bot does not
  subscribe to message events; this only makes the conversation readable).

Acting endpoints need the bot's URL in `LocalSlack.bot_url` and answer 409 when it is unset.
POST bodies must be JSON (``Content-Type: application/json``), which a cross-site form cannot send.
Everything here is for a local, trusted user on the loopback interface: it can act as anyone.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import requests

from . import client
from .model import SLACKBOT, Message, View
from .state import SlackState

log = logging.getLogger(__name__)

Answer = tuple[int, Any, dict[str, str]]

LONG_POLL_SECONDS = 25.0
BOT_TIMEOUT = 10.0

_STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Nothing but this origin: no CDN, no web font, no inline script, no framing.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
# A typed http(s) link (without trailing punctuation), or a typed @name or #name: not inside a word or
# an e-mail address; a name ends with a letter or digit (so "@sam." at the end of a sentence finds sam).
_TYPED_REFERENCE = re.compile(
    r"(?P<link>https?://[^\s<>&]+(?:&amp;[^\s<>&]+)*(?<![.,;:!?)\]'\"]))"
    r"|(?<![\w@#.])(?P<sigil>[@#])(?P<name>[A-Za-z0-9](?:[\w.-]*[A-Za-z0-9_])?)"
)


def _error(status: int, error: str, message: str) -> Answer:
    return status, {"ok": False, "error": error, "message": message}, {}


class _Refused(Exception):
    """Raised by the acting endpoints' checks; `LocalSlackUI.handle` answers it."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.answer = _error(status, error, message)


class LocalSlackUI:
    """Routes ``/``, ``/static/*`` and ``/_ui/*`` for `LocalSlackWSGI`."""

    def __init__(self, slack: SlackState) -> None:
        self.slack = slack

    @staticmethod
    def handles(path: str) -> bool:
        return path in ("/", "/index.html") or path.startswith(("/static/", "/_ui/"))

    def handle(self, environ: dict[str, Any], verb: str, path: str, body: bytes) -> Answer:
        """Answer one request; ``body`` is the request body `LocalSlackWSGI` read (empty for a GET)."""
        if path in ("/", "/index.html") or path.startswith("/static/"):
            if verb not in ("GET", "HEAD"):
                return _error(405, "method_not_allowed", "GET only")
            return self._static("index.html" if path in ("/", "/index.html") else path[len("/static/") :])
        parts = [p for p in path[len("/_ui/") :].split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if verb == "GET" and not (len(parts) == 1 and parts[0] in _POSTS):
            return self._get(parts, query)
        if verb == "POST" and len(parts) == 1 and parts[0] in _POSTS:
            if not environ.get("CONTENT_TYPE", "").lower().startswith("application/json"):
                return _error(415, "json_required", "POST a JSON body with Content-Type: application/json")
            try:
                data = json.loads(body.decode("utf-8") or "{}")
            except ValueError:
                return _error(400, "invalid_json", "the body is not JSON")
            if not isinstance(data, dict):
                return _error(400, "invalid_json", "the body must be a JSON object")
            try:
                return getattr(self, parts[0])(data)
            except _Refused as refused:
                return refused.answer
        if len(parts) == 1 and parts[0] in _POSTS:
            return _error(405, "method_not_allowed", "POST only")
        return _error(404, "not_found", f"no UI endpoint {path}")

    # ------------------------------------------------------------------ static files

    def _static(self, name: str) -> Answer:
        content_type = _STATIC.get(name)
        if content_type is None:
            return _error(404, "not_found", f"no static file {name!r}")
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        headers = {"Content-Type": content_type, **_NO_CACHE}
        if name == "index.html":
            headers["Content-Security-Policy"] = _CSP
        return 200, data, headers

    # ------------------------------------------------------------------ reads

    def _get(self, parts: list[str], query: dict[str, str]) -> Answer:
        slack = self.slack
        if parts == ["workspace"]:
            return 200, self.workspace(), {}
        if len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages":
            try:
                messages = self.messages(parts[1], query.get("user") or None)
            except KeyError:
                return _error(404, "channel_not_found", f"no channel {parts[1]}")
            return 200, {"ok": True, "version": slack.version, "messages": messages}, {}
        if parts == ["views"]:
            return 200, {"ok": True, "version": slack.version, "views": self.views(query.get("user", ""))}, {}
        if parts == ["changes"]:
            try:
                since = int(query.get("since", "-1"))
                timeout = min(float(query.get("timeout", LONG_POLL_SECONDS)), LONG_POLL_SECONDS)
            except ValueError:
                return _error(400, "invalid_arguments", "since= must be an integer and timeout= a number")
            return 200, {"ok": True, "version": slack.wait_for_change(since, timeout)}, {}
        if len(parts) == 2 and parts[0] == "files":
            return self._file(parts[1])
        return _error(404, "not_found", "no such UI endpoint")

    def workspace(self) -> dict[str, Any]:
        """Teams, channels (with their members) and users: what the sidebar and mentions need."""
        slack = self.slack
        with slack.reading():
            team = slack.workspaces[slack.default_team_id]
            channels = [
                {
                    "id": c.id,
                    "name": c.name,
                    "team_id": c.team_id,
                    "is_private": c.is_private,
                    "is_archived": c.is_archived,
                    "is_im": c.is_im,
                    "im_user": c.im_user,
                    "bot_member": c.bot_member,
                    "members": sorted(c.members) if c.members is not None else None,
                }
                for c in slack.channels()
            ]
            users = [
                {
                    "id": u.id,
                    "name": u.name,
                    "real_name": u.real_name or u.name,
                    "team_id": u.team_id,
                    "is_admin": u.is_admin,
                    "is_owner": u.is_owner,
                    "is_bot": u.is_bot,
                    "deleted": u.deleted,
                }
                for u in slack.users()
            ]
            return {
                "ok": True,
                "version": slack.version,
                "team": {"id": team.team_id, "name": team.name, "domain": team.domain},
                "teams": [ws.to_dict() for ws in slack.workspaces.values()],
                "bot_user_id": team.bot_user_id,
                "bot_url": slack.bot_url,
                "channels": channels,
                "users": users,
            }

    def messages(self, channel: str, user: str | None) -> list[dict[str, Any]]:
        """Top-level messages in ``ts`` order, each with its visible ``replies``."""
        slack = self.slack
        with slack.reading():
            visible = slack.messages(channel, include_ephemeral_for=user)
            top: list[dict[str, Any]] = []
            by_ts: dict[str, dict[str, Any]] = {}
            for message in visible:
                rendered = self._message(message)
                parent = by_ts.get(message.thread_ts or "") if message.thread_ts != message.ts else None
                if parent is not None:
                    parent["replies"].append(rendered)
                    if not message.reply_broadcast:
                        continue
                    rendered = dict(rendered, broadcast_of=parent["ts"])
                top.append(rendered)
                by_ts[message.ts] = rendered
            return copy.deepcopy(top)  # serialised after the lock is released

    def _message(self, m: Message) -> dict[str, Any]:
        return {
            "ts": m.ts,
            "user": m.user,
            "user_name": self._user_name(m.user),
            "is_bot": bool(m.bot_id) or m.user == SLACKBOT,
            "text": m.text,
            "blocks": m.blocks,
            "attachments": m.attachments,
            "thread_ts": m.thread_ts,
            "ephemeral": m.is_ephemeral,
            "edited": m.edited is not None,
            "versions": len(m.history) + 1,
            "reply_broadcast": m.reply_broadcast,
            "source": m.source,
            "files": [
                {
                    "id": f.id,
                    "name": f.name,
                    "title": f.title or f.name,
                    "size": len(f.content or b""),
                    "mimetype": f.mimetype,
                    "url": f"/_ui/files/{f.id}",
                }
                for f in m.files
            ],
            "replies": [],
        }

    def _user_name(self, user_id: str) -> str:
        if user_id == SLACKBOT:
            return "Slackbot"
        try:
            return self.slack.user(user_id).name
        except KeyError:
            return user_id

    def views(self, user: str) -> list[dict[str, Any]]:
        """``user``'s open modals in stack order (the one to show is last)."""
        slack = self.slack
        with slack.reading():
            stack = slack.view_stack(user)
            open_views = slack.views(user=user)
            open_views.sort(key=lambda v: (stack.index(v.id) if v.id in stack else -1, v.id))
            return copy.deepcopy([_view(v) for v in open_views])

    def _file(self, file_id: str) -> Answer:
        try:
            file = self.slack.file(file_id)
        except KeyError:
            file = None
        with self.slack.reading():  # the upload may be arriving now
            content, name = (file.content, file.name) if file is not None else (None, "")
        if content is None:
            return _error(404, "file_not_found", f"no uploaded file {file_id}")
        safe_name = "".join(ch for ch in name if ch.isalnum() or ch in "._-") or file_id
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": f'inline; filename="{safe_name}"',
            **_NO_CACHE,
        }
        return 200, content, headers

    # ------------------------------------------------------------------ acting as a user

    def _actor(self, data: dict[str, Any], *, channel: bool = True) -> tuple[str, str]:
        """``(user, channel)`` from the body, checked: a real user, a channel they are a member of."""
        user, chan = str(data.get("user") or ""), str(data.get("channel") or "")
        slack = self.slack
        with slack.reading():
            try:
                found = slack.user(user)
            except KeyError:
                raise _Refused(400, "user_not_found", f"no user {user!r} to act as") from None
            if found.is_bot or found.deleted:
                raise _Refused(400, "user_not_found", f"no user {user!r} to act as")
            if not channel:
                return user, ""
            try:
                target = slack.channel(chan)
            except KeyError:
                raise _Refused(404, "channel_not_found", f"no channel {chan!r}") from None
            if target.team_id != found.team_id or not target.has_member(user):
                raise _Refused(400, "not_in_channel", f"{found.name} is not a member of #{target.name}")
        return user, chan

    def _bot_url(self) -> str:
        url = self.slack.bot_url
        if not url:
            raise _Refused(
                409,
                "no_bot_url",
                "The local Slack does not know the bot's URL: set LocalSlack.bot_url "
                "(e.g. http://127.0.0.1:3000/slack/events) to send commands, clicks and modals.",
            )
        return url

    def escape_typed(self, text: str, user: str) -> str:
        """Typed text as Slack delivers it: ``&``, ``<``, ``>`` escaped, a typed ``@name`` or ``#name`` of
        a known person or channel (of ``user``'s team) turned into ``<@U…|name>`` / ``<#C…|name>``, and
        an http(s) link into ``<https://…>``.

        That is what Slack does to a slash command's text when the command has *Escape channels, users,
        and links* on (algobot's manifest sets ``should_escape: true``), and to a message typed in the
        client; unknown names stay plain text.
        """
        slack = self.slack
        with slack.reading():
            team = slack.user(user).team_id
            people = {u.name.lower(): u for u in slack.users(team) if not u.deleted}
            rooms = {c.name.lower(): c for c in slack.channels(team) if not c.is_im}

        def reference(match: re.Match[str]) -> str:
            if match.group("link"):
                return f"<{match.group('link')}>"
            sigil, name = match.group("sigil"), match.group("name")
            if sigil == "@" and name.lower() in people:
                person = people[name.lower()]
                return f"<@{person.id}|{person.name}>"
            if sigil == "#" and name.lower() in rooms:
                room = rooms[name.lower()]
                return f"<#{room.id}|{room.name}>"
            return match.group(0)

        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return _TYPED_REFERENCE.sub(reference, escaped)

    def command(self, data: dict[str, Any]) -> Answer:
        bot_url = self._bot_url()
        user, channel = self._actor(data)
        command = str(data.get("command") or "/algo")
        if not command.startswith("/") or len(command.split()) != 1:
            return _error(400, "invalid_command", "command must look like /algo")
        try:
            response = client.send_command(
                self.slack,
                bot_url,
                user=user,
                channel=channel,
                text=self.escape_typed(str(data.get("text") or ""), user),
                command=command,
                timeout=BOT_TIMEOUT,
            )
        except requests.RequestException as exc:
            return self._unreachable(bot_url, exc, user=user, channel=channel, command=command)
        return 200, {"ok": True, "status": response.status_code}, {}

    def click(self, data: dict[str, Any]) -> Answer:
        bot_url = self._bot_url()
        user, channel = self._actor(data)
        value = data.get("value")
        block_id = data.get("block_id")
        try:
            response = client.click(
                self.slack,
                bot_url,
                user=user,
                channel=channel,
                message_ts=str(data.get("message_ts") or ""),
                action_id=str(data.get("action_id") or ""),
                value=value if value is None or isinstance(value, (str, list)) else str(value),
                block_id=str(block_id) if block_id else None,
                timeout=BOT_TIMEOUT,
            )
        except ValueError as exc:
            return _error(400, "invalid_action", str(exc))
        except requests.RequestException as exc:
            return self._unreachable(bot_url, exc)
        return 200, {"ok": True, "status": response.status_code}, {}

    def submit_view(self, data: dict[str, Any]) -> Answer:
        bot_url = self._bot_url()
        user, _ = self._actor(data, channel=False)
        view_id = str(data.get("view_id") or "")
        values = data.get("values") or {}
        if not isinstance(values, dict):
            return _error(400, "invalid_arguments", "values must be {block_id: {action_id: value}}")
        try:
            response = client.submit_view(
                self.slack, bot_url, user=user, view_id=view_id, values=values, timeout=BOT_TIMEOUT
            )
        except KeyError:
            return _error(404, "view_not_found", f"no view {view_id!r}")
        except ValueError as exc:
            return _error(400, "invalid_submission", str(exc))
        except requests.RequestException as exc:
            return self._unreachable(bot_url, exc)
        view = self.slack.view(view_id)
        with self.slack.reading():
            answer = {
                "ok": True,
                "status": response.status_code,
                "closed": view.closed,
                "errors": None if view.closed else view.errors,
            }
        return 200, answer, {}

    def close_view(self, data: dict[str, Any]) -> Answer:
        user, _ = self._actor(data, channel=False)
        slack = self.slack
        with slack.changing():
            wanted = str(data.get("view_id") or "")
            view = next((v for v in slack.views(user, open_only=False, kind=None) if v.id == wanted), None)
            if view is None:
                return _error(404, "view_not_found", "no such view open for this user")
            slack.close_view(view)
        return 200, {"ok": True}, {}

    def message(self, data: dict[str, Any]) -> Answer:
        user, channel = self._actor(data)
        text = str(data.get("text") or "")
        if not text.strip():
            return _error(400, "no_text", "nothing to send")
        slack = self.slack
        with slack.changing():
            target = slack.channel(channel)
            if target.is_archived:
                return _error(400, "is_archived", f"#{target.name} is archived")
            message = slack.post(target, {"text": self.escape_typed(text, user)}, user=user, source="ui")
        return 200, {"ok": True, "ts": message.ts}, {}

    def _unreachable(
        self,
        bot_url: str,
        exc: requests.RequestException,
        *,
        user: str | None = None,
        channel: str | None = None,
        command: str | None = None,
    ) -> Answer:
        """The bot did not answer: Slack tells the user with a Slackbot ephemeral; so do we (and the page)."""
        log.warning("local Slack UI: the bot at %s did not answer: %s", bot_url, exc.__class__.__name__)
        if user and channel and command:
            self.slack.post_slackbot_note(channel, user, f'{command} failed with the error "dispatch_failed"')
        return _error(502, "bot_unreachable", f"The bot at {bot_url} did not answer ({exc.__class__.__name__}).")


_POSTS = frozenset({"command", "click", "submit_view", "close_view", "message"})  # method names of LocalSlackUI


def _view(view: View) -> dict[str, Any]:
    return {
        "id": view.id,
        "hash": view.hash,
        "type": view.type,
        "callback_id": view.callback_id,
        "title": view.payload.get("title"),
        "submit": view.payload.get("submit"),
        "close": view.payload.get("close"),
        "blocks": view.blocks,
        "errors": view.errors or {},
        "previous_view_id": view.previous_view_id,
    }
