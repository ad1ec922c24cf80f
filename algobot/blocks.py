"""Block Kit builders: every message and modal algobot sends is assembled here.

Builders are pure functions returning plain dicts, made with slack_sdk's models so that Slack's
per-element limits are checked when the message is built (a test fails rather than Slack). On top
of those, `message()` enforces what the SDK does not: at most 50 blocks and a total text budget,
cutting content with a visible marker instead of letting Slack reject the message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from algobot import ids, messages
from algobot.mrkdwn import CUT_MARKER, duration, esc, parse_time, slack_date, truncate

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
CODE_LIMIT = 2500  # a log tail stays well inside a section's 3,000 characters
MESSAGE_TEXT_BUDGET = 11000  # Slack rejects messages around 13k characters of block text
FALLBACK_TEXT_LIMIT = 3000
BUTTON_VALUE_LIMIT = 2000


def tail_lines(text: str, lines: int) -> tuple[list[str], int]:
    """The last `lines` lines of text and how many earlier lines were left out."""
    all_lines = (text or "").rstrip("\n").splitlines()
    kept = all_lines[-lines:] if lines > 0 else []
    return kept, len(all_lines) - len(kept)


def code_block(lines: Sequence[str], *, cut_before: int = 0, limit: int = CODE_LIMIT) -> str:
    """A ``` block of the given lines, keeping the newest ones when the limit cuts it.

    Backticks in the content are defused so a log cannot close the block early; a marker line
    says how many earlier lines were cut.
    """
    safe = [line.replace("```", "ˋˋˋ") for line in lines]
    body_limit = limit - 8 - 60  # fences and the marker line
    kept: list[str] = []
    size = 0
    for line in reversed(safe):
        line = truncate(line, 500)
        if size + len(line) + 1 > body_limit:
            break
        kept.append(line)
        size += len(line) + 1
    kept.reverse()
    cut = cut_before + (len(safe) - len(kept))
    marker = [f"{CUT_MARKER} {cut} earlier line{'s' if cut != 1 else ''} cut {CUT_MARKER}"] if cut else []
    body = "\n".join(marker + kept) or " "
    return f"```\n{esc(body)}\n```"


def section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=truncate(text, SECTION_LIMIT)))


def fields_section(pairs: Iterable[tuple[str, Any]]) -> SectionBlock:
    fields = [
        MarkdownTextObject(text=truncate(f"*{esc(label)}*\n{esc(value) if value not in (None, '') else '—'}", 2000))
        for label, value in pairs
    ][:10]
    return SectionBlock(fields=fields)


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(text, HEADER_LIMIT)))


def context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=truncate(t, 2000)) for t in texts[:10]])


def button(
    text: str,
    action_id: str,
    value: str | None = None,
    *,
    style: str | None = None,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    if value is not None and len(value) > BUTTON_VALUE_LIMIT:
        raise ValueError("button value over Slack's 2,000 characters")
    return ButtonElement(text=truncate(text, 75), action_id=action_id, value=value, style=style, confirm=confirm)


def command_value(name: str, positional: Sequence[str] = (), options: dict[str, str] | None = None) -> str:
    """The value of a button that re-runs a subcommand through the dispatcher."""
    return json.dumps({"cmd": name, "args": list(positional), "opts": options or {}}, separators=(",", ":"))


def next_page_value(command: str, algorithm: str, limit: int, marker: str | None) -> str | None:
    """The More button's value: the same listing from `marker` on, or None on the last page."""
    if not marker:
        return None
    return command_value(command, [algorithm], {"limit": str(limit), "marker": marker})


def message(blocks: Sequence[Block | dict], fallback: str) -> dict[str, Any]:
    """Finish a message: validated block dicts, at most 50, within the text budget, plus fallback text."""
    dicts = [b.to_dict() if isinstance(b, Block) else b for b in blocks]
    if len(dicts) > MAX_BLOCKS:
        dicts = dicts[: MAX_BLOCKS - 1] + [
            context(f"{CUT_MARKER} {len(dicts) - MAX_BLOCKS + 1} more not shown").to_dict()
        ]
    while len(dicts) > 1 and len(json.dumps(dicts)) > MESSAGE_TEXT_BUDGET * 1.5:
        dicts = dicts[:-2] + [context(f"{CUT_MARKER} the rest was cut to fit Slack's limits").to_dict()]
    return {"text": truncate(fallback, FALLBACK_TEXT_LIMIT), "blocks": dicts}


def text_message(text: str) -> dict[str, Any]:
    """A one-section message; the text is already mrkdwn (escape values before calling)."""
    return message([section(text)], fallback=text)


# -- views -------------------------------------------------------------------


def login_modal(
    *,
    callback_id: str,
    private_metadata: str,
    title: str,
    intro: str,
    key_block: tuple[str, str, str],
    endpoint_block: tuple[str, str, str, str, str],
    scope_block: tuple[str, str, str, Sequence[tuple[str, str]], str, str] | None = None,
) -> dict[str, Any]:
    """The modal that takes an API key, the channel's or the person's own (``scope_block``: block id,
    action id, label, (value, text) choices, the initial choice, hint); the key is never pre-filled or shown."""
    key_block_id, key_action_id, key_label = key_block
    ep_block_id, ep_action_id, ep_label, ep_initial, ep_hint = endpoint_block
    scope: list[Block] = []
    if scope_block is not None:
        sc_block_id, sc_action_id, sc_label, choices, sc_initial, sc_hint = scope_block
        radio_options = [Option(value=value, label=truncate(text, 75)) for value, text in choices]
        initial = next((option for option in radio_options if option.value == sc_initial), radio_options[0])
        scope.append(
            InputBlock(
                block_id=sc_block_id,
                label=PlainTextObject(text=sc_label),
                element=RadioButtonsElement(action_id=sc_action_id, options=radio_options, initial_option=initial),
                hint=PlainTextObject(text=truncate(sc_hint, 150)),
            )
        )
    view = View(
        type="modal",
        callback_id=callback_id,
        private_metadata=private_metadata,
        title=PlainTextObject(text=truncate(title, 24)),
        submit=PlainTextObject(text="Save"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(intro),
            *scope,
            InputBlock(
                block_id=key_block_id,
                label=PlainTextObject(text=key_label),
                element=PlainTextInputElement(action_id=key_action_id, placeholder="sim…"),
            ),
            InputBlock(
                block_id=ep_block_id,
                label=PlainTextObject(text=ep_label),
                element=PlainTextInputElement(action_id=ep_action_id, initial_value=ep_initial),
                hint=PlainTextObject(text=truncate(ep_hint, 150)),
                optional=True,
            ),
        ],
    )
    return view.to_dict()


def actions(*elements: ButtonElement) -> ActionsBlock:
    return ActionsBlock(elements=list(elements)[:25])


def divider() -> DividerBlock:
    return DividerBlock()


def confirm_dialog(title: str, text: str, confirm: str) -> ConfirmObject:
    return ConfirmObject(
        title=truncate(title, 100), text=truncate(text, 300), confirm=truncate(confirm, 30), deny="Cancel"
    )


# -- messages of the subcommands -----------------------------------------------


def help_message(specs: Sequence[Any], intro: str | None = None) -> dict[str, Any]:
    """`/algo help`: one line per subcommand, generated from the command modules."""
    lines = [f"`{spec.usage}`\n{esc(spec.summary)}" for spec in specs]
    blocks: list[Block] = [section(intro or messages.HELP_INTRO)]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_LIMIT - 100:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    blocks.append(context(messages.HELP_FOOTER))
    return message(blocks, fallback=intro or messages.HELP_INTRO)


def command_help_message(spec: Any) -> dict[str, Any]:
    """`/algo help CMD`: the command's summary, usage and details."""
    text = f"*{esc(spec.summary)}*\n`{spec.usage}`"
    for line in spec.option_help():
        text += f"\n{line}"
    if spec.details:
        text += f"\n{spec.details}"
    return message([section(text)], fallback=spec.usage)


def _short(sha: Any) -> str:
    return str(sha)[:7] if sha else "—"


def _duration(build: dict[str, Any]) -> str:
    started, finished = parse_time(build.get("started_at")), parse_time(build.get("finished_at"))
    if started is None or finished is None:
        return "—"
    return duration((finished - started).total_seconds())


STATUS_EMOJI = {"succeeded": ":white_check_mark:", "failed": ":x:", "in-progress": ":hourglass_flowing_sand:"}


def info_message(
    algorithm: str,
    data: dict[str, Any],
    *,
    published_version: str | None = None,
    published_commit: str | None = None,
) -> dict[str, Any]:
    """`/algo info`: details, settings, the newest published version and its commit, the newest build.

    The published version's commit comes from the versions list: the algorithm object's
    ``version_info.git_hash`` is the newest build's, which may be a later (even failed) build.
    """
    details = data.get("details") or {}
    settings = data.get("settings") or {}
    version = data.get("version_info") or {}
    build = data.get("build") or {}
    blocks: list[Block] = [header(f"{algorithm}" + (f" — {details.get('label')}" if details.get("label") else ""))]
    if details.get("tagline"):
        blocks.append(section(f"_{esc(details['tagline'])}_"))
    if details.get("summary"):
        blocks.append(section(esc(truncate(str(details["summary"]), 1500))))
    blocks.append(
        fields_section(
            [
                ("Latest version", published_version or "not published"),
                ("Latest version's commit", _short(published_commit) if published_version else "—"),
                ("Callability", settings.get("algorithm_callability")),
                ("Language", settings.get("language") or settings.get("package_set")),
                ("Environment", settings.get("environment")),
                ("Source", settings.get("source_visibility")),
                ("License", settings.get("license")),
                ("Network", settings.get("network_access")),
                ("Pipelines", "on" if settings.get("pipeline_enabled") else "off"),
                ("Royalty (microcredits)", settings.get("royalty_microcredits", 0)),
            ]
        )
    )
    if build:
        blocks.append(
            context(
                f"{STATUS_EMOJI.get(str(build.get('status')), '')} Newest build `{esc(build.get('build_id'))}` "
                f"{esc(build.get('status'))}, commit `{esc(_short(build.get('commit_sha')))}`"
            )
        )
    if version.get("release_notes"):
        blocks.append(context(f"Release notes: {esc(truncate(str(version['release_notes']), 1000))}"))
    return message(blocks, fallback=f"{algorithm}: {published_version or 'not published'}")


def build_line(build: dict[str, Any]) -> str:
    status = str(build.get("status") or "")
    published = (build.get("version_info") or {}).get("semantic_version")
    line = (
        f"{STATUS_EMOJI.get(status, '')} `{esc(build.get('build_id'))}` *{esc(status)}* "
        f"· commit `{esc(_short(build.get('commit_sha')))}` · started {slack_date(build.get('started_at'))}"
        f" · took {_duration(build)}"
    )
    if published:
        line += f" · published as *{esc(published)}*"
    return line


def builds_message(
    algorithm: str, builds: list[dict[str, Any]], more_value: str | None, empty_text: str
) -> dict[str, Any]:
    """`/algo builds`: newest first, with a More button carrying the next page's marker."""
    lines = [build_line(build) for build in builds]
    return _paged_message(
        f"Builds of {algorithm}",
        lines,
        empty_text,
        ids.ACTION_MORE_BUILDS,
        more_value,
        f"{len(builds)} builds of {algorithm}",
    )


def _paged_message(
    title: str, lines: list[str], empty_text: str, more_action: str, more_value: str | None, fallback: str
) -> dict[str, Any]:
    """One page of a list (builds, versions): a header, a section a line (or `empty_text`), and a More
    button carrying the next page's marker when there is one."""
    blocks: list[Block] = [header(title)]
    if not lines:
        blocks.append(section(empty_text))
    blocks.extend(section(line) for line in lines)
    if more_value:
        blocks.append(actions(button(messages.MORE, more_action, more_value)))
    return message(blocks, fallback=fallback)


def build_message(algorithm: str, build: dict[str, Any]) -> dict[str, Any]:
    """`/algo build`: one build."""
    version = (build.get("version_info") or {}).get("semantic_version")
    blocks: list[Block] = [
        header(f"Build {build.get('build_id')}"),
        fields_section(
            [
                ("Algorithm", algorithm),
                ("Status", f"{build.get('status')}"),
                ("Commit", _short(build.get("commit_sha"))),
                ("Started", slack_date(build.get("started_at"))),
                ("Finished", slack_date(build.get("finished_at"), missing="still running")),
                ("Duration", _duration(build)),
                ("Published as", version or "not published"),
            ]
        ),
    ]
    return message(blocks, fallback=f"{algorithm} build {build.get('build_id')}: {build.get('status')}")


def logs_message(
    algorithm: str, build: dict[str, Any], logs: str, lines: int, full_log_value: str, empty_text: str
) -> dict[str, Any]:
    """`/algo logs`: the tail of a build's log in a code block that fits, and a Full log button."""
    kept, cut = tail_lines(logs, lines)
    blocks: list[Block] = [
        section(f"{build_line(build)}\n*{esc(algorithm)}* — last {len(kept)} line{'s' if len(kept) != 1 else ''}"),
        section(code_block(kept, cut_before=cut) if kept else empty_text),
        actions(button(messages.FULL_LOG, ids.ACTION_FULL_LOG, full_log_value)),
    ]
    return message(blocks, fallback=f"Log of {algorithm} build {build.get('build_id')}")


def versions_message(
    algorithm: str, versions: list[dict[str, Any]], more_value: str | None, empty_text: str
) -> dict[str, Any]:
    """`/algo versions`: newest first, with paging."""
    lines = []
    for item in versions:
        info = item.get("version_info") or {}
        settings = item.get("settings") or {}
        line = (
            f"*{esc(info.get('semantic_version') or 'unpublished')}* · git `{esc(_short(info.get('git_hash')))}`"
            f" · {esc(settings.get('algorithm_callability') or '—')}"
        )
        if info.get("release_notes"):
            line += f"\n>{esc(truncate(str(info['release_notes']), 300))}"
        lines.append(line)
    return _paged_message(
        f"Versions of {algorithm}",
        lines,
        empty_text,
        ids.ACTION_MORE_VERSIONS,
        more_value,
        f"{len(versions)} versions of {algorithm}",
    )


def audit_message(
    title: str, rows: list[dict[str, Any]], empty_text: str, *, configure_actions: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`/algo audit`: who did what, on what, with what result, when, one readable line per row
    (`configure_actions` are the commands whose refusal means "not an admin or configurer")."""
    blocks: list[Block] = [header(title)]
    if not rows:
        blocks.append(section(empty_text))
    for row in rows:
        blocks.append(section(messages.audit_entry(row, configure_actions=configure_actions)))
    return message(blocks, fallback=title)


def releases_message(
    algorithm: str, releases: list[dict[str, Any]], more_value: str | None, empty_text: str
) -> dict[str, Any]:
    """`/algo releases`: the API's published versions, newest first, with who released each (from the
    audit trail) and when algobot knows it; a More button for the next page.

    Each release: ``version``, ``git_hash``, ``callability``, ``notes``, ``attribution`` (mrkdwn) and
    ``time`` (None for a release made outside Slack: the API gives versions no date)."""
    lines = []
    for item in releases:
        line = (
            f":rocket: *{esc(item.get('version'))}* · git `{esc(_short(item.get('git_hash')))}`"
            f" · {esc(item.get('callability') or '—')} · {item.get('attribution')}"
        )
        if item.get("time"):
            line += f" · {slack_date(item['time'])}"
        if item.get("notes"):
            line += f"\n>{esc(truncate(str(item['notes']), 500))}"
        lines.append(line)
    return _paged_message(
        f"Releases of {algorithm}",
        lines,
        empty_text,
        ids.ACTION_MORE_RELEASES,
        more_value,
        f"{len(releases)} releases of {algorithm}",
    )


def confirm_message(text: str, confirm_text: str, action_id: str, value: str, dialog: ConfirmObject) -> dict:
    """A question with a primary button that runs the command once confirmed."""
    blocks = [
        section(text),
        actions(
            button(confirm_text, action_id, value, style="danger", confirm=dialog),
            button("Cancel", ids.ACTION_CANCEL, "cancel"),
        ),
    ]
    return message(blocks, fallback=text)


# -- build notices ----------------------------------------------------------------------------


def build_notice_message(
    algorithm: str,
    build: dict[str, Any],
    *,
    started_by: str | None,
    with_buttons: bool = True,
    mention: str | None = None,
    streak: str | None = None,
) -> dict[str, Any]:
    """The final status of a build: one message, updated in place when Slack started the build.

    ``mention`` is the Slack user a failure pings (in the fallback text too, which is what notifies);
    ``streak`` says where the build stands ("Broken since …", "Fixed after N failed builds")."""
    status = str(build.get("status") or "")
    build_id = str(build.get("build_id") or "")
    headline = f"{STATUS_EMOJI.get(status, '')} {messages.build_notice(status, algorithm, build_id)}"
    if streak:
        headline += f"\n{streak}"
    pairs: list[tuple[str, Any]] = [
        ("Commit", _short(build.get("commit_sha"))),
        ("Duration", _duration(build)),
    ]
    context_bits = []
    if started_by:
        context_bits.append(f"Started by <@{esc(started_by)}>")
    if build.get("finished_at"):
        context_bits.append(f"finished {slack_date(build['finished_at'])}")
    elements: list[Block] = [section(headline), fields_section(pairs)]
    if context_bits:
        elements.append(context(" · ".join(context_bits)))
    if with_buttons:
        buttons = [
            button(
                messages.FULL_LOG,
                ids.ACTION_FULL_LOG,
                command_value("logs", [algorithm, build_id], {"upload": "true"}),
            ),
            button(messages.REBUILD, ids.ACTION_REBUILD, command_value("compile", [algorithm])),
        ]
        if status == "succeeded":
            buttons.append(publish_button(algorithm, build))
            if build.get("commit_sha"):
                buttons.append(try_button(algorithm, build))
        elements.append(actions(*buttons))
    fallback = f"{algorithm} build {build_id} {status}"
    if mention:
        ping = messages.build_failed_mention(esc(mention))
        elements.insert(1, section(ping))
        fallback = f"{ping} {fallback}"
    return message(elements, fallback=fallback)


def release_notice_message(algorithm: str, version: dict[str, Any], attribution: str) -> dict[str, Any]:
    """A new published version of a watched algorithm, however it was published.

    ``attribution`` is mrkdwn already ("published from Slack by <@U…>", "published outside Slack")."""
    info = version.get("version_info") or {}
    semantic = str(info.get("semantic_version") or "")
    settings = version.get("settings") or {}
    headline = messages.release_notice(algorithm, semantic)
    elements: list[Block] = [
        section(headline),
        fields_section(
            [
                ("Commit", _short(info.get("git_hash"))),
                ("Callable by", settings.get("algorithm_callability") or "—"),
            ]
        ),
    ]
    if info.get("release_notes"):
        elements.append(section(f">{esc(truncate(str(info['release_notes']), 1500))}"))
    elements.append(context(attribution))
    return message(elements, fallback=f"{algorithm} {semantic} was published, {attribution}")


def publish_button(algorithm: str, build: dict[str, Any]) -> ButtonElement:
    """The *Publish…* button of one build: its value names the build and commit the dialog publishes."""
    value = {"algorithm": algorithm, "build_id": build.get("build_id"), "git_hash": build.get("commit_sha")}
    return button(messages.PUBLISH_ELLIPSIS, ids.ACTION_OPEN_PUBLISH, json.dumps(value), style="primary")


def try_button(algorithm: str, build: dict[str, Any]) -> ButtonElement:
    """The *Try* button of a succeeded build: like *Publish…*, its value names the build and commit."""
    value = {"algorithm": algorithm, "build_id": build.get("build_id"), "git_hash": build.get("commit_sha")}
    return button(messages.TRY, ids.ACTION_OPEN_TRY, json.dumps(value))


def newer_build_message(algorithm: str, build_id: str, newer: dict[str, Any]) -> dict[str, Any]:
    """Refusing to publish an older build: name the newer one and offer to publish it instead."""
    text = messages.newer_build_exists(algorithm, build_id, newer)
    elements: list[Block] = [section(text)]
    if newer.get("status") == "succeeded":
        elements.append(actions(publish_button(algorithm, newer)))
    return message(elements, fallback=text)


def log_tail_message(logs: str, lines: int) -> dict[str, Any]:
    """The last lines of a build log, for the notice's thread."""
    kept, cut = tail_lines(logs, lines)
    if not kept:
        return text_message(messages.LOG_EMPTY)
    intro = messages.LOG_TAIL_HEADER.format(count=len(kept), s="s" if len(kept) != 1 else "")
    return message([section(intro), section(code_block(kept, cut_before=cut))], fallback=intro)


def publish_modal(
    *,
    algorithm: str,
    private_metadata: str,
    build_id: str | None = None,
    commit: str | None = None,
    tried: str | None = None,
) -> dict[str, Any]:
    """Publish from a build notice: version type, notes, callability and sample input; ``tried`` is the
    first line of what a Try of this build answered in the channel."""

    def select(action_id: str, options: list[str], initial: str) -> StaticSelectElement:
        opts = [Option(text=o, value=o) for o in options]
        return StaticSelectElement(action_id=action_id, options=opts, initial_option=opts[options.index(initial)])

    view = View(
        type="modal",
        callback_id=ids.VIEW_PUBLISH,
        private_metadata=private_metadata,
        title=PlainTextObject(text=messages.PUBLISH_MODAL_TITLE),
        submit=PlainTextObject(text="Publish"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(messages.publish_modal_intro(algorithm, build_id, commit)),
            *([context(messages.publish_modal_tried(tried))] if tried else []),
            InputBlock(
                block_id=ids.BLOCK_PUBLISH_VERSION,
                label=PlainTextObject(text=messages.PUBLISH_VERSION_LABEL),
                element=select(ids.ACTION_PUBLISH_VERSION, ["major", "minor", "revision"], "minor"),
            ),
            InputBlock(
                block_id=ids.BLOCK_PUBLISH_NOTES,
                label=PlainTextObject(text=messages.PUBLISH_NOTES_LABEL),
                element=PlainTextInputElement(action_id=ids.ACTION_PUBLISH_NOTES, multiline=True, max_length=1500),
                optional=True,
            ),
            InputBlock(
                block_id=ids.BLOCK_PUBLISH_CALLABILITY,
                label=PlainTextObject(text=messages.PUBLISH_CALLABILITY_LABEL),
                element=select(ids.ACTION_PUBLISH_CALLABILITY, ["private", "public"], "private"),
            ),
            InputBlock(
                block_id=ids.BLOCK_PUBLISH_SAMPLE,
                label=PlainTextObject(text=messages.PUBLISH_SAMPLE_LABEL),
                element=PlainTextInputElement(action_id=ids.ACTION_PUBLISH_SAMPLE),
                optional=True,
            ),
        ],
    )
    return view.to_dict()


# -- calling an algorithm: /algo call and Try --------------------------------------------------------

RESULT_LIMIT = 2400  # the result's code block, escaped, inside a section's 3,000 characters
TRY_INPUT_LIMIT = 3000  # Slack's limit for a plain-text input


def result_text(result: Any, content_type: str) -> str:
    """A result as people read it: JSON pretty-printed, text as is, binary as its base64 text."""
    if content_type == "void":
        return messages.CALL_VOID_RESULT
    if content_type == "json":
        return json.dumps(result, indent=2, ensure_ascii=False)
    return "" if result is None else str(result)


def result_block(text: str, limit: int = RESULT_LIMIT) -> str:
    """A ``` block of the result's beginning, escaped, with backticks defused and a marker saying how much
    was cut to fit."""
    raw = text.replace("```", "ˋˋˋ") or " "
    kept = raw
    while len(esc(kept)) > limit:
        kept = kept[: max(0, min(len(kept) - 1, int(len(kept) * 0.9), limit))]
    body = esc(kept)
    if len(kept) < len(raw):
        body += "\n" + f"{CUT_MARKER} {messages.CALL_RESULT_CUT.format(cut=len(raw) - len(kept))} {CUT_MARKER}"
    return f"```\n{body}\n```"


def call_result_message(headline: str, result: Any, content_type: str) -> dict[str, Any]:
    """`/algo call` and Try: the headline (who, what, how long) and the result in a code block."""
    elements: list[Block] = [section(headline)]
    if content_type == "binary" and isinstance(result, str):
        elements.append(context(messages.CALL_BINARY_RESULT.format(size=len(result) * 3 // 4)))
    elements.append(section(result_block(result_text(result, content_type))))
    return message(elements, fallback=headline)


def try_modal(*, algorithm: str, private_metadata: str, build_id: str | None, commit: str, initial: str) -> dict:
    """Try a build: one input field, prefilled with the last input used for this algorithm here."""
    view = View(
        type="modal",
        callback_id=ids.VIEW_TRY,
        private_metadata=private_metadata,
        title=PlainTextObject(text=messages.TRY_MODAL_TITLE),
        submit=PlainTextObject(text=messages.TRY_SUBMIT),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(messages.try_modal_intro(algorithm, build_id, commit)),
            InputBlock(
                block_id=ids.BLOCK_TRY_INPUT,
                label=PlainTextObject(text=messages.TRY_INPUT_LABEL),
                hint=PlainTextObject(text=messages.TRY_INPUT_HINT),
                element=PlainTextInputElement(
                    action_id=ids.ACTION_TRY_INPUT,
                    multiline=True,
                    max_length=TRY_INPUT_LIMIT,
                    initial_value=initial[:TRY_INPUT_LIMIT] or None,
                ),
                optional=True,
            ),
        ],
    )
    return view.to_dict()


# -- release requests ---------------------------------------------------------------------------


def release_request_message(request: Any) -> dict[str, Any]:
    """A release request (`algobot.release_requests.ReleaseRequest`): what exactly will be published,
    with Approve / Reject… / Cancel while open, and its outcome instead once decided (updated in place)."""
    headline = messages.release_requested(request.requested_by, request.algorithm)
    labels = messages.REQUEST_LABELS
    pairs: list[tuple[str, Any]] = [
        (labels["build"], request.build_id),
        (labels["commit"], _short(request.commit_sha)),
        (labels["version_type"], request.version_type),
        (labels["callability"], request.callability or "unchanged"),
    ]
    if request.notes:
        pairs.append((labels["notes"], truncate(request.notes, 1500)))
    if request.sample_input:
        pairs.append((labels["sample_input"], truncate(request.sample_input, 1500)))
    elements: list[Block] = [header(f"{messages.REQUEST_TITLE}: {request.algorithm}"), section(headline)]
    elements.append(fields_section(pairs))
    if request.callability == "public":
        elements.append(section(messages.REQUEST_PUBLIC_MARKER))
    if request.status == "open":
        elements.append(context(messages.request_expires(slack_date(request.expires_iso), request.id)))
        value = json.dumps({"request": request.id, "algorithm": request.algorithm}, separators=(",", ":"))
        cancel = command_value("requests", ["cancel", request.id])
        elements.append(
            actions(
                button(
                    messages.REQUEST_APPROVE,
                    ids.ACTION_APPROVE_REQUEST,
                    command_value("publish", [request.algorithm], {"request": request.id}),
                    style="primary",
                ),
                button(messages.REQUEST_REJECT, ids.ACTION_REJECT_REQUEST, value, style="danger"),
                button(messages.REQUEST_CANCEL, ids.ACTION_CANCEL_REQUEST, cancel),
            )
        )
    else:
        version, reason = request.published_version, request.reason
        elements.append(section(messages.request_outcome(request.status, request.decided_by, version, reason)))
    return message(elements, fallback=headline)


def reject_modal(*, private_metadata: str, algorithm: str) -> dict[str, Any]:
    """Reject a release request: an optional reason, shown on the request once rejected."""
    view = View(
        type="modal",
        callback_id=ids.VIEW_REJECT_REQUEST,
        private_metadata=private_metadata,
        title=PlainTextObject(text=messages.REJECT_MODAL_TITLE),
        submit=PlainTextObject(text=messages.REJECT_MODAL_SUBMIT),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            section(messages.release_requested_reject_intro(algorithm)),
            InputBlock(
                block_id=ids.BLOCK_REJECT_REASON,
                label=PlainTextObject(text=messages.REJECT_REASON_LABEL),
                element=PlainTextInputElement(action_id=ids.ACTION_REJECT_REASON, multiline=True, max_length=500),
                optional=True,
            ),
        ],
    )
    return view.to_dict()


def requests_message(requests: Sequence[Any]) -> dict[str, Any]:
    """`/algo requests`: the channel's open release requests."""
    blocks: list[Block] = [header(messages.REQUESTS_TITLE)]
    if not requests:
        blocks.append(section(messages.NO_OPEN_REQUESTS))
    for request in requests:
        line = messages.request_line(
            request.id,
            request.requested_by,
            request.algorithm,
            request.build_id,
            request.commit_sha,
            slack_date(request.expires_iso),
            request.callability == "public",
        )
        if request.status != "open":
            line += "\n" + messages.request_outcome(request.status, request.decided_by, None, None)
        blocks.append(section(line))
    return message(blocks, fallback=messages.REQUESTS_TITLE)
