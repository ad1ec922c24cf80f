"""Show this channel's recent audit trail: who did what, when, with what result."""

from __future__ import annotations

from algobot import audit, blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line, int_option
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0] if parsed.positional else None
    if algorithm:
        split_algo_name(algorithm)
    limit = int_option(parsed, "limit", 10, low=1, high=40)
    rows = audit.recent(ctx.db, ctx.ref, algorithm=algorithm, limit=limit)
    title = f"Audit trail of {algorithm}" if algorithm else "Audit trail of this channel"
    configure = frozenset(name for name, spec in ctx.services.registry.items() if spec.kind is Kind.CONFIGURE)
    return Reply(ephemeral=blocks.audit_message(title, rows, messages.NO_AUDIT, configure_actions=configure))


COMMAND = CommandSpec(
    name="audit",
    summary=first_line(__doc__),
    usage="/algo audit [USER/ALGO] [limit=10]",
    kind=Kind.LOCAL,
    run=run,
    max_args=1,
    options=("limit",),
)
