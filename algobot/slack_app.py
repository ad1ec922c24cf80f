"""The Bolt app: thin listeners that parse, ack and hand over to `algobot.dispatch.execute`.

`create_app` is the factory; nothing here runs at import time and no network call happens until a
request arrives. Every listener acks before any Algorithmia call, and the work runs on the
listener executor (sized by ALGOBOT_COMMAND_WORKERS) so a slow API never delays an ack.

With SLACK_CLIENT_ID / SLACK_CLIENT_SECRET the app serves Bolt's OAuth flow and looks each request's
bot token up in the installation store (`algobot.workspaces`); a workspace that uninstalls the app
(`app_uninstalled`, or its bot token revoked) is forgotten. The listeners are the same in every mode.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from slack_bolt import Ack, App, BoltContext, Respond
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore

from algobot import blocks, ids, messages, workspaces
from algobot.algorithmia import AlgorithmiaClient
from algobot.channels import ChannelRef, dialog_metadata
from algobot.crypto import KeyCipher
from algobot.dispatch import Invocation, Services, Upload, execute
from algobot.parsing import ParsedCommand, ParseError, contains_key_shape, split_command
from algobot.settings import Settings

log = logging.getLogger(__name__)

NOT_IN_CHANNEL_ERRORS = ("not_in_channel", "channel_not_found")
INSTALL_PATH = "/slack/install"  # Bolt's OAuth flow: the "Add to Slack" page ...
REDIRECT_PATH = "/slack/oauth_redirect"  # ... and where Slack sends the installer back


class BoltResponder:
    """Delivers replies through `respond()` (response_url) and the bot's Web API client."""

    def __init__(
        self,
        client: WebClient,
        ref: ChannelRef,
        user_id: str,
        *,
        respond: Respond | None = None,
        trigger_id: str | None = None,
        replace_original: bool = False,
    ):
        self.client = client
        self.ref = ref
        self.user_id = user_id
        self._respond = respond if respond is not None and respond.response_url else None
        self.trigger_id = trigger_id
        self.replace_original = replace_original

    def ephemeral(self, message: Mapping[str, Any]) -> None:
        if self._respond is not None:
            self._respond(**message, response_type="ephemeral", replace_original=self.replace_original)
        else:
            self.client.chat_postEphemeral(channel=self.ref.channel_id, user=self.user_id, **message)

    def announce(self, message: Mapping[str, Any]) -> str | None:
        try:
            response = self.client.chat_postMessage(channel=self.ref.channel_id, **message)
        except SlackApiError as exc:
            if exc.response.get("error") not in NOT_IN_CHANNEL_ERRORS or self._respond is None:
                raise
            # The bot is not a member: the command's response_url can still post in the channel.
            self._respond(**message, response_type="in_channel", replace_original=False)
            return None
        return str(response.get("ts") or "") or None

    def upload(self, upload: Upload) -> None:
        """Into the channel (a notice's thread), or privately; a channel the bot left falls back to private."""
        if upload.private:
            if self._upload_privately(upload) and upload.note:
                self.ephemeral(blocks.text_message(upload.note))
            return
        try:
            self._upload_to(self.ref.channel_id, upload, thread_ts=upload.thread_ts)
        except SlackApiError as exc:
            if exc.response.get("error") not in NOT_IN_CHANNEL_ERRORS:
                raise
            if self._upload_privately(upload):
                self.ephemeral(blocks.text_message(messages.FULL_LOG_NOT_IN_CHANNEL))

    def _upload_privately(self, upload: Upload) -> bool:
        """Upload into the bot's DM with the user (conversations.open, scope im:write); False if Slack refused."""
        try:
            opened = self.client.conversations_open(users=self.user_id)
        except SlackApiError as exc:
            if exc.response.get("error") != "missing_scope":
                raise
            # An installation from before im:write: say what the operator has to do.
            self.ephemeral(blocks.text_message(messages.FULL_LOG_NEEDS_IM_WRITE))
            return False
        self._upload_to(str((opened.get("channel") or {}).get("id") or ""), upload, thread_ts=None)
        return True

    def _upload_to(self, channel: str, upload: Upload, *, thread_ts: str | None) -> None:
        self.client.files_upload_v2(
            channel=channel,
            content=upload.content,
            filename=upload.filename,
            title=upload.title,
            initial_comment=upload.comment,
            thread_ts=thread_ts,
        )

    def open_view(self, view: Mapping[str, Any]) -> None:
        self.client.views_open(trigger_id=self.trigger_id, view=dict(view))

    def is_workspace_admin(self, user_id: str) -> bool:
        user = self.client.users_info(user=user_id).get("user") or {}
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))


def channel_ref(body: Mapping[str, Any]) -> ChannelRef:
    """The (enterprise, team, channel) a request comes from, for every payload shape."""
    team = body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    enterprise = body.get("enterprise_id") or (body.get("enterprise") or {}).get("id") or ""
    return ChannelRef(team_id=str(team or ""), channel_id=str(channel), enterprise_id=str(enterprise or ""))


def _user_id(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    return str(body.get("user_id") or (user.get("id") if isinstance(user, dict) else "") or "")


def _dialog_target(cipher: KeyCipher, body: Mapping[str, Any], view: Mapping[str, Any]) -> dict[str, Any] | None:
    """The signed metadata of a submitted dialog, if it was opened by this deployment for this very user
    in this team (and enterprise); None otherwise. Slack signs the submission, but not what the
    metadata says, so the channel is trusted only when both agree."""
    fields = cipher.open_metadata(view.get("private_metadata"))
    submitter = channel_ref(body)
    if (
        fields is None
        or not fields.get("channel")
        or fields.get("team") != submitter.team_id
        or fields.get("enterprise", "") != submitter.enterprise_id
        or fields.get("user") != _user_id(body)
    ):
        log.warning(
            "refused a dialog submission from %s/%s whose metadata is not signed for that user and team",
            submitter.team_id,
            _user_id(body),
        )
        return None
    return fields


def _working_text(parsed: ParsedCommand) -> str:
    """What the ack says; it never echoes free text, which could hold a secret."""
    head = parsed.name
    if parsed.positional and "/" in parsed.positional[0]:
        head += " " + blocks.esc(parsed.positional[0])
    return messages.WORKING.format(text=head)


def _valid_endpoint(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def _oauth_settings(settings: Settings, store: SQLite3InstallationStore, client: WebClient) -> OAuthSettings:
    """Bolt's OAuth flow (`/slack/install`, `/slack/oauth_redirect`) with both stores in algobot's database.

    Everything is passed explicitly, so no SLACK_* variable is read behind algobot's back. The flow's
    own calls (oauth.v2.access, auth.test, token rotation) go through ``client``, i.e. SLACK_API_URL.
    """
    oauth = OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(workspaces.SCOPES),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=store,
        state_store=workspaces.oauth_state_store(settings),
        state_expiration_seconds=workspaces.OAUTH_STATE_SECONDS,
        logger=logging.getLogger("algobot.oauth"),
    )
    oauth.authorize = InstallationStoreAuthorize(
        logger=logging.getLogger("algobot.oauth"),
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        token_rotation_expiration_minutes=oauth.token_rotation_expiration_minutes,
        installation_store=store,
        client=client,
    )
    return oauth


def _register_uninstall_listeners(
    app: App, settings: Settings, store: SQLite3InstallationStore, services: Services
) -> None:
    """A workspace that removes the app loses its installation and everything algobot kept for it."""

    def forget(context: BoltContext, reason: str) -> None:
        workspaces.uninstall(
            settings.db_path,
            store,
            team_id=context.team_id,
            enterprise_id=context.enterprise_id,
            reason=reason,
            audit_key=services.cipher.audit_key,
            now=services.clock(),
        )

    @app.event("app_uninstalled")
    def on_app_uninstalled(context: BoltContext) -> None:
        forget(context, "app_uninstalled")

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict, context: BoltContext) -> None:
        tokens = event.get("tokens") or {}
        for user_id in tokens.get("oauth") or []:  # algobot asks for no user scopes; tidy up all the same
            store.delete_installation(enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id)
        if tokens.get("bot"):  # without its bot token the app can do nothing more in that workspace
            forget(context, "tokens_revoked")


class _ClientTokenNotice(logging.Filter):
    """Drops Bolt's "As you gave `client` as well, `token` will be unused." (logged at every start).

    Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns when a `client` is passed too.
    `create_app` always passes the client that carries the token it means (Settings' bot token, or
    none with OAuth, where each request gets its installation's), so the notice only misleads operators.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_CLIENT_TOKEN_NOTICE = _ClientTokenNotice()


def create_app(
    settings: Settings,
    cipher: KeyCipher,
    *,
    client: WebClient | None = None,
    clock: Callable[[], datetime] | None = None,
    api_factory: Callable[[str, str], AlgorithmiaClient] | None = None,
    listener_executor: Executor | None = None,
) -> App:
    """Build the Bolt app and register every listener."""
    from commands import load_registry

    settings.require_slack()
    if client is None:
        # With OAuth the app's own client carries no token: Bolt gives each request a client holding
        # the bot token of the workspace it came from.
        token = None if settings.oauth_enabled else settings.slack_bot_token
        client = WebClient(token=token, base_url=settings.slack_api_url)
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    services = Services(settings=settings, cipher=cipher, registry=load_registry())
    if clock is not None:
        services.clock = clock
    if api_factory is not None:
        services.api_factory = api_factory
    store = workspaces.installation_store(settings, cipher) if settings.oauth_enabled else None
    logging.getLogger("slack_bolt.App").addFilter(_CLIENT_TOKEN_NOTICE)  # once: addFilter skips a duplicate
    app = App(
        # In Socket Mode the signing secret is optional; without one, /slack/events must still refuse
        # every HTTP request, so Bolt verifies against a random secret nobody knows.
        signing_secret=settings.slack_signing_secret or secrets.token_hex(32),
        client=client,
        oauth_settings=_oauth_settings(settings, store, client) if store is not None else None,
        token_verification_enabled=False,
        listener_executor=listener_executor or ThreadPoolExecutor(max_workers=settings.command_workers),
    )
    if store is not None:
        _register_uninstall_listeners(app, settings, store, services)

    @app.command("/algo")
    def on_algo(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        try:
            parsed = split_command(body.get("text") or "")
        except ParseError as exc:
            ack(**blocks.text_message(messages.bad_input(str(exc), "/algo help")))
            return
        spec = services.registry.get(parsed.name)
        if spec is None or spec.name == "login":
            ack()
        else:
            ack(text=_working_text(parsed))
        ref, user_id = channel_ref(body), _user_id(body)
        responder = BoltResponder(client, ref, user_id, respond=respond, trigger_id=body.get("trigger_id"))
        invocation = Invocation(
            ref=ref,
            user_id=user_id,
            source="command",
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
        )
        execute(services, invocation, parsed, responder)

    @app.action({"action_id": ids.ACTION_CANCEL})
    def on_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text=messages.CONFIRM_CANCELLED, replace_original=True)

    for action_id in ids.COMMAND_ACTIONS:

        @app.action({"action_id": action_id})
        def on_command_button(ack: Ack, body: dict, action: dict, respond: Respond, client: WebClient) -> None:
            ack()
            value = json.loads(action.get("value") or "{}")
            parsed = ParsedCommand(
                name=str(value.get("cmd", "")),
                positional=tuple(str(a) for a in value.get("args", [])),
                options={str(k): str(v) for k, v in (value.get("opts") or {}).items()},
            )
            ref, user_id = channel_ref(body), _user_id(body)
            confirmed = action.get("action_id") == ids.ACTION_CONFIRM_PUBLISH
            message = body.get("message") or {}
            if action.get("action_id") == ids.ACTION_FULL_LOG and message.get("ts"):
                # On a channel notice the log goes into the notice's thread.
                parsed.options["thread"] = str(message.get("thread_ts") or message["ts"])
            responder = BoltResponder(
                client,
                ref,
                user_id,
                respond=respond,
                trigger_id=body.get("trigger_id"),
                replace_original=confirmed,
            )
            invocation = Invocation(
                ref=ref,
                user_id=user_id,
                source="button",
                response_url=body.get("response_url"),
                confirmed=confirmed,
            )
            execute(services, invocation, parsed, responder)

    @app.action({"action_id": ids.ACTION_OPEN_PUBLISH})
    def on_open_publish(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        value = json.loads(action.get("value") or "{}")
        # The button names one build; the dialog publishes that build's commit or nothing.
        build_id, git_hash = value.get("build_id"), value.get("git_hash")
        metadata = dialog_metadata(
            cipher,
            channel_ref(body),
            _user_id(body),
            algorithm=value.get("algorithm"),
            build_id=build_id,
            git_hash=git_hash,
        )
        view = blocks.publish_modal(
            algorithm=str(value.get("algorithm")),
            private_metadata=metadata,
            build_id=str(build_id) if build_id else None,
            commit=str(git_hash) if git_hash else None,
        )
        client.views_open(trigger_id=body.get("trigger_id"), view=view)

    @app.view(ids.VIEW_PUBLISH)
    def on_publish_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})

        def field(block_id: str, action_id: str) -> str:
            state = (values.get(block_id) or {}).get(action_id) or {}
            return str((state.get("selected_option") or {}).get("value") or state.get("value") or "").strip()

        meta = _dialog_target(cipher, body, view)
        if meta is None:
            ack(response_action="errors", errors={ids.BLOCK_PUBLISH_VERSION: messages.DIALOG_NOT_FOR_YOU})
            return
        shaped = {
            block_id: messages.DIALOG_FIELD_HOLDS_A_KEY
            for block_id, action_id in (
                (ids.BLOCK_PUBLISH_NOTES, ids.ACTION_PUBLISH_NOTES),
                (ids.BLOCK_PUBLISH_SAMPLE, ids.ACTION_PUBLISH_SAMPLE),
            )
            if contains_key_shape(field(block_id, action_id))
        }
        if shaped:  # refused in the dialog, which stays open with what was typed
            ack(response_action="errors", errors=shaped)
            return
        ack()
        ref = ChannelRef(
            team_id=str(meta.get("team", "")),
            channel_id=str(meta.get("channel", "")),
            enterprise_id=str(meta.get("enterprise", "")),
        )
        options = {"callability": field(ids.BLOCK_PUBLISH_CALLABILITY, ids.ACTION_PUBLISH_CALLABILITY) or "private"}
        if notes := field(ids.BLOCK_PUBLISH_NOTES, ids.ACTION_PUBLISH_NOTES):
            options["notes"] = notes
        if sample := field(ids.BLOCK_PUBLISH_SAMPLE, ids.ACTION_PUBLISH_SAMPLE):
            options["sample_input"] = sample
        if meta.get("build_id"):
            options["build"] = str(meta["build_id"])
        version_type = field(ids.BLOCK_PUBLISH_VERSION, ids.ACTION_PUBLISH_VERSION) or "minor"
        parsed = ParsedCommand(name="publish", positional=(str(meta.get("algorithm")), version_type), options=options)
        user_id = _user_id(body)
        # The modal is the confirmation, public callability included.
        invocation = Invocation(ref=ref, user_id=user_id, source="modal", confirmed=True)
        execute(services, invocation, parsed, BoltResponder(client, ref, user_id))

    @app.view(ids.VIEW_LOGIN)
    def on_login_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})
        key = ((values.get(ids.BLOCK_LOGIN_KEY) or {}).get(ids.ACTION_LOGIN_KEY) or {}).get("value") or ""
        endpoint = ((values.get(ids.BLOCK_LOGIN_ENDPOINT) or {}).get(ids.ACTION_LOGIN_ENDPOINT) or {}).get(
            "value"
        ) or ""
        errors = {}
        if not key.strip():
            errors[ids.BLOCK_LOGIN_KEY] = messages.LOGIN_KEY_EMPTY
        elif len(key.strip().split()) > 1:
            errors[ids.BLOCK_LOGIN_KEY] = messages.LOGIN_KEY_HAS_SPACES
        if endpoint.strip() and not _valid_endpoint(endpoint.strip()):
            errors[ids.BLOCK_LOGIN_ENDPOINT] = messages.LOGIN_ENDPOINT_BAD
        meta = _dialog_target(cipher, body, view)
        if meta is None:
            errors = {ids.BLOCK_LOGIN_KEY: messages.DIALOG_NOT_FOR_YOU}  # the key goes nowhere
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        ref = ChannelRef(
            team_id=str(meta.get("team", "")),
            channel_id=str(meta.get("channel", "")),
            enterprise_id=str(meta.get("enterprise", "")),
        )
        user_id = _user_id(body)
        invocation = Invocation(
            ref=ref,
            user_id=user_id,
            source="modal",
            secret_input={"api_key": key.strip(), "endpoint": endpoint.strip()},
        )
        execute(services, invocation, ParsedCommand(name="login"), BoltResponder(client, ref, user_id))

    @app.error
    def on_error(error: Exception, body: dict, respond: Respond, logger: logging.Logger) -> None:
        reference = uuid.uuid4().hex[:8]
        logger.error(
            "unhandled error ref=%s team=%s channel=%s user=%s: %r",
            reference,
            channel_ref(body).team_id,
            channel_ref(body).channel_id,
            _user_id(body),
            error,
            exc_info=error,
        )
        if respond is not None and respond.response_url:
            respond(text=messages.INTERNAL_ERROR.format(ref=reference), response_type="ephemeral")

    return app
