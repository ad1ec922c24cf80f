"""Show this channel's endpoint, its key masked to the last 4 characters, your own key, and who may make changes."""

from __future__ import annotations

from algobot import blocks, messages, policy
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
    own = ctx.channels.personal.config(ctx.ref, ctx.user_id)  # only the asker's, and only masked
    own_endpoint = (own.endpoint or ctx.settings.algorithmia_api) if own else None
    keys_policy = policy.load(ctx.db, ctx.ref).keys
    lines.append(messages.status_personal(own and own.masked_key, own_endpoint, own and own.set_at, keys_policy))
    lines.append(messages.status_allowed(ctx.channels.allowed_users(ctx.ref)))
    return Reply(ephemeral=blocks.text_message("\n".join(lines)))


COMMAND = CommandSpec(
    name="status",
    summary=first_line(__doc__),
    kind=Kind.LOCAL,
    run=run,
)
