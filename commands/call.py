"""Call an algorithm on an input and show you its result (a call costs credits: the allow list applies)."""

from __future__ import annotations

import json
import logging
from typing import Any

from algobot import blocks, messages, tries
from algobot.algorithmia import AlgorithmFailed, CallResult, NotFound, split_algo_name, validate_call_version
from algobot.db import DatabaseLocked
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand, UsageError

log = logging.getLogger(__name__)

# The work queue gives a command 90 s from the moment Slack's request came in (algobot.intake): a call
# may run 60 s, plus the client's margin, and still be answered.
MAX_TIMEOUT = 60
INPUT = Option("input", default="", shown="TEXT|JSON", help=messages.CALL_INPUT_HELP, audit_length=True)
TIMEOUT = Option("timeout", default=30, low=1, high=MAX_TIMEOUT, help=messages.CALL_TIMEOUT_HELP)
# Set by the Try dialog: the result goes into the build notice's thread, for the channel to see.
THREAD = Option("thread", hidden=True)


def split_target(target: str) -> tuple[str, str | None]:
    """``USER/ALGO[/VERSION]`` as (``USER/ALGO``, version or None); a UsageError names what is wrong."""
    parts = target.split("/")
    if len(parts) not in (2, 3):
        raise UsageError(messages.call_target_bad(target))
    algorithm = "/".join(parts[:2])
    split_algo_name(algorithm)
    version = parts[2] if len(parts) == 3 else None
    return algorithm, validate_call_version(version) if version else None


def _checked_input(ctx: CommandContext, parsed: ParsedCommand) -> str:
    """The input; typed JSON that the command line's quoting broke is refused with the fix (a dialog's
    input is taken as typed: no quoting there)."""
    text = INPUT.text(parsed) or ""
    stripped = text.strip()
    if ctx.invocation.source == "command" and stripped[:1] in ("{", "["):
        try:
            json.loads(stripped)
        except ValueError:
            raise UsageError(messages.call_input_mangled(stripped)) from None
    return text


def _remember(ctx: CommandContext, algorithm: str, version: str | None, text: str, result_line: str) -> None:
    """The next Try here starts from this input; a busy database only loses that convenience."""
    commit = version if version and not any(c in version for c in ".*") and not version.startswith("latest") else None
    try:
        tries.remember(
            ctx.db,
            ctx.ref,
            algorithm,
            text,
            commit_sha=commit,
            result_line=result_line,
            user_id=ctx.user_id,
            now=ctx.now,
        )
    except DatabaseLocked:
        log.warning("could not remember the input of a call of %s: the database is busy", algorithm)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    target = parsed.positional[0]
    algorithm, version = split_target(target)
    text = _checked_input(ctx, parsed)
    timeout = TIMEOUT.number(parsed)
    thread = THREAD.text(parsed)
    audit: dict[str, Any] = {"args": [target], "input": {"length": len(text)}, "timeout": timeout}
    try:
        answer = ctx.require_api().call(algorithm, version, text, timeout)
    except AlgorithmFailed as exc:
        _remember(ctx, algorithm, version, text, tries.first_line(f"failed: {exc.message}"))
        sentence = messages.call_failed(algorithm, version, exc.message, ctx.user_id if thread else None)
        return _reply(
            blocks.text_message(sentence),
            thread,
            algorithm=algorithm,
            outcome="error",
            error=f"the algorithm failed ({exc.error_type or 'no error type'})",
            audit_arguments=audit,
        )
    except NotFound:
        return Reply(
            ephemeral=blocks.text_message(messages.call_not_found(algorithm, version)),
            algorithm=algorithm,
            outcome="error",
            error="no callable version",
            audit_arguments=audit,
        )
    shown = blocks.result_text(answer.result, answer.content_type)
    _remember(ctx, algorithm, version, text, tries.first_line(shown))
    audit.update(result={"length": len(shown)}, content_type=answer.content_type, duration=answer.duration)
    return _reply(
        blocks.call_result_message(
            _headline(ctx, algorithm, version, thread, answer), answer.result, answer.content_type
        ),
        thread,
        algorithm=algorithm,
        result=f"{answer.content_type}, {len(shown)} characters",
        audit_arguments=audit,
    )


def _headline(ctx: CommandContext, algorithm: str, version: str | None, thread: str | None, answer: CallResult) -> str:
    if thread:
        return messages.tried_headline(ctx.user_id, algorithm, version or "", answer.content_type, answer.duration)
    return messages.call_headline(algorithm, version, answer.content_type, answer.duration)


def _reply(message: dict[str, Any], thread: str | None, **fields: Any) -> Reply:
    """Privately to the caller; a Try's answer goes into the notice's thread instead."""
    if thread:
        return Reply(announce={**message, "thread_ts": thread}, **fields)
    return Reply(ephemeral=message, **fields)


COMMAND = CommandSpec(
    name="call",
    summary=first_line(__doc__),
    kind=Kind.CHANGE,
    run=run,
    args=(Arg("USER/ALGO[/VERSION]"),),
    options=(INPUT, TIMEOUT, THREAD),
    needs_key=True,
    details=(
        "Without a version the latest published version is called; a commit hash calls a build of your own "
        "algorithm. Input is sent as JSON when it parses as JSON, else as text. The result is shown only "
        f"to you; the timeout is at most {MAX_TIMEOUT} s so the answer comes back while Slack still waits."
    ),
)
