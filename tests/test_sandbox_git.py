"""Git over HTTP with the real ``git`` binary, builds started by pushes, the demo seed and restarts."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from algobot.algorithmia import AlgorithmiaClient, AlreadyPublished
from algobot.sandbox import Sandbox, SandboxServer, seed_demo
from algobot.sandbox.git import authenticated_url, commit_files, head_commit
from tests.fixtures.sandbox import (
    ALGO_SETTINGS,
    BROKEN_PY,
    GIT_ENV,
    HELLO_PY,
    RunningSandbox,
    git,
    push_files,
    with_credentials,
)


def builds(client: AlgorithmiaClient, algo: str = "demo/hello") -> list[dict[str, Any]]:
    return client.builds(algo)["results"]


@pytest.fixture
def client(sandbox: RunningSandbox) -> AlgorithmiaClient:
    return sandbox.client("demo")


def test_a_push_with_a_syntax_error_fails_the_build_with_the_compilers_message(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    sha = push_files(clone, {"src/hello.py": BROKEN_PY, "src/ok.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    [build] = builds(client)
    assert build["commit_sha"] == sha and build["status"] == "failed"
    logs = client.build_logs("demo/hello", build["build_id"])
    assert "SyntaxError" in logs and "src/hello.py" in logs and "push to master" in logs
    assert client.info("demo/hello")["compilation"] == {"successful": False, "output": logs}


def test_a_good_push_succeeds_and_publishes_once(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    push_files(clone, {"src/hello.py": BROKEN_PY}, tmp_path)
    sha = push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, message="fix")
    sandbox.box.wait_for_builds()
    assert [b["status"] for b in builds(client)] == ["succeeded", "failed"]
    published = client.publish("demo/hello")
    assert published["version_info"]["semantic_version"] == "0.1.0"
    assert published["version_info"]["git_hash"] == sha
    with pytest.raises(AlreadyPublished) as caught:
        client.publish("demo/hello")
    assert caught.value.status == 400 and caught.value.code == 1007


def test_push_output_names_the_build_and_clone_round_trips(sandbox: RunningSandbox, tmp_path: Path) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    work = tmp_path / "work"
    home = tmp_path / "home"
    home.mkdir()
    git("clone", "--quiet", with_credentials(clone), str(work), cwd=tmp_path, home=home)
    (work / "src").mkdir()
    (work / "src" / "hello.py").write_text(HELLO_PY)
    git("add", "--all", cwd=work, home=home)
    git("commit", "--quiet", "-m", "first", cwd=work, home=home)
    env = {**os.environ, **GIT_ENV, "HOME": str(home)}
    done = subprocess.run(
        ["git", "push", "origin", "HEAD:master"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "remote: sandbox: build " in done.stderr
    sandbox.box.wait_for_builds()
    again = tmp_path / "again"
    git("clone", "--quiet", with_credentials(clone), str(again), cwd=tmp_path, home=home)
    assert (again / "src" / "hello.py").read_text() == HELLO_PY


def test_only_the_default_branch_builds(sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, branch="feature")
    assert sandbox.box.running_builds() == [] and builds(client) == []
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, branch="master")
    sandbox.box.wait_for_builds()
    assert len(builds(client)) == 1


def test_a_first_push_to_main_makes_main_the_default_branch(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    sha = push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, branch="main")
    sandbox.box.wait_for_builds()
    assert [b["commit_sha"] for b in builds(client)] == [sha]
    assert head_commit(sandbox.box.repo_path("demo", "hello")) == sha
    compiled = client.compile("demo/hello")
    assert compiled["version_info"]["git_hash"] == sha
    sandbox.box.wait_for_builds()


def test_an_executable_build_sh_runs_instead_of_the_language_check(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    script = "echo custom build for $(ls src)\nexit 0\n"
    push_files(clone, {"build.sh": script, "src/hello.py": BROKEN_PY}, tmp_path, executable=("build.sh",))
    sandbox.box.wait_for_builds()
    [build] = builds(client)
    logs = client.build_logs("demo/hello", build["build_id"])
    assert build["status"] == "succeeded" and "custom build for hello.py" in logs
    push_files(clone, {"build.sh": "echo failing on purpose\nexit 3\n"}, tmp_path, executable=("build.sh",))
    sandbox.box.wait_for_builds()
    newest = builds(client)[0]
    logs = client.build_logs("demo/hello", newest["build_id"])
    assert newest["status"] == "failed" and "failing on purpose" in logs and "exit code 3" in logs


def test_a_build_sh_without_the_executable_bit_is_ignored(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    push_files(clone, {"build.sh": "exit 1\n", "src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    [build] = builds(client)
    assert build["status"] == "succeeded"
    assert "build.sh is not executable" in client.build_logs("demo/hello", build["build_id"])


def test_languages_without_a_checker_succeed_saying_so(
    sandbox: RunningSandbox, client: AlgorithmiaClient, tmp_path: Path
) -> None:
    clone = sandbox.create_algorithm("demo/hello", language="rust")
    push_files(clone, {"src/main.rs": "this is not rust"}, tmp_path)
    sandbox.box.wait_for_builds()
    [build] = builds(client)
    assert build["status"] == "succeeded"
    assert "no checker for rust" in client.build_logs("demo/hello", build["build_id"])


def test_a_build_that_runs_too_long_is_killed(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "data", build_timeout=0.3)
    try:
        seed_demo(box)
        repo = box.repo_path("demo", "hello")

        sha = commit_files(repo, {"build.sh": "sleep 30\n"}, "slow", executable=("build.sh",))
        with box.db() as db:
            algo = next(db.query("select * from algorithms where name = 'hello'"))
        build = box.start_build(algo, sha, "compile")
        box.wait_for_builds()
        with box.db() as db:
            row = next(db.query("select status, logs from builds where build_id = ?", [build["build_id"]]))
        assert row["status"] == "failed" and "timed out after 0.3 s" in row["logs"]
    finally:
        box.close()


def test_git_urls_for_unknown_or_invalid_names_are_404(sandbox: RunningSandbox) -> None:
    auth = ("demo", sandbox.key("demo"))
    for path in ("/git/demo/nothing.git/info/refs", "/git/../x.git/info/refs", "/git/demo/info/refs"):
        response = requests.get(f"{sandbox.url}{path}?service=git-upload-pack", auth=auth, timeout=10)
        assert response.status_code == 404


# -- demo seed and restarts ------------------------------------------------------------


def test_seed_demo_creates_user_key_and_unbuilt_algorithms(sandbox: RunningSandbox, tmp_path: Path) -> None:
    demo = seed_demo(sandbox.box)
    assert demo["user"] == "demo" and demo["algorithms"] == ["demo/hello", "demo/broken"]
    client = AlgorithmiaClient(demo["key"], sandbox.url, sleep=lambda _s: None)
    for algo in demo["algorithms"]:
        assert client.info(algo)["settings"]["language"] == "python3-1"
        assert builds(client, algo) == []
        assert head_commit(sandbox.box.repo_path(*algo.split("/"))) is not None
    again = seed_demo(sandbox.box)
    assert again["key"] != demo["key"]
    assert [
        a["algoname"]
        for a in requests.get(
            f"{sandbox.url}/v1/users/demo/algorithms", headers={"Authorization": again["key"]}, timeout=10
        ).json()
    ] == ["broken", "hello"]

    hello_build = client.compile("demo/hello")["build"]["build_id"]
    broken_build = client.compile("demo/broken")["build"]["build_id"]
    sandbox.box.wait_for_builds()
    assert client.build("demo/hello", hello_build)["status"] == "succeeded"
    assert client.build("demo/broken", broken_build)["status"] == "failed"
    assert "SyntaxError" in client.build_logs("demo/broken", broken_build)
    work = tmp_path / "hello"
    url = authenticated_url(f"{sandbox.url}/git/demo/hello.git", "demo", demo["key"])
    git("clone", "--quiet", url, str(work), cwd=tmp_path, home=tmp_path)
    assert "def apply" in (work / "src" / "hello.py").read_text()


def test_builds_interrupted_by_a_restart_are_marked_failed(tmp_path: Path) -> None:
    first = Sandbox(tmp_path / "data", hold_builds=True)
    seed_demo(first)
    with first.db() as db:
        algo = next(db.query("select * from algorithms where name = 'hello'"))
    build = first.start_build(algo, head_commit(first.repo_path("demo", "hello")) or "", "compile")
    second = Sandbox(tmp_path / "data")
    first.close()
    with second.db() as db:
        row = next(db.query("select * from builds where build_id = ?", [build["build_id"]]))
    assert row["status"] == "failed" and "interrupted" in row["logs"] and row["finished_at"]
    second.close()


def test_wait_for_builds_times_out_on_held_builds(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "data", hold_builds=True)
    try:
        seed_demo(box)
        with box.db() as db:
            algo = next(db.query("select * from algorithms where name = 'hello'"))
        box.start_build(algo, head_commit(box.repo_path("demo", "hello")) or "", "compile")
        with pytest.raises(TimeoutError, match="held"):
            box.wait_for_builds(timeout=0.05)
        assert box.release_builds() == 1
        box.wait_for_builds()
        assert box.running_builds() == []
    finally:
        box.close()


def test_git_is_not_subject_to_api_faults_or_latency(sandbox: RunningSandbox, tmp_path: Path) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    sandbox.box.fail_rate = 1.0
    sandbox.box.inject_fault(503, times=100)
    try:
        push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
        sandbox.box.wait_for_builds()
    finally:
        sandbox.box.fail_rate = 0.0
        sandbox.box.clear_faults()
    assert sandbox.client("demo").builds("demo/hello")["results"][0]["status"] == "succeeded"


def test_build_delay_keeps_builds_in_progress_at_least_that_long(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "data", build_delay=0.2)
    try:
        seed_demo(box)
        with box.db() as db:
            algo = next(db.query("select * from algorithms where name = 'hello'"))
        build = box.start_build(algo, head_commit(box.repo_path("demo", "hello")) or "", "compile")
        box.wait_for_builds()
        with box.db() as db:
            row = next(db.query("select * from builds where build_id = ?", [build["build_id"]]))
    finally:
        box.close()
    started, finished = (datetime.fromisoformat(row[k].replace("Z", "+00:00")) for k in ("started_at", "finished_at"))
    assert row["status"] == "succeeded" and (finished - started).total_seconds() >= 0.2


def test_public_url_drives_clone_urls_and_links(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "data", public_url="https://sandbox.example.test/")
    try:
        with SandboxServer(box) as server:
            key = box.create_key("demo")
            created = requests.post(
                f"{server.url}/v1/algorithms/demo",
                json={"name": "hello", "details": {"label": "H"}, "settings": ALGO_SETTINGS},
                headers={"Authorization": key},
                timeout=10,
            ).json()
    finally:
        box.close()
    assert created["clone_url"] == "https://sandbox.example.test/git/demo/hello.git"
    assert created["self_link"] == "https://sandbox.example.test/v1/algorithms/demo/hello"
