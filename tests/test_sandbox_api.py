"""The sandbox's management API over real HTTP with `requests`: routes, shapes, errors, paging, faults."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from algobot.sandbox.api import encode_marker
from tests.fixtures.sandbox import ALGO_SETTINGS, BROKEN_PY, HELLO_PY, RunningSandbox, push_files

ALGO = "/v1/algorithms/demo/hello"


def call(box: RunningSandbox, method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
    """One request; ``key`` goes in as ``Simple <key>`` unless a header is given."""
    headers = kwargs.pop("headers", {})
    if key is not None:
        headers.setdefault("Authorization", f"Simple {key}")
    url = path if path.startswith("http") else box.url + path
    return requests.request(method, url, headers=headers, timeout=10, **kwargs)


def assert_error(response: requests.Response, status: int, code: int | None, text: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    uuid.UUID(error["id"])
    assert error["code"] == code
    assert text in error["message"]
    return error


def create_body(name: str = "hello", **settings: Any) -> dict[str, Any]:
    return {"name": name, "details": {"label": name.title()}, "settings": {**ALGO_SETTINGS, **settings}}


@pytest.fixture
def key(sandbox: RunningSandbox) -> str:
    return sandbox.key("demo")


@pytest.fixture
def hello(sandbox: RunningSandbox, key: str) -> dict[str, Any]:
    response = call(sandbox, "POST", "/v1/algorithms/demo", key, json=create_body())
    assert response.status_code == 200, response.text
    return response.json()


# -- auth and routing -----------------------------------------------------------


@pytest.mark.parametrize("form", ["Simple {}", "{}", "Bearer {}", "simple {}"])
def test_every_documented_auth_form_is_accepted(sandbox: RunningSandbox, key: str, form: str) -> None:
    response = call(sandbox, "GET", "/v1/algorithms/demo/nothing", headers={"Authorization": form.format(key)})
    assert_error(response, 404, 1001, "No such algorithm")


@pytest.mark.parametrize("header", [None, "", "Simple", "Simple simnotakey", "Basic dXNlcjpwdw==", "Simple a b"])
def test_missing_or_bad_key_is_401(sandbox: RunningSandbox, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = call(sandbox, "GET", ALGO, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2002
    assert response.json()["error"]["message"] == "Unknown or invalid API key"


def test_unknown_routes_and_methods_answer_json(sandbox: RunningSandbox, key: str) -> None:
    assert_error(call(sandbox, "GET", "/v1/nothing/here", key), 404, None, "No route")
    assert_error(call(sandbox, "GET", "/elsewhere"), 404, None, "No route")
    response = call(sandbox, "PATCH", ALGO, key)
    assert_error(response, 405, None, "not allowed")
    assert "GET" in response.headers["Allow"]
    assert call(sandbox, "GET", "/healthz").json()["status"] == "ok"


def test_unknown_algorithm_is_404_1001(sandbox: RunningSandbox, key: str) -> None:
    for path in (ALGO, f"{ALGO}/builds", f"{ALGO}/versions", f"{ALGO}/builds/x/logs"):
        assert_error(call(sandbox, "GET", path, key), 404, 1001, "No such algorithm")


# -- create / info / update / delete ------------------------------------------------


def test_create_answers_the_algorithm_with_clone_url(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    uuid.UUID(hello["id"])
    assert hello["name"] == "hello"
    assert hello["details"] == {"label": "Hello"}
    assert hello["settings"]["algorithm_callability"] == "private"
    assert hello["settings"]["license"] == "apl"
    assert hello["source"] == {"scm": {"id": "internal", "provider": "internal", "default": True, "enabled": True}}
    assert hello["resource_type"] == "algorithm"
    assert hello["clone_url"] == f"{sandbox.url}/git/demo/hello.git"
    assert hello["self_link"] == f"{sandbox.url}{ALGO}"
    assert "build" not in hello and "compilation" not in hello and "version_info" not in hello
    info = call(sandbox, "GET", ALGO, key).json()
    assert info == hello
    assert (sandbox.box.repo_path("demo", "hello") / "HEAD").is_file()


def test_create_a_taken_name_is_409_1002(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    response = call(sandbox, "POST", "/v1/algorithms/demo", key, json=create_body())
    assert_error(response, 409, 1002, "already exists")


def _without(section: str, field: str) -> Any:
    def change(body: dict[str, Any]) -> None:
        del body[section][field]

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("name"), "name"),
        (lambda b: b.update(name="1st"), "name"),
        (lambda b: b.update(name="has-dash"), "name"),
        (lambda b: b.pop("details"), "details"),
        (_without("details", "label"), "details.label"),
        (lambda b: b["details"].update(color="red"), "details"),
        (lambda b: b.pop("settings"), "settings"),
        (_without("settings", "license"), "settings.license"),
        (_without("settings", "pipeline_enabled"), "settings.pipeline_enabled"),
        (_without("settings", "environment"), "settings.environment"),
        (lambda b: b["settings"].update(license="wtfpl"), "license"),
        (lambda b: b["settings"].update(pipeline_enabled="maybe"), "pipeline_enabled"),
        (lambda b: b["settings"].update(flavour="x"), "flavour"),
        (lambda b: b.update(version_info={"sample_input": {"a": 1}}), "sample_input"),
        (lambda b: b.update(settings=["license"]), "settings"),
    ],
)
def test_create_rejects_bad_input_naming_the_field(sandbox: RunningSandbox, key: str, change: Any, field: str) -> None:
    body = create_body()
    change(body)
    assert_error(call(sandbox, "POST", "/v1/algorithms/demo", key, json=body), 400, 2015, field)
    assert call(sandbox, "GET", ALGO, key).status_code == 404
    assert not sandbox.box.repo_path("demo", "hello").exists()


def test_create_with_a_package_set_instead_of_language(sandbox: RunningSandbox, key: str) -> None:
    settings = {k: v for k, v in ALGO_SETTINGS.items() if k not in ("language", "environment")}
    body = {"name": "pkg", "details": {"label": "P"}, "settings": {**settings, "package_set": "python38"}}
    assert call(sandbox, "POST", "/v1/algorithms/demo", key, json=body).status_code == 200


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("{not json", "application/json"), ("name=hello", "application/x-www-form-urlencoded"), ("[]", None)],
)
def test_post_bodies_that_are_not_json_objects(
    sandbox: RunningSandbox, key: str, data: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = call(sandbox, "POST", "/v1/algorithms/demo", key, data=data, headers=headers)
    assert_error(response, 400, 2015 if data == "[]" else 2013)


MANAGEMENT_CALLS = [
    ("POST", "/v1/algorithms/demo"),
    ("GET", ALGO),
    ("PUT", ALGO),
    ("DELETE", ALGO),
    ("POST", f"{ALGO}/compile"),
    ("GET", f"{ALGO}/builds"),
    ("GET", f"{ALGO}/builds/some-id"),
    ("GET", f"{ALGO}/builds/some-id/logs"),
    ("GET", f"{ALGO}/versions"),
    ("POST", f"{ALGO}/versions"),
    ("GET", f"{ALGO}/versions/abcdef1"),
    ("GET", f"{ALGO}/scm/status"),
    ("GET", "/v1/users/demo/algorithms"),
]


@pytest.mark.parametrize(("method", "path"), MANAGEMENT_CALLS)
def test_management_needs_the_owners_managing_key(sandbox: RunningSandbox, hello: dict, method: str, path: str) -> None:
    for key in (sandbox.key("mallory"), sandbox.key("demo", manage=False)):
        response = call(sandbox, method, path, key, json=create_body("other"))
        assert_error(response, 403, 2001, "not authorized")
    assert call(sandbox, "GET", ALGO, sandbox.key("demo")).json()["details"] == {"label": "Hello"}


def test_update_merges_json_and_validates_first(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    body = {
        "details": {"tagline": "Says hi"},
        "settings": {"license": "mit"},
        "version_info": {"sample_input": "x"},
    }
    updated = call(sandbox, "PUT", ALGO, key, json=body).json()
    assert updated["details"] == {"label": "Hello", "tagline": "Says hi"}
    assert updated["settings"]["license"] == "mit"
    assert updated["settings"]["language"] == "python3-1"
    assert updated["version_info"] == {"sample_input": "x"}
    bad = {"details": {"tagline": "no"}, "settings": {"license": "nope"}}
    assert_error(call(sandbox, "PUT", ALGO, key, json=bad), 400, 2015, "license")
    assert_error(call(sandbox, "PUT", ALGO, key, json={"details": {"label": " "}}), 400, 2015, "label")
    assert call(sandbox, "GET", ALGO, key).json() == updated


def test_form_encoded_update_is_accepted_and_changes_nothing(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    # What the official client 2.0.5 really sends (docs/algorithmia-contract.md, "Official client quirks" 3).
    form = [("details", "label"), ("settings", "license"), ("version_info", ""), ("source", "")]
    response = call(sandbox, "PUT", ALGO, key, data=form)
    assert response.status_code == 200
    assert response.json() == hello


def test_delete_removes_algorithm_builds_and_repository(
    sandbox: RunningSandbox, key: str, hello: dict, tmp_path
) -> None:
    push_files(hello["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    response = call(sandbox, "DELETE", ALGO, key)
    assert response.status_code == 204 and response.content == b""
    assert_error(call(sandbox, "GET", ALGO, key), 404, 1001)
    assert not sandbox.box.repo_path("demo", "hello").exists()
    again = call(sandbox, "POST", "/v1/algorithms/demo", key, json=create_body())
    assert again.status_code == 200 and again.json()["id"] != hello["id"]
    assert call(sandbox, "GET", f"{ALGO}/builds", key).json()["results"] == []


def test_list_user_algorithms_and_scm(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    listed = call(sandbox, "GET", "/v1/users/demo/algorithms", key).json()
    assert listed == [{"id": hello["id"], "algoname": "hello", "username": "demo"}]
    assert call(sandbox, "GET", f"{ALGO}/scm/status", key).json() == {"scm_connection_status": "active"}
    assert call(sandbox, "GET", "/v1/scms", key).json()["results"][0]["id"] == "internal"


# -- compile, builds, logs ------------------------------------------------------------


def test_compile_without_code_is_400_and_starts_nothing(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    assert_error(call(sandbox, "POST", f"{ALGO}/compile", key, json={}), 400, 2015, "push code first")
    assert call(sandbox, "GET", f"{ALGO}/builds", key).json() == {
        "marker": None,
        "next_link": None,
        "results": [],
    }


def test_builds_stay_in_progress_while_held_and_logs_are_404(
    sandbox: RunningSandbox, key: str, hello: dict, tmp_path
) -> None:
    sandbox.box.hold_builds = True
    sha = push_files(hello["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    [pushed] = call(sandbox, "GET", f"{ALGO}/builds", key).json()["results"]
    compiled = call(sandbox, "POST", f"{ALGO}/compile", key, json={}).json()
    build = compiled["build"]
    assert build["status"] == "in-progress" and build["finished_at"] is None and build["commit_sha"] == sha
    assert build["resource_type"] == "algorithm_build" and "version_info" not in build
    assert compiled["version_info"]["git_hash"] == sha
    assert compiled["compilation"] == {"successful": None, "output": ""}
    logs = call(sandbox, "GET", f"{ALGO}/builds/{build['build_id']}/logs", key)
    assert_error(logs, 404, 1000, "not available until the build finishes")
    info = call(sandbox, "GET", ALGO, key).json()
    assert info["build"]["build_id"] == build["build_id"] and info["compilation"]["successful"] is None

    assert sandbox.box.release_builds(pushed["build_id"]) == 1
    sandbox.box.hold_builds = False
    assert sandbox.box.release_builds() == 1
    sandbox.box.wait_for_builds()
    done = call(sandbox, "GET", f"{ALGO}/builds/{build['build_id']}", key).json()
    assert done["status"] == "succeeded" and done["finished_at"] >= done["started_at"]
    assert done["started_at"].endswith("Z")
    text = call(sandbox, "GET", f"{ALGO}/builds/{build['build_id']}/logs", key).json()["logs"]
    assert "compileall" in text and "[sandbox] build succeeded" in text
    info = call(sandbox, "GET", ALGO, key).json()
    assert info["compilation"] == {"successful": True, "output": text}
    assert info["self_link"] == f"{sandbox.url}{ALGO}/versions/{sha}"
    assert_error(call(sandbox, "GET", f"{ALGO}/builds/nope", key), 404, 1000, "No such build")


def test_builds_page_newest_first_by_marker_and_next_link(sandbox: RunningSandbox, key: str, tmp_path) -> None:
    clone = sandbox.create_algorithm("demo/hello", language="java")  # no checker: instant builds
    push_files(clone, {"Main.java": "class Main {}"}, tmp_path)
    ids = [call(sandbox, "POST", f"{ALGO}/compile", key, json={}).json()["build"]["build_id"] for _ in range(6)]
    sandbox.box.wait_for_builds()
    everything = call(sandbox, "GET", f"{ALGO}/builds", key).json()
    assert everything["marker"] is None and everything["next_link"] is None
    newest_first = [b["build_id"] for b in everything["results"]]
    assert newest_first[:6] == ids[::-1] and len(newest_first) == 7

    pages, marker = [], None
    while True:
        params = {"limit": 3, **({"marker": marker} if marker else {})}
        page = call(sandbox, "GET", f"{ALGO}/builds", key, params=params).json()
        pages.append([b["build_id"] for b in page["results"]])
        marker = page["marker"]
        if marker is None:
            assert page["next_link"] is None
            break
        assert page["next_link"].startswith(f"{sandbox.url}{ALGO}/builds?") and "limit=3" in page["next_link"]
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:]]

    followed, link = [], f"{sandbox.url}{ALGO}/builds?limit=2"
    while link:
        page = call(sandbox, "GET", link, key).json()
        followed += [b["build_id"] for b in page["results"]]
        link = page["next_link"]
    assert followed == newest_first


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "abc", "2.5"])
def test_bad_limit_is_400_5003(sandbox: RunningSandbox, key: str, hello: dict, limit: str) -> None:
    for path in (f"{ALGO}/builds", f"{ALGO}/versions"):
        assert_error(call(sandbox, "GET", path, key, params={"limit": limit}), 400, 5003, "limit")


def test_bad_marker_is_400_5002_and_big_limits_are_fine(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    for marker in ("garbage!", "e30", encode_marker("versions", 5)):
        assert_error(call(sandbox, "GET", f"{ALGO}/builds", key, params={"marker": marker}), 400, 5002)
    for limit in ("56", "1000", "1"):
        assert call(sandbox, "GET", f"{ALGO}/builds", key, params={"limit": limit}).status_code == 200


# -- publish and versions ---------------------------------------------------------------


def _build(sandbox: RunningSandbox, key: str) -> dict[str, Any]:
    compiled = call(sandbox, "POST", f"{ALGO}/compile", key, json={}).json()
    sandbox.box.wait_for_builds()
    return compiled


def test_publish_needs_a_succeeded_build(sandbox: RunningSandbox, key: str, hello: dict, tmp_path) -> None:
    publish = f"{ALGO}/versions"
    assert_error(call(sandbox, "POST", publish, key, json={}), 400, 2015, "no successful build")
    push_files(hello["clone_url"], {"src/hello.py": BROKEN_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    assert_error(call(sandbox, "POST", publish, key, json={}), 400, 2015, "no successful build")


def test_publish_bumps_versions_and_refuses_republishing(
    sandbox: RunningSandbox, key: str, hello: dict, tmp_path
) -> None:
    publish = f"{ALGO}/versions"
    sha = push_files(hello["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    bad = {"version_info": {"sample_input": {"not": "a string"}}}
    assert_error(call(sandbox, "POST", publish, key, json=bad), 400, 2015, "sample_input")
    assert_error(call(sandbox, "POST", publish, key, json={"version_info": {"version_type": "huge"}}), 400, 2015)
    empty = {"details": {}, "settings": {}, "version_info": {}, "source": {}, "scmsCredentials": {}}
    first = call(sandbox, "POST", publish, key, json=empty).json()
    assert first["version_info"]["semantic_version"] == "0.1.0"  # default minor
    assert first["version_info"]["git_hash"] == sha and first["build"]["version_info"] == {"semantic_version": "0.1.0"}
    assert first["self_link"] == f"{sandbox.url}{ALGO}/versions/{sha}"
    again = call(sandbox, "POST", publish, key, json=empty)
    assert_error(again, 400, 1007, "Version already published. Please compile your algorithm.")

    steps = [
        ({"version_type": "revision"}, "0.1.1"),
        ({"type": "patch"}, "0.1.2"),
        ({"version_type": "major"}, "1.0.0"),
    ]
    for version_info, expected in steps:
        _build(sandbox, key)
        body = call(sandbox, "POST", publish, key, json={"version_info": version_info}).json()
        assert body["version_info"]["semantic_version"] == expected
    _build(sandbox, key)
    body = {
        "details": {"summary": "Greets"},
        "settings": {"algorithm_callability": "public", "license": "mit"},
        "version_info": {"version_type": "minor", "release_notes": "Now public", "sample_input": '"world"'},
    }
    public = call(sandbox, "POST", publish, key, json=body).json()
    assert public["version_info"]["semantic_version"] == "1.1.0"
    assert public["version_info"]["release_notes"] == "Now public"
    assert public["version_info"]["sample_input"] == '"world"'
    assert public["settings"]["algorithm_callability"] == "public"
    info = call(sandbox, "GET", ALGO, key).json()
    assert info["details"] == {"label": "Hello", "summary": "Greets"}
    assert info["settings"]["license"] == "mit" and info["settings"]["algorithm_callability"] == "public"
    assert info["version_info"]["semantic_version"] == "1.1.0"
    assert info["version_info"]["release_notes"] == "Now public"


def test_versions_list_filters_and_lookup_by_hash(sandbox: RunningSandbox, key: str, hello: dict, tmp_path) -> None:
    publish = f"{ALGO}/versions"
    sha = push_files(hello["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    call(sandbox, "POST", publish, key, json={})
    _build(sandbox, key)
    call(sandbox, "POST", publish, key, json={"settings": {"algorithm_callability": "public"}})
    _build(sandbox, key)  # a hash version, unpublished

    def versions(**params: str) -> list[str | None]:
        body = call(sandbox, "GET", publish, key, params=params).json()
        return [v["version_info"].get("semantic_version") for v in body["results"]]

    assert versions() == [None, "0.2.0", "0.1.0"]
    assert versions(published="true") == ["0.2.0", "0.1.0"]
    assert versions(published="false") == [None]
    assert versions(callable="true") == ["0.2.0"]
    assert versions(callable="false") == [None, "0.1.0"]
    assert versions(published="true", callable="false") == ["0.1.0"]
    assert_error(call(sandbox, "GET", publish, key, params={"published": "yes"}), 400, 2015, "published")
    page = call(sandbox, "GET", publish, key, params={"published": "true", "limit": 1}).json()
    assert "published=true" in page["next_link"]

    by_hash = call(sandbox, "GET", f"{publish}/{sha}", key).json()
    assert by_hash["version_info"]["semantic_version"] == "0.2.0"  # the published one wins
    assert call(sandbox, "GET", f"{publish}/{sha[:7]}", key).json()["version_info"]["git_hash"] == sha
    assert_error(call(sandbox, "GET", f"{publish}/{'0' * 40}", key), 404, 1000, "No such version")


def test_call_resolves_versions_for_owner_and_others(sandbox: RunningSandbox, key: str, hello: dict, tmp_path) -> None:
    sha = push_files(hello["clone_url"], {"src/hello.py": HELLO_PY}, tmp_path)
    sandbox.box.wait_for_builds()
    plain = {"Content-Type": "text/plain"}
    by_hash = call(sandbox, "POST", f"/v1/algo/demo/hello/{sha}", key, data="hi", headers=plain)
    assert by_hash.json()["result"] == "Hello hi" and by_hash.json()["metadata"]["content_type"] == "text"
    stranger = sandbox.key("stranger", manage=False)
    assert_error(call(sandbox, "POST", "/v1/algo/demo/hello", stranger, json=1), 404, 1000)
    call(sandbox, "POST", f"{ALGO}/versions", key, json={"settings": {"algorithm_callability": "public"}})
    for version in ("", "/latest", "/0.1.0", "/0.*", "/0.1.*"):
        assert call(sandbox, "POST", f"/v1/algo/demo/hello{version}", stranger, json=2).json()["result"] == "Hello 2"
    assert_error(call(sandbox, "POST", f"/v1/algo/demo/hello/{sha}", stranger, json=1), 404, 1000)
    assert_error(call(sandbox, "POST", "/v1/algo/demo/nothing", key, json=1), 404, 1001, "No such algorithm")


# -- fault injection and counters ---------------------------------------------------------


def test_scripted_faults_hit_matching_requests_in_order(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    box = sandbox.box
    box.inject_fault(503, times=2, path_contains="/builds")
    box.inject_fault(429, times=1, retry_after=7)
    assert call(sandbox, "GET", f"{ALGO}/builds", key).status_code == 503
    limited = call(sandbox, "GET", ALGO, key)
    assert_error(limited, 429, 5001)
    assert limited.headers["Retry-After"] == "7"
    assert_error(call(sandbox, "GET", f"{ALGO}/builds", key), 503, 5001, "fault injection")
    assert call(sandbox, "GET", f"{ALGO}/builds", key).status_code == 200
    assert call(sandbox, "GET", ALGO, key).status_code == 200


def test_fail_rate_and_clear_faults(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    box = sandbox.box
    box.fail_rate = 1.0
    assert_error(call(sandbox, "GET", ALGO, key), 503, 5001)
    assert call(sandbox, "GET", "/healthz").status_code == 200  # not an API request
    box.fail_rate = 0.0
    box.inject_fault(500, times=5)
    box.clear_faults()
    assert call(sandbox, "GET", ALGO, key).status_code == 200


def test_a_faulted_request_changes_nothing(sandbox: RunningSandbox, key: str) -> None:
    sandbox.box.inject_fault(503, path_contains="/v1/algorithms/demo")
    assert call(sandbox, "POST", "/v1/algorithms/demo", key, json=create_body()).status_code == 503
    assert call(sandbox, "GET", ALGO, key).status_code == 404


def test_request_counts_per_method_and_pattern(sandbox: RunningSandbox, key: str, hello: dict) -> None:
    box = sandbox.box
    box.reset_request_counts()
    call(sandbox, "GET", ALGO, key)
    call(sandbox, "GET", "/v1/algorithms/demo/other", key)
    call(sandbox, "GET", f"{ALGO}/builds", key)
    call(sandbox, "GET", "/v1/nowhere", key)
    call(sandbox, "GET", "/healthz")
    assert box.request_counts == {
        ("GET", "/v1/algorithms/{u}/{a}"): 2,
        ("GET", "/v1/algorithms/{u}/{a}/builds"): 1,
        ("GET", "(unmatched)"): 1,
    }
