"""The files a deployer needs (deploy/, Procfile) agree with the code.

- Both Slack app manifests declare exactly the bot scopes the code needs: every Slack Web API method
  called from algobot/ and commands/ (the test doubles in algobot/localslack/ and algobot/sandbox/
  excepted) is covered by a declared scope, and no declared scope goes unused.
- deploy/env.example and the README's settings table are what the settings table in algobot/settings.py
  renders (`algobot settings --env-example` / `--markdown`), so every setting is there with its real default.
- The Procfile, Dockerfile and systemd unit run commands that exist, the way the README says.
"""

from __future__ import annotations

import ast
import configparser
import inspect
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version
from slack_sdk import WebClient

from algobot.cli import build_parser, main
from algobot.settings import SETTINGS, Settings, markdown_table, shown_default
from algobot.settings import env_example as env_example_text

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
HTTP_MANIFEST = DEPLOY / "slack-app-manifest.yml"
SOCKET_MANIFEST = DEPLOY / "slack-app-manifest-socket-mode.yml"
MANIFESTS = [HTTP_MANIFEST, SOCKET_MANIFEST]
REQUEST_URL = "https://YOUR-HOST/slack/events"

# The bot scope each Web API method needs; a tuple means any one of them will do, and None means the
# method needs no bot scope (views.* ride on a trigger_id from a command or an interaction; the
# OAuth and Socket Mode calls use the client secret or the app-level token). A method the code starts
# calling that is missing here fails the test until someone looks its scope up and adds it.
METHOD_SCOPES: dict[str, tuple[str, ...] | None] = {
    "chat_postMessage": ("chat:write",),
    "chat_postEphemeral": ("chat:write",),
    "chat_update": ("chat:write",),
    "chat_delete": ("chat:write",),
    "chat_scheduleMessage": ("chat:write",),
    "chat_getPermalink": None,
    "files_upload_v2": ("files:write",),
    "files_getUploadURLExternal": ("files:write",),
    "files_completeUploadExternal": ("files:write",),
    "files_info": ("files:read",),
    "users_info": ("users:read",),
    "users_list": ("users:read",),
    "users_lookupByEmail": ("users:read.email",),
    "conversations_info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations_members": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations_join": ("channels:join",),
    "conversations_history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations_replies": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations_open": ("im:write", "mpim:write", "channels:manage", "groups:write"),
    "reactions_add": ("reactions:write",),
    "reactions_remove": ("reactions:write",),
    "team_info": ("team:read",),
    "views_open": None,
    "views_update": None,
    "views_push": None,
    "views_publish": None,
    "auth_test": None,
    "api_test": None,
    "oauth_v2_access": None,
    "oauth_v2_exchange": None,
    "apps_connections_open": None,  # app-level token with connections:write, not a bot scope
    "apps_uninstall": None,
    "auth_revoke": None,
}
# A slash command in the manifest is what the `commands` scope is for.
SLASH_COMMAND_SCOPE = "commands"

SCANNED = [ROOT / "algobot", ROOT / "commands"]
TEST_DOUBLES = [ROOT / "algobot" / "localslack", ROOT / "algobot" / "sandbox"]
WEB_API_METHODS = frozenset(
    name for name, member in inspect.getmembers(WebClient, inspect.isfunction) if not name.startswith("_")
) - {"api_call"}


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def source_files() -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted(top.rglob("*.py")):
            if not any(path.is_relative_to(double) for double in TEST_DOUBLES):
                yield path


def web_api_calls() -> dict[str, list[str]]:
    """Every Web API method the code calls, with where: `x.chat_postMessage(…)`, `x.api_call("chat.update")`
    and Bolt's `say(…)` (chat.postMessage)."""
    found: dict[str, list[str]] = {}
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            method = None
            if isinstance(node.func, ast.Attribute) and node.func.attr in WEB_API_METHODS:
                method = node.func.attr
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "api_call" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    method = first.value.replace(".", "_")
            elif isinstance(node.func, ast.Name) and node.func.id == "say":
                method = "chat_postMessage"
            if method:
                found.setdefault(method, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def declared_scopes(manifest: dict) -> set[str]:
    return set(manifest["oauth_config"]["scopes"]["bot"])


def walk_keys(node: object, prefix: str = "") -> Iterator[tuple[str, object]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{prefix}{key}", value
            yield from walk_keys(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_keys(value, f"{prefix}{index}.")


# -- manifests ---------------------------------------------------------------------------------------


def test_the_scanner_finds_the_calls_we_know_about():
    calls = web_api_calls()
    assert {"chat_postMessage", "chat_postEphemeral", "chat_update", "files_upload_v2", "users_info"} <= set(calls)
    assert "views_open" in calls
    assert all(
        not location.startswith(("algobot/localslack", "algobot/sandbox")) for v in calls.values() for location in v
    )


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_web_api_call_is_covered_by_a_declared_scope_and_no_scope_is_unused(path):
    manifest = load(path)
    scopes = declared_scopes(manifest)
    calls = web_api_calls()

    unknown = {method: where for method, where in calls.items() if method not in METHOD_SCOPES}
    assert not unknown, f"add these Web API methods and their scopes to METHOD_SCOPES in {__name__}: {unknown}"
    missing = {
        method: (METHOD_SCOPES[method], where)
        for method, where in calls.items()
        if METHOD_SCOPES[method] and not scopes.intersection(METHOD_SCOPES[method])
    }
    assert not missing, f"{path.name} lacks a scope these calls need (method: (any of these scopes, where)): {missing}"

    used = {scope for method in calls for scope in METHOD_SCOPES[method] or ()}
    if manifest["features"].get("slash_commands"):
        used.add(SLASH_COMMAND_SCOPE)
    unused = scopes - used
    assert not unused, f"{path.name} declares scopes nothing in the code uses: {sorted(unused)}"
    assert "user" not in manifest["oauth_config"]["scopes"], "algobot acts as its bot user only"


def test_oauth_installs_ask_for_the_manifest_scopes():
    workspaces = pytest.importorskip("algobot.workspaces")
    assert set(workspaces.SCOPES) == declared_scopes(load(HTTP_MANIFEST))


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_declares_the_algo_command_and_the_lifecycle_events(path):
    manifest = load(path)
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/algo"
    assert command["should_escape"] is True  # `/algo allow @someone` must receive the user id
    assert command["description"] and command["usage_hint"]
    assert len(manifest["display_information"]["description"]) <= 140
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_uninstalled", "tokens_revoked"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["features"]["bot_user"]["display_name"]


def test_http_manifest_points_every_request_url_at_slack_events():
    manifest = load(HTTP_MANIFEST)
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["features"]["slash_commands"][0]["url"] == REQUEST_URL
    assert manifest["settings"]["interactivity"]["request_url"] == REQUEST_URL
    assert manifest["settings"]["event_subscriptions"]["request_url"] == REQUEST_URL
    assert manifest["oauth_config"]["redirect_urls"] == ["https://YOUR-HOST/slack/oauth_redirect"]


def test_socket_mode_manifest_has_no_request_urls_and_the_same_scopes():
    manifest = load(SOCKET_MANIFEST)
    assert manifest["settings"]["socket_mode_enabled"] is True
    urls = [key for key, value in walk_keys(manifest) if isinstance(value, str) and "YOUR-HOST" in value]
    urls += [key for key, _ in walk_keys(manifest) if key.rsplit(".", 1)[-1] in ("url", "request_url")]
    assert not urls, f"Socket Mode needs no Request URLs: {urls}"
    assert declared_scopes(manifest) == declared_scopes(load(HTTP_MANIFEST))
    http = load(HTTP_MANIFEST)
    assert manifest["display_information"] == http["display_information"]
    assert manifest["features"]["bot_user"] == http["features"]["bot_user"]


REPO_PATH = re.compile(r"(?<![\w/.-])((?:deploy|docs|algobot|commands|tests|bench)/[\w./-]*\w|README\.md|LICENSE)")
README_SECTION = re.compile(r'README\.md, "([^"]+)"')


@pytest.mark.parametrize("path", sorted(DEPLOY.iterdir()), ids=lambda p: p.name)
def test_every_file_and_readme_section_a_deploy_file_points_to_exists(path):
    text = path.read_text()
    missing = sorted({ref for ref in REPO_PATH.findall(text) if not (ROOT / ref).exists()})
    assert not missing, f"{path.name} points to {missing}, which do not exist"
    headings = {line.lstrip("#").strip() for line in (ROOT / "README.md").read_text().splitlines() if line[:1] == "#"}
    sections = [name for name in README_SECTION.findall(text) if not any(name in h for h in headings)]
    assert not sections, f"{path.name} names README sections {sections} that README.md does not have"


def test_the_package_declares_its_license_and_ships_the_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def declared_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]


@pytest.mark.parametrize("line", declared_requirements())
def test_every_dependency_is_bounded_below_the_next_major_and_the_installed_version_fits(line):
    """A new major release may break us: it is taken on purpose (raise the bound, run the suite), never by an
    unpinned install. The bound is the major after the one we test with; an exact pin (`==`) is allowed."""

    requirement = Requirement(line)
    installed = Version(version(requirement.name))
    assert requirement.specifier.contains(installed), f"installed {requirement.name} {installed} is outside {line}"
    if any(spec.operator == "==" for spec in requirement.specifier):
        return
    uppers = [spec for spec in requirement.specifier if spec.operator == "<"]
    assert len(uppers) == 1, f"{line}: needs one upper bound `<next major`"
    assert any(spec.operator == ">=" for spec in requirement.specifier), f"{line}: needs a lower bound"
    assert uppers[0].version == str(installed.major + 1), f"{line}: the bound should be <{installed.major + 1}"


# -- environment -------------------------------------------------------------------------------------

ENV_EXAMPLE = DEPLOY / "env.example"
ENV_LINE = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")
REGENERATE = "regenerate it: algobot settings --env-example > deploy/env.example"


def env_example() -> dict[str, str]:
    """NAME → the value shown (commented-out lines show the default)."""
    entries = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def readme_settings_table() -> str:
    """The table in the README's "Settings" section, as it is committed."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index("| Variable | Default | Meaning |")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return "\n".join(lines[start:end]) + "\n"


def test_env_example_is_what_the_settings_table_renders():
    assert ENV_EXAMPLE.read_text() == env_example_text(), f"deploy/env.example is out of date: {REGENERATE}"


def test_the_readme_settings_table_is_what_the_settings_table_renders():
    assert readme_settings_table() == markdown_table(), (
        "README.md's settings table is out of date: replace it with the output of `algobot settings --markdown`"
    )


def test_env_example_lists_every_setting_once_and_shows_the_real_defaults():
    """Read back through the table's own readers, each default shown is the default that applies."""
    entries = env_example()
    assert list(entries) == [row.env for row in SETTINGS]
    baseline = Settings.from_env({})
    assert baseline == Settings()
    for row in SETTINGS:
        assert entries[row.env] == shown_default(row)
        if entries[row.env]:
            assert Settings.from_env({row.env: entries[row.env]}) == baseline, f"{row.env}={entries[row.env]}"


def test_operator_docs_name_every_setting():
    docs = (ROOT / "README.md").read_text()
    missing = sorted(row.env for row in SETTINGS if f"`{row.env}`" not in docs)
    assert not missing, f"the operator documentation does not mention {missing}"


def test_algobot_settings_prints_the_files_it_generates(capsys):
    assert main(["settings", "--env-example"]) == 0
    assert capsys.readouterr().out == ENV_EXAMPLE.read_text()
    assert main(["settings", "--markdown"]) == 0
    assert capsys.readouterr().out == readme_settings_table()
    with pytest.raises(SystemExit) as done:
        main(["settings"])  # one of the two is required
    assert done.value.code == 2


# -- Procfile, Dockerfile, systemd -------------------------------------------------------------------


def test_procfile_runs_one_web_process_and_migrates_on_release():
    entries = dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())
    assert {kind: command.strip() for kind, command in entries.items()} == {
        "web": "algobot serve",
        "release": "algobot migrate",
    }
    for command in entries.values():
        argv = shlex.split(command)
        assert argv[0] == "algobot"
        build_parser().parse_args(argv[1:])


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    text = (DEPLOY / "Dockerfile").read_text()
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def test_dockerfile_builds_a_non_root_image_with_a_data_volume():
    steps = dockerfile()
    instructions = [name for name, _ in steps]
    args = {name: value for name, value in steps}  # the last of each
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert any(name == "RUN" and "pip install ." in value for name, value in steps)
    assert args["USER"].split(":")[0] not in ("root", "0")
    assert instructions.index("USER") > max(i for i, name in enumerate(instructions) if name == "RUN")
    assert json.loads(args["VOLUME"]) == ["/data"]
    env = " ".join(value for name, value in steps if name == "ENV")
    assert "ALGOBOT_DB=/data/algobot.db" in env.split()
    assert args["EXPOSE"] == "3000"
    assert json.loads(args["CMD"]) == ["algobot", "serve"]
    assert "curl" not in args["HEALTHCHECK"] and "/healthz" in args["HEALTHCHECK"]
    copied = {source for name, value in steps if name == "COPY" for source in value.split()[:-1]}
    assert copied == {"pyproject.toml", "README.md", "LICENSE", "algobot", "commands"}  # what `pip install .` needs


def healthcheck_argv() -> list[str]:
    value = dict(dockerfile())["HEALTHCHECK"]
    return json.loads(value[value.index("CMD") + len("CMD") :].strip())


def test_dockerfile_healthcheck_passes_on_a_healthy_bot_and_fails_on_an_unhealthy_one(bot):
    argv = healthcheck_argv()
    assert argv[0] == "python"
    env = {**os.environ, "PORT": str(urlparse(bot.url).port)}

    healthy = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
    assert healthy.returncode == 0, healthy.stderr

    bot.server.wsgi.poller_status = lambda: None
    bot.server.wsgi.poller_stale_after = -1.0  # now /healthz answers 503
    unhealthy = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
    assert unhealthy.returncode != 0 and b"503" in unhealthy.stderr


def systemd_unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",), comment_prefixes=("#",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "algobot.service").read_text())
    return parser


def test_systemd_unit_runs_serve_as_a_dedicated_user_with_hardening():
    unit = systemd_unit()
    service = unit["Service"]
    assert service["Type"] == "simple"
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == "/etc/algobot/env"
    assert service["User"] not in ("", "root") and service["Group"]
    assert service["TimeoutStopSec"] == "15"
    assert service["NoNewPrivileges"] == "true" and service["ProtectSystem"] == "strict"
    exec_start = shlex.split(service["ExecStart"])
    assert exec_start[0].startswith("/") and exec_start[0].endswith("/algobot")
    build_parser().parse_args(exec_start[1:])
    db = dict(item.split("=", 1) for item in shlex.split(service["Environment"]))["ALGOBOT_DB"]
    data_dir = str(Path(db).parent)
    assert data_dir in service["ReadWritePaths"].split()
    assert service["WorkingDirectory"] == data_dir
    assert f"/var/lib/{service['StateDirectory']}" == data_dir
    assert unit["Install"]["WantedBy"] == "multi-user.target"
