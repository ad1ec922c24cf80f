"""The checks real Slack makes on message and view content, where they are cheap to repeat.

slack_sdk's models catch malformed blocks and per-element limits, but not the 50-blocks-per-message
limit, the header limit on hand-written dicts, or the 40,000-char text limit. A bot that only ever
talks to a permissive fake would learn about those in production; here they fail the test.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from .model import SlackError

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
HEADER_TEXT_MAX = 150
MESSAGE_TEXT_MAX = 40000

_sdk_block_logger = logging.getLogger("slack_sdk.models.blocks.blocks")


def load_json_arg(value: Any, name: str, error: str = "invalid_arguments") -> Any:
    """Form-encoded callers send structured args (blocks, view, files) as JSON strings."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise SlackError(error, response_metadata={"messages": [f"[ERROR] {name} is not valid JSON"]}) from exc


def validate_metadata(value: Any) -> dict[str, Any] | None:
    """Message metadata as Slack checks it: an object with a string ``event_type`` and an object
    ``event_payload`` (Slack answers ``invalid_metadata_format`` otherwise)."""
    metadata = load_json_arg(value, "metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not metadata["event_type"]
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError(
            "invalid_metadata_format",
            response_metadata={"messages": ["[ERROR] metadata needs event_type (string) and event_payload (object)"]},
        )
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}


def _invalid_blocks(problems: list[str]) -> SlackError:
    return SlackError(
        "invalid_blocks",
        errors=problems,
        response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
    )


def validate_blocks(raw: Any, *, max_blocks: int) -> list[dict[str, Any]]:
    """Return the blocks as a list of dicts or raise ``invalid_blocks``/``invalid_blocks_format``."""
    blocks = load_json_arg(raw, "blocks", error="invalid_blocks_format")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise SlackError("invalid_blocks_format")
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"no more than {max_blocks} items allowed [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        problems.extend(_block_problems(index, block))
    if problems:
        raise _invalid_blocks(problems)
    return blocks


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _block_problems(index: int, block: dict[str, Any]) -> list[str]:
    where = f"[json-pointer:/blocks/{index}]"
    kind = block.get("type")
    if kind == "section" and len(_text_of(block.get("text"))) > SECTION_TEXT_MAX:
        return [f"must be less than {SECTION_TEXT_MAX + 1} characters {where}/text"]
    if kind == "header" and len(_text_of(block.get("text"))) > HEADER_TEXT_MAX:
        return [f"must be less than {HEADER_TEXT_MAX + 1} characters {where}/text"]
    previous = _sdk_block_logger.disabled
    _sdk_block_logger.disabled = True  # parse() logs a warning for unknown types; we report it instead
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [f"unsupported type: {kind!r} {where}/type"]
        parsed.validate_json()
    except Exception as exc:  # the SDK raises TypeError/ValueError/SlackObjectFormationError alike
        return [f"{exc} {where}"]
    finally:
        _sdk_block_logger.disabled = previous
    return []


def validate_message(args: dict[str, Any], *, require_content: bool = True) -> dict[str, Any]:
    """Validate text/blocks/attachments of a chat.* call; return the normalized fields present."""
    fields: dict[str, Any] = {}
    if "text" in args and args["text"] is not None:
        text = str(args["text"])
        if len(text) > MESSAGE_TEXT_MAX:
            raise SlackError("msg_too_long")
        fields["text"] = text
    if args.get("blocks") is not None:
        fields["blocks"] = validate_blocks(args["blocks"], max_blocks=MESSAGE_BLOCKS_MAX)
    if args.get("attachments") is not None:
        attachments = load_json_arg(args["attachments"], "attachments", error="invalid_attachments")
        if not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        fields["attachments"] = attachments
    if require_content and not (fields.get("text") or fields.get("blocks") or fields.get("attachments")):
        raise SlackError("no_text")
    return fields


def validate_view(raw: Any, *, allowed_types: tuple[str, ...] = ("modal",)) -> dict[str, Any]:
    """Validate a view payload (views.open/push/update/publish); Slack answers ``invalid_arguments``."""
    view = load_json_arg(raw, "view")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", response_metadata={"messages": ["[ERROR] missing view"]})
    problems: list[str] = []
    if view.get("type") not in allowed_types:
        problems.append(f"type must be one of {list(allowed_types)} [json-pointer:/view/type]")
    if view.get("type") == "modal" and not view.get("title"):
        problems.append("missing required field: title [json-pointer:/view]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        problems.append("blocks must be a list of objects [json-pointer:/view/blocks]")
    else:
        if len(blocks) > VIEW_BLOCKS_MAX:
            problems.append(f"no more than {VIEW_BLOCKS_MAX} items allowed [json-pointer:/view/blocks]")
        for index, block in enumerate(blocks):
            problems.extend(p.replace("/blocks/", "/view/blocks/") for p in _block_problems(index, block))
    if not problems:
        try:
            View(**view).validate_json()
        except Exception as exc:
            problems.append(f"{exc} [json-pointer:/view]")
    if problems:
        raise SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})
    return view
