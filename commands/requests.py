"""List this channel's open release requests, or cancel (yours) or reject (anyone's) one by its id."""

from __future__ import annotations

from algobot import blocks, messages
from algobot import release_requests as requests
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand, UsageError

ACTIONS = ("cancel", "reject")
REASON = Option("reason", shown='"…"', help="with reject: why, shown on the request")


def _list(ctx: CommandContext) -> Reply:
    return Reply(ephemeral=blocks.requests_message(requests.open_requests(ctx.db, ctx.ref)), skip_audit=True)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    if not parsed.positional and not parsed.options:
        return _list(ctx)
    action = parsed.positional[0].lower() if parsed.positional else ""
    if action not in ACTIONS:
        raise UsageError(messages.REQUEST_ACTIONS_TAKE_ID)
    if len(parsed.positional) < 2:
        raise UsageError(messages.REQUEST_NEEDS_ID)
    request_id = parsed.positional[1].lower()
    if not requests.is_id(request_id):
        raise UsageError(messages.not_a_request_id(parsed.positional[1]))
    reason = REASON.text(parsed)
    if reason is not None and action != "reject":
        raise UsageError(messages.REQUEST_REASON_ONLY_REJECT)
    found = requests.in_channel(ctx.db, ctx.ref, request_id)
    if found is None:
        return Reply(ephemeral=blocks.text_message(messages.request_not_found(request_id)), skip_audit=True)
    arguments = {**found.audit_arguments(), "reason": reason} if reason else found.audit_arguments()
    if action == "cancel" and found.requested_by != ctx.user_id:
        return Reply(
            ephemeral=blocks.text_message(messages.request_cancel_not_yours(found.requested_by)),
            algorithm=found.algorithm,
            outcome="refused",
            error="only the requester cancels",
            audit_action=action,
            audit_arguments=arguments,
        )
    status = requests.REJECTED if action == "reject" else requests.CANCELLED
    decided = requests.decide(ctx.db, found.id, status, ctx.user_id, ctx.now, reason=reason or None)
    if decided is None:
        now = requests.get(ctx.db, found.id) or found
        text = messages.request_already_decided(now.status, now.decided_by, now.published_version, now.reason)
        return Reply(ephemeral=blocks.text_message(text), algorithm=found.algorithm, skip_audit=True)
    update = (decided.message_ts, blocks.release_request_message(decided)) if decided.message_ts else None
    return Reply(
        ephemeral=blocks.text_message(messages.request_rejected_or_cancelled(status, ctx.user_id, found.algorithm)),
        update=update,
        algorithm=found.algorithm,
        result=found.id,
        audit_action=action,
        audit_arguments=arguments,
    )


COMMAND = CommandSpec(
    name="requests",
    summary=first_line(__doc__),
    kind=Kind.CHANGE,
    run=run,
    args=(Arg("ACTION", required=False, shown="cancel|reject"), Arg("REQUEST_ID", required=False)),
    options=(REASON,),
    shows_when_bare=True,
    details=(
        "Typed alone it lists the channel's open requests to anyone. Cancelling is for whoever asked; "
        "rejecting is for anyone who may change this channel's algorithms (the Reject… button asks for a reason)."
    ),
)
