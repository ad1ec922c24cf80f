"""List an algorithm's published versions, newest first."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line, int_option
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    limit = int_option(parsed, "limit", 10, low=1, high=40)
    marker = parsed.options.get("marker")
    page = ctx.require_api().versions(algorithm, limit=limit, marker=marker, published=True)
    more = blocks.next_page_value("versions", algorithm, limit, page.get("marker"))
    empty = messages.NO_VERSIONS.format(algorithm=blocks.esc(algorithm))
    return Reply(ephemeral=blocks.versions_message(algorithm, page.get("results") or [], more, empty))


COMMAND = CommandSpec(
    name="versions",
    summary=first_line(__doc__),
    usage="/algo versions USER/ALGO [limit=10]",
    kind=Kind.READ,
    run=run,
    min_args=1,
    max_args=1,
    options=("limit", "marker"),
    needs_key=True,
)
