"""Show an algorithm's details, settings, newest published version and its commit, and newest build."""

from __future__ import annotations

from algobot import blocks
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    api = ctx.require_api()
    data = api.info(algorithm)
    # The algorithm's version_info pairs the newest published version with the newest *build's*
    # commit; the versions list says which commit that version was really published from.
    newest = (api.versions(algorithm, limit=1, published=True).get("results") or [None])[0]
    published = (newest or {}).get("version_info") or {}
    version = published.get("semantic_version") or (data.get("version_info") or {}).get("semantic_version")
    return Reply(
        ephemeral=blocks.info_message(
            algorithm, data, published_version=version, published_commit=published.get("git_hash")
        ),
        result=version,
    )


COMMAND = CommandSpec(
    name="info",
    summary=first_line(__doc__),
    kind=Kind.READ,
    run=run,
    args=(Arg("USER/ALGO"),),
    needs_key=True,
)
