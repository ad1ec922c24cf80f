"""Change an algorithm's details or settings (label, tagline, summary, visibility, license, …)."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import DETAILS_KEYS, validate_settings
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.parsing import ParsedCommand, UsageError

UPDATE_SETTINGS = ("source_visibility", "license", "network_access", "pipeline_enabled", "environment")
# The API wants the whole settings object on update, so unchanged values are carried over.
CARRIED_SETTINGS = (
    *UPDATE_SETTINGS,
    "language",
    "package_set",
    "royalty_microcredits",
    "algorithm_callability",
)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    if not parsed.options:
        raise UsageError(messages.NOTHING_TO_UPDATE)
    detail_changes = {k: v for k, v in parsed.options.items() if k in DETAILS_KEYS}
    setting_changes = validate_settings({k: v for k, v in parsed.options.items() if k in UPDATE_SETTINGS})
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
    usage=(
        "/algo update USER/ALGO [label=…] [tagline=…] [summary=…] [source_visibility=open|closed] "
        "[license=apl|apache2|gpl3|mit] [network_access=isolated|full] [pipeline_enabled=true|false] "
        "[environment=cpu|gpu]"
    ),
    kind=Kind.CHANGE,
    run=run,
    min_args=1,
    max_args=1,
    options=(*DETAILS_KEYS, *UPDATE_SETTINGS),
    needs_key=True,
)
