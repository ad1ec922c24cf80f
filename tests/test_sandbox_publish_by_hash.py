"""Publishing a given commit: only the newest successful build's, anything else is a clear 400."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from algobot.algorithmia import AlgorithmiaClient, AlreadyPublished, InvalidInput
from algobot.parsing import UsageError
from tests.fixtures.sandbox import BROKEN_PY, HELLO_PY, RunningSandbox, push_files

ALGO = "demo/hello"


@pytest.fixture
def client(sandbox: RunningSandbox) -> AlgorithmiaClient:
    return sandbox.client("demo")


def _push(sandbox: RunningSandbox, clone: str, content: str, tmp_path: Path, message: str) -> tuple[str, str]:
    """Push, wait for the build, return (commit, build id)."""
    sha = push_files(clone, {"src/hello.py": content}, tmp_path, message=message)
    sandbox.box.wait_for_builds()
    [build] = [b for b in sandbox.client("demo").builds(ALGO)["results"] if b["commit_sha"] == sha]
    return sha, build["build_id"]


def test_publishing_the_newest_successful_commit_by_hash(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm(ALGO)
    sha, _ = _push(sandbox, clone, HELLO_PY, tmp_path, "first")
    published = client.publish(ALGO, git_hash=sha.upper()[:10])
    assert published["version_info"]["git_hash"] == sha
    assert published["version_info"]["semantic_version"] == "0.1.0"
    with pytest.raises(AlreadyPublished):
        client.publish(ALGO, git_hash=sha)


def test_an_older_commit_is_refused_naming_the_newer_build(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm(ALGO)
    old, _ = _push(sandbox, clone, HELLO_PY, tmp_path, "first")
    new, new_build = _push(sandbox, clone, HELLO_PY + "# faster\n", tmp_path, "second")
    with pytest.raises(InvalidInput) as caught:
        client.publish(ALGO, git_hash=old)
    error = caught.value
    assert error.status == 400
    assert f"commit {old} of {ALGO} is not the newest successful build" in error.message
    assert new_build in error.message and new[:12] in error.message
    assert client.versions(ALGO, published=True)["results"] == []  # nothing was published


def test_a_failed_or_unknown_commit_is_refused(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm(ALGO)
    good, good_build = _push(sandbox, clone, HELLO_PY, tmp_path, "good")
    broken, broken_build = _push(sandbox, clone, BROKEN_PY, tmp_path, "broken")
    with pytest.raises(InvalidInput) as failed:
        client.publish(ALGO, git_hash=broken)
    assert f"build {broken_build} of {ALGO} at {broken} failed, so it cannot be published" in failed.value.message
    assert good_build in failed.value.message
    with pytest.raises(InvalidInput, match=f"has no build of commit {'0' * 40}"):
        client.publish(ALGO, git_hash="0" * 40)
    assert client.versions(ALGO, published=True)["results"] == []
    # Without a hash, publish still takes the newest successful build.
    assert client.publish(ALGO)["version_info"]["git_hash"] == good


def test_a_build_in_progress_is_refused(sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path) -> None:
    clone = sandbox.create_algorithm(ALGO)
    good, _ = _push(sandbox, clone, HELLO_PY, tmp_path, "good")
    sandbox.box.hold_builds = True
    running = push_files(clone, {"src/hello.py": HELLO_PY + "# more\n"}, tmp_path, message="more")
    try:
        with pytest.raises(InvalidInput, match="is still in progress, so it cannot be published"):
            client.publish(ALGO, git_hash=running)
    finally:
        sandbox.box.release_builds()
        sandbox.box.wait_for_builds()


def test_the_hash_is_sent_in_version_info_and_checked_by_the_sandbox(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm(ALGO)
    _push(sandbox, clone, HELLO_PY, tmp_path, "first")
    with pytest.raises(UsageError, match="not a git commit hash"):
        client.publish(ALGO, git_hash="main")
    assert client.request_count == 0  # refused before any request
    response = requests.post(
        f"{sandbox.url}/v1/algorithms/demo/hello/versions",
        json={"version_info": {"git_hash": "../main"}},
        headers={"Authorization": f"Simple {sandbox.key('demo')}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "git_hash must be a commit hash" in response.json()["error"]["message"]
