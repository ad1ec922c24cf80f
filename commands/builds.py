"""List an algorithm's builds, newest first, with a button for the next page."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line, int_option
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    limit = int_option(parsed, "limit", 10, low=1, high=40)
    page = ctx.require_api().builds(algorithm, limit=limit, marker=parsed.options.get("marker"))
    more = blocks.next_page_value("builds", algorithm, limit, page.get("marker"))
    empty = messages.NO_BUILDS.format(algorithm=blocks.esc(algorithm))
    return Reply(ephemeral=blocks.builds_message(algorithm, page.get("results") or [], more, empty))


COMMAND = CommandSpec(
    name="builds",
    summary=first_line(__doc__),
    usage="/algo builds USER/ALGO [limit=10]",
    kind=Kind.READ,
    run=run,
    min_args=1,
    max_args=1,
    options=("limit", "marker"),
    needs_key=True,
)
