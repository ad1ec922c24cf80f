"""Publish the newest build (or build=BUILD_ID) as a new version; public callability asks first."""

from __future__ import annotations

from itertools import islice
from typing import Any

from algobot import blocks, ids, messages
from algobot.algorithmia import SETTINGS_ENUMS, VERSION_TYPES, AlgorithmiaClient, normalize_version_type
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand, UsageError

BUILD = Option("build", shown="BUILD_ID", help="publish exactly this build")
NOTES = Option("notes", shown='"…"', help="release notes")
CALLABILITY = Option("callability", choices=SETTINGS_ENUMS["algorithm_callability"], help="who may call it")
SAMPLE_INPUT = Option("sample_input", help="an example input, shown on the algorithm's page")

# How far back a build named by a notice is looked for: far enough for any notice someone still clicks.
BUILDS_SEARCHED = 200


def _newest_succeeded(api: AlgorithmiaClient, algorithm: str) -> dict[str, Any] | None:
    """The build the API would publish (its newest succeeded one), to name it and pin its commit."""
    for build in islice(api.iter_builds(algorithm), BUILDS_SEARCHED):
        if build.get("status") == "succeeded":
            return build
    return None


def _named_build(
    api: AlgorithmiaClient, algorithm: str, build_id: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The build with this id and the builds newer than it (newest first); None when not found."""
    newer: list[dict[str, Any]] = []
    for build in islice(api.iter_builds(algorithm), BUILDS_SEARCHED):
        if str(build.get("build_id")) == build_id:
            return build, newer
        newer.append(build)
    return None, newer


def _refusal(text_or_message: str | dict[str, Any], error: str) -> Reply:
    message = blocks.text_message(text_or_message) if isinstance(text_or_message, str) else text_or_message
    return Reply(ephemeral=message, outcome="refused", error=error)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    version_type = normalize_version_type(parsed.positional[1] if len(parsed.positional) > 1 else None)
    callability = CALLABILITY.text(parsed)
    notes = NOTES.text(parsed)
    sample_input = SAMPLE_INPUT.text(parsed)
    build_id = BUILD.text(parsed)
    if callability == "public" and not ctx.invocation.confirmed:
        # The question names the build it will publish, and the button pins it (build=).
        options = dict(parsed.options)
        asked = _newest_succeeded(ctx.require_api(), algorithm) if not build_id else {"build_id": build_id}
        if asked and asked.get("build_id"):
            options["build"] = str(asked["build_id"])
        value = blocks.command_value("publish", list(parsed.positional), options)
        question_text = messages.confirm_public_publish(algorithm)
        if asked and asked.get("build_id"):
            question_text += "\n" + messages.will_publish(str(asked["build_id"]), asked.get("commit_sha"))
        if len(value) > blocks.BUTTON_VALUE_LIMIT:
            raise UsageError(messages.BUTTON_VALUE_TOO_LONG)
        dialog = blocks.confirm_dialog(
            messages.CONFIRM_PUBLIC_TITLE, messages.CONFIRM_PUBLIC_BODY, messages.CONFIRM_PUBLIC_YES
        )
        question = blocks.confirm_message(
            question_text,
            messages.CONFIRM_PUBLIC_YES,
            ids.ACTION_CONFIRM_PUBLISH,
            value,
            dialog,
        )
        return Reply(ephemeral=question, skip_audit=True)
    api = ctx.require_api()
    if build_id:
        # A notice's Publish… (or build=) names one build: publish exactly that one, or nothing.
        build, newer = _named_build(api, algorithm, build_id)
        if build is None:
            api.info(algorithm)  # a missing algorithm is reported as such
            return Reply(
                ephemeral=blocks.text_message(messages.build_not_found(algorithm, build_id)),
                outcome="error",
                error="no such build",
            )
        if build.get("status") != "succeeded":
            status = str(build.get("status"))
            return _refusal(messages.build_not_publishable(algorithm, build_id, status), f"build {status}")
        blocking = [b for b in newer if b.get("status") in ("succeeded", "in-progress")]
        if blocking:
            return _refusal(
                blocks.newer_build_message(algorithm, build_id, blocking[0]),
                f"newer build {blocking[0].get('build_id')} {blocking[0].get('status')}",
            )
        target: dict[str, Any] | None = build
    else:
        target = _newest_succeeded(api, algorithm)
    version_info: dict[str, str] = {"version_type": version_type}
    if notes is not None:
        version_info["release_notes"] = notes
    if sample_input is not None:
        version_info["sample_input"] = sample_input
    settings = {"algorithm_callability": callability} if callability else {}
    git_hash = str(target["commit_sha"]) if target and target.get("commit_sha") else None
    response = api.publish(algorithm, settings=settings, version_info=version_info, git_hash=git_hash)
    info = response.get("version_info") or {}
    version = str(info.get("semantic_version") or "")
    published_hash = info.get("git_hash") or git_hash
    published_build = str(target["build_id"]) if target and published_hash == git_hash else None
    final_callability = (response.get("settings") or {}).get("algorithm_callability") or callability or "private"
    text = messages.published(
        ctx.user_id, algorithm, version, notes, final_callability, build_id=published_build, commit=published_hash
    )
    return Reply(
        announce=blocks.text_message(text),
        result=version,
        audit_arguments={
            "version_type": version_type,
            "notes": notes,
            "callability": final_callability,
            "sample_input": sample_input,
            "build_id": published_build,
            "git_hash": published_hash,
        },
    )


COMMAND = CommandSpec(
    name="publish",
    summary=first_line(__doc__),
    kind=Kind.CHANGE,
    run=run,
    args=(Arg("USER/ALGO"), Arg("VERSION_TYPE", required=False, shown="|".join(VERSION_TYPES))),
    options=(BUILD, NOTES, CALLABILITY, SAMPLE_INPUT),
    needs_key=True,
    details=(
        "The version type defaults to minor; patch is read as revision. The first minor publish is 0.1.0. "
        "With build=, only that build is published, and only while no newer build has succeeded or is running."
    ),
)
