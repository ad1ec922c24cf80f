"""What the paged listings (`builds`, `versions`) share: arguments, the API call's shape, the More button.

Not a subcommand itself (the registry loads only the modules it names).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from algobot import blocks
from algobot.algorithmia import AlgorithmiaClient
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import PAGE_LIMIT, PAGE_MARKER, Arg
from algobot.parsing import ParsedCommand

# (api, algorithm, limit, marker) -> one page of the API's listing: {"results": [...], "marker": ...}
Fetch = Callable[[AlgorithmiaClient, str, int, str | None], dict[str, Any]]
# (algorithm, results, More button value, sentence for an empty list) -> the message
Render = Callable[[str, list[dict[str, Any]], str | None, str], dict[str, Any]]


def listing_command(name: str, doc: str | None, fetch: Fetch, render: Render, empty: str) -> CommandSpec:
    """A read command listing one page of an algorithm's items, newest first, with a More button."""

    def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
        algorithm = parsed.positional[0]
        limit = PAGE_LIMIT.number(parsed)
        page = fetch(ctx.require_api(), algorithm, limit, PAGE_MARKER.text(parsed))
        more = blocks.next_page_value(name, algorithm, limit, page.get("marker"))
        empty_text = empty.format(algorithm=blocks.esc(algorithm))
        return Reply(ephemeral=render(algorithm, page.get("results") or [], more, empty_text))

    return CommandSpec(
        name=name,
        summary=first_line(doc),
        kind=Kind.READ,
        run=run,
        args=(Arg("USER/ALGO"),),
        options=(PAGE_LIMIT, PAGE_MARKER),
        needs_key=True,
    )
