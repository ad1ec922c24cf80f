"""Git over HTTP needs the owner's API key; pushes are size-capped; git URLs survive a restart."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from algobot.sandbox import Sandbox, SandboxServer, seed_demo
from algobot.sandbox.git import authenticated_url
from tests.fixtures.sandbox import GIT_ENV, HELLO_PY, RunningSandbox, git, push_files


def run_git(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """git without raising, so a test can read why it failed."""
    env = {**os.environ, **GIT_ENV, "HOME": str(home), "XDG_CONFIG_HOME": str(home)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "git-home"
    path.mkdir()
    return path


def test_clone_without_credentials_is_refused_with_401(sandbox: RunningSandbox, tmp_path: Path, home: Path) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    for path in ("/info/refs?service=git-upload-pack", "/info/refs?service=git-receive-pack", "/HEAD"):
        response = requests.get(f"{clone}{path}", timeout=10)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert "API key as the password" in response.text
    upload = requests.post(
        f"{clone}/git-upload-pack",
        data=b"0000",
        headers={"Content-Type": "application/x-git-upload-pack-request"},
        timeout=10,
    )
    assert upload.status_code == 401
    done = run_git("clone", "--quiet", clone, str(tmp_path / "anon"), cwd=tmp_path, home=home)
    assert done.returncode != 0 and not (tmp_path / "anon" / ".git").exists()
    wrong = authenticated_url(clone, "demo", "simnotakey")
    done = run_git("clone", "--quiet", wrong, str(tmp_path / "wrong"), cwd=tmp_path, home=home)
    assert done.returncode != 0 and "Authentication failed" in done.stderr
    assert "simnotakey" not in requests.get(f"{clone}/info/refs", auth=("demo", "simnotakey"), timeout=10).text


def test_the_owners_key_clones_and_pushes(sandbox: RunningSandbox, tmp_path: Path, home: Path) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    url = authenticated_url(clone, "demo", sandbox.key("demo"))
    git("clone", "--quiet", url, str(tmp_path / "work"), cwd=tmp_path, home=home)
    (tmp_path / "work" / "hello.py").write_text(HELLO_PY)
    git("add", "--all", cwd=tmp_path / "work", home=home)
    git("commit", "--quiet", "-m", "first", cwd=tmp_path / "work", home=home)
    git("push", "--quiet", "origin", "HEAD:master", cwd=tmp_path / "work", home=home)
    sandbox.box.wait_for_builds()
    assert sandbox.client("demo").builds("demo/hello")["results"][0]["status"] == "succeeded"
    # A key alone (as the user name, no password) works too.
    key_only = clone.replace("http://", f"http://{sandbox.key('demo')}@")
    git("clone", "--quiet", key_only, str(tmp_path / "again"), cwd=tmp_path, home=home)


def test_other_users_cannot_clone_closed_source_or_push(sandbox: RunningSandbox, tmp_path: Path, home: Path) -> None:
    clone = sandbox.create_algorithm("demo/hello")
    push_files(clone, {"hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    mallory = ("mallory", sandbox.key("mallory"))
    response = requests.get(f"{clone}/info/refs?service=git-upload-pack", auth=mallory, timeout=10)
    assert response.status_code == 403 and "mallory may not clone demo/hello" in response.text
    done = run_git("clone", authenticated_url(clone, *mallory), str(tmp_path / "stolen"), cwd=tmp_path, home=home)
    assert done.returncode != 0 and not (tmp_path / "stolen" / "hello.py").exists()
    # The owner's key without the right to manage may clone but not push.
    reader = ("demo", sandbox.key("demo", manage=False))
    assert requests.get(f"{clone}/info/refs?service=git-upload-pack", auth=reader, timeout=10).status_code == 200
    refused = requests.get(f"{clone}/info/refs?service=git-receive-pack", auth=reader, timeout=10)
    assert refused.status_code == 403 and "may not manage algorithms" in refused.text


def test_open_source_algorithms_can_be_cloned_by_any_user_but_not_pushed(
    sandbox: RunningSandbox, tmp_path: Path, home: Path
) -> None:
    clone = sandbox.create_algorithm("demo/shared", source_visibility="open")
    push_files(clone, {"hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    other = authenticated_url(clone, "alice", sandbox.key("alice"))
    git("clone", "--quiet", other, str(tmp_path / "copy"), cwd=tmp_path, home=home)
    assert (tmp_path / "copy" / "hello.py").read_text() == HELLO_PY
    (tmp_path / "copy" / "hello.py").write_text("# mine now\n")
    git("commit", "--quiet", "-am", "take over", cwd=tmp_path / "copy", home=home)
    done = run_git("push", "origin", "HEAD:master", cwd=tmp_path / "copy", home=home)
    assert done.returncode != 0 and "403" in done.stderr
    assert len(sandbox.client("demo").builds("demo/shared")["results"]) == 1


def test_a_push_over_the_size_limit_is_refused_with_a_clear_git_error(tmp_path: Path, home: Path) -> None:
    box = Sandbox(tmp_path / "data", max_push_bytes=64 * 1024)
    try:
        with SandboxServer(box) as server:
            key = box.create_key("demo")
            created = requests.post(
                f"{server.url}/v1/algorithms/demo",
                json={
                    "name": "hello",
                    "details": {"label": "H"},
                    "settings": {
                        "language": "python3-1",
                        "environment": "cpu",
                        "source_visibility": "closed",
                        "license": "apl",
                        "network_access": "isolated",
                        "pipeline_enabled": False,
                    },
                },
                headers={"Authorization": key},
                timeout=10,
            ).json()
            url = authenticated_url(created["clone_url"], "demo", key)
            work = tmp_path / "work"
            git("clone", "--quiet", url, str(work), cwd=tmp_path, home=home)
            (work / "blob.bin").write_bytes(os.urandom(300 * 1024))  # random: the pack cannot shrink it
            git("add", "--all", cwd=work, home=home)
            git("commit", "--quiet", "-m", "big", cwd=work, home=home)
            done = run_git("push", "origin", "HEAD:master", cwd=work, home=home)
            assert done.returncode != 0
            assert "larger than the sandbox's limit of 0.1 MiB" in done.stderr
            assert "[remote rejected]" in done.stderr
            box.wait_for_builds()
            builds = requests.get(
                f"{server.url}/v1/algorithms/demo/hello/builds", headers={"Authorization": key}, timeout=10
            ).json()
            assert builds["results"] == []  # nothing was written, no build started
            git("update-ref", "-d", "HEAD", cwd=work, home=home)  # start again without the big blob
            (work / "blob.bin").write_bytes(b"small now\n")
            git("add", "--all", cwd=work, home=home)
            git("commit", "--quiet", "-m", "small only", cwd=work, home=home)
            git("push", "--quiet", "origin", "HEAD:master", cwd=work, home=home)
            box.wait_for_builds()
    finally:
        box.close()


def test_git_urls_stay_the_same_across_restarts(tmp_path: Path, home: Path) -> None:
    """A clone from the last run can still push: the port is remembered in the data directory."""
    data = tmp_path / "data"
    first = Sandbox(data)
    demo = seed_demo(first)
    with SandboxServer(first, remember_port=True) as server:
        url = authenticated_url(f"{server.url}/git/demo/hello.git", "demo", demo["key"])
        git("clone", "--quiet", url, str(tmp_path / "work"), cwd=tmp_path, home=home)
        port = server.port
    first.close()

    second = Sandbox(data)
    try:
        seed_demo(second)
        with SandboxServer(second, remember_port=True) as again:
            assert again.port == port
            (tmp_path / "work" / "src" / "hello.py").write_text(HELLO_PY + "# again\n")
            git("commit", "--quiet", "-am", "after restart", cwd=tmp_path / "work", home=home)
            git("push", "--quiet", "origin", "HEAD:master", cwd=tmp_path / "work", home=home)
            second.wait_for_builds()
    finally:
        second.close()


def test_a_remembered_port_that_is_taken_falls_back_to_any(tmp_path: Path) -> None:
    data = tmp_path / "data"
    box = Sandbox(data)
    try:
        with SandboxServer(box, remember_port=True) as holder, SandboxServer(box, remember_port=True) as other:
            assert other.port != holder.port
            assert (data / "port").read_text().strip() == str(other.port)
    finally:
        box.close()
