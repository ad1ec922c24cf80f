"""Publish the newest build (or build=BUILD_ID) as a new version; public callability asks first.

Under a channel's approval policy (`algobot.policy`) a publish becomes a release request pinned to
that build, and ``request=ID`` (the request's Approve button) publishes exactly what it pinned.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import islice
from typing import Any

from algobot import blocks, ids, messages, policy
from algobot import release_requests as requests
from algobot.algorithmia import (
    SETTINGS_ENUMS,
    VERSION_TYPES,
    AlgorithmiaClient,
    AlgorithmiaError,
    AlreadyPublished,
    normalize_version_type,
)
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand, UsageError
from algobot.release_requests import ReleaseRequest
from algobot.store import Store

BUILD = Option("build", shown="BUILD_ID", help="publish exactly this build")
NOTES = Option("notes", shown='"…"', help="release notes")
CALLABILITY = Option("callability", choices=SETTINGS_ENUMS["algorithm_callability"], help="who may call it")
SAMPLE_INPUT = Option("sample_input", help="an example input, shown on the algorithm's page")


def _request_id(raw: str) -> str:
    if not requests.is_id(raw):
        raise UsageError(messages.not_a_request_id(raw))
    return raw


REQUEST = Option(
    "request",
    shown="REQUEST_ID",
    help="approve that release request: publish exactly the build it pinned, as it was asked for",
    parse=_request_id,
)

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
    request_id = REQUEST.text(parsed)
    if request_id is not None:
        if len(parsed.positional) > 1 or set(parsed.options) != {REQUEST.name}:
            raise UsageError(messages.PUBLISH_REQUEST_ALONE)
        return _approve(ctx, algorithm, request_id)
    version_type = normalize_version_type(parsed.positional[1] if len(parsed.positional) > 1 else None)
    callability = CALLABILITY.text(parsed)
    notes = NOTES.text(parsed)
    sample_input = SAMPLE_INPUT.text(parsed)
    build_id = BUILD.text(parsed)
    current_policy = policy.load(ctx.db, ctx.ref)
    # Under approvals the request is the question and the approval the confirmation: no dialog first.
    approval = current_policy.needs_approval(callability)
    if callability == "public" and not ctx.invocation.confirmed and not approval:
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
    if approval:
        fields = {"version_type": version_type, "notes": notes, "callability": callability}
        return _request(ctx, algorithm, target, current_policy, sample_input=sample_input, **fields)
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


def _request(
    ctx: CommandContext,
    algorithm: str,
    target: dict[str, Any] | None,
    current_policy: policy.ChannelPolicy,
    **fields: str | None,
) -> Reply:
    """Post a release request pinned to ``target`` (the build a publish would release now) instead of publishing."""
    if not target or not target.get("build_id"):
        return Reply(
            ephemeral=blocks.text_message(messages.request_no_build(algorithm)), outcome="error", error="no build"
        )
    published_as = (target.get("version_info") or {}).get("semantic_version")
    if published_as:
        text = messages.request_already_published(algorithm, str(target["build_id"]), str(published_as))
        return _refusal(text, "build already published")
    request = requests.new(
        ctx.ref,
        algorithm=algorithm,
        build_id=str(target["build_id"]),
        commit_sha=str(target["commit_sha"]) if target.get("commit_sha") else None,
        version_type=str(fields["version_type"]),
        notes=fields["notes"],
        callability=fields["callability"],
        sample_input=fields["sample_input"],
        requested_by=ctx.user_id,
        now=ctx.now,
        expires_seconds=current_policy.expires_seconds,
    )
    return Reply(
        announce=blocks.release_request_message(request),
        audit_action="request",
        audit_arguments=request.audit_arguments(),
        result=request.id,
        writes=[lambda db: requests.save(db, request)],
        remember=lambda db, ts: requests.set_message_ts(db, request.id, ts),
    )


def _approve(ctx: CommandContext, algorithm: str, request_id: str) -> Reply:
    """Publish a release request as the person approving it: claimed first, so two approvers publish once."""
    found = requests.in_channel(ctx.db, ctx.ref, request_id)
    if found is None or found.algorithm != algorithm:
        text = messages.request_not_found(request_id)
        return Reply(ephemeral=blocks.text_message(text), outcome="error", error="no such request")
    if found.requested_by == ctx.user_id:
        refusal = _refusal(messages.SELF_APPROVAL, "someone else must approve")
        refusal.audit_arguments = found.audit_arguments()
        return refusal
    claimed = (
        requests.decide(ctx.db, found.id, requests.PUBLISHING, ctx.user_id, ctx.now) if found.status == "open" else None
    )
    if claimed is None:
        now = requests.get(ctx.db, found.id) or found
        text = messages.request_already_decided(now.status, now.decided_by, now.published_version, now.reason)
        refusal = _refusal(text, f"request already {now.status}")
        refusal.audit_arguments = found.audit_arguments()
        return refusal
    try:
        return _publish_claimed(ctx, claimed)
    except AlgorithmiaError:
        requests.finish(ctx.db, claimed.id, requests.OPEN)  # reported by the dispatcher; the request waits again
        raise


def _settle(request: ReleaseRequest, status: str, **changes: str | None) -> list[Any]:
    """The claimed request's new state, written with the approval's audit row."""
    version, reason = changes.get("version"), changes.get("reason")

    def write(db: Store) -> None:
        requests.finish(db, request.id, status, version=version, reason=reason)

    return [write]


def _closed(request: ReleaseRequest, why: str, error: str) -> Reply:
    closed = replace(request, status=requests.CLOSED, reason=why.strip())
    update = (request.message_ts, blocks.release_request_message(closed)) if request.message_ts else None
    return Reply(
        ephemeral=blocks.text_message(messages.request_closed(why)),
        outcome="error",
        error=error,
        writes=_settle(request, requests.CLOSED, reason=why.strip()),
        update=update,
        audit_arguments=request.audit_arguments(),
    )


def _publish_claimed(ctx: CommandContext, request: ReleaseRequest) -> Reply:
    api = ctx.require_api()
    build, newer = _named_build(api, request.algorithm, request.build_id)
    if build is None:
        return _closed(request, messages.request_closed_unpublishable(request.build_id, "gone"), "no such build")
    published_as = (build.get("version_info") or {}).get("semantic_version")
    if published_as:
        why = messages.request_closed_published(request.build_id, str(published_as))
        return _closed(request, why, "build already published")
    if build.get("status") != "succeeded":
        status = str(build.get("status"))
        return _closed(request, messages.request_closed_unpublishable(request.build_id, status), f"build {status}")
    blocking = [b for b in newer if b.get("status") in ("succeeded", "in-progress")]
    if blocking:
        text = messages.request_stays_open(
            messages.request_newer_build(request.algorithm, request.build_id, blocking[0])
        )
        return Reply(
            ephemeral=blocks.text_message(text),
            outcome="error",
            error=f"newer build {blocking[0].get('build_id')} {blocking[0].get('status')}",
            writes=_settle(request, requests.OPEN),
            audit_arguments=request.audit_arguments(),
        )
    version_info: dict[str, str] = {"version_type": request.version_type}
    if request.notes is not None:
        version_info["release_notes"] = request.notes
    if request.sample_input is not None:
        version_info["sample_input"] = request.sample_input
    settings = {"algorithm_callability": request.callability} if request.callability else {}
    git_hash = request.commit_sha or (str(build["commit_sha"]) if build.get("commit_sha") else None)
    try:
        response = api.publish(request.algorithm, settings=settings, version_info=version_info, git_hash=git_hash)
    except AlreadyPublished:
        return _closed(request, messages.request_closed_published(request.build_id, "a version"), "already published")
    info = response.get("version_info") or {}
    version = str(info.get("semantic_version") or "")
    final_callability = (
        (response.get("settings") or {}).get("algorithm_callability") or request.callability or "private"
    )
    published_text = messages.published(
        ctx.user_id,
        request.algorithm,
        version,
        request.notes,
        final_callability,
        build_id=request.build_id,
        commit=info.get("git_hash") or git_hash,
    )
    approved = replace(request, status=requests.APPROVED, published_version=version)
    return Reply(
        announce=blocks.text_message(
            messages.request_approved_announcement(published_text, request.requested_by, ctx.user_id)
        ),
        update=(request.message_ts, blocks.release_request_message(approved)) if request.message_ts else None,
        result=version,
        writes=_settle(request, requests.APPROVED, version=version),
        audit_arguments={**request.audit_arguments(), "callability": final_callability, "git_hash": git_hash},
    )


COMMAND = CommandSpec(
    name="publish",
    summary=first_line(__doc__),
    kind=Kind.CHANGE,
    run=run,
    args=(Arg("USER/ALGO"), Arg("VERSION_TYPE", required=False, shown="|".join(VERSION_TYPES))),
    options=(BUILD, NOTES, CALLABILITY, SAMPLE_INPUT, REQUEST),
    needs_key=True,
    details=(
        "The version type defaults to minor; patch is read as revision. The first minor publish is 0.1.0. "
        "With build=, only that build is published, and only while no newer build has succeeded or is running. "
        "Where `/algo policy` asks for approvals, publishing posts a release request for that build instead; "
        "someone else approves it (its Approve button, or request=REQUEST_ID) and exactly that build is published."
    ),
)
