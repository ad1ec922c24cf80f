"""`LocalSlack`: the workspace state (`state.SlackState`) with its HTTP face and Slack's side of interactions.

The layers import downwards only: `model` ← `validation` ← `state` ← `webapi`, `client`, `history`
← `ui` ← `wsgi` ← here. This class adds what needs all of them: the WSGI app that serves the state
(`wsgi_app`) and the methods a test calls to act as Slack (`send_command`, `click`, `submit_view`).
"""

from __future__ import annotations

import functools

from . import client, webapi
from .state import SlackState
from .wsgi import LocalSlackWSGI


class LocalSlack(SlackState):
    """A Slack workspace double with real state; see the package docstring for the public API."""

    # The Slack side of interactions, as methods: ``slack.click(bot_url, ...)`` is
    # ``client.click(slack, bot_url, ...)``, so the signature and docstring are written once, in `client`.
    send_command = client.send_command
    click = client.click
    submit_view = client.submit_view
    # What ``/api/<method>`` answers, without HTTP: ``slack.handle_api(method, args, token, headers, base_url)``.
    handle_api = webapi.answer

    @functools.cached_property
    def wsgi_app(self) -> LocalSlackWSGI:
        """The WSGI application serving this workspace (what `LocalSlackServer` runs)."""
        return LocalSlackWSGI(self)
