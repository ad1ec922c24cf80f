"""Show an algorithm's published versions, newest first, with who requested, approved or published each."""

from __future__ import annotations

from typing import Any

from algobot import audit, blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.notify.poller import attribution_of
from algobot.options import PAGE_LIMIT, PAGE_MARKER, Arg
from algobot.parsing import ParsedCommand


def joined(versions: list[dict[str, Any]], made_here: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's versions (wherever they were published) joined with the workspace's audit trail,
    which knows the releases made through algobot: who, when, and for a request who approved it."""
    by_version: dict[str, dict[str, Any]] = {}
    for row in made_here:  # newest first: a version's latest successful publish row wins
        by_version.setdefault(str(row["version"]), row)
    out = []
    for version in versions:
        info = version.get("version_info") or {}
        number = str(info.get("semantic_version") or "")
        row = by_version.get(number)
        out.append(
            {
                "version": number,
                "git_hash": info.get("git_hash"),
                "callability": (version.get("settings") or {}).get("algorithm_callability"),
                "notes": info.get("release_notes") or (row or {}).get("notes"),
                "attribution": attribution_of(row) if row else messages.RELEASE_OUTSIDE_SLACK,
                "time": row["time"] if row else None,
            }
        )
    return out


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    split_algo_name(algorithm)
    limit = PAGE_LIMIT.number(parsed)
    page = ctx.require_api().versions(algorithm, limit=limit, marker=PAGE_MARKER.text(parsed), published=True)
    releases = joined(page.get("results") or [], audit.releases(ctx.db, ctx.ref.team_id, algorithm))
    more = blocks.next_page_value("releases", algorithm, limit, page.get("marker"))
    empty = messages.NO_RELEASES.format(algorithm=blocks.esc(algorithm))
    return Reply(ephemeral=blocks.releases_message(algorithm, releases, more, empty))


COMMAND = CommandSpec(
    name="releases",
    summary=first_line(__doc__),
    kind=Kind.READ,
    run=run,
    args=(Arg("USER/ALGO"),),
    options=(PAGE_LIMIT, PAGE_MARKER),
    needs_key=True,
    details=(
        "Versions come from Algorithmia, so a release made from its web page or CLI is listed too (as published "
        "outside Slack); the audit trail of this workspace says who released the others."
    ),
)
