"""Publish the newest build as a new version; public callability asks for confirmation first."""

from __future__ import annotations

from algobot import blocks, ids, messages
from algobot.algorithmia import InvalidInput, normalize_version_type
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, choice_option, first_line
from algobot.parsing import ParsedCommand


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    version_type = normalize_version_type(parsed.positional[1] if len(parsed.positional) > 1 else None)
    callability = choice_option(parsed, "callability", ("public", "private"), None)
    notes = parsed.options.get("notes")
    sample_input = parsed.options.get("sample_input")
    if callability == "public" and not ctx.invocation.confirmed:
        value = blocks.command_value("publish", list(parsed.positional), dict(parsed.options))
        if len(value) > blocks.BUTTON_VALUE_LIMIT:
            raise InvalidInput(messages.BUTTON_VALUE_TOO_LONG)
        dialog = blocks.confirm_dialog(
            messages.CONFIRM_PUBLIC_TITLE, messages.CONFIRM_PUBLIC_BODY, messages.CONFIRM_PUBLIC_YES
        )
        question = blocks.confirm_message(
            messages.confirm_public_publish(algorithm),
            messages.CONFIRM_PUBLIC_YES,
            ids.ACTION_CONFIRM_PUBLISH,
            value,
            dialog,
        )
        return Reply(ephemeral=question, skip_audit=True)
    version_info: dict[str, str] = {"version_type": version_type}
    if notes is not None:
        version_info["release_notes"] = notes
    if sample_input is not None:
        version_info["sample_input"] = sample_input
    settings = {"algorithm_callability": callability} if callability else {}
    response = ctx.require_api().publish(algorithm, settings=settings, version_info=version_info)
    info = response.get("version_info") or {}
    version = str(info.get("semantic_version") or "")
    final_callability = (response.get("settings") or {}).get("algorithm_callability") or callability or "private"
    text = messages.published(ctx.user_id, algorithm, version, notes, final_callability)
    return Reply(
        announce=blocks.text_message(text),
        result=version,
        audit_arguments={
            "version_type": version_type,
            "notes": notes,
            "callability": final_callability,
            "sample_input": sample_input,
            "git_hash": info.get("git_hash"),
        },
    )


COMMAND = CommandSpec(
    name="publish",
    summary=first_line(__doc__),
    usage='/algo publish USER/ALGO [major|minor|revision] [notes="…"] [callability=private|public] [sample_input=…]',
    kind=Kind.CHANGE,
    run=run,
    min_args=1,
    max_args=2,
    options=("notes", "callability", "sample_input"),
    needs_key=True,
    arg_names=("USER/ALGO", "VERSION_TYPE"),
    details="The version type defaults to minor; patch is read as revision. The first minor publish is 0.1.0.",
)
