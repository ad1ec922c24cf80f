"""Take a person off this channel's allow list."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.commands.allow import target_user
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    user_id = target_user(parsed)
    if not ctx.channels.deny(ctx.ref, user_id):
        return Reply(
            ephemeral=blocks.text_message(messages.deny_not_listed(user_id)),
            audit_arguments={"user": user_id},
            outcome="error",
            error="not listed",
        )
    remaining = ctx.channels.allowed_users(ctx.ref)
    return Reply(
        announce=blocks.text_message(messages.deny_done(user_id, remaining)),
        audit_arguments={"user": user_id},
        result=user_id,
    )


COMMAND = CommandSpec(
    name="deny",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    args=(Arg("@USER"),),
)
