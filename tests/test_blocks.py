"""Block Kit builders: Slack's limits hold and user/API text cannot ping or forge links."""

import json

from slack_sdk.models.blocks import Block

from algobot import blocks


def _assert_slack_accepts(message: dict) -> None:
    assert len(message["blocks"]) <= blocks.MAX_BLOCKS
    parsed = Block.parse_all(message["blocks"])
    assert None not in parsed
    for block in parsed:
        block.to_dict()  # runs slack_sdk's validators (section 3,000, header 150, ...)
    for block in message["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


def test_sixty_line_log_tail_fits_and_marks_the_cut():
    log = "\n".join(f"line {i:03d} " + "x" * 80 for i in range(60))
    build = {"build_id": "b1", "status": "failed", "commit_sha": "abcdef123", "started_at": None}
    message = blocks.logs_message("demo/hello", build, log, 60, blocks.command_value("logs", []), "(empty)")
    _assert_slack_accepts(message)
    code = message["blocks"][1]["text"]["text"]
    assert code.startswith("```") and code.endswith("```")
    assert "line 059" in code  # the newest line is kept
    assert "earlier lines cut" in code


def test_tail_keeps_requested_number_of_lines():
    log = "\n".join(f"l{i}" for i in range(100))
    build = {"build_id": "b1", "status": "succeeded"}
    message = blocks.logs_message("demo/x", build, log, 5, "{}", "(empty)")
    code = message["blocks"][1]["text"]["text"]
    assert "l99" in code and "l95" in code and "l94" not in code
    assert "95 earlier lines cut" in code


def test_backticks_in_a_log_cannot_close_the_code_block():
    message = blocks.logs_message("demo/x", {"build_id": "b"}, "```\n<!channel>", 10, "{}", "")
    code = message["blocks"][1]["text"]["text"]
    assert code.count("```") == 2
    assert "<!channel>" not in code and "&lt;!channel&gt;" in code


def test_channel_ping_in_summary_arrives_escaped():
    data = {"details": {"label": "x", "summary": "<!channel> see <http://evil|here> & more"}, "settings": {}}
    message = blocks.info_message("demo/x", data)
    text = json.dumps(message)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text and "&amp; more" in text


def test_header_is_cut_to_150_characters():
    message = blocks.info_message("demo/" + "a" * 60, {"details": {"label": "L" * 200}})
    _assert_slack_accepts(message)
    assert message["blocks"][0]["text"]["text"].endswith("…")


def test_message_never_exceeds_fifty_blocks():
    many = [blocks.section(f"row {i}") for i in range(80)]
    message = blocks.message(many, "fallback")
    _assert_slack_accepts(message)
    assert "more not shown" in json.dumps(message["blocks"][-1])


def test_long_builds_list_fits():
    builds = [{"build_id": "x" * 36, "status": "succeeded", "commit_sha": "a" * 40} for _ in range(40)]
    message = blocks.builds_message("demo/x", builds, blocks.command_value("builds", ["demo/x"]), "")
    _assert_slack_accepts(message)


def test_help_lists_every_command():
    from commands import load_registry

    registry = load_registry()
    message = blocks.help_message(list(registry.values()))
    _assert_slack_accepts(message)
    text = json.dumps(message)
    for spec in registry.values():
        assert spec.usage.split()[1] in text
