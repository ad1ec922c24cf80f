"""Names, build ids and commit hashes are checked whole before they reach a URL; error bodies that
are not JSON are never echoed back to Slack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from algobot.algorithmia import (
    AlgorithmiaClient,
    split_algo_name,
    validate_build_id,
    validate_git_hash,
)
from algobot.parsing import UsageError
from tests.fixtures.bot import RunningBot, message_text
from tests.fixtures.sandbox import ALGO_SETTINGS, RunningSandbox

BAD_NAMES = ["demo/evil\n", "demo\n/evil", "demo/evil\r", "demo/evil ", " demo/evil", "demo/e\nvil", "demo/évil"]
BAD_BUILD_IDS = ["..", ".", "None", "a/b", "../..", "x y", "abc\n", "%2e%2e", "-rf", "a" * 129, "bé", "?x=1", "#"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_with_a_trailing_newline_or_stray_characters_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="not a valid"):
        split_algo_name(name)


@pytest.mark.parametrize("build_id", ["", *BAD_BUILD_IDS])
def test_build_ids_of_the_wrong_shape_are_refused(build_id: str) -> None:
    with pytest.raises(UsageError, match="build id"):
        validate_build_id(build_id)


def test_real_build_ids_pass() -> None:
    assert validate_build_id("0b9a5d6e-47a1-4f3c-9b44-1f0e2d3c4b5a") == "0b9a5d6e-47a1-4f3c-9b44-1f0e2d3c4b5a"


@pytest.mark.parametrize("git_hash", ["abc", "xyz1234", "abcdef1\n", "a" * 41, "../../x"])
def test_git_hashes_of_the_wrong_shape_are_refused(git_hash: str) -> None:
    with pytest.raises(UsageError, match="not a git commit hash"):
        validate_git_hash(git_hash)


def test_the_client_sends_nothing_for_a_bad_name_id_or_hash(sandbox: RunningSandbox) -> None:
    client = sandbox.client("demo")
    sandbox.create_algorithm("demo/hello")
    before = dict(sandbox.box.request_counts)
    calls: list[Any] = [
        lambda: client.create("demo/evil\n", {"label": "Evil"}, ALGO_SETTINGS),
        lambda: client.info("demo/hello\n"),
        lambda: client.publish("demo/hello", git_hash="not-a-hash"),
        *(lambda bid=bid: client.build("demo/hello", bid) for bid in BAD_BUILD_IDS),
        *(lambda bid=bid: client.build_logs("demo/hello", bid) for bid in BAD_BUILD_IDS),
    ]
    for call in calls:
        with pytest.raises(UsageError):
            call()
    assert client.request_count == 0
    assert sandbox.box.request_counts == before
    assert not list((sandbox.box.data_dir / "repos" / "demo").glob("evil*"))


def test_the_sandbox_refuses_a_name_with_a_trailing_newline(sandbox: RunningSandbox) -> None:
    """The sandbox checks names itself too: no row and no repository called ``evil\\n``."""
    response = requests.post(
        f"{sandbox.url}/v1/algorithms/demo",
        json={"name": "evil\n", "details": {"label": "Evil"}, "settings": ALGO_SETTINGS},
        headers={"Authorization": f"Simple {sandbox.key('demo')}"},
        timeout=10,
    )
    assert response.status_code == 400 and "not a valid algorithm name" in response.json()["error"]["message"]
    assert not (sandbox.box.data_dir / "repos" / "demo").exists()
    evil = requests.get(
        f"{sandbox.url}/v1/algorithms/demo/evil%0A",
        headers={"Authorization": f"Simple {sandbox.key('demo')}"},
        timeout=10,
    )
    assert evil.status_code == 404


def test_slash_create_with_a_trailing_newline_is_refused_before_any_request(bot: RunningBot, demo_channel: str) -> None:
    before = sum(bot.box.request_counts.values())
    bot.command('create "demo/evil\n" label=Evil')
    reply = bot.reply_containing("is not a valid algorithm name")
    assert reply.is_ephemeral
    assert sum(bot.box.request_counts.values()) == before
    assert not (bot.box.data_dir / "repos" / "demo").exists()


@pytest.mark.parametrize("command", ["build demo/hello ..", "logs demo/hello ..", "build demo/hello None"])
def test_slash_build_with_a_bad_id_is_refused_before_any_request(
    bot: RunningBot, created_algorithm: str, command: str
) -> None:
    before = sum(bot.box.request_counts.values())
    bot.command(command)
    reply = bot.reply_containing("is not a build id")
    assert reply.is_ephemeral and "build None: None" not in message_text(reply)
    assert sum(bot.box.request_counts.values()) == before


# -- error bodies -----------------------------------------------------------------------------

SECRET_PAGE = b"<html><body>internal-admin-token=hunter2 (do not share)</body></html>"


def _internal_service(status: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(status, [("Content-Type", "text/html"), ("Content-Length", str(len(SECRET_PAGE)))])
        return [SECRET_PAGE]

    return app


@pytest.mark.parametrize("status", ["400 Bad Request", "418 I'm a teapot", "404 Not Found"])
def test_a_non_json_error_body_from_the_endpoint_is_not_shown(bot: RunningBot, serve_wsgi: Any, status: str) -> None:
    url = serve_wsgi(_internal_service(status))
    bot.set_key(bot.sandbox.key("demo"), endpoint=url)
    bot.command("info demo/hello")
    code = status.split()[0]
    if code == "404":
        reply = bot.reply_containing("No such algorithm")
    else:
        reply = bot.reply_containing(f"HTTP {code}; the answer was not JSON, so it is not shown")
    text = message_text(reply)
    assert reply.is_ephemeral and "hunter2" not in text and "internal-admin" not in text and "<html" not in text


def test_the_client_error_for_a_non_json_body_carries_only_the_status(serve_wsgi: Any, tmp_path: Path) -> None:
    url = serve_wsgi(_internal_service("500 Internal Server Error"))
    client = AlgorithmiaClient("simKey", url, max_retries=0)
    with pytest.raises(Exception) as caught:
        client.info("demo/hello")
    assert caught.value.status == 500  # type: ignore[attr-defined]
    assert "hunter2" not in str(caught.value) and "hunter2" not in repr(caught.value)
