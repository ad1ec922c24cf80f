"""Show the tail of a build's log; a button sends you the whole log as a file, privately."""

from __future__ import annotations

from algobot import blocks, messages
from algobot.algorithmia import NotFound
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, Upload, first_line
from algobot.mrkdwn import esc
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand

LINES = Option("lines", default=30, low=1, high=500, help="how many of the log's last lines to show")
# Set by the buttons that send the whole log: as a file, into a notice's thread.
UPLOAD = Option("upload", hidden=True)
THREAD = Option("thread", hidden=True)


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm, build_id = parsed.positional
    lines = LINES.number(parsed)
    api = ctx.require_api()
    try:
        build = api.build(algorithm, build_id)
    except NotFound:
        api.info(algorithm)  # a missing algorithm is reported as such
        return Reply(
            ephemeral=blocks.text_message(messages.build_not_found(algorithm, build_id)),
            outcome="error",
            error="no such build",
        )
    if build.get("status") == "in-progress":
        return Reply(ephemeral=blocks.text_message(messages.logs_still_running(algorithm, build_id)))
    logs = api.build_logs(algorithm, build_id)
    if UPLOAD.text(parsed) == "true":
        comment = messages.FULL_LOG_COMMENT.format(
            algorithm=esc(algorithm), build_id=esc(build_id), user_id=ctx.user_id
        )
        # A channel notice's log goes into its thread; from a private reply it stays private.
        thread_ts = THREAD.text(parsed)
        note = None if thread_ts else messages.FULL_LOG_PRIVATE.format(algorithm=esc(algorithm), build_id=esc(build_id))
        return Reply(
            upload=Upload(
                content=logs or messages.LOG_EMPTY,
                filename=f"{algorithm.replace('/', '-')}-{build_id}.log",
                title=f"{algorithm} build {build_id}",
                comment=comment,
                thread_ts=thread_ts,
                private=not thread_ts,
                note=note,
            ),
            result=build_id,
        )
    full_log = blocks.command_value("logs", [algorithm, build_id], {"upload": "true"})
    return Reply(
        ephemeral=blocks.logs_message(algorithm, build, logs, lines, full_log, messages.LOG_EMPTY),
        result=build_id,
    )


COMMAND = CommandSpec(
    name="logs",
    summary=first_line(__doc__),
    kind=Kind.READ,
    run=run,
    args=(Arg("USER/ALGO"), Arg("BUILD_ID")),
    options=(LINES, UPLOAD, THREAD),
    needs_key=True,
)
