"""Show this channel's endpoint, its key masked to the last 4 characters, and who may make changes."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    config = ctx.channels.config(ctx.ref)
    lines = []
    if config is None:
        lines.append(messages.NO_KEY)
    else:
        endpoint = config.endpoint or ctx.settings.algorithmia_api
        lines.append(messages.status_configured(endpoint, config.masked_key, config.set_by, config.set_at))
    lines.append(messages.status_allowed(ctx.channels.allowed_users(ctx.ref)))
    return Reply(ephemeral=blocks.text_message("\n".join(lines)))


COMMAND = CommandSpec(
    name="status",
    summary=first_line(__doc__),
    kind=Kind.LOCAL,
    run=run,
)
