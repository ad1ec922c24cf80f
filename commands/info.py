"""Show an algorithm's details, settings, newest version and git hash."""

from __future__ import annotations

from algobot import blocks
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    data = ctx.require_api().info(algorithm)
    version = (data.get("version_info") or {}).get("semantic_version")
    return Reply(ephemeral=blocks.info_message(algorithm, data), result=version)


COMMAND = CommandSpec(
    name="info",
    summary=first_line(__doc__),
    usage="/algo info USER/ALGO",
    kind=Kind.READ,
    run=run,
    min_args=1,
    max_args=1,
    needs_key=True,
)
