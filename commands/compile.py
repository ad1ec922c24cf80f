"""Build the newest source of an algorithm; the channel sees it start and how it ends."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import build_id_of
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, TrackBuild, first_line
from algobot.options import Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    response = ctx.require_api().compile(algorithm)
    build_id = build_id_of(response)
    commit = (response.get("version_info") or {}).get("git_hash")
    text = messages.compile_started(ctx.user_id, algorithm, build_id, commit)
    track = TrackBuild(algorithm, build_id, commit) if build_id else None
    return Reply(announce=blocks.text_message(text), result=build_id or commit, track=track)


COMMAND = CommandSpec(
    name="compile",
    summary=first_line(__doc__),
    kind=Kind.CHANGE,
    run=run,
    args=(Arg("USER/ALGO"),),
    needs_key=True,
)
