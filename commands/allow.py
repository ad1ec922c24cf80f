"""Let a person run create, update, compile, publish and call in this channel (starts the allow list)."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg
from algobot.parsing import ParsedCommand, UsageError, parse_user_reference


def target_user(parsed: ParsedCommand) -> str:
    user_id = parse_user_reference(parsed.positional[0])
    if user_id is None:
        raise UsageError(messages.MENTION_NEEDED)
    return user_id


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    user_id = target_user(parsed)
    ctx.channels.allow(ctx.ref, user_id, ctx.user_id, ctx.now)
    return Reply(
        announce=blocks.text_message(messages.allow_done(user_id)),
        audit_arguments={"user": user_id},
        result=user_id,
    )


COMMAND = CommandSpec(
    name="allow",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    args=(Arg("@USER"),),
    details="While the list is empty anyone in the channel may make changes; reads are always open.",
)
