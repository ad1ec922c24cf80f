"""algobot's `AlgorithmiaClient` against the sandbox over real HTTP: every operation, every error class,
retries (with a recording ``sleep``, so nothing waits), timeouts and key hygiene."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from algobot.algorithmia import (
    AlgorithmiaClient,
    AlreadyPublished,
    ApiUnavailable,
    Forbidden,
    InvalidInput,
    NameTaken,
    NotFound,
    Unauthorized,
    build_id_of,
)
from tests.fixtures.sandbox import ALGO_SETTINGS, HELLO_PY, RunningSandbox, push_files

ALGO = "demo/hello"
INFO = ("GET", "/v1/algorithms/{u}/{a}")


class Sleeps(list):
    """A ``sleep=`` for the client that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sandbox: RunningSandbox, sleeps: Sleeps) -> AlgorithmiaClient:
    return sandbox.client("demo", sleep=sleeps, max_retries=3)


def create(client: AlgorithmiaClient, algo: str = ALGO) -> dict:
    return client.create(algo, {"label": "Hello"}, ALGO_SETTINGS)


def test_the_whole_lifecycle(sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path) -> None:
    created = create(client)
    assert created["clone_url"] == sandbox.clone_url(ALGO)
    sha = push_files(created["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    compiled = client.compile(ALGO)
    build_id = build_id_of(compiled)
    assert build_id and compiled["version_info"]["git_hash"] == sha
    sandbox.box.wait_for_builds()
    assert client.build(ALGO, build_id)["status"] == "succeeded"
    assert "build succeeded" in client.build_logs(ALGO, build_id)
    assert [b["build_id"] for b in client.iter_builds(ALGO, page_size=1)][0] == build_id
    published = client.publish(ALGO, details={"tagline": "Hi"}, version_info={"release_notes": "First"})
    assert published["version_info"]["semantic_version"] == "0.1.0"
    info = client.info(ALGO)
    assert info["details"]["tagline"] == "Hi" and info["version_info"]["semantic_version"] == "0.1.0"
    updated = client.update(ALGO, settings={"license": "mit"})
    assert updated["settings"]["license"] == "mit"
    versions = client.versions(ALGO, published=True)
    assert [v["version_info"]["semantic_version"] for v in versions["results"]] == ["0.1.0"]
    assert len(list(client.iter_versions(ALGO, page_size=1))) == 2  # the push's build is a hash version too


def test_every_error_class(sandbox: RunningSandbox, client: AlgorithmiaClient) -> None:
    with pytest.raises(NotFound) as not_found:
        client.info(ALGO)
    assert not_found.value.status == 404 and not_found.value.code == 1001
    create(client)
    with pytest.raises(NameTaken):
        create(client)
    with pytest.raises(Unauthorized):
        AlgorithmiaClient("simnotakey", sandbox.url).info(ALGO)
    with pytest.raises(Forbidden):
        sandbox.client("mallory").info(ALGO)
    with pytest.raises(Forbidden):
        AlgorithmiaClient(sandbox.key("demo", manage=False), sandbox.url).info(ALGO)
    with pytest.raises(InvalidInput, match="push code first") as invalid:
        client.compile(ALGO)
    assert invalid.value.status == 400 and invalid.value.code == 2015
    with pytest.raises(InvalidInput, match="no successful build"):
        client.publish(ALGO)
    with pytest.raises(NotFound):
        client.build(ALGO, "00000000-0000-4000-8000-000000000000")


def test_already_published(sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path) -> None:
    push_files(create(client)["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    client.publish(ALGO)
    with pytest.raises(AlreadyPublished, match="Please compile"):
        client.publish(ALGO)


def test_get_retries_503_then_succeeds(sandbox: RunningSandbox, client: AlgorithmiaClient, sleeps: Sleeps) -> None:
    create(client)
    sandbox.box.reset_request_counts()
    sandbox.box.inject_fault(503, times=2)
    assert client.info(ALGO)["name"] == "hello"
    assert len(sleeps) == 2 and all(0 < wait <= 8 for wait in sleeps)
    assert sandbox.box.request_counts[INFO] == 3


def test_get_gives_up_with_api_unavailable(sandbox: RunningSandbox, client: AlgorithmiaClient, sleeps: Sleeps) -> None:
    create(client)
    sandbox.box.reset_request_counts()
    sandbox.box.inject_fault(503, times=4)
    with pytest.raises(ApiUnavailable) as caught:
        client.info(ALGO)
    assert caught.value.status == 503
    assert len(sleeps) == 3 and sandbox.box.request_counts[INFO] == 4


def test_429_waits_what_retry_after_says(sandbox: RunningSandbox, client: AlgorithmiaClient, sleeps: Sleeps) -> None:
    create(client)
    sandbox.box.inject_fault(429, times=2, retry_after=7, path_contains="/builds")
    assert client.builds(ALGO) == {"marker": None, "next_link": None, "results": []}
    assert sleeps == [7.0, 7.0]
    sandbox.box.inject_fault(429, times=1, retry_after=600)
    client.info(ALGO)
    assert sleeps[-1] == 60.0  # capped by retry_after_cap


def test_429_that_never_ends_is_api_unavailable(sandbox: RunningSandbox, client: AlgorithmiaClient) -> None:
    create(client)
    sandbox.box.inject_fault(429, times=10, retry_after=1)
    with pytest.raises(ApiUnavailable, match="rate limiting") as caught:
        client.info(ALGO)
    assert caught.value.status == 429


@pytest.mark.parametrize(
    ("operation", "pattern"),
    [
        ("create", "/v1/algorithms/{u}"),
        ("compile", "/v1/algorithms/{u}/{a}/compile"),
        ("publish", "/v1/algorithms/{u}/{a}/versions"),
        ("update", "/v1/algorithms/{u}/{a}"),
    ],
)
def test_writes_are_not_retried(
    sandbox: RunningSandbox,
    client: AlgorithmiaClient,
    sleeps: Sleeps,
    tmp_path: Path,
    operation: str,
    pattern: str,
) -> None:
    if operation != "create":
        push_files(create(client)["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
        sandbox.box.wait_for_builds()
    box = sandbox.box
    box.reset_request_counts()
    box.inject_fault(503, times=1)
    calls = {
        "create": lambda: create(client, "demo/second"),
        "compile": lambda: client.compile(ALGO),
        "publish": lambda: client.publish(ALGO),
        "update": lambda: client.update(ALGO, details={"tagline": "x"}),
    }
    with pytest.raises(ApiUnavailable):
        calls[operation]()
    method = "PUT" if operation == "update" else "POST"
    assert box.request_counts == {(method, pattern): 1}
    assert sleeps == []
    assert box.running_builds() == []
    if operation == "create":
        with pytest.raises(NotFound):
            client.info("demo/second")
    else:
        info = client.info(ALGO)
        assert len(client.builds(ALGO)["results"]) == 1
        assert "semantic_version" not in info["version_info"] and "tagline" not in info["details"]


def test_read_timeout_is_api_unavailable(sandbox: RunningSandbox, sleeps: Sleeps) -> None:
    client = sandbox.client("demo", read_timeout=0.1, max_retries=1, sleep=sleeps)
    sandbox.box.latency_ms = 300
    try:
        with pytest.raises(ApiUnavailable, match="did not answer in time"):
            client.info(ALGO)
    finally:
        sandbox.box.latency_ms = 0
    assert len(sleeps) == 1
    with pytest.raises(NotFound):
        client.info(ALGO)


def test_pagination_across_pages(sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path) -> None:
    clone = client.create(ALGO, {"label": "J"}, {**ALGO_SETTINGS, "language": "java"})["clone_url"]
    push_files(clone, {"Main.java": "class Main {}"}, tmp_path)
    for _ in range(4):
        client.compile(ALGO)
    sandbox.box.wait_for_builds()
    first = client.builds(ALGO, limit=2)
    assert len(first["results"]) == 2 and first["marker"]
    second = client.builds(ALGO, limit=2, marker=first["marker"])
    everything = [b["build_id"] for b in client.iter_builds(ALGO, page_size=2)]
    assert everything[:4] == [b["build_id"] for b in first["results"] + second["results"]]
    assert len(everything) == len(set(everything)) == 5
    assert [b["build_id"] for b in client.iter_builds(ALGO)] == everything


def test_the_key_never_leaks(
    sandbox: RunningSandbox, sleeps: Sleeps, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = sandbox.key("demo")
    client = AlgorithmiaClient(secret, sandbox.url, sleep=sleeps, max_retries=1)
    unknown = "sim" + "f" * 32
    errors = []
    for make_error in (
        lambda: client.info(ALGO),
        lambda: AlgorithmiaClient(unknown, sandbox.url).info(ALGO),
        lambda: AlgorithmiaClient(secret, "http://127.0.0.1:1", max_retries=0).info(ALGO),
    ):
        with pytest.raises(Exception) as caught:
            make_error()
        errors.append(caught.value)
    sandbox.box.inject_fault(503, times=2)  # max_retries=1: both attempts fail
    with pytest.raises(ApiUnavailable) as caught:
        client.info(ALGO)
    errors.append(caught.value)
    push_files(create(client)["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    for text in [caplog.text, repr(client), str(client.__dict__.get("base_url"))] + [f"{e} {e!r}" for e in errors]:
        assert secret not in text and unknown not in text
