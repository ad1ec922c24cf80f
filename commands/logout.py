"""Remove this channel's Algorithmia API key, or your own (`me`)."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg
from algobot.parsing import ParsedCommand, UsageError

ME = "me"


def kind_of(parsed: ParsedCommand) -> Kind:
    """Removing your own key is open to anyone (and audited); the channel's key is for its configurers."""
    return Kind.READ if parsed.positional == (ME,) else Kind.CONFIGURE


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    if parsed.positional and parsed.positional != (ME,):
        raise UsageError(messages.LOGOUT_WHAT)
    if parsed.positional == (ME,):  # private: nothing is announced
        if not ctx.channels.personal.remove(ctx.ref, ctx.user_id):
            return Reply(
                ephemeral=blocks.text_message(messages.LOGOUT_ME_NOTHING),
                outcome="error",
                error="no personal key",
                audit_arguments={"scope": "personal"},
            )
        return Reply(ephemeral=blocks.text_message(messages.LOGOUT_ME_DONE), audit_arguments={"scope": "personal"})
    if not ctx.channels.remove(ctx.ref):
        return Reply(ephemeral=blocks.text_message(messages.LOGOUT_NOTHING), outcome="error", error="no key")
    return Reply(announce=blocks.text_message(messages.logout_done(ctx.user_id)))


COMMAND = CommandSpec(
    name="logout",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    args=(Arg("me", required=False),),
    kind_of=kind_of,
)
