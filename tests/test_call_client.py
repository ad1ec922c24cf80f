"""`AlgorithmiaClient.call` against the sandbox over real HTTP: input typing, results, the algorithm's
errors, the API's refusals, a single attempt, and the key kept out of every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from algobot.algorithmia import (
    AlgorithmFailed,
    AlgorithmiaClient,
    ApiUnavailable,
    NotFound,
    Unauthorized,
    call_body,
    validate_call_version,
)
from algobot.parsing import UsageError
from tests.fixtures.sandbox import RunningSandbox, push_files

TYPED_PY = """def apply(input):
    if input == "fail":
        raise RuntimeError("bad input: fail")
    return {"type": type(input).__name__, "value": input}
"""
CALL = ("POST", "/v1/algo/{u}/{a}/{version}")


@pytest.fixture
def sha(sandbox: RunningSandbox, tmp_path: Path) -> str:
    clone = sandbox.create_algorithm("demo/hello")
    commit = push_files(clone, {"src/hello.py": TYPED_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    return commit


def test_input_is_json_when_it_parses_else_text() -> None:
    assert call_body('{"a": 1}') == (b'{"a": 1}', "application/json")
    assert call_body("42") == (b"42", "application/json")
    assert call_body("Sam") == (b"Sam", "text/plain")
    assert call_body("") == (b"", "text/plain")


def test_versions_to_call_are_checked_before_sending() -> None:
    for version in ("1.2.3", "1.*", "1.2.*", "latest", "latestPrivate", "abc1234", "A" * 40):
        assert validate_call_version(version) == version
    for version in ("1.2", "../x", "v1", "abc", "1.2.3.4"):
        with pytest.raises(UsageError, match="is not a version to call"):
            validate_call_version(version)


def test_call_returns_the_typed_result_with_its_metadata(sandbox: RunningSandbox, sha: str) -> None:
    client = sandbox.client()
    answer = client.call("demo/hello", sha, '{"name": "Sam"}', 10)
    assert answer.result == {"type": "dict", "value": {"name": "Sam"}} and answer.content_type == "json"
    assert answer.duration is not None and answer.duration > 0
    assert client.call("demo/hello", sha, "Sam", 10).result == {"type": "str", "value": "Sam"}


def test_the_algorithms_error_is_algorithm_failed_and_sent_once(sandbox: RunningSandbox, sha: str) -> None:
    client = sandbox.client()
    sandbox.box.reset_request_counts()
    with pytest.raises(AlgorithmFailed) as caught:
        client.call("demo/hello", sha, "fail", 10)
    assert caught.value.message == "bad input: fail" and caught.value.error_type == "AlgorithmError"
    assert sandbox.box.request_counts[CALL] == 1


def test_refusals_map_to_the_usual_classes_without_the_key(sandbox: RunningSandbox, sha: str) -> None:
    with pytest.raises(NotFound):
        sandbox.client().call("demo/hello", "9.9.9", "x", 10)
    with pytest.raises(NotFound):  # a commit is for the owner's key only
        sandbox.client("stranger").call("demo/hello", sha, "x", 10)
    with pytest.raises(Unauthorized) as caught:
        AlgorithmiaClient("simNOTAREALKEY0000000000000", sandbox.url).call("demo/hello", sha, "x", 10)
    assert "simNOTAREALKEY" not in repr(caught.value) and "simNOTAREALKEY" not in str(caught.value)


def test_a_503_is_not_retried_since_a_call_costs_credits(sandbox: RunningSandbox, sha: str) -> None:
    sandbox.box.inject_fault(503, times=1, path_contains="/v1/algo/")
    sandbox.box.reset_request_counts()
    with pytest.raises(ApiUnavailable):
        sandbox.client().call("demo/hello", sha, "x", 10)
    assert sandbox.box.request_counts[CALL] == 1
