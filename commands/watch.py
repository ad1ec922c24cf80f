"""Post every build and release of an algorithm to this channel, however it was started."""

from __future__ import annotations

from typing import Any

from algobot import blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.db import utc_iso
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.notify import store
from algobot.notify.types import ONLY_WORDS, parse_only
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand

ONLY = Option(
    "only",
    default="all",
    shown="|".join(ONLY_WORDS) + "[,…]",
    parse=parse_only,
    help=(
        "what to post, as a comma list: all (every build ending and every release, the default), failed, "
        "succeeded, changes (a build that breaks or fixes it, and the first one after watching), releases; "
        "failed, succeeded and changes post no releases unless releases is listed too (only=failed,releases)"
    ),
)
MENTION = Option(
    "mention", default="on", choices=("on", "off"), help="mention who started a failed build (off: nobody)"
)


def baseline(builds: list[dict[str, Any]], versions: list[dict[str, Any]]) -> store.Baseline:
    """What already happened when watching starts: the newest published version and the failing streak."""
    newest = ((versions[0].get("version_info") or {}).get("semantic_version") if versions else None) or ""
    commit, failures = None, 0
    for build in builds:  # newest first
        status = build.get("status")
        if status == "failed":
            commit, failures = build.get("commit_sha"), failures + 1
        elif status == "succeeded":
            break
    return store.Baseline(release_seen=str(newest), streak_commit=commit, streak_failures=failures)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    split_algo_name(algorithm)
    only = str(ONLY.text(parsed))
    mention = MENTION.text(parsed) == "on"
    api = ctx.require_api()
    page = api.builds(algorithm, limit=50)  # proves the key can see it, and sets the baseline
    builds = page.get("results") or []
    versions = api.versions(algorithm, limit=1, published=True).get("results") or []
    now = ctx.now.timestamp()
    for build in builds:
        # Builds that ended before the subscription are history, not news; running ones will be reported.
        store.track(ctx.db, ctx.ref, store.NewBuild.from_api(algorithm, build, news=False), now)
    store.subscribe(
        ctx.db,
        ctx.ref,
        algorithm,
        only,
        ctx.user_id,
        utc_iso(ctx.now),
        mention=mention,
        baseline=baseline(builds, versions),
    )
    return Reply(
        announce=blocks.text_message(messages.watching_started(ctx.user_id, algorithm, only, mention)),
        audit_arguments={"only": only, "mention": "on" if mention else "off"},
    )


COMMAND = CommandSpec(
    name="watch",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    args=(Arg("USER/ALGO"),),
    options=(ONLY, MENTION),
    needs_key=True,
    details=(
        "A git push outside Slack counts too, and so does a version published from Algorithmia's web page "
        "or CLI. Builds started with /algo compile are reported either way."
    ),
)
