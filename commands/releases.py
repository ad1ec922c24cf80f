"""Show who published which version of an algorithm, when, with the release notes."""

from __future__ import annotations

from algobot import audit, blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import PAGE_LIMIT, Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    split_algo_name(algorithm)
    limit = PAGE_LIMIT.number(parsed)
    rows = audit.releases(ctx.db, ctx.ref, algorithm, limit=limit)
    empty = messages.NO_RELEASES.format(algorithm=blocks.esc(algorithm))
    return Reply(ephemeral=blocks.releases_message(algorithm, rows, empty))


COMMAND = CommandSpec(
    name="releases",
    summary=first_line(__doc__),
    kind=Kind.LOCAL,
    run=run,
    args=(Arg("USER/ALGO"),),
    options=(PAGE_LIMIT,),
)
