"""Post every build of an algorithm to this channel when it ends, however it was started."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.db import utc_iso
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.notify import store
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand

ONLY = Option("only", default="all", choices=store.FILTERS, help="which endings to post")


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    split_algo_name(algorithm)
    only = str(ONLY.text(parsed))
    page = ctx.require_api().builds(algorithm, limit=50)  # proves the key can see it, and sets the baseline
    now = ctx.now.timestamp()
    for build in page.get("results") or []:
        # Builds that ended before the subscription are history, not news; running ones will be reported.
        store.track(ctx.db, ctx.ref, store.NewBuild.from_api(algorithm, build, news=False), now)
    store.subscribe(ctx.db, ctx.ref, algorithm, only, ctx.user_id, utc_iso(ctx.now))
    return Reply(
        announce=blocks.text_message(messages.watching_started(ctx.user_id, algorithm, only)),
        audit_arguments={"only": only},
    )


COMMAND = CommandSpec(
    name="watch",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    args=(Arg("USER/ALGO"),),
    options=(ONLY,),
    needs_key=True,
    details="A git push outside Slack counts too. Builds started with /algo compile are reported either way.",
)
