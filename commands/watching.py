"""List the algorithms this channel watches, with their filters."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.notify import store
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    rows = store.subscriptions(ctx.db, ctx.ref)
    if not rows:
        return Reply(ephemeral=blocks.text_message(messages.NOTHING_WATCHED))
    lines = [
        messages.watching_line(r["algorithm"], r["only"], r["created_by"], bool(r.get("mention", 1))) for r in rows
    ]
    return Reply(ephemeral=blocks.text_message("\n".join(lines)))


COMMAND = CommandSpec(
    name="watching",
    summary=first_line(__doc__),
    kind=Kind.LOCAL,
    run=run,
)
