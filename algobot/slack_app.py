"""The Bolt app: thin listeners that parse, ack and hand over to `algobot.dispatch.execute`.

`create_app` is the factory; nothing here runs at import time and no network call happens until a
request arrives. Listeners run on the request thread (Bolt's ``process_before_response``): they
parse, hand the work to the bounded `algobot.intake.WorkQueue` and ack, so a slow or dead
Algorithmia never delays an ack. Work the queue cannot take is refused with a "busy" sentence, and
work past its deadline is reported to whoever asked (see `algobot.intake`).

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
from concurrent.futures import Executor
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
from algobot.commands import load_registry
from algobot.crypto import KeyCipher
from algobot.dispatch import Invocation, Services, Upload, execute
from algobot.intake import WorkQueue
from algobot.logs import SecretFilter
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
        self.expired = False  # set once the person was told algobot stopped waiting

    def ephemeral(self, message: Mapping[str, Any]) -> None:
        """A reply only the caller sees; dropped once the command was reported as timed out."""
        if self.expired:
            log.info("late reply dropped: the command had already been reported as timed out")
            return
        self.notice(message)

    def notice(self, message: Mapping[str, Any]) -> None:
        """Through response_url when there is one, falling back to chat.postEphemeral when it fails."""
        if self._respond is not None:
            try:
                response = self._respond(**message, response_type="ephemeral", replace_original=self.replace_original)
            except OSError as exc:  # urllib's URLError, a refused connection, a timeout
                log.warning("response_url unreachable (%s); replying with chat.postEphemeral", type(exc).__name__)
            else:
                if response.status_code == 200:
                    return
                log.warning("response_url answered %s; replying with chat.postEphemeral", response.status_code)
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


WORKING_TEXT_LIMIT = 120  # characters of the command echoed in "Working on …"
_KEY_SHAPES = SecretFilter()


def _working_text(parsed: ParsedCommand) -> str:
    """Said just before a command's first Algorithmia call: the command with its arguments.

    Only commands that call the API say it (login never does); key-shaped text is redacted, the
    rest escaped and cut to WORKING_TEXT_LIMIT characters.
    """
    words = [parsed.name, *parsed.positional]
    words += [f'{k}="{v}"' if " " in v else f"{k}={v}" for k, v in parsed.options.items()]
    text = _KEY_SHAPES.scrub(" ".join(words)).replace("`", "'")
    if len(text) > WORKING_TEXT_LIMIT:
        text = text[: WORKING_TEXT_LIMIT - 1] + "…"
    return messages.WORKING.format(text=blocks.esc(text))


def _usage_for(text: str, services: Services) -> str:
    """The usage of the command the text names (even when the text cannot be parsed), else help's."""
    words = text.split()
    spec = services.registry.get(words[0].lower()) if words else None
    return spec.usage if spec is not None else "/algo help"


def _report_failure(error: Exception, body: Mapping[str, Any], logger: logging.Logger) -> str:
    """Log an unexpected failure with a short reference a person can quote; returns the reference."""
    reference = uuid.uuid4().hex[:8]
    ref = channel_ref(body)
    logger.error(
        "unhandled error ref=%s team=%s channel=%s user=%s: %r",
        reference,
        ref.team_id,
        ref.channel_id,
        _user_id(body),
        error,
        exc_info=error,
    )
    return reference


def _hand_off(
    work: WorkQueue,
    name: str,
    body: Mapping[str, Any],
    responder: BoltResponder,
    job: Callable[[], None],
    *,
    lane: str = "api",
) -> bool:
    """Queue ``job``; False when the queue is full (the caller says "busy"). Failures and timeouts are told.

    ``lane="local"`` for work that never calls Algorithmia, so it never waits behind work that does.
    """

    def run() -> None:
        try:
            job()
        except Exception as exc:  # reported to the person with a reference, and logged with the traceback
            reference = _report_failure(exc, body, log)
            try:
                responder.notice(blocks.text_message(messages.INTERNAL_ERROR.format(ref=reference)))
            except Exception:  # Slack itself failing: the log line above is all that is left
                log.exception("could not tell the user about ref=%s", reference)

    def on_timeout(reason: str) -> None:
        responder.expired = True
        sentence = {
            "running": messages.TIMED_OUT_RUNNING,
            "waiting": messages.TIMED_OUT_WAITING,
            "stopping": messages.NOT_RUN_STOPPING,
        }[reason]
        responder.notice(blocks.text_message(sentence.format(name=blocks.esc(name), seconds=round(work.deadline))))

    return work.submit(run, on_timeout=on_timeout, lane=lane)


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
    work_queue: WorkQueue | None = None,
) -> App:
    """Build the Bolt app and register every listener.

    Commands, buttons and dialogs run on ``work_queue`` (by default ALGOBOT_COMMAND_WORKERS threads
    with room for ALGOBOT_COMMAND_QUEUE more waiting); ``listener_executor`` alone gives that queue
    another executor (tests pass one that runs work inline).
    """
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
    if work_queue is None:
        workers, capacity = settings.command_workers, settings.command_queue
        if listener_executor is None:
            work_queue = WorkQueue.threaded(workers, capacity)
        else:
            work_queue = WorkQueue(listener_executor, workers=workers, capacity=capacity)
    work = work_queue
    app = App(
        # In Socket Mode the signing secret is optional; without one, /slack/events must still refuse
        # every HTTP request, so Bolt verifies against a random secret nobody knows.
        signing_secret=settings.slack_signing_secret or secrets.token_hex(32),
        client=client,
        oauth_settings=_oauth_settings(settings, store, client) if store is not None else None,
        token_verification_enabled=False,
        # Listeners run on the request thread and only ack and queue, so an ack never waits for a worker.
        process_before_response=True,
        listener_executor=listener_executor,
    )
    app.use(_mark_verified)
    if store is not None:
        _register_uninstall_listeners(app, settings, store, services)

    @app.command("/algo")
    def on_algo(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        text = body.get("text") or ""
        try:
            parsed = split_command(text)
        except ParseError as exc:
            ack(**blocks.text_message(messages.bad_input(str(exc), _usage_for(text, services))))
            return
        spec = services.registry.get(parsed.name)
        if spec is not None:
            try:
                spec.check(parsed)
            except ParseError as exc:  # answered in the ack: no worker needed, nothing to wait for
                ack(**blocks.text_message(messages.bad_input(str(exc), spec.usage)))
                return
        ref, user_id = channel_ref(body), _user_id(body)
        responder = BoltResponder(client, ref, user_id, respond=respond, trigger_id=body.get("trigger_id"))

        def working() -> None:
            responder.ephemeral(blocks.text_message(_working_text(parsed)))

        invocation = Invocation(
            ref=ref,
            user_id=user_id,
            source="command",
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
            on_api_call=working if spec is not None and spec.needs_key else None,
        )
        name = spec.name if spec is not None else "help"
        lane = "api" if spec is not None and spec.needs_key else "local"
        job = lambda: execute(services, invocation, parsed, responder)  # noqa: E731
        if not _hand_off(work, name, body, responder, job, lane=lane):
            ack(**blocks.text_message(messages.BUSY.format(name=blocks.esc(name))))
            return
        ack()  # no text: the answer follows, after "Working on …" when Algorithmia is asked

    @app.action({"action_id": ids.ACTION_CANCEL})
    def on_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        work.notify(lambda: respond(text=messages.CONFIRM_CANCELLED, replace_original=True))

    def busy_notice(responder: BoltResponder, name: str) -> None:
        """A button cannot answer in its ack: the busy sentence goes out from the notice pool."""
        work.notify(lambda: responder.notice(blocks.text_message(messages.BUSY.format(name=blocks.esc(name)))))

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
            if not _hand_off(
                work, parsed.name, body, responder, lambda: execute(services, invocation, parsed, responder)
            ):
                busy_notice(responder, parsed.name)

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
        # A Slack call only (no Algorithmia), and the trigger expires in 3 s: not behind the command queue.
        work.notify(lambda: client.views_open(trigger_id=body.get("trigger_id"), view=view))

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
        responder = BoltResponder(client, ref, user_id)
        if not _hand_off(work, "publish", body, responder, lambda: execute(services, invocation, parsed, responder)):
            # The dialog stays open with the sentence, so nothing typed is lost.
            ack(response_action="errors", errors={ids.BLOCK_PUBLISH_VERSION: messages.BUSY_FIELD})
            return
        ack()

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
        responder = BoltResponder(client, ref, user_id)
        job = lambda: execute(services, invocation, ParsedCommand(name="login"), responder)  # noqa: E731
        if not _hand_off(work, "login", body, responder, job, lane="local"):  # stores the key; no API call
            ack(response_action="errors", errors={ids.BLOCK_LOGIN_KEY: messages.BUSY_FIELD})
            return
        ack()

    @app.error
    def on_error(error: Exception, body: dict, context: BoltContext, respond: Respond, logger: logging.Logger) -> None:
        reference = _report_failure(error, body, logger)
        # Only a verified request's response_url is Slack's: an unverified body could name any URL.
        if context.get(VERIFIED) and respond is not None and respond.response_url:
            respond(text=messages.INTERNAL_ERROR.format(ref=reference), response_type="ephemeral")

    return app


VERIFIED = "algobot_verified"


def _mark_verified(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002 - Bolt's argument name
    """Runs after Bolt's signature check (or for Socket Mode, whose requests need none): marks trusted requests."""
    context[VERIFIED] = True
    next()
