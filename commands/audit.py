"""Show this channel's recent audit trail: who did what, when, with what result."""

from __future__ import annotations

from algobot import audit, blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import PAGE_LIMIT, Arg
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0] if parsed.positional else None
    if algorithm:
        split_algo_name(algorithm)
    limit = PAGE_LIMIT.number(parsed)
    rows = audit.recent(ctx.db, ctx.ref, algorithm=algorithm, limit=limit)
    title = messages.audit_title(algorithm)
    configure = frozenset(name for name, spec in ctx.services.registry.items() if spec.kind is Kind.CONFIGURE)
    return Reply(ephemeral=blocks.audit_message(title, rows, messages.NO_AUDIT, configure_actions=configure))


COMMAND = CommandSpec(
    name="audit",
    summary=first_line(__doc__),
    kind=Kind.LOCAL,
    run=run,
    args=(Arg("USER/ALGO", required=False),),
    options=(PAGE_LIMIT,),
)
