"""The single dispatcher every `/algo` command, button and modal goes through.

Cross-cutting concerns live here and nowhere else: argument checks against each command's spec,
permissions, the channel's API key, mapping API failures to a person's sentence, the audit trail,
and delivering the reply. Command modules under ``commands/`` only turn arguments into API calls
and replies. Nothing here knows about Bolt: Slack is reached through a `Responder`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlite_utils import Database

from algobot import audit, messages, metrics, permissions
from algobot.algorithmia import AlgorithmiaClient, AlgorithmiaError, InvalidInput
from algobot.blocks import text_message
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import KeyCipher
from algobot.db import immediate, open_db
from algobot.parsing import ParsedCommand, ParseError
from algobot.settings import Settings

log = logging.getLogger(__name__)


class Kind(enum.Enum):
    """What a command does, which decides who may run it and whether it is audited."""

    LOCAL = "local"  # answers from algobot's own state (help, status, audit)
    READ = "read"  # reads from the API: open to the channel, audited
    CHANGE = "change"  # changes an algorithm: allow list applies, audited, announced
    CONFIGURE = "configure"  # changes the channel's configuration: configurers only, audited


@dataclass(frozen=True)
class CommandSpec:
    """A subcommand as the dispatcher and `/algo help` see it."""

    name: str
    summary: str
    usage: str
    kind: Kind
    run: Callable[[CommandContext, ParsedCommand], Reply]
    min_args: int = 0
    max_args: int = 0
    options: tuple[str, ...] = ()
    needs_key: bool = False
    details: str = ""
    arg_names: tuple[str, ...] = ("USER/ALGO",)
    # Replaces the generic checks for commands whose text must never be echoed (login).
    check_text: Callable[[ParsedCommand], str | None] | None = None

    def check(self, parsed: ParsedCommand) -> None:
        """Raise ParseError naming the first problem with the arguments."""
        if self.check_text is not None:
            problem = self.check_text(parsed)
            if problem:
                raise ParseError(problem)
            return
        unknown = [key for key in parsed.options if key not in self.options]
        if unknown:
            raise ParseError(messages.unknown_option(unknown[0], list(self.options)))
        if len(parsed.positional) > self.max_args:
            raise ParseError(messages.too_many_arguments(list(parsed.positional[self.max_args :])))
        if len(parsed.positional) < self.min_args:
            name = self.arg_names[min(len(parsed.positional), len(self.arg_names) - 1)]
            raise ParseError(messages.missing_argument(name))

    @property
    def audited(self) -> bool:
        return self.kind is not Kind.LOCAL


@dataclass(frozen=True)
class Invocation:
    """Who ran what, where, and how Slack lets us answer."""

    ref: ChannelRef
    user_id: str
    source: str = "command"  # command | button | modal
    response_url: str | None = None
    trigger_id: str | None = None
    confirmed: bool = False  # a confirmation button was pressed
    secret_input: Mapping[str, str] | None = field(default=None, repr=False)  # the login modal's key
    on_api_call: Callable[[], None] | None = field(default=None, repr=False)  # "Working on …", once a key is found


@dataclass
class Upload:
    """A file to put into the channel (the whole build log)."""

    content: str
    filename: str
    title: str
    comment: str
    thread_ts: str | None = None


@dataclass(frozen=True)
class TrackBuild:
    """A build started from Slack, to follow until it ends and update its announcement in place."""

    algorithm: str
    build_id: str
    commit_sha: str | None = None


@dataclass
class Reply:
    """What a command produced: messages to deliver and what the audit trail records."""

    ephemeral: dict[str, Any] | None = None
    announce: dict[str, Any] | None = None
    upload: Upload | None = None
    view: dict[str, Any] | None = None
    algorithm: str | None = None
    result: str | None = None
    outcome: str = "ok"
    error: str | None = None
    audit_arguments: dict[str, Any] | None = None
    skip_audit: bool = False
    track: TrackBuild | None = None


class Responder(Protocol):
    """How the dispatcher talks back to Slack (implemented in algobot.slack_app)."""

    def ephemeral(self, message: Mapping[str, Any]) -> None: ...

    def announce(self, message: Mapping[str, Any]) -> str | None: ...

    def upload(self, upload: Upload) -> None: ...

    def open_view(self, view: Mapping[str, Any]) -> None: ...

    def is_workspace_admin(self, user_id: str) -> bool: ...


@dataclass
class Services:
    """Long-lived collaborators, built once by the app factory."""

    settings: Settings
    cipher: KeyCipher
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    api_factory: Callable[[str, str], AlgorithmiaClient] = field(
        default=lambda key, endpoint: AlgorithmiaClient(key, endpoint)
    )
    registry: Mapping[str, CommandSpec] = field(default_factory=dict)


@dataclass
class CommandContext:
    """What one command run may use; opened per unit of work and closed after it."""

    services: Services
    invocation: Invocation
    db: Database
    channels: ChannelStore
    responder: Responder
    api: AlgorithmiaClient | None = None
    endpoint: str = ""

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def now(self) -> datetime:
        return self.services.clock()

    @property
    def user_id(self) -> str:
        return self.invocation.user_id

    @property
    def ref(self) -> ChannelRef:
        return self.invocation.ref

    def require_api(self) -> AlgorithmiaClient:
        assert self.api is not None, "command declared needs_key=False but used the API"
        return self.api


def _permission(ctx: CommandContext, spec: CommandSpec) -> permissions.Decision:
    settings = ctx.settings
    if spec.kind is Kind.CONFIGURE:
        return permissions.can_configure(
            ctx.user_id,
            is_workspace_admin=ctx.responder.is_workspace_admin(ctx.user_id),
            admins=settings.admins,
            configurers=ctx.channels.configurers(ctx.ref),
        )
    if spec.kind is Kind.CHANGE:
        return permissions.can_change(ctx.user_id, ctx.channels.allowed_users(ctx.ref))
    return permissions.Decision(True, "")


def _audit(ctx: CommandContext, spec: CommandSpec, parsed: ParsedCommand, reply: Reply) -> None:
    if reply.skip_audit or not spec.audited:
        return
    arguments: dict[str, Any] = {"args": list(parsed.positional), **parsed.options}
    if reply.audit_arguments is not None:
        arguments = reply.audit_arguments
    action = spec.name if ctx.invocation.source == "command" else f"{ctx.invocation.source}:{spec.name}"
    audit.record(
        ctx.db,
        audit.AuditEntry(
            team_id=ctx.ref.team_id,
            enterprise_id=ctx.ref.enterprise_id,
            channel_id=ctx.ref.channel_id,
            user_id=ctx.user_id,
            action=action,
            source=ctx.invocation.source,
            algorithm=reply.algorithm,
            arguments=arguments,
            outcome=reply.outcome,
            error=reply.error,
            result=reply.result,
        ),
        now=ctx.now,
    )


def _algorithm_argument(parsed: ParsedCommand) -> str | None:
    first = parsed.positional[0] if parsed.positional else None
    return first if first and "/" in first else None


def deliver(reply: Reply, responder: Responder) -> str | None:
    """Send what a command produced: modal first (its trigger expires), then messages, then files.

    Returns the ts of the channel announcement, when Slack gave one.
    """
    announced_ts = None
    if reply.view is not None:
        responder.open_view(reply.view)
    if reply.announce is not None:
        announced_ts = responder.announce(reply.announce)
    if reply.ephemeral is not None:
        responder.ephemeral(reply.ephemeral)
    if reply.upload is not None:
        responder.upload(reply.upload)
    return announced_ts


def _track(services: Services, invocation: Invocation, track: TrackBuild, message_ts: str | None) -> None:
    """Hand a build started from Slack to the poller, with the message its final status updates."""
    from algobot.notify import store

    db = open_db(services.settings.db_path)
    try:
        store.track(
            db,
            invocation.ref,
            store.NewBuild(
                algorithm=track.algorithm,
                build_id=track.build_id,
                origin="compile",
                commit_sha=track.commit_sha,
                started_by=invocation.user_id,
                message_ts=message_ts,
            ),
            services.clock().timestamp(),
        )
    finally:
        db.close()


def help_reply(registry: Mapping[str, CommandSpec], intro: str | None = None) -> Reply:
    from algobot.blocks import help_message

    return Reply(ephemeral=help_message(list(registry.values()), intro=intro), skip_audit=True)


def execute(services: Services, invocation: Invocation, parsed: ParsedCommand, responder: Responder) -> Reply:
    """Run one parsed command end to end and deliver its reply; returns the reply for callers."""
    registry = services.registry
    spec = registry.get(parsed.name)
    if spec is None:
        reply = help_reply(registry, intro=messages.UNKNOWN_COMMAND.format(name=parsed.name) if parsed.name else None)
        deliver(reply, responder)
        return reply
    try:
        spec.check(parsed)
    except ParseError as exc:
        reply = Reply(ephemeral=text_message(messages.bad_input(str(exc), spec.usage)), skip_audit=True)
        deliver(reply, responder)
        return reply

    db = open_db(services.settings.db_path)
    ctx: CommandContext | None = None
    try:
        ctx = CommandContext(
            services=services,
            invocation=invocation,
            db=db,
            channels=ChannelStore(db, services.cipher),
            responder=responder,
        )
        decision = _permission(ctx, spec)  # may ask Slack (users.info): outside any transaction
        if spec.kind is Kind.CONFIGURE and not spec.needs_key:
            # A configuration change and its audit row land together or not at all (no API call
            # happens inside, so the write lock is held only for local work).
            with immediate(db):
                reply = _run(ctx, spec, parsed, decision)
                _audit(ctx, spec, parsed, reply)
        else:
            reply = _run(ctx, spec, parsed, decision)
            _audit(ctx, spec, parsed, reply)
    finally:
        if ctx is not None and ctx.api is not None:
            ctx.api.close()
        db.close()
    metrics.COMMANDS.labels(command=spec.name, source=invocation.source, outcome=reply.outcome).inc()
    announced_ts = deliver(reply, responder)
    if reply.track is not None and reply.outcome == "ok":
        _track(services, invocation, reply.track, announced_ts)
    return reply


def _run(ctx: CommandContext, spec: CommandSpec, parsed: ParsedCommand, decision: permissions.Decision) -> Reply:
    algorithm = _algorithm_argument(parsed)
    if not decision.allowed:
        return Reply(
            ephemeral=text_message(messages.refused(decision.reason)),
            algorithm=algorithm,
            outcome="refused",
            error=decision.reason,
        )
    if spec.needs_key:
        credentials = ctx.channels.api_key(ctx.ref)
        if credentials is None:
            return Reply(ephemeral=text_message(messages.NO_KEY), skip_audit=True)
        key, endpoint = credentials
        ctx.endpoint = endpoint or ctx.settings.algorithmia_api
        ctx.api = ctx.services.api_factory(key, ctx.endpoint)
        if ctx.invocation.on_api_call is not None:
            ctx.invocation.on_api_call()
    try:
        reply = spec.run(ctx, parsed)
    except InvalidInput as exc:
        if exc.status is not None:  # the API refused it, not our own validation
            return _api_failure(ctx, exc, algorithm)
        return Reply(
            ephemeral=text_message(messages.bad_input(exc.message, spec.usage)),
            algorithm=algorithm,
            outcome="error",
            error=exc.message,
        )
    except AlgorithmiaError as exc:
        return _api_failure(ctx, exc, algorithm)
    if reply.algorithm is None:
        reply.algorithm = algorithm
    return reply


def _api_failure(ctx: CommandContext, exc: AlgorithmiaError, algorithm: str | None) -> Reply:
    log.info("algorithmia call failed: %r", exc)
    return Reply(
        ephemeral=text_message(messages.api_error(exc, algorithm=algorithm, endpoint=ctx.endpoint)),
        algorithm=algorithm,
        outcome="error",
        error=exc.message,
    )


def first_line(doc: str | None) -> str:
    """A module docstring's first line: the command's help summary."""
    return (doc or "").strip().splitlines()[0].strip() if doc and doc.strip() else ""


def positional_or_none(parsed: ParsedCommand, index: int) -> str | None:
    return parsed.positional[index] if len(parsed.positional) > index else None


def int_option(parsed: ParsedCommand, name: str, default: int, *, low: int, high: int) -> int:
    """Parse a whole-number option within bounds, or raise InvalidInput naming it."""
    raw = parsed.options.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name}= must be a whole number from {low} to {high}, not '{raw}'.") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name}= must be a whole number from {low} to {high}, not {value}.")
    return value


def choice_option(parsed: ParsedCommand, name: str, choices: Sequence[str], default: str | None) -> str | None:
    raw = parsed.options.get(name)
    if raw is None:
        return default
    if raw.lower() not in choices:
        raise InvalidInput(f"{name}= must be one of {', '.join(choices)}, not '{raw}'.")
    return raw.lower()
