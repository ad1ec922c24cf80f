"""Conformance with the official Python client (PyPI ``algorithmia`` 2.0.5) and its quirks.

The quirks are numbered in docs/algorithmia-contract.md, "Official client quirks".
"""

from __future__ import annotations

from pathlib import Path

import Algorithmia
import pytest
from Algorithmia.errors import AlgorithmException

from tests.fixtures.sandbox import ALGO_SETTINGS, HELLO_PY, RunningSandbox, push_files


@pytest.fixture
def official(sandbox: RunningSandbox):
    """The official client with a bare-key Authorization header (quirk 1)."""
    return Algorithmia.client(sandbox.key("demo"), api_address=sandbox.url)


def test_create_compile_call_publish_info(sandbox: RunningSandbox, official, tmp_path: Path) -> None:
    algo = official.algo("demo/hello")
    created = algo.create(details={"label": "Hello"}, settings=ALGO_SETTINGS)
    assert created["name"] == "hello"
    push_files(created["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()

    compiled = algo.compile()
    git_hash = compiled["version_info"]["git_hash"]
    assert len(git_hash) == 40 and compiled["build"]["status"] == "in-progress"
    sandbox.box.wait_for_builds()

    response = official.algo(f"demo/hello/{git_hash}").pipe("world")
    assert response.result == "Hello world" and response.metadata.content_type == "text"

    published = algo.publish(version_info={"version_type": "minor"})
    assert published["version_info"]["semantic_version"] == "0.1.0"
    assert algo.info(git_hash)["version_info"]["semantic_version"] == "0.1.0"
    assert "results" in algo.info()  # without a hash, 2.0.5 lists versions (quirk 8)
    assert algo.get_algorithm_id() == created["id"]


def test_exists(sandbox: RunningSandbox, official) -> None:
    assert official.algo("demo/hello").exists() is False
    official.algo("demo/hello").create(details={"label": "Hello"}, settings=ALGO_SETTINGS)
    assert official.algo("demo/hello").exists() is True
    # 2.0.5 looks for "403" in the message, which never holds the status, so it re-raises (quirk 10).
    with pytest.raises(AlgorithmException, match="not authorized"):
        official.algo("someone/else").exists()


def test_form_encoded_update_does_not_fail(sandbox: RunningSandbox, official) -> None:
    algo = official.algo("demo/hello")
    created = algo.create(details={"label": "Hello"}, settings=ALGO_SETTINGS)
    updated = algo.update(details={"label": "Changed"}, settings={"license": "mit"})
    assert updated["details"] == created["details"] == {"label": "Hello"}  # form body: nothing changes


def test_publish_retry_after_a_failure_publishes_once(sandbox: RunningSandbox, official, tmp_path: Path) -> None:
    algo = official.algo("demo/hello")
    push_files(algo.create(details={"label": "H"}, settings=ALGO_SETTINGS)["clone_url"], {"a.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    sandbox.box.reset_request_counts()
    sandbox.box.inject_fault(503, path_contains="/versions")
    published = algo.publish()  # answered 503, then retried once by the client (quirk 5)
    assert published["version_info"]["semantic_version"] == "0.1.0"
    assert sandbox.box.request_counts[("POST", "/v1/algorithms/{u}/{a}/versions")] == 2
    assert len(algo.versions(published=True)["results"]) == 1


def test_builds_and_logs_helpers(sandbox: RunningSandbox, official, tmp_path: Path) -> None:
    algo = official.algo("demo/hello")
    push_files(algo.create(details={"label": "H"}, settings=ALGO_SETTINGS)["clone_url"], {"a.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    [build] = algo.get_builds()["results"]  # limit=56 (quirk 6)
    assert algo.get_build(build["build_id"])["status"] == "succeeded"
    assert "build succeeded" in algo.get_build_logs(build["build_id"])["logs"]
    assert algo.get_scm_status() == {"scm_connection_status": "active"}
