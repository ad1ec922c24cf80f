"""List what algobot can do, or explain one subcommand."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    registry = ctx.services.registry
    if parsed.positional:
        spec = registry.get(parsed.positional[0].lower())
        if spec is None:
            intro = messages.unknown_command(parsed.positional[0])
            return Reply(ephemeral=blocks.help_message(list(registry.values()), intro=intro))
        return Reply(ephemeral=blocks.command_help_message(spec))
    return Reply(ephemeral=blocks.help_message(list(registry.values())))


COMMAND = CommandSpec(
    name="help",
    summary=first_line(__doc__),
    kind=Kind.LOCAL,
    run=run,
    args=(Arg("SUBCOMMAND", required=False),),
)
