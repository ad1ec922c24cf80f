"""The sandbox's algorithm API runs the built code: ``apply(input)`` of the version asked for, confined as
builds are, answering as Algorithmia does (docs/algorithmia-contract.md, "Algorithm API")."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import Algorithmia
import pytest
import requests

from algobot.sandbox.builds import isolation_available
from algobot.sandbox.demo import seed_demo
from tests.fixtures.sandbox import HELLO_PY, RunningSandbox, push_files

CALL = "/v1/algo/demo/hello"

ECHO_PY = """import base64


def apply(input):
    if isinstance(input, bytes):
        return input[::-1]
    if isinstance(input, dict):
        return {"got": input, "keys": sorted(input)}
    if input == "print":
        print("printed by the algorithm")
        return "done"
    if input == "fail":
        raise ValueError("input must not be fail")
    if input == "spin":
        while True:
            pass
    if input == "snoop":
        import os
        return os.getuid()
    return "echo " + input
"""


def post(box: RunningSandbox, path: str, key: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Simple {key}", **kwargs.pop("headers", {})}
    return requests.post(f"{box.url}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture
def key(sandbox: RunningSandbox) -> str:
    return sandbox.key("demo")


@pytest.fixture
def echo(sandbox: RunningSandbox, key: str, tmp_path: Path) -> str:
    """demo/hello built from ECHO_PY; its commit."""
    clone = sandbox.create_algorithm("demo/hello")
    sha = push_files(clone, {"src/hello.py": ECHO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    return sha


def text(box: RunningSandbox, key: str, sha: str, value: str, query: str = "") -> requests.Response:
    return post(box, f"{CALL}/{sha}{query}", key, data=value.encode(), headers={"Content-Type": "text/plain"})


def test_text_json_and_binary_input_reach_apply_and_come_back_typed(sandbox, key, echo) -> None:
    answer = text(sandbox, key, echo, "Sam").json()
    assert answer["result"] == "echo Sam"
    assert answer["metadata"]["content_type"] == "text" and answer["metadata"]["version"] == echo
    assert 0 < answer["metadata"]["duration"] < 30

    answer = post(sandbox, f"{CALL}/{echo}", key, json={"b": 1, "a": [2]}).json()
    assert answer["result"] == {"got": {"b": 1, "a": [2]}, "keys": ["a", "b"]}
    assert answer["metadata"]["content_type"] == "json"

    answer = post(sandbox, f"{CALL}/{echo}", key, data=b"\x00\x01\xff").json()
    assert answer["metadata"]["content_type"] == "binary"
    assert base64.b64decode(answer["result"]) == b"\xff\x01\x00"


def test_an_exception_in_apply_is_the_algorithms_error_with_its_stacktrace(sandbox, key, echo) -> None:
    response = text(sandbox, key, echo, "fail")
    assert response.status_code == 200  # as Algorithmia: the official client reads errors from a 2xx body
    error = response.json()["error"]
    assert error["message"] == "input must not be fail" and error["error_type"] == "AlgorithmError"
    assert "ValueError" in error["stacktrace"] and "src/hello.py" in error["stacktrace"]
    assert "metadata" not in response.json()


def test_a_call_past_its_timeout_is_killed_and_answered_as_a_timeout(sandbox, key, echo) -> None:
    error = text(sandbox, key, echo, "spin", "?timeout=1").json()["error"]
    assert "timed out" in error["message"] and "1 seconds" in error["message"]
    response = text(sandbox, key, echo, "x", "?timeout=nope")
    assert response.status_code == 400 and "timeout must be a number" in response.json()["error"]["message"]


def test_the_call_timeout_is_capped_by_the_build_timeout(sandbox, key, echo) -> None:
    sandbox.box._builds.build_timeout = 1.0
    error = text(sandbox, key, echo, "spin", "?timeout=3000").json()["error"]
    assert "timeout of 1 seconds" in error["message"]


def test_stdout_is_returned_to_the_owner_only_when_asked(sandbox, key, echo) -> None:
    assert "stdout" not in text(sandbox, key, echo, "print").json()["metadata"]
    metadata = text(sandbox, key, echo, "print", "?stdout=True").json()["metadata"]
    assert "printed by the algorithm" in metadata["stdout"]


def test_raw_and_void_output(sandbox, key, echo) -> None:
    raw = text(sandbox, key, echo, "Sam", "?output=raw")
    assert raw.status_code == 200 and raw.text == "echo Sam"
    void = text(sandbox, key, echo, "Sam", "?output=void").json()
    assert void["async"] is True and void["request_id"]


def test_missing_code_and_unknown_versions_are_named(sandbox, key, tmp_path) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    sha = push_files(clone, {"src/other.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    error = text(sandbox, key, sha, "x").json()["error"]
    assert "src/hello.py not found" in error["message"]
    missing = text(sandbox, key, "0" * 40, "x")
    assert missing.status_code == 404 and "No callable version" in missing.json()["error"]["message"]
    unpublished = post(sandbox, CALL, key, json=1)  # nothing published yet: no latest version
    assert unpublished.status_code == 404


def test_a_language_the_sandbox_cannot_run_is_an_algorithm_error(sandbox, key, tmp_path) -> None:
    clone = sandbox.create_algorithm("demo/hello", language="java")
    sha = push_files(clone, {"src/Hello.java": "class Hello {}"}, tmp_path)
    sandbox.box.wait_for_builds()
    assert "Python algorithms only" in text(sandbox, key, sha, "x").json()["error"]["message"]


@pytest.mark.skipif(not isolation_available(), reason="isolation needs Linux and root")
def test_the_algorithm_runs_confined_as_nobody(sandbox, key, echo) -> None:
    assert text(sandbox, key, echo, "snoop").json()["result"] != 0


def test_the_official_client_pipes_into_the_seeded_demo_hello(sandbox: RunningSandbox) -> None:
    demo = seed_demo(sandbox.box)
    client = Algorithmia.client(demo["key"], api_address=sandbox.url)
    algo = client.algo("demo/hello")
    algo.compile()
    sandbox.box.wait_for_builds()
    algo.publish(version_info={"version_type": "minor"})
    assert client.algo("demo/hello").pipe("Sam").result == "Hello Sam"
    assert client.algo("demo/hello/0.1.0").pipe({"a": 1}).result == "Hello {'a': 1}"
    client.algo("demo/hello").set_options(timeout=10, stdout=True)
    with pytest.raises(Exception, match="404"):  # 2.0.5 reads no error body of a non-2xx answer (quirk 11)
        client.algo("demo/hello/9.9.9").pipe("Sam")
