"""Show one build: status, commit, timing and the version it was published as."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import NotFound
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm, build_id = parsed.positional
    try:
        build = ctx.require_api().build(algorithm, build_id)
    except NotFound:
        ctx.require_api().info(algorithm)  # raises NotFound naming the algorithm if that is what is missing
        return Reply(
            ephemeral=blocks.text_message(messages.build_not_found(algorithm, build_id)),
            outcome="error",
            error="no such build",
        )
    return Reply(ephemeral=blocks.build_message(algorithm, build), result=build_id)


COMMAND = CommandSpec(
    name="build",
    summary=first_line(__doc__),
    kind=Kind.READ,
    run=run,
    args=(Arg("USER/ALGO"), Arg("BUILD_ID")),
    needs_key=True,
)
