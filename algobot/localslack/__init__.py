"""A local Slack: a stateful Slack Web API double the bot talks to in tests and the playground.

The bot runs unchanged; only its Web API base URL points here. The double keeps real state
(channels, users, messages, modals, files), validates what Slack validates where that is cheap,
and can play Slack's side of interactions: signed slash commands, button clicks and modal
submissions. Nothing here logs the bot token or the signing secret, and recorded calls carry no
credential.

Public API::

    from algobot.localslack import LocalSlack, LocalSlackServer

    slack = LocalSlack(signing_secret, bot_token, team_id="T0001", *, team_domain="algobot-dev",
                       team_name="Algobot Dev", enterprise_id=None, bot_user_id="U0BOT",
                       bot_id="B0BOT", app_id="A0APP", app_token=None, socket_mode_url=...,
                       verification_token=..., clock=time.time, trigger_ttl=3.0,
                       response_url_ttl=1800.0, response_url_max_uses=5)
    server = LocalSlackServer(slack, host="127.0.0.1", port=0).start()   # also a context manager
    server.url / slack.url          # http://127.0.0.1:PORT
    server.api_url / slack.api_url  # http://127.0.0.1:PORT/api/  -> the bot's SLACK_API_URL
    server.close()

    # state
    slack.add_channel(id, name, *, team_id=None, is_private=False, is_archived=False,
                      bot_member=True, members=None) -> Channel      # members=None: everyone
    slack.add_user(id, name, *, team_id=None, is_admin=False, is_owner=False, real_name="",
                   deleted=False) -> User
    slack.add_workspace(team_id, *, domain, name, bot_token, ...) -> Workspace
    slack.update_channel(id, **changes)      # e.g. is_archived=True, bot_member=False
    slack.revoke_token(token)                # later calls: token_revoked
    slack.script(method, response, status=200, headers=None, times=1)
        # method: a Web API method, "response_url" or "upload"; response: dict (JSON) or str
    slack.oauth_response = {...}             # what oauth.v2.access answers (default: derived)

    # inspection (all thread-safe; objects are live dataclasses from algobot.localslack.model)
    slack.messages(channel, include_ephemeral_for=None) -> list[Message]  # replies included
    slack.thread(channel, ts, include_ephemeral_for=None) -> list[Message]  # parent first
    slack.message(channel, ts) -> Message | None
    slack.ephemerals(channel, user) -> list[Message]
    slack.calls(method=None) -> list[Call]   # also "response_url" / "upload" records
    slack.interactions(kind=None) -> list[Interaction]
    slack.view(view_id) -> View; slack.home_view(user) -> View | None
    slack.views(user=None, *, open_only=True, kind="modal") -> list[View]
    slack.files() -> list[File]; slack.file(id); slack.channel(id); slack.user(id); slack.dump() -> str
    slack.channels(team_id=None); slack.users(team_id=None); slack.view_stack(user) -> [view ids]
    slack.wait_for(predicate, timeout=5.0, message="") -> predicate's truthy result
        # condition-variable wait woken by every state change; AssertionError + dump on timeout.
        # The predicate runs under the state lock: read state in it, never call the double over HTTP.

    # the Slack side of interactions (signed; timestamp=/secret= override for negative tests)
    slack.send_command(bot_url, *, user, channel, text, command="/algo", timestamp=None,
                       secret=None, timeout=10.0) -> requests.Response
    slack.click(bot_url, *, user, channel, message_ts, action_id, value=None, block_id=None,
                timestamp=None, secret=None, timeout=10.0) -> requests.Response
    slack.submit_view(bot_url, *, user, view_id, values=None, timestamp=None, secret=None,
                      timeout=10.0) -> requests.Response
        # values: {block_id: {action_id: value}} or {block_id: value}; selects take the option value
    slack.issue_trigger_id(user, channel=None) / slack.issue_response_url(channel, user, message_ts=None)
    slack.handle_api(method, args, token, headers, base_url) -> (status, body, headers)  # /api/ without HTTP

    # changing the state as Slack would (what the Web API, the page and the client are built on;
    # every call takes the lock and wakes waiters; group several in ``with slack.changing():``)
    slack.post(channel, fields, *, user=None, thread_ts=None, ephemeral_to=None, files=None, ...)
    slack.update_message(message, fields, editor); slack.delete_message(message)
    slack.apply_reply(response_url, payload)   # a response_url post or a slash command's ack body
    slack.open_view(ws, trigger, payload); slack.push_view(ws, user, payload, *, trigger=None, on=None)
    slack.update_view(view, payload); slack.close_view(view); slack.clear_views(user)
    slack.create_file(ws, name, length); slack.handle_upload(file_id, content, headers)
    slack.share_files([(file, title)], channels, thread_ts=..., comment=...)
    slack.record_call(...); slack.record_interaction(interaction); slack.restore(messages, files, sequence)
    with slack.reading(): ...                  # several reads that must agree

    # keeping the history in a file across restarts (the playground; see algobot.localslack.history)
    history = HistoryFile(slack, path); history.load(); history.start(); ...; history.close()

    ThreadedWSGIServer(wsgi_app, host="127.0.0.1", port=0, threads=8).start() -> .url, .close()
        # serves the bot under test the same way (tests: the ``serve_wsgi`` fixture)

Layers, each importing only those before it: `model` (state objects, shared helpers) ←
`validation` ← `state` (`SlackState`: all state and the methods above; nothing else touches its
private members) ← `webapi` (Web API methods), `client` (Slack's signed requests to the bot),
`history` ← `ui` (the page) ← `wsgi` (HTTP routing) ← `core` (`LocalSlack` = `SlackState` + its
WSGI app + the client's functions as methods) ← `server`.

HTTP routes (see `algobot.localslack.wsgi`): ``/api/<method>``, ``POST /upload/<file_id>``,
``POST /response/<id>``, ``GET /_state[...]``.

Behaviours worth knowing: message ``ts`` values strictly increase; stored blocks get a
``block_id`` (and elements an ``action_id``) when they have none, as in Slack; a slash command's
ack body is shown to the user like Slack does (ephemeral unless ``response_type: in_channel``), and
a non-200 ack or one slower than 3 s leaves Slackbot's "failed with the error" ephemeral.
"""

from .core import LocalSlack
from .model import Call, Channel, File, Interaction, Message, SlackError, User, View, Workspace
from .server import LocalSlackServer, ThreadedWSGIServer

__all__ = [
    "Call",
    "Channel",
    "File",
    "Interaction",
    "LocalSlack",
    "LocalSlackServer",
    "Message",
    "SlackError",
    "ThreadedWSGIServer",
    "User",
    "View",
    "Workspace",
]
