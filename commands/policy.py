"""Show or set this channel's release policy: two-person approval for publishes, and whose key changes."""

from __future__ import annotations

from algobot import blocks, messages, policy
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.mrkdwn import slack_date
from algobot.options import Option
from algobot.parsing import ParsedCommand, UsageError


def _check_expires(raw: str) -> str:
    if policy.parse_duration(raw) is None:
        low, high = policy.MIN_EXPIRES_SECONDS, policy.MAX_EXPIRES_SECONDS
        raise UsageError(
            messages.not_a_duration("expires", raw, policy.format_duration(low), policy.format_duration(high))
        )
    return raw


APPROVALS = Option(
    "approvals", choices=("on", "off"), help="publishes become release requests a second person approves"
)
PUBLIC_ONLY = Option("public_only", choices=("true", "false"), help="ask for approval only when publishing as public")
EXPIRES = Option(
    "expires",
    shown="24h",
    help="how long a request stays open",
    parse=_check_expires,
)
KEYS = Option("keys", choices=policy.KEY_POLICIES, help="personal: changes need the person's own key")


def describe(current: policy.ChannelPolicy) -> list[str]:
    """The policy as the sentences people read (shown, announced when changed)."""
    return messages.policy_lines(
        current.approvals, current.public_only, policy.format_duration(current.expires_seconds), current.keys
    )


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    current = policy.load(ctx.db, ctx.ref)
    if not parsed.options:
        text = messages.policy_shown(describe(current), current.set_by, slack_date(current.set_at))
        return Reply(ephemeral=blocks.text_message(text), skip_audit=True)
    changes: dict[str, object] = {}
    if APPROVALS.text(parsed) is not None:
        changes["approvals"] = APPROVALS.text(parsed) == "on"
    if PUBLIC_ONLY.text(parsed) is not None:
        changes["public_only"] = PUBLIC_ONLY.text(parsed) == "true"
    expires = EXPIRES.text(parsed)
    if expires is not None:
        changes["expires_seconds"] = policy.parse_duration(expires)
    if KEYS.text(parsed) is not None:
        changes["keys"] = KEYS.text(parsed)
    stored = policy.save(ctx.db, ctx.ref, current.with_changes(**changes), ctx.user_id, ctx.now)
    typed = {
        "approvals": "on" if stored.approvals else "off",
        "public_only": str(stored.public_only).lower(),
        "expires": policy.format_duration(stored.expires_seconds),
        "keys": stored.keys,
    }
    # "keys" (and any name with "key") is redacted by the audit trail as a secret; the policy is no secret.
    arguments = {**{k: v for k, v in typed.items() if k != "keys"}, "changes_use": stored.keys}
    return Reply(
        announce=blocks.text_message(messages.policy_changed(ctx.user_id, describe(stored))),
        audit_arguments=arguments,
        result=", ".join(f"{name}={value}" for name, value in typed.items()),
    )


COMMAND = CommandSpec(
    name="policy",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    options=(APPROVALS, PUBLIC_ONLY, EXPIRES, KEYS),
    shows_when_bare=True,
    details="Typed alone it shows the policy to anyone; changing it is for this channel's configurers.",
)
