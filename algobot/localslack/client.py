"""The Slack side of interactions: signed requests to the bot, built from the double's state.

Payload shapes follow what Slack sends (slash commands form-encoded; interactivity as
``payload=<urlencoded JSON>``), with the trigger_id and response_url issued by the double so the
bot's follow-up calls land back in it. The body is encoded once and those exact bytes are both
signed and sent. The HTTP request to the bot is made *without* the state lock held, because the
bot calls back into the double (views.open, response_url) before it answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests

from .model import Interaction, Message, SlackError, Workspace
from .validation import validate_view

if TYPE_CHECKING:
    from .core import LocalSlack

log = logging.getLogger(__name__)

ACK_DEADLINE = 3.0
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def signature(secret: str, timestamp: str, body: str) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` — Slack's request signature."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def post_signed(
    slack: LocalSlack,
    url: str,
    body: str,
    *,
    timestamp: int | str | None,
    secret: str | None,
    timeout: float,
) -> tuple[requests.Response, float]:
    """Sign ``body`` and POST exactly those bytes; return the response and how long the bot took."""
    ts = str(int(slack.clock()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(slack.signing_secret if secret is None else secret, ts, body),
        "User-Agent": USER_AGENT,
    }
    started = time.monotonic()
    response = requests.post(url, data=body.encode("utf-8"), headers=headers, timeout=timeout)
    return response, time.monotonic() - started


def _user_dict(slack: LocalSlack, user_id: str) -> dict[str, Any]:
    user = slack.user(user_id)
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id}


def _team_dict(ws: Workspace) -> dict[str, Any]:
    team: dict[str, Any] = {"id": ws.team_id, "domain": ws.domain}
    if ws.enterprise_id:
        team["enterprise_id"] = ws.enterprise_id
    return team


def _enterprise(ws: Workspace) -> dict[str, Any] | None:
    return {"id": ws.enterprise_id, "name": ws.enterprise_name} if ws.enterprise_id else None


def _context(slack: LocalSlack, user: str, channel: str) -> Workspace:
    """Check the actor exists where Slack would only let a real user act (a test bug otherwise)."""
    found = slack.channel(channel)
    member = slack.user(user)
    if member.team_id != found.team_id:
        raise ValueError(f"user {user} is not in team {found.team_id} of channel {channel}")
    if not found.has_member(user):
        raise ValueError(f"user {user} is not a member of channel {channel}")
    return slack.workspaces[found.team_id]


# ---------------------------------------------------------------------- slash commands


def send_command(
    slack: LocalSlack,
    bot_url: str,
    *,
    user: str,
    channel: str,
    text: str,
    command: str,
    timestamp: int | str | None,
    secret: str | None,
    timeout: float,
) -> requests.Response:
    with slack._cond:
        ws = _context(slack, user, channel)
        trigger_id = slack.issue_trigger_id(user, channel)
        response_url = slack.issue_response_url(channel, user)
        fields: dict[str, str] = {
            "token": slack.verification_token,
            "team_id": ws.team_id,
            "team_domain": ws.domain,
        }
        if ws.enterprise_id:
            fields.update({"enterprise_id": ws.enterprise_id, "enterprise_name": ws.enterprise_name or ""})
        fields.update(
            {
                "channel_id": channel,
                "channel_name": slack.channel(channel).name,
                "user_id": user,
                "user_name": slack.user(user).name,
                "command": command,
                "text": text,
                "api_app_id": ws.app_id,
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": trigger_id,
            }
        )
    body = urlencode(fields)
    response, elapsed = post_signed(slack, bot_url, body, timestamp=timestamp, secret=secret, timeout=timeout)
    with slack._changing():
        error = _apply_command_ack(slack, response_url, command, response, elapsed)
        slack._interactions.append(
            Interaction(
                "slash_command",
                dict(fields),
                response.status_code,
                response.text,
                elapsed,
                response_url,
                trigger_id,
                error,
            )
        )
    return response


def _apply_command_ack(
    slack: LocalSlack, response_url: str, command: str, response: requests.Response, elapsed: float
) -> str | None:
    """Slack shows a slash command's ack body to the user (ephemeral unless ``in_channel``)."""
    target = slack._response_urls[response_url.rsplit("/", 1)[-1]]
    error = None
    if response.status_code != 200:
        error = "dispatch_failed"
    elif elapsed > ACK_DEADLINE:
        error = "operation_timeout"
    elif response.text.strip():
        try:
            payload = response.json() if response.text.lstrip().startswith("{") else {"text": response.text}
            if not isinstance(payload, dict):
                raise SlackError("invalid_payload")
            slack._apply_reply(target, payload)
        except (SlackError, ValueError) as exc:
            error = exc.error if isinstance(exc, SlackError) else "invalid_payload"
    if error is not None:
        note = {"text": f'{command} failed with the error "{error}"'}
        slack._post(slack.channel(target.channel), note, user="USLACKBOT", ephemeral_to=target.user, source="slack")
    return error


# ---------------------------------------------------------------------- block_actions


def _find_action(message: Message, action_id: str, block_id: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    from .core import _elements  # noqa: PLC0415 - .core imports this module

    for block in message.blocks or []:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        for element in _elements(block):
            if element.get("action_id") == action_id:
                return block, element
    raise ValueError(f"message {message.ts} has no element with action_id={action_id!r} block_id={block_id!r}")


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    for option in _options(element):
        if option.get("value") == value:
            return option
    if element.get("type", "").startswith(("external_select", "multi_external_select")):
        return {"text": {"type": "plain_text", "text": str(value)}, "value": value}
    raise ValueError(f"element {element.get('action_id')!r} has no option with value {value!r}")


def _action(block: dict[str, Any], element: dict[str, Any], value: Any, action_ts: str) -> dict[str, Any]:
    kind = element.get("type", "button")
    action: dict[str, Any] = {"action_id": element["action_id"], "block_id": block["block_id"], "type": kind}
    if kind == "button":
        action["text"] = element.get("text")
        action["value"] = element.get("value") if value is None else value
        if "style" in element:
            action["style"] = element["style"]
    elif kind in ("static_select", "external_select", "overflow", "radio_buttons"):
        action["selected_option"] = _option(element, value)
    elif kind in ("multi_static_select", "checkboxes"):
        values = value if isinstance(value, list) else [value]
        action["selected_options"] = [_option(element, v) for v in values]
    else:
        action["value"] = value
    action["action_ts"] = action_ts
    return action


def click(
    slack: LocalSlack,
    bot_url: str,
    *,
    user: str,
    channel: str,
    message_ts: str,
    action_id: str,
    value: str | None,
    block_id: str | None,
    timestamp: int | str | None,
    secret: str | None,
    timeout: float,
) -> requests.Response:
    with slack._cond:
        ws = _context(slack, user, channel)
        message = slack._find_message(channel, message_ts, include_ephemeral_for=user)
        if message is None:
            raise ValueError(f"no message {message_ts} visible to {user} in {channel}")
        block, element = _find_action(message, action_id, block_id)
        action = _action(block, element, value, slack._next_ts())
        trigger_id = slack.issue_trigger_id(user, channel)
        response_url = slack.issue_response_url(channel, user, message_ts=message_ts)
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": message.is_ephemeral,
        }
        if message.is_reply:
            container["thread_ts"] = message.thread_ts
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": _user_dict(slack, user),
            "api_app_id": ws.app_id,
            "token": slack.verification_token,
            "container": container,
            "trigger_id": trigger_id,
            "team": _team_dict(ws),
            "enterprise": _enterprise(ws),
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": slack.channel(channel).name},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [action],
        }
        if not message.is_ephemeral:  # Slack does not echo ephemeral messages back
            payload["message"] = message.to_dict()
    body = urlencode({"payload": json.dumps(payload)})
    response, elapsed = post_signed(slack, bot_url, body, timestamp=timestamp, secret=secret, timeout=timeout)
    with slack._changing():
        slack._interactions.append(
            Interaction(
                "block_actions",
                payload,
                response.status_code,
                response.text,
                elapsed,
                response_url,
                trigger_id,
            )
        )
    return response


# ---------------------------------------------------------------------- view_submission

_VALUE_KEYS = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
}
_LIST_KEYS = ("selected_users", "selected_conversations", "selected_channels")
_SINGLE_OPTION = ("static_select", "external_select", "radio_buttons")
_MULTI_OPTION = ("multi_static_select", "multi_external_select", "checkboxes")


def state_values(blocks: list[dict[str, Any]], values: Mapping[str, Any]) -> dict[str, Any]:
    """Build ``view.state.values`` in Slack's shape from ``{block_id: {action_id: value}}``.

    ``{block_id: value}`` is accepted when the block has a single element. Every input block is
    present, unset ones empty (``value: None``), as Slack sends them. Already-shaped entries
    (dicts with a ``type``) pass through.
    """
    from .core import _elements  # noqa: PLC0415 - .core imports this module

    by_block = {b.get("block_id"): b for b in blocks}
    unknown = set(values) - set(by_block)
    if unknown:
        raise ValueError(f"view has no block(s) {sorted(unknown)}; blocks: {sorted(by_block)}")
    state: dict[str, Any] = {}
    for block_id, block in by_block.items():
        given = values.get(block_id)
        elements = _elements(block)
        if block.get("type") != "input" and block_id not in values:
            continue
        if given is not None and not isinstance(given, Mapping):
            if len(elements) != 1:
                raise ValueError(f"block {block_id} has {len(elements)} elements; pass {{action_id: value}}")
            given = {elements[0]["action_id"]: given}
        given = dict(given or {})
        entry: dict[str, Any] = {}
        for element in elements:
            action_id = element["action_id"]
            entry[action_id] = _element_state(element, given.pop(action_id, None))
        if given:
            raise ValueError(f"block {block_id} has no element(s) {sorted(given)}")
        state[str(block_id)] = entry
    return state


def _element_state(element: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = element.get("type", "plain_text_input")
    if isinstance(value, Mapping) and "type" in value:
        return dict(value)
    if kind in _SINGLE_OPTION:
        return {"type": kind, "selected_option": None if value is None else _option(element, value)}
    if kind in _MULTI_OPTION:
        values = [] if value is None else value if isinstance(value, list) else [value]
        return {"type": kind, "selected_options": [_option(element, v) for v in values]}
    key = _VALUE_KEYS.get(kind, "value")
    if key in _LIST_KEYS and value is not None and not isinstance(value, list):
        value = [value]
    return {"type": kind, key: value}


def submit_view(
    slack: LocalSlack,
    bot_url: str,
    *,
    user: str,
    view_id: str,
    values: Mapping[str, Any] | None,
    timestamp: int | str | None,
    secret: str | None,
    timeout: float,
) -> requests.Response:
    with slack._changing():
        view = slack.view(view_id)
        if view.closed:
            raise ValueError(f"view {view_id} is closed")
        if view.user != user:
            raise ValueError(f"view {view_id} is open for {view.user}, not {user}")
        ws = slack.workspaces[view.team_id]
        view.state_values = state_values(view.blocks, values or {})
        trigger_id = slack.issue_trigger_id(user, team_id=ws.team_id)
        payload: dict[str, Any] = {
            "type": "view_submission",
            "team": _team_dict(ws),
            "user": _user_dict(slack, user),
            "api_app_id": ws.app_id,
            "token": slack.verification_token,
            "trigger_id": trigger_id,
            "view": view.to_dict(),
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": _enterprise(ws),
        }
    body = urlencode({"payload": json.dumps(payload)})
    response, elapsed = post_signed(slack, bot_url, body, timestamp=timestamp, secret=secret, timeout=timeout)
    with slack._changing():
        error = _apply_view_response(slack, view_id, response) if response.status_code == 200 else "dispatch_failed"
        slack._interactions.append(
            Interaction(
                "view_submission",
                payload,
                response.status_code,
                response.text,
                elapsed,
                None,
                trigger_id,
                error,
            )
        )
    return response


def _apply_view_response(slack: LocalSlack, view_id: str, response: requests.Response) -> str | None:
    """Apply ``response_action`` (errors / update / push / clear); an empty 200 closes the view."""
    view = slack.view(view_id)
    if not response.text.strip():
        slack._close_view(view)
        return None
    try:
        data = response.json()
    except ValueError:
        return "invalid_json"
    action = data.get("response_action") if isinstance(data, dict) else None
    try:
        if action == "errors":
            view.errors = dict(data.get("errors") or {})
        elif action == "update":
            slack._replace_view(view, validate_view(data.get("view")))
        elif action == "push":
            stack = slack._stacks.setdefault(view.user, [view.id])
            if len(stack) >= 3:
                raise SlackError("push_limit_reached")
            pushed = slack._new_view(slack.workspaces[view.team_id], view.user, validate_view(data.get("view")), view)
            stack.append(pushed.id)
        elif action == "clear":
            slack._clear_views(view.user)
        else:
            slack._close_view(view)
    except SlackError as exc:
        log.warning("local Slack: the bot's view_submission response was rejected: %s", exc.error)
        return exc.error
    return None
