"""Say which Algorithmia user you are, so failed builds and releases of your algorithms mention you."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import validate_user_name
from algobot.db import utc_iso
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.notify import store
from algobot.options import Option
from algobot.parsing import ParsedCommand

NAME = Option(
    "algorithmia",
    shown="USERNAME",
    parse=validate_user_name,
    help="your Algorithmia user name; without it, shows the one you gave",
)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    """Show or set the person's own mapping (per workspace): it changes nobody else's, so any member may."""
    name = NAME.text(parsed)
    ref = ctx.ref
    if name is None:
        current = store.algorithmia_user(ctx.db, ref.enterprise_id, ref.team_id, ctx.user_id)
        return Reply(ephemeral=blocks.text_message(messages.me_shown(current)))
    with ctx.db.transaction("write", what="remembering who you are on Algorithmia"):
        store.set_algorithmia_user(ctx.db, ref.enterprise_id, ref.team_id, ctx.user_id, name, utc_iso(ctx.now))
    return Reply(ephemeral=blocks.text_message(messages.me_set(name)))


COMMAND = CommandSpec(
    name="me",
    summary=first_line(__doc__),
    kind=Kind.LOCAL,
    run=run,
    options=(NAME,),
    details=(
        "The Algorithmia API does not say who pushed a build or published a version, so the mention goes to "
        "whoever owns the algorithm (the USER of USER/ALGO). Not audited: it changes only your own mapping."
    ),
)
