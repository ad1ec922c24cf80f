"""Stop posting an algorithm's builds here (`all` stops every subscription of this channel)."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.notify import store
from algobot.options import Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    target = parsed.positional[0]
    algorithm = None if target.lower() == "all" else target
    if algorithm is not None:
        split_algo_name(algorithm)
    removed = store.unsubscribe(ctx.db, ctx.ref, algorithm)
    if not removed:
        return Reply(
            ephemeral=blocks.text_message(messages.not_watching(algorithm)), outcome="error", error="not watched"
        )
    return Reply(
        announce=blocks.text_message(messages.watching_stopped(ctx.user_id, removed)),
        algorithm=algorithm,
        result=", ".join(removed),
    )


COMMAND = CommandSpec(
    name="unwatch",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    args=(Arg("USER/ALGO or all", shown="USER/ALGO|all"),),
)
