"""`LocalSlack`: the workspace state (`state.SlackState`) with its HTTP face and Slack's side of interactions.

The layers import downwards only: `model` ← `validation` ← `state` ← `webapi`, `client`, `history`
← `ui` ← `wsgi` ← here. This class adds what needs all of them: the WSGI app that serves the state
(`wsgi_app`) and the methods a test calls to act as Slack (`send_command`, `click`, `submit_view`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import requests

from . import client, webapi
from .state import SlackState
from .wsgi import LocalSlackWSGI


class LocalSlack(SlackState):
    """A Slack workspace double with real state; see the package docstring for the public API."""

    @functools.cached_property
    def wsgi_app(self) -> LocalSlackWSGI:
        """The WSGI application serving this workspace (what `LocalSlackServer` runs)."""
        return LocalSlackWSGI(self)

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

    # ------------------------------------------------------------------ request entry points (wsgi)

    def handle_api(
        self, method: str, args: dict[str, Any], token: str | None, headers: dict[str, str], base_url: str
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one Web API call as ``/api/<method>`` does (`webapi.answer`)."""
        return webapi.answer(self, method, args, token, headers, base_url)
