"""The single dispatcher every `/algo` command, button and modal goes through.

Cross-cutting concerns live here and nowhere else: argument checks against each command's spec,
permissions, the channel's API key, mapping API failures to a person's sentence, the audit trail,
and delivering the reply. Command modules under ``commands/`` only turn arguments into API calls
and replies. Nothing here knows about Bolt: Slack is reached through a `Responder`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from slack_sdk.errors import SlackClientError

from algobot import audit, messages, metrics, permissions, policy
from algobot.algorithmia import AlgorithmiaClient, AlgorithmiaError, Forbidden
from algobot.blocks import help_message, text_message
from algobot.channels import ChannelRef, ChannelStore, Credentials
from algobot.crypto import KeyCipher
from algobot.db import DatabaseLocked, retry_locked
from algobot.notify import store
from algobot.options import Arg, Option, usage_line
from algobot.parsing import ParsedCommand, UsageError, contains_key_shape
from algobot.pending import pending_writes
from algobot.settings import Settings
from algobot.store import Store, open_store

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
    kind: Kind
    run: Callable[[CommandContext, ParsedCommand], Reply]
    # Declared once: the usage line, the argument checks and the help text come from these.
    args: tuple[Arg, ...] = ()
    options: tuple[Option, ...] = ()
    needs_key: bool = False
    details: str = ""
    # Replaces the generic checks for commands whose text must never be echoed (login).
    check_text: Callable[[ParsedCommand], str | None] | None = None
    # Typed with nothing after it, the command only shows (anyone, not audited): `/algo policy`.
    shows_when_bare: bool = False
    # What a run does when it depends on its arguments (`/algo logout me` is not `/algo logout`).
    kind_of: Callable[[ParsedCommand], Kind] | None = None

    @property
    def usage(self) -> str:
        return usage_line(self.name, self.args, self.options)

    def option_help(self) -> list[str]:
        """One line per option worth explaining, for `/algo help CMD`."""
        return [line for line in (option.help_line() for option in self.options) if line]

    def check(self, parsed: ParsedCommand) -> None:
        """Raise UsageError naming the first problem with the arguments."""
        if self.check_text is not None:
            problem = self.check_text(parsed)
            if problem:
                raise UsageError(problem)
            return
        names = [option.name for option in self.options]
        unknown = [key for key in parsed.options if key not in names]
        if unknown:
            raise UsageError(messages.unknown_option(unknown[0], names))
        # Notes, labels and summaries are announced in the channel and sent to Algorithmia as typed.
        shaped = [key for key, value in parsed.options.items() if contains_key_shape(value)]
        if shaped:
            raise UsageError(messages.option_holds_a_key(shaped[0]))
        if len(parsed.positional) > len(self.args):
            raise UsageError(messages.too_many_arguments(list(parsed.positional[len(self.args) :])))
        missing = [arg for arg in self.args[len(parsed.positional) :] if arg.required]
        if missing:
            raise UsageError(messages.missing_argument(missing[0].name))
        for option in self.options:
            option.check(parsed)

    def kind_for(self, parsed: ParsedCommand) -> Kind:
        """What this run of the command does: `shows_when_bare` commands only show when typed bare."""
        if self.shows_when_bare and not parsed.positional and not parsed.options:
            return Kind.LOCAL
        return self.kind_of(parsed) if self.kind_of is not None else self.kind

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
    """A file to put into the channel (the whole build log), or privately to whoever asked."""

    content: str
    filename: str
    title: str
    comment: str
    thread_ts: str | None = None
    private: bool = False  # to the requesting user's direct messages with the bot
    note: str | None = None  # said privately in the channel once a private upload went through


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
    # The audit row's action when it is not the command's own (a publish that became a release request).
    audit_action: str | None = None
    # State the command changes, written in the same transaction as its audit row (all or nothing).
    writes: list[Callable[[Store], None]] = field(default_factory=list)
    # Told the ts of the channel announcement once Slack gave one, to update that message in place later.
    remember: Callable[[Store, str], None] | None = None
    # (ts, message): a channel message algobot posted, edited in place (a release request's outcome).
    update: tuple[str, dict[str, Any]] | None = None
    # A last ephemeral about what algobot could not do (record it, post it), set by the dispatcher.
    followup: dict[str, Any] | None = None


class Responder(Protocol):
    """How the dispatcher talks back to Slack (implemented in algobot.listeners.responder)."""

    def ephemeral(self, message: Mapping[str, Any]) -> None: ...

    def announce(self, message: Mapping[str, Any]) -> str | None: ...

    def update(self, ts: str, message: Mapping[str, Any]) -> None: ...

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
    db: Store
    channels: ChannelStore
    responder: Responder
    api: AlgorithmiaClient | None = None
    endpoint: str = ""
    acted_with: str | None = None  # which key the API client holds: "channel" or "personal"

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


def _permission(ctx: CommandContext, kind: Kind) -> permissions.Decision:
    settings = ctx.settings
    if kind is Kind.CONFIGURE:
        return permissions.can_configure(
            ctx.user_id,
            is_workspace_admin=ctx.responder.is_workspace_admin(ctx.user_id),
            admins=settings.admins,
            configurers=ctx.channels.configurers(ctx.ref),
        )
    if kind is Kind.CHANGE:
        return permissions.can_change(ctx.user_id, ctx.channels.allowed_users(ctx.ref))
    return permissions.Decision(True, "")


def may_configure(ctx: CommandContext) -> bool:
    """Whether the person may change this channel's configuration (its key, policy, allow list)."""
    return _permission(ctx, Kind.CONFIGURE).allowed


def _audit_entry(
    ctx: CommandContext, spec: CommandSpec, parsed: ParsedCommand, reply: Reply
) -> audit.AuditEntry | None:
    if reply.skip_audit or spec.kind_for(parsed) is Kind.LOCAL:
        return None
    lengths_only = {option.name for option in spec.options if option.audit_length}
    options = {key: {"length": len(value)} if key in lengths_only else value for key, value in parsed.options.items()}
    arguments: dict[str, Any] = {"args": list(parsed.positional), **options}
    if reply.audit_arguments is not None:
        arguments = reply.audit_arguments
    if ctx.acted_with is not None:  # which key Algorithmia saw; never the key
        arguments = {**arguments, "acted_with": ctx.acted_with}
    action = spec.name if ctx.invocation.source == "command" else f"{ctx.invocation.source}:{spec.name}"
    if reply.audit_action is not None:
        action = reply.audit_action
    return audit.AuditEntry(
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
    )


def _audit(ctx: CommandContext, spec: CommandSpec, parsed: ParsedCommand, reply: Reply) -> None:
    entry = _audit_entry(ctx, spec, parsed, reply)
    if entry is not None:
        audit.record(ctx.db, entry, now=ctx.now, key=ctx.services.cipher.audit_key)


def _record(ctx: CommandContext, spec: CommandSpec, parsed: ParsedCommand, reply: Reply) -> bool:
    """Write what the command did (audit row, build to follow) in one transaction, before any reply.

    A lock held by another writer is waited out (`immediate` retries up to the bound). Past it, the
    record goes to the in-memory queue, written when the database answers, and the caller is told what
    happened at Algorithmia instead of a generic error. Returns False when the record is waiting.
    """
    entry = _audit_entry(ctx, spec, parsed, reply)
    build = None
    if reply.track is not None and reply.outcome == "ok":
        build = store.NewBuild(
            algorithm=reply.track.algorithm,
            build_id=reply.track.build_id,
            origin="compile",
            commit_sha=reply.track.commit_sha,
            started_by=ctx.user_id,
        )
    writes = list(reply.writes)
    if entry is None and build is None and not writes:
        return True
    ref, now, key = ctx.ref, ctx.now, ctx.services.cipher.audit_key

    def write(db: Store) -> None:
        with db.transaction("write", what=f"recording {spec.name}"):
            for change in writes:
                change(db)
            if entry is not None:
                audit.record(db, entry, now=now, key=key)
            if build is not None:
                store.track(db, ref, build, now.timestamp())

    try:
        write(ctx.db)
    except DatabaseLocked:
        what = f"the record of {entry.action if entry else spec.name} by {ctx.user_id} in {ref} ({reply.algorithm})"
        if build is not None:
            what += f", build {build.build_id}"
        pending_writes(ctx.settings.database_location).add(what, write)
        if spec.kind_for(parsed) is Kind.CHANGE and reply.outcome == "ok":
            text = messages.unrecorded(spec.name, reply.algorithm, build and build.build_id, reply.result)
            reply.followup = text_message(text)
        return False
    return True


def _remember_message(services: Services, invocation: Invocation, track: TrackBuild, message_ts: str) -> None:
    """Point the tracked build at its "build started" message, so its final notice updates it in place."""

    def write(db: Store) -> None:
        store.set_message_ts(db, invocation.ref, track.algorithm, track.build_id, message_ts)

    _write_after_delivery(services, f"the message of build {track.build_id} in {invocation.ref}", write)


def _write_after_delivery(services: Services, what: str, write: Callable[[Store], None]) -> None:
    """Write what only Slack's answer told (a message's ts) once the reply went out.

    Queued behind the command's own record when that is still waiting, so the two land in order.
    """
    queue = pending_writes(services.settings.database_location)
    if len(queue):
        queue.add(what, write)
        return
    db = open_store(services.settings.database_location)
    try:
        retry_locked(lambda: write(db), what)
    except DatabaseLocked:
        queue.add(what, write)
    finally:
        db.close()


def _algorithm_argument(parsed: ParsedCommand) -> str | None:
    first = parsed.positional[0] if parsed.positional else None
    # USER/ALGO/VERSION (`/algo call`) is recorded under its algorithm, USER/ALGO.
    return "/".join(first.split("/")[:2]) if first and "/" in first else None


def deliver(reply: Reply, responder: Responder) -> str | None:
    """Send what a command produced: modal first (its trigger expires), then messages, then files.

    Returns the ts of the channel announcement, when Slack gave one.
    """
    announced_ts = None
    if reply.view is not None:
        responder.open_view(reply.view)
    if reply.announce is not None:
        try:
            announced_ts = responder.announce(reply.announce)
        except (SlackClientError, OSError) as exc:  # Slack refused it, or could not be reached
            if reply.outcome != "ok":
                raise
            # What Algorithmia did stands: the caller sees the announcement instead of a generic error.
            log.warning("Slack refused the announcement of %s (%s): %r", reply.algorithm, reply.result, exc)
            text = messages.announcement_refused(str(reply.announce.get("text") or ""), reply.track is not None)
            responder.ephemeral(text_message(text))
    if reply.update is not None:
        ts, edited = reply.update
        try:
            responder.update(ts, edited)
        except (SlackClientError, OSError) as exc:  # the message was deleted, or Slack is unreachable
            log.warning("could not update message %s in place for %s: %r", ts, reply.algorithm, exc)
    if reply.ephemeral is not None:
        responder.ephemeral(reply.ephemeral)
    if reply.upload is not None:
        responder.upload(reply.upload)
    if reply.followup is not None:
        responder.ephemeral(reply.followup)
    return announced_ts


def help_reply(registry: Mapping[str, CommandSpec], intro: str | None = None) -> Reply:
    return Reply(ephemeral=help_message(list(registry.values()), intro=intro), skip_audit=True)


def execute(services: Services, invocation: Invocation, parsed: ParsedCommand, responder: Responder) -> Reply:
    """Run one parsed command end to end and deliver its reply; returns the reply for callers."""
    registry = services.registry
    spec = registry.get(parsed.name)
    if spec is None:
        reply = help_reply(registry, intro=messages.unknown_command(parsed.name) if parsed.name else None)
        deliver(reply, responder)
        return reply
    try:
        spec.check(parsed)
    except UsageError as exc:
        reply = Reply(ephemeral=text_message(messages.bad_input(str(exc), spec.usage)), skip_audit=True)
        deliver(reply, responder)
        return reply

    db = open_store(services.settings.database_location)
    ctx: CommandContext | None = None
    try:
        ctx = CommandContext(
            services=services,
            invocation=invocation,
            db=db,
            channels=ChannelStore(db, services.cipher),
            responder=responder,
        )
        kind = spec.kind_for(parsed)
        decision = _permission(ctx, kind)  # may ask Slack (users.info): outside any transaction
        if kind is Kind.CONFIGURE and not spec.needs_key:
            # A configuration change and its audit row land together or not at all (no API call
            # happens inside, so the write lock is held only for local work).
            recorded = True
            try:
                with db.transaction("write", what=f"running {spec.name}"):
                    reply = _run(ctx, spec, parsed, decision)
                    for change in reply.writes:
                        change(db)
                    _audit(ctx, spec, parsed, reply)
            except DatabaseLocked:
                reply = Reply(ephemeral=text_message(messages.DATABASE_BUSY), outcome="error", skip_audit=True)
                recorded = False
        else:
            reply = _run(ctx, spec, parsed, decision)
            # Recorded before anything is posted: what Algorithmia did is never only in a Slack message.
            recorded = _record(ctx, spec, parsed, reply)
    finally:
        if ctx is not None and ctx.api is not None:
            ctx.api.close()
        db.close()
    metrics.COMMANDS.labels(command=spec.name, source=invocation.source, outcome=reply.outcome).inc()
    announced_ts = deliver(reply, responder)
    if reply.track is not None and reply.outcome == "ok" and announced_ts:
        _remember_message(services, invocation, reply.track, announced_ts)
    if reply.remember is not None and reply.outcome == "ok" and announced_ts:
        remember, ts = reply.remember, announced_ts
        _write_after_delivery(services, f"the message {ts} in {invocation.ref}", lambda db: remember(db, ts))
    if recorded:  # the database answered: write what earlier commands could not
        pending_writes(services.settings.database_location).flush()
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
        credentials = _choose_key(ctx, spec.kind_for(parsed), algorithm)
        if isinstance(credentials, Reply):
            return credentials
        key, endpoint = credentials
        ctx.endpoint = endpoint or ctx.settings.algorithmia_api
        ctx.api = ctx.services.api_factory(key, ctx.endpoint)
        if ctx.invocation.on_api_call is not None:
            ctx.invocation.on_api_call()
    try:
        reply = spec.run(ctx, parsed)
    except UsageError as exc:  # what was typed is wrong (found locally); the API's own 400s are AlgorithmiaErrors
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


def _choose_key(ctx: CommandContext, kind: Kind, algorithm: str | None) -> Credentials | Reply:
    """The key a command runs with, or the reply saying why there is none (nothing is sent then).

    A change uses the person's own key when they have one for the channel's endpoint, so Algorithmia
    records who acted; otherwise the channel's key, unless the channel's policy is keys=personal.
    Reads always use the channel's key: what a channel shows does not depend on who asks.
    """
    channel = ctx.channels.api_key(ctx.ref)
    if kind is Kind.CHANGE:
        default = ctx.settings.algorithmia_api
        endpoint = (channel.endpoint if channel else None) or default
        own = ctx.channels.personal.api_key(ctx.ref, ctx.user_id)
        if own is not None and (own.endpoint or default) == endpoint:
            ctx.acted_with = "personal"
            return own
        problem = None if own is None else messages.personal_key_elsewhere(own.endpoint or default, endpoint)
        if policy.load(ctx.db, ctx.ref).keys == policy.KEYS_PERSONAL:
            text = problem or messages.PERSONAL_KEY_REQUIRED
            error = messages.AUDIT_NO_PERSONAL_KEY
            return Reply(ephemeral=text_message(text), algorithm=algorithm, outcome="refused", error=error)
        if channel is None:
            return Reply(ephemeral=text_message(problem or messages.NO_KEY), skip_audit=True)
    if channel is None:
        has_own = ctx.channels.personal.config(ctx.ref, ctx.user_id) is not None
        return Reply(ephemeral=text_message(messages.NO_KEY_FOR_READS if has_own else messages.NO_KEY), skip_audit=True)
    ctx.acted_with = "channel"
    return channel


KEY_HISTORY_ROWS = 200  # how far back the audit trail is searched for what a key managed


def key_owners(ctx: CommandContext) -> frozenset[str]:
    """Owners of algorithms this channel's current key was used on successfully (from the audit trail).

    The management API has no "who am I": a 403 on ``nosuch/thing`` may be a typo in the owner or a
    key without the manage permission, and what the key managed before tells the two apart.
    """
    config = ctx.channels.config(ctx.ref)
    if config is None:
        return frozenset()
    rows = audit.recent(ctx.db, ctx.ref, limit=KEY_HISTORY_ROWS)
    return frozenset(
        str(row["algorithm"]).split("/", 1)[0]
        for row in rows
        if row.get("outcome") == "ok" and row.get("algorithm") and str(row.get("time")) >= config.set_at
    )


def _api_failure(ctx: CommandContext, exc: AlgorithmiaError, algorithm: str | None) -> Reply:
    log.info("algorithmia call failed: %r", exc)
    personal = ctx.acted_with == "personal"
    owners = key_owners(ctx) if isinstance(exc, Forbidden) and not personal else frozenset()
    text = messages.api_error(exc, algorithm=algorithm, endpoint=ctx.endpoint, key_owners=owners, personal=personal)
    return Reply(
        ephemeral=text_message(text),
        algorithm=algorithm,
        outcome="error",
        error=exc.message,
    )


def first_line(doc: str | None) -> str:
    """A module docstring's first line: the command's help summary."""
    return (doc or "").strip().splitlines()[0].strip() if doc and doc.strip() else ""


def positional_or_none(parsed: ParsedCommand, index: int) -> str | None:
    return parsed.positional[index] if len(parsed.positional) > index else None
