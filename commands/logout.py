"""Remove this channel's Algorithmia API key."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    if not ctx.channels.remove(ctx.ref):
        return Reply(ephemeral=blocks.text_message(messages.LOGOUT_NOTHING), outcome="error", error="no key")
    return Reply(announce=blocks.text_message(messages.logout_done(ctx.user_id)))


COMMAND = CommandSpec(
    name="logout",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
)
