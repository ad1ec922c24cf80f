"""Change an algorithm's details or settings (label, tagline, summary, visibility, license, …)."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import validate_settings
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand, UsageError

from ._algorithm_fields import SUMMARY, TAGLINE, given_details, given_values, setting

SETTINGS = tuple(
    setting(name) for name in ("source_visibility", "license", "network_access", "pipeline_enabled", "environment")
)
# The API wants the whole settings object on update, so unchanged values are carried over.
CARRIED_SETTINGS = (
    *(option.name for option in SETTINGS),
    "language",
    "package_set",
    "royalty_microcredits",
    "algorithm_callability",
)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    if not parsed.options:
        raise UsageError(messages.NOTHING_TO_UPDATE)
    detail_changes = given_details(parsed)
    setting_changes = validate_settings(given_values(parsed, SETTINGS))
    api = ctx.require_api()
    current = api.info(algorithm)
    details = {**(current.get("details") or {}), **detail_changes}
    settings = {k: v for k, v in (current.get("settings") or {}).items() if k in CARRIED_SETTINGS}
    settings.update(setting_changes)
    api.update(algorithm, details=details, settings=settings)
    changes = ", ".join(f"{k}={v}" for k, v in parsed.options.items())
    return Reply(
        announce=blocks.text_message(messages.updated(ctx.user_id, algorithm, changes)),
        audit_arguments={"details": detail_changes, "settings": setting_changes},
    )


COMMAND = CommandSpec(
    name="update",
    summary=first_line(__doc__),
    kind=Kind.CHANGE,
    run=run,
    args=(Arg("USER/ALGO"),),
    options=(Option("label"), TAGLINE, SUMMARY, *SETTINGS),
    needs_key=True,
)
