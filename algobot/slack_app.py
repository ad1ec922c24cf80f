"""The Bolt app: `create_app` builds it and registers the listeners of `algobot.listeners`.

Listeners are thin: they parse, ack and hand over to `algobot.dispatch.execute`. Nothing here runs
at import time and no network call happens until a request arrives. Listeners run on the request
thread (Bolt's ``process_before_response``): they parse, hand the work to the bounded
`algobot.intake.WorkQueue` and ack, so a slow or dead Algorithmia never delays an ack. Work the
queue cannot take is refused with a "busy" sentence, and work past its deadline is reported to
whoever asked (see `algobot.intake`).

With SLACK_CLIENT_ID / SLACK_CLIENT_SECRET the app serves Bolt's OAuth flow and looks each request's
bot token up in the installation store (`algobot.workspaces`); a workspace that uninstalls the app
(`app_uninstalled`, or its bot token revoked) is forgotten. The listeners are the same in every mode.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime

from slack_bolt import App, BoltContext, Respond
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore

from algobot import messages, workspaces
from algobot.algorithmia import AlgorithmiaClient
from algobot.commands import load_registry
from algobot.crypto import KeyCipher
from algobot.dispatch import Services
from algobot.intake import WorkQueue
from algobot.listeners import Wiring, register_listeners
from algobot.listeners.common import report_failure
from algobot.settings import Settings

INSTALL_PATH = "/slack/install"  # Bolt's OAuth flow: the "Add to Slack" page ...
REDIRECT_PATH = "/slack/oauth_redirect"  # ... and where Slack sends the installer back


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
    register_listeners(app, Wiring(services=services, work=work_queue, installations=store))

    @app.error
    def on_error(error: Exception, body: dict, context: BoltContext, respond: Respond, logger: logging.Logger) -> None:
        reference = report_failure(error, body, logger)
        # Only a verified request's response_url is Slack's: an unverified body could name any URL.
        if context.get(VERIFIED) and respond is not None and respond.response_url:
            respond(text=messages.INTERNAL_ERROR.format(ref=reference), response_type="ephemeral")

    return app


VERIFIED = "algobot_verified"


def _mark_verified(context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002 - Bolt's argument name
    """Runs after Bolt's signature check (or for Socket Mode, whose requests need none): marks trusted requests."""
    context[VERIFIED] = True
    next()
