"""Web API methods of the local Slack, one function per method, called with the state lock held.

`answer` is the entry point (``/api/<method>``): a scripted answer if one is queued, else the
token is checked and the method's handler runs. Each handler validates what real Slack validates
(where cheap) *before* changing state, then returns Slack's success shape. Errors are raised as
`SlackError` and answered ``{"ok": false}`` with HTTP 200, as Slack does. Methods without a handler
answer ``{"ok": true}``. Handlers change state only through `SlackState`'s public methods.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from .model import Channel, Message, SlackError, User, Workspace, truthy
from .state import SlackState
from .validation import MESSAGE_TEXT_MAX, load_json_arg, validate_message, validate_metadata, validate_view

log = logging.getLogger(__name__)

T = TypeVar("T")

NO_AUTH = frozenset({"api.test", "oauth.v2.access", "oauth.access", "oauth.v2.exchange"})
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


class Request:
    """One Web API call as a handler sees it."""

    def __init__(
        self, slack: SlackState, args: dict[str, Any], ws: Workspace, base_url: str, headers: dict[str, str]
    ) -> None:
        self.slack = slack
        self.args = args
        self.ws = ws
        self.base_url = base_url
        self.headers = headers

    def get(self, name: str, default: Any = None) -> Any:
        value = self.args.get(name, default)
        return default if value == "" else value

    def require(self, name: str, error: str = "invalid_arguments") -> Any:
        value = self.get(name)
        if value is None:
            raise SlackError(error, response_metadata={"messages": [f"[ERROR] missing required field: {name}"]})
        return value


Handler = Callable[[Request], dict[str, Any]]
HANDLERS: dict[str, Handler] = {}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        return handler

    return register


def answer(
    slack: SlackState, method: str, args: dict[str, Any], token: str | None, headers: dict[str, str], base_url: str
) -> tuple[int, Any, dict[str, str]]:
    """Answer one Web API call: scripted answer if any, else the real behaviour. Always recorded."""
    with slack.changing():
        scripted = slack.take_script(method)
        if scripted is not None:
            status, body, extra_headers = scripted.status, scripted.response, scripted.headers
        else:
            status, extra_headers = 200, {}
            try:
                body = dispatch(slack, method, args, _authenticate(slack, method, token), base_url, headers)
            except SlackError as exc:
                body = exc.to_dict()
        slack.record_call(method, args, headers, status, body, scripted is not None)
        log.debug("local Slack %s -> %s", method, body.get("error", "ok") if isinstance(body, dict) else status)
        return status, body, extra_headers


def _authenticate(slack: SlackState, method: str, token: str | None) -> Workspace:
    if method in NO_AUTH:
        return slack.default_workspace
    kind, ws = slack.token_owner(token)
    if (kind == "app") != (method in APP_TOKEN_METHODS):
        raise SlackError("not_allowed_token_type")
    return ws


def dispatch(
    slack: SlackState, name: str, args: dict[str, Any], ws: Workspace, base_url: str, headers: dict[str, str]
) -> dict[str, Any]:
    handler = HANDLERS.get(name)
    if handler is None:
        return {"ok": True}
    return handler(Request(slack, args, ws, base_url, headers))


# ---------------------------------------------------------------------- lookups shared by handlers


def find_channel(req: Request, ref: Any, *, allow_dm: bool = False) -> Channel:
    """Resolve a channel id (or ``#name``, or a user id → the bot's DM with them, like chat.postMessage)."""
    slack, ws = req.slack, req.ws
    ref = str(ref or "")
    channel = _known(slack.channel, ref)
    if channel is None and allow_dm:
        user = _known(slack.user, ref)
        if user is not None and user.team_id == ws.team_id:
            channel = slack.open_dm(ws.team_id, user.id)
        else:
            name = ref.lstrip("#")
            channel = next((c for c in slack.channels(ws.team_id) if c.name == name), None)
    if channel is None or channel.team_id != ws.team_id or (channel.is_private and not channel.bot_member):
        raise SlackError("channel_not_found")
    return channel


def check_postable(channel: Channel) -> None:
    if channel.is_archived:
        raise SlackError("is_archived")
    if not channel.bot_member:
        raise SlackError("not_in_channel")


def find_user(req: Request, user_id: Any) -> User:
    user = _known(req.slack.user, str(user_id or ""))
    if user is None or user.team_id != req.ws.team_id:
        raise SlackError("user_not_found")
    return user


def _known(lookup: Callable[[str], T], key: str) -> T | None:
    """``lookup(key)``, or None where the state has no such object (it raises KeyError)."""
    try:
        return lookup(key)
    except KeyError:
        return None


# ---------------------------------------------------------------------- auth / misc


@method("api.test")
def api_test(req: Request) -> dict[str, Any]:
    return {"ok": True, "args": dict(req.args)}


@method("auth.test")
def auth_test(req: Request) -> dict[str, Any]:
    ws = req.ws
    result = {
        "ok": True,
        "url": ws.url,
        "team": ws.name,
        "user": "algobot",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }
    if ws.enterprise_id:
        result["enterprise_id"] = ws.enterprise_id
    return result


@method("apps.connections.open")
def apps_connections_open(req: Request) -> dict[str, Any]:
    return {"ok": True, "url": req.slack.socket_mode_url}


@method("oauth.v2.access")
def oauth_v2_access(req: Request) -> dict[str, Any]:
    if not req.get("code"):
        raise SlackError("invalid_code")
    if req.slack.oauth_response is not None:
        return {"ok": True, **copy.deepcopy(req.slack.oauth_response)}
    ws = req.ws
    return {
        "ok": True,
        "app_id": ws.app_id,
        "authed_user": {"id": next((u.id for u in req.slack.users() if u.is_admin), None)},
        "scope": "commands,chat:write,files:write,im:write,users:read,channels:history,groups:history",
        "token_type": "bot",
        "access_token": req.slack.bot_token,
        "bot_user_id": ws.bot_user_id,
        "team": {"id": ws.team_id, "name": ws.name},
        "enterprise": {"id": ws.enterprise_id, "name": ws.enterprise_name} if ws.enterprise_id else None,
        "is_enterprise_install": False,
    }


# ---------------------------------------------------------------------- chat.*


@method("chat.postMessage")
def chat_post_message(req: Request) -> dict[str, Any]:
    channel = find_channel(req, req.get("channel"), allow_dm=True)
    check_postable(channel)
    fields = validate_message(req.args)
    metadata = validate_metadata(req.get("metadata"))
    message = req.slack.post(
        channel,
        fields,
        thread_ts=req.get("thread_ts"),
        reply_broadcast=truthy(req.get("reply_broadcast")),
        metadata=metadata,
    )
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": message.to_dict()}


@method("chat.postEphemeral")
def chat_post_ephemeral(req: Request) -> dict[str, Any]:
    channel = find_channel(req, req.get("channel"), allow_dm=True)
    user = find_user(req, req.get("user"))
    if not channel.has_member(user.id):
        raise SlackError("user_not_in_channel")
    check_postable(channel)
    fields = validate_message(req.args)
    message = req.slack.post(channel, fields, thread_ts=req.get("thread_ts"), ephemeral_to=user.id)
    return {"ok": True, "message_ts": message.ts}


def _own_message(req: Request, *, cant: str) -> Any:
    channel = find_channel(req, req.get("channel"))
    message = req.slack.message(channel.id, str(req.get("ts") or ""), include_ephemeral_for=None)
    if message is None:
        raise SlackError("message_not_found")
    if message.user != req.ws.bot_user_id:
        raise SlackError(cant)
    if channel.is_archived:
        raise SlackError("is_archived")
    return channel, message


@method("chat.update")
def chat_update(req: Request) -> dict[str, Any]:
    channel, message = _own_message(req, cant="cant_update_message")
    fields = validate_message(req.args, require_content=False)
    if not fields:
        raise SlackError("no_text")
    metadata = validate_metadata(req.get("metadata"))
    req.slack.update_message(message, fields, req.ws.bot_user_id, metadata=metadata)
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_dict(),
    }


@method("chat.delete")
def chat_delete(req: Request) -> dict[str, Any]:
    channel, message = _own_message(req, cant="cant_delete_message")
    req.slack.delete_message(message)
    return {"ok": True, "channel": channel.id, "ts": message.ts}


@method("chat.getPermalink")
def chat_get_permalink(req: Request) -> dict[str, Any]:
    channel = find_channel(req, req.get("channel"))
    ts = str(req.require("message_ts"))
    if req.slack.message(channel.id, ts, include_ephemeral_for=None) is None:
        raise SlackError("message_not_found")
    link = f"{req.ws.url}archives/{channel.id}/p{ts.replace('.', '')}"
    return {"ok": True, "channel": channel.id, "permalink": link}


# ---------------------------------------------------------------------- views.*


@method("views.open")
def views_open(req: Request) -> dict[str, Any]:
    trigger = req.slack.check_trigger(req.require("trigger_id"), req.ws.team_id)
    payload = validate_view(req.require("view"))
    view = req.slack.open_view(req.ws, trigger, payload)
    return {"ok": True, "view": view.to_dict()}


@method("views.push")
def views_push(req: Request) -> dict[str, Any]:
    trigger = req.slack.check_trigger(req.require("trigger_id"), req.ws.team_id)
    payload = validate_view(req.require("view"))
    view = req.slack.push_view(req.ws, trigger.user, payload, trigger=trigger)
    return {"ok": True, "view": view.to_dict()}


@method("views.update")
def views_update(req: Request) -> dict[str, Any]:
    view_id, external_id = req.get("view_id"), req.get("external_id")
    if not view_id and not external_id:
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] view_id or external_id"]})
    view = req.slack.find_view(req.ws.team_id, view_id=view_id, external_id=external_id)
    if view is None or view.closed:
        raise SlackError("not_found")
    payload = validate_view(req.require("view"))
    if req.get("hash") and req.get("hash") != view.hash:
        raise SlackError("hash_conflict")
    req.slack.update_view(view, payload)
    return {"ok": True, "view": view.to_dict()}


@method("views.publish")
def views_publish(req: Request) -> dict[str, Any]:
    user = find_user(req, req.require("user_id"))
    payload = validate_view(req.require("view"), allowed_types=("home",))
    current = req.slack.home_view(user.id)
    if current is not None and req.get("hash") and req.get("hash") != current.hash:
        raise SlackError("hash_conflict")
    return {"ok": True, "view": req.slack.publish_home(req.ws, user.id, payload).to_dict()}


# ---------------------------------------------------------------------- users.* / conversations.*


@method("users.info")
def users_info(req: Request) -> dict[str, Any]:
    return {"ok": True, "user": find_user(req, req.require("user", "user_not_found")).to_dict()}


@method("users.list")
def users_list(req: Request) -> dict[str, Any]:
    members = [u.to_dict() for u in req.slack.users(req.ws.team_id)]
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}


@method("conversations.info")
def conversations_info(req: Request) -> dict[str, Any]:
    return {"ok": True, "channel": find_channel(req, req.get("channel")).to_dict()}


@method("conversations.list")
def conversations_list(req: Request) -> dict[str, Any]:
    channels = [
        c.to_dict()
        for c in req.slack.channels(req.ws.team_id)
        if not c.is_im
        and (c.bot_member or not c.is_private)
        and (not c.is_archived or not truthy(req.get("exclude_archived")))
    ]
    return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}


@method("conversations.members")
def conversations_members(req: Request) -> dict[str, Any]:
    channel = find_channel(req, req.get("channel"))
    members = [u.id for u in req.slack.users(channel.team_id) if not u.is_bot]
    members = [m for m in members if channel.has_member(m)]
    if channel.bot_member:
        members.append(req.ws.bot_user_id)
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": ""}}


@method("conversations.join")
def conversations_join(req: Request) -> dict[str, Any]:
    channel = find_channel(req, req.get("channel"))
    if channel.is_private or channel.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    req.slack.update_channel(channel.id, bot_member=True)
    return {"ok": True, "channel": channel.to_dict()}


@method("conversations.open")
def conversations_open(req: Request) -> dict[str, Any]:
    users = str(req.require("users", "users_list_not_supplied")).split(",")
    if len(users) != 1:
        raise SlackError("method_not_supported_for_channel_type")
    user = find_user(req, users[0])
    return {"ok": True, "channel": {"id": req.slack.open_dm(req.ws.team_id, user.id).id}}


def _readable(req: Request) -> Channel:
    channel = find_channel(req, req.get("channel"))
    if not channel.bot_member:
        raise SlackError("not_in_channel")
    return channel


def _listed(req: Request, message: Message) -> dict[str, Any]:
    """A message as history and replies list it: its metadata only with ``include_all_metadata``."""
    data = message.to_dict()
    if not truthy(req.get("include_all_metadata")):
        data.pop("metadata", None)
    return data


def _in_window(req: Request, ts: str) -> bool:
    """``oldest``/``latest`` bound the listed messages by ts (exclusive, as Slack's default)."""
    oldest, latest = req.get("oldest"), req.get("latest")
    return (not oldest or float(ts) > float(oldest)) and (not latest or float(ts) < float(latest))


@method("conversations.history")
def conversations_history(req: Request) -> dict[str, Any]:
    channel = _readable(req)
    limit = int(req.get("limit") or 100)
    top = [
        _listed(req, m)
        for m in reversed(channel.messages)
        if not m.deleted and not m.is_ephemeral and (not m.is_reply or m.reply_broadcast) and _in_window(req, m.ts)
    ]
    return {"ok": True, "messages": top[:limit], "has_more": len(top) > limit}


@method("conversations.replies")
def conversations_replies(req: Request) -> dict[str, Any]:
    channel = _readable(req)
    ts = str(req.require("ts"))
    if req.slack.message(channel.id, ts, include_ephemeral_for=None) is None:
        raise SlackError("thread_not_found")
    thread = [_listed(req, m) for m in req.slack.thread(channel.id, ts) if m.ts == ts or _in_window(req, m.ts)]
    return {"ok": True, "messages": thread, "has_more": False}


# ---------------------------------------------------------------------- files.*


@method("files.getUploadURLExternal")
def files_get_upload_url_external(req: Request) -> dict[str, Any]:
    filename = str(req.require("filename"))
    try:
        length = int(req.require("length"))
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments") from None
    if length < 0:
        raise SlackError("invalid_arguments")
    file = req.slack.create_file(
        req.ws, filename, length, alt_txt=req.get("alt_txt"), snippet_type=req.get("snippet_type")
    )
    return {"ok": True, "upload_url": f"{req.base_url}/upload/{file.id}", "file_id": file.id}


@method("files.completeUploadExternal")
def files_complete_upload_external(req: Request) -> dict[str, Any]:
    entries = load_json_arg(req.require("files"), "files")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise SlackError("invalid_arguments")
    uploaded = {f.id: f for f in req.slack.files() if f.team_id == req.ws.team_id}
    files = []
    for entry in entries:
        file = uploaded.get(str(entry.get("id") or ""))
        if file is None or file.content is None or file.completed:
            raise SlackError("file_not_found")
        files.append((file, str(entry.get("title") or file.name)))
    refs = [req.get("channel_id")] if req.get("channel_id") else []
    refs += [c for c in str(req.get("channels") or "").split(",") if c]
    channels = [find_channel(req, ref) for ref in refs]
    for channel in channels:
        check_postable(channel)
    thread_ts = req.get("thread_ts")
    if thread_ts and len(channels) != 1:
        raise SlackError("invalid_arguments")
    comment = str(req.get("initial_comment") or "")
    if len(comment) > MESSAGE_TEXT_MAX:
        raise SlackError("msg_too_long")
    req.slack.share_files(files, channels, thread_ts=thread_ts, comment=comment)
    return {"ok": True, "files": [f.to_dict() for f, _ in files]}


@method("files.info")
def files_info(req: Request) -> dict[str, Any]:
    try:
        file = req.slack.file(str(req.get("file") or ""))
    except KeyError:
        raise SlackError("file_not_found") from None
    if file.team_id != req.ws.team_id or not file.completed:
        raise SlackError("file_not_found")
    return {"ok": True, "file": file.to_dict(), "content": file.text}
