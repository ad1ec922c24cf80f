"""Show who published which version of an algorithm, when, with the release notes."""

from __future__ import annotations

from algobot import audit, blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line, int_option
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    split_algo_name(algorithm)
    limit = int_option(parsed, "limit", 10, low=1, high=40)
    rows = audit.releases(ctx.db, ctx.ref, algorithm, limit=limit)
    empty = messages.NO_RELEASES.format(algorithm=blocks.esc(algorithm))
    return Reply(ephemeral=blocks.releases_message(algorithm, rows, empty))


COMMAND = CommandSpec(
    name="releases",
    summary=first_line(__doc__),
    usage="/algo releases USER/ALGO [limit=10]",
    kind=Kind.LOCAL,
    run=run,
    min_args=1,
    max_args=1,
    options=("limit",),
)
