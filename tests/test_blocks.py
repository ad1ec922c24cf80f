"""Block Kit builders: Slack's limits hold and user/API text cannot ping or forge links."""

import json

from slack_sdk.models.blocks import Block

from algobot import blocks
from algobot.commands import load_registry
from algobot.mrkdwn import duration, slack_date


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
    registry = load_registry()
    message = blocks.help_message(list(registry.values()))
    _assert_slack_accepts(message)
    text = json.dumps(message)
    for spec in registry.values():
        assert spec.usage.split()[1] in text


def test_times_are_slack_date_tokens_with_a_utc_fallback():
    expected = "<!date^1795764596^{date_short_pretty} {time}|2026-11-27 07:29 UTC>"
    assert slack_date("2026-11-27T07:29:56.063Z") == expected
    assert slack_date("2026-11-27T07:29:56.432275+00:00") == expected
    assert slack_date("2026-11-27T08:29:56+01:00") == expected
    assert slack_date(None) == "—" and slack_date("", missing="still running") == "still running"
    assert slack_date("<!here> soon") == "&lt;!here&gt; soon"  # not a time: escaped, shown as is
    odd = blocks.build_message("demo/x", {"build_id": "b", "started_at": "soon & later"})
    assert "soon &amp; later" in json.dumps(odd) and "&amp;amp;" not in json.dumps(odd)  # escaped once


def test_build_fields_show_dates_as_tokens_and_durations_readably():
    build = {
        "build_id": "b1",
        "status": "succeeded",
        "commit_sha": "abcdef123",
        "started_at": "2026-11-27T07:29:56.063Z",
        "finished_at": "2026-11-27T07:31:59.500Z",
    }
    text = json.dumps(blocks.build_message("demo/x", build))
    assert "<!date^1795764596^{date_short_pretty} {time}|2026-11-27 07:29 UTC>" in text
    assert "2026-11-27T07" not in text and "2 min 3 s" in text
    _assert_slack_accepts(blocks.build_message("demo/x", build))


def test_durations_read_as_seconds_minutes_and_hours():
    assert [duration(s) for s in (3.2, 59, 60, 125, 600, 3725, 7200, None)] == [
        "3 s",
        "59 s",
        "1 min",
        "2 min 5 s",
        "10 min",
        "1 h 2 min",
        "2 h",
        "—",
    ]


def test_call_results_are_typed_escaped_and_fit_slack() -> None:
    json_message = blocks.call_result_message("head", {"b": [1, 2], "a": "<x>"}, "json")
    text = json.dumps(json_message)
    assert '\\"b\\": [\\n    1' in text and "&lt;x&gt;" in text
    binary = json.dumps(blocks.call_result_message("head", "AAEC", "binary"))
    assert "3 bytes of binary data" in binary and "AAEC" in binary
    void = json.dumps(blocks.call_result_message("head", None, "void"))
    assert "not waited for" in void
    huge = blocks.call_result_message("head", "&" * 20000, "text")
    body = huge["blocks"][1]["text"]["text"]
    assert len(body) <= blocks.SECTION_LIMIT and body.endswith("```") and "more characters not shown" in body
    fenced = json.dumps(blocks.call_result_message("head", "a```b", "text"))
    assert "a```b" not in fenced
