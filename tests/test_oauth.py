"""Multi-workspace installs end to end: Bolt's OAuth flow, per-workspace tokens, uninstalling.

Two workspaces install algobot through `/slack/install` and `/slack/oauth_redirect`, the local Slack
answering `oauth.v2.access` for each with its own bot token. The local Slack only accepts a token in
its own workspace (another team's channel is `channel_not_found`, another team's user
`user_not_found`), so a reply posted with chat.postMessage in a team's channel proves that team's
token was used.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from cryptography.fernet import Fernet

from algobot import audit, release_requests, workspaces
from algobot.channels import ChannelRef, ChannelStore
from algobot.crypto import KeyCipher, load_cipher
from algobot.db import database, migrate
from algobot.localslack import LocalSlack
from algobot.localslack.client import signature
from algobot.notify import store
from algobot.notify.scheduler import build_job
from algobot.server import BotServer, build_wsgi
from algobot.settings import Settings, SettingsError
from algobot.store import as_store
from tests.fixtures.bot import make_settings, message_text
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, TEAM_ID

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret-for-tests"
TEAM2, TEAM2_TOKEN, TEAM2_CHANNEL, TEAM2_ADMIN, TEAM2_MEMBER = "T0002", "xoxb-second-team", "C0TWO", "U0CAROL", "U0DAVE"
STATE_COOKIE = "slack-app-oauth-state"
WAIT = 10.0


class DrainableExecutor(ThreadPoolExecutor):
    """The bot's listener executor, with a way to wait until every submitted listener has finished.

    Event listeners run after Bolt has answered Slack; waiting for this executor to be idle is how a
    test knows the uninstall handler is done, without polling the database.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=8, thread_name_prefix="oauth-test-listener")
        self._lock = threading.Lock()
        self._pending: set[Future] = set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with self._lock:
            future = super().submit(fn, *args, **kwargs)
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait_idle(self, timeout: float = WAIT) -> None:
        """Wait (at most ``timeout``) for every listener submitted so far, and any they submit in turn."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for future in pending:
                future.exception(timeout=max(0.0, deadline - time.monotonic()))  # TimeoutError past the deadline


@dataclass
class OAuthBot:
    url: str
    settings: Settings
    slack: LocalSlack
    server: BotServer
    cipher: KeyCipher
    executor: DrainableExecutor

    @property
    def events_url(self) -> str:
        return self.url + "/slack/events"

    def command(self, text: str, *, user: str, channel: str) -> requests.Response:
        return self.slack.send_command(self.events_url, user=user, channel=channel, text=text)

    def reply(self, text: str, *, user: str, channel: str, ephemeral: bool | None = None):
        def find():
            for message in reversed(self.slack.messages(channel, include_ephemeral_for=user)):
                if text in message_text(message) and (ephemeral is None or message.is_ephemeral == ephemeral):
                    return message
            return None

        return self.slack.wait_for(find, timeout=WAIT, message=f"{text!r} in {channel}")

    def set_key(self, ref: ChannelRef, key: str, endpoint: str) -> None:
        with database(self.settings.db_path) as db:
            ChannelStore(db, self.cipher).set_key(ref, key, endpoint, "U0SETUP", datetime.now(UTC))

    def event(self, team_id: str, event: dict[str, Any], *, secret: str | None = None) -> requests.Response:
        """POST a signed Events API callback, as Slack does."""
        body = json.dumps(
            {
                "token": self.slack.verification_token,
                "team_id": team_id,
                "api_app_id": "A0APP",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{time.monotonic_ns()}",
                "event_time": int(time.time()),
            }
        )
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature(secret or self.slack.signing_secret, ts, body),
        }
        response = requests.post(self.events_url, data=body.encode(), headers=headers, timeout=WAIT)
        self.executor.wait_idle()
        return response


def second_workspace(slack: LocalSlack) -> None:
    slack.add_workspace(TEAM2, domain="second-team", name="Second Team", bot_token=TEAM2_TOKEN)
    slack.add_channel(TEAM2_CHANNEL, "algo-two", team_id=TEAM2, bot_member=True)
    slack.add_user(TEAM2_ADMIN, "carol", team_id=TEAM2, is_admin=True)
    slack.add_user(TEAM2_MEMBER, "dave", team_id=TEAM2)


def oauth_answer(slack: LocalSlack, team_id: str, token: str, installer: str) -> dict[str, Any]:
    ws = slack.workspaces[team_id]
    return {
        "app_id": ws.app_id,
        "authed_user": {"id": installer},
        "scope": ",".join(workspaces.SCOPES),
        "token_type": "bot",
        "access_token": token,
        "bot_user_id": ws.bot_user_id,
        "team": {"id": team_id, "name": ws.name},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def install(bot: OAuthBot, team_id: str, token: str, installer: str) -> requests.Response:
    """What an installer's browser does: open the install page, go to Slack, come back with a code."""
    page = requests.get(bot.url + "/slack/install", timeout=WAIT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    state = re.search(rf"{STATE_COOKIE}=([^;]+)", page.headers["Set-Cookie"]).group(1)
    authorize_url = html.unescape(
        re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text).group(1)
    )
    query = parse_qs(urlparse(authorize_url).query)
    assert query["state"] == [state] and query["client_id"] == [CLIENT_ID]
    assert query["scope"] == ["commands,chat:write,files:write,im:write,users:read,channels:history,groups:history"]
    bot.slack.oauth_response = oauth_answer(bot.slack, team_id, token, installer)
    return requests.get(
        bot.url + "/slack/oauth_redirect",
        params={"code": f"code-for-{team_id}", "state": state},
        headers={"Cookie": f"{STATE_COOKIE}={state}"},
        timeout=WAIT,
    )


@pytest.fixture
def oauth_bot(tmp_path, slack, sandbox) -> Iterator[OAuthBot]:
    """algobot with OAuth installs (no SLACK_BOT_TOKEN), nothing installed yet."""
    settings = make_settings(
        tmp_path, slack, sandbox.url, slack_bot_token=None, slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET
    )
    executor = DrainableExecutor()
    server = BotServer.create(build_wsgi(settings, listener_executor=executor), "127.0.0.1", 0).start()
    cipher = load_cipher(settings.secret_key, settings.db_path, logging.getLogger("tests"))
    try:
        yield OAuthBot(server.url, settings, slack, server, cipher, executor)
    finally:
        server.close()
        executor.shutdown(wait=True)


@pytest.fixture
def two_teams(oauth_bot, slack, sandbox) -> OAuthBot:
    """Both workspaces installed, each channel with a key of its own."""
    second_workspace(slack)
    assert "Thank you!" in install(oauth_bot, TEAM_ID, slack.bot_token, ADMIN).text
    assert "Thank you!" in install(oauth_bot, TEAM2, TEAM2_TOKEN, TEAM2_ADMIN).text
    oauth_bot.set_key(ChannelRef(TEAM_ID, DEV_CHANNEL), "team-one-key-1111", sandbox.url)
    oauth_bot.set_key(ChannelRef(TEAM2, TEAM2_CHANNEL), "team-two-key-2222", sandbox.url)
    return oauth_bot


def installed_teams(settings: Settings) -> list[str]:
    with database(settings.db_path) as db:
        return [r["team_id"] for r in db.query("select team_id from slack_bots order by team_id")]


# -- installing -------------------------------------------------------------------------------------


def test_two_workspaces_install_and_each_is_stored_with_its_own_token(two_teams):
    assert installed_teams(two_teams.settings) == [TEAM_ID, TEAM2]
    token_for = workspaces.token_lookup(workspaces.installation_store(two_teams.settings, two_teams.cipher))
    assert token_for(ChannelRef(TEAM_ID, DEV_CHANNEL)) == two_teams.slack.bot_token
    assert token_for(ChannelRef(TEAM2, TEAM2_CHANNEL)) == TEAM2_TOKEN
    assert token_for(ChannelRef("T0NONE", "C0X")) is None
    # The flow's own calls went to the local Slack (SLACK_API_URL), one code exchange per install.
    assert [c.args["code"] for c in two_teams.slack.calls("oauth.v2.access")] == ["code-for-T0001", "code-for-T0002"]


def test_the_redirect_refuses_a_browser_without_the_state_cookie(oauth_bot):
    page = requests.get(oauth_bot.url + "/slack/install", timeout=WAIT)
    state = re.search(rf"{STATE_COOKIE}=([^;]+)", page.headers["Set-Cookie"]).group(1)
    refused = requests.get(oauth_bot.url + "/slack/oauth_redirect", params={"code": "c", "state": state}, timeout=WAIT)
    assert refused.status_code == 400
    assert installed_teams(oauth_bot.settings) == [] and oauth_bot.slack.calls("oauth.v2.access") == []


def test_without_oauth_the_install_routes_are_not_served(bot):
    base = bot.url.rsplit("/slack/events", 1)[0]
    for path in ("/slack/install", "/slack/oauth_redirect"):
        response = requests.get(base + path, timeout=WAIT)
        assert response.status_code == 404 and response.json() == {"error": "not found"}


def test_a_workspace_that_has_not_installed_gets_no_service(oauth_bot, slack):
    oauth_bot.command("help", user=ADMIN, channel=DEV_CHANNEL)
    assert "no longer available" in message_text(oauth_bot.reply("reinstall", user=ADMIN, channel=DEV_CHANNEL))
    assert slack.calls("chat.postMessage") == []


# -- each workspace with its own token and its own channels ------------------------------------------


def test_commands_in_each_workspace_use_that_workspaces_token_and_keys(two_teams, slack):
    two_teams.command("help", user=ADMIN, channel=DEV_CHANNEL)
    assert two_teams.reply("/algo publish", user=ADMIN, channel=DEV_CHANNEL).is_ephemeral
    two_teams.command("help", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL)
    assert two_teams.reply("/algo publish", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL).is_ephemeral

    two_teams.command("status", user=ADMIN, channel=DEV_CHANNEL)
    one = message_text(two_teams.reply(":key:", user=ADMIN, channel=DEV_CHANNEL))
    two_teams.command("status", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL)
    two = message_text(two_teams.reply(":key:", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL))
    assert "1111" in one and "2222" not in one
    assert "2222" in two and "1111" not in two

    # Bolt authorised every request with the installation of the team it came from.
    teams_seen = {c.response.get("team_id") for c in slack.calls("auth.test")}
    assert teams_seen == {TEAM_ID, TEAM2}

    # A configuration change checks the admin with users.info and announces with chat.postMessage:
    # both succeed only with the token of the workspace the channel and user belong to.
    two_teams.command(f"allow <@{TEAM2_MEMBER}|dave>", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL)
    announced = two_teams.reply("may now run create", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL, ephemeral=False)
    assert announced.source == "api" and announced.team_id == TEAM2
    two_teams.command(f"allow <@{MEMBER}|bob>", user=ADMIN, channel=DEV_CHANNEL)
    announced = two_teams.reply("may now run create", user=ADMIN, channel=DEV_CHANNEL, ephemeral=False)
    assert announced.source == "api" and announced.team_id == TEAM_ID
    assert all(c.response.get("ok") for c in slack.calls("users.info") + slack.calls("chat.postMessage"))


def test_build_notices_go_out_with_the_token_of_each_notices_workspace(two_teams, slack):
    now = time.time()
    with database(two_teams.settings.db_path) as db:
        for ref in (ChannelRef(TEAM_ID, DEV_CHANNEL), ChannelRef(TEAM2, TEAM2_CHANNEL)):
            store.enqueue(
                db, ref, f"test:{ref}", "final", [store.NoticePart("post", f"Build `b1` in {ref.team_id}")], now
            )
    job = build_job(two_teams.settings, two_teams.cipher)
    report = job.sender.run(now)
    assert (report.sent, report.dropped) == (2, 0)
    for team, channel in ((TEAM_ID, DEV_CHANNEL), (TEAM2, TEAM2_CHANNEL)):
        [notice] = [m for m in slack.messages(channel) if "Build `b1`" in m.text]
        assert notice.text == f"Build `b1` in {team}" and notice.source == "api"


def test_the_audit_checkpoint_goes_out_with_the_token_of_its_channels_workspace(two_teams, slack):
    settings = dataclasses.replace(two_teams.settings, audit_channel=f"{TEAM2}/{TEAM2_CHANNEL}")
    job = build_job(settings, two_teams.cipher)

    assert job.checkpoint.run(time.time())

    [posted] = [m for m in slack.messages(TEAM2_CHANNEL) if "Audit checkpoint" in (m.text or "")]
    assert posted.team_id == TEAM2 and posted.source == "api"


# -- uninstalling ------------------------------------------------------------------------------------


def team_rows(settings: Settings, team_id: str) -> dict[str, int]:
    with database(settings.db_path) as db:
        return {
            table: db.execute(f"select count(*) from {table} where team_id = ?", [team_id]).fetchone()[0]
            for table in workspaces.TEAM_TABLES
        }


def uninstall_rows(db) -> list[dict[str, Any]]:
    return [row for row in audit.iter_rows(db) if row["action"] == "uninstall"]


def give_team_data(bot: OAuthBot, ref: ChannelRef) -> None:
    """A subscription, a tracked build, a queued notice, an allow list, poll/send state and a release request."""
    now = time.time()
    with database(bot.settings.db_path) as db:
        store.subscribe(db, ref, "demo/hello", "all", "U0SETUP", datetime.now(UTC).isoformat())
        store.track(db, ref, store.NewBuild(algorithm="demo/hello", build_id="b-1", origin="watch"), now)
        store.enqueue(db, ref, f"pending:{ref}", "final", [store.NoticePart("post", "pending")], now + 3600)
        store.set_next_send_at(db, ref, now)
        ChannelStore(db, bot.cipher).allow(ref, "U0SOMEONE", "U0SETUP", datetime.now(UTC))
        ChannelStore(db, bot.cipher).personal.set_key(ref, "U0SOMEONE", "simPersonalKey0123", None, datetime.now(UTC))
        request = release_requests.new(
            ref,
            algorithm="demo/hello",
            build_id="b-1",
            commit_sha=None,
            version_type="minor",
            notes=None,
            callability=None,
            sample_input=None,
            requested_by="U0SETUP",
            now=datetime.now(UTC),
            expires_seconds=3600,
        )
        release_requests.save(as_store(db), request)
        db.execute(
            "insert into channel_poll_state (enterprise_id, team_id, channel_id) values (?, ?, ?)",
            [ref.enterprise_id, ref.team_id, ref.channel_id],
        )


def test_app_uninstalled_forgets_that_workspace_and_only_that_one(two_teams, slack):
    one, two = ChannelRef(TEAM_ID, DEV_CHANNEL), ChannelRef(TEAM2, TEAM2_CHANNEL)
    give_team_data(two_teams, one)
    give_team_data(two_teams, two)
    assert all(team_rows(two_teams.settings, TEAM2).values())

    response = two_teams.event(TEAM2, {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"})
    assert response.status_code == 200

    assert installed_teams(two_teams.settings) == [TEAM_ID]
    assert team_rows(two_teams.settings, TEAM2) == dict.fromkeys(workspaces.TEAM_TABLES, 0)
    assert all(team_rows(two_teams.settings, TEAM_ID).values())  # the other team keeps everything
    with database(two_teams.settings.db_path) as db:
        [entry] = uninstall_rows(db)
        assert audit.verify(db, two_teams.cipher.audit_key)
    assert entry["source"] == "system" and entry["team_id"] == TEAM2 and entry["user_id"] == "system"
    assert entry["arguments"]["event"] == "app_uninstalled"
    assert entry["arguments"]["removed"]["channel_configs"] == 1 and entry["arguments"]["removed"]["outbox"] == 1
    assert entry["arguments"]["removed"]["personal_logins"] == 1  # people's own keys go with the install

    # The other workspace still works; the uninstalled one gets Bolt's "reinstall" answer.
    two_teams.command("status", user=ADMIN, channel=DEV_CHANNEL)
    assert "1111" in message_text(two_teams.reply(":key:", user=ADMIN, channel=DEV_CHANNEL))
    two_teams.command("status", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL)
    two_teams.reply("reinstall", user=TEAM2_ADMIN, channel=TEAM2_CHANNEL)


def test_tokens_revoked_then_app_uninstalled_forget_the_team_once(two_teams):
    give_team_data(two_teams, ChannelRef(TEAM2, TEAM2_CHANNEL))
    revoked = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["U0BOT0002"]}}
    assert two_teams.event(TEAM2, revoked).status_code == 200
    assert two_teams.event(TEAM2, {"type": "app_uninstalled"}).status_code == 200
    assert installed_teams(two_teams.settings) == [TEAM_ID]
    assert not any(team_rows(two_teams.settings, TEAM2).values())
    with database(two_teams.settings.db_path) as db:
        uninstalls = uninstall_rows(db)
    assert [r["arguments"]["event"] for r in uninstalls] == ["tokens_revoked"]


def test_an_unsigned_uninstall_event_is_refused(two_teams):
    response = two_teams.event(TEAM2, {"type": "app_uninstalled"}, secret="not-the-signing-secret")
    assert response.status_code == 401
    assert installed_teams(two_teams.settings) == [TEAM_ID, TEAM2]


# -- forget_team and the settings ---------------------------------------------------------------------


def test_forget_team_matches_team_and_enterprise_exactly(tmp_path):
    path = str(tmp_path / "forget.db")
    migrate(path)
    key = KeyCipher(Fernet.generate_key()).audit_key
    refs = [ChannelRef("T1", "C1", "E1"), ChannelRef("T2", "C2", "E1"), ChannelRef("T1", "C3", "")]
    with database(path) as db:
        for ref in refs:
            store.subscribe(db, ref, "demo/x", "all", "U", "2026-01-01T00:00:00+00:00")
        assert workspaces.forget_team(db, "T1", "E1", audit_key=key)["subscriptions"] == 1
        assert {(r["enterprise_id"], r["team_id"]) for r in store.subscriptions(db)} == {("E1", "T2"), ("", "T1")}
        assert (
            workspaces.forget_team(db, None, "E1", audit_key=key, reason="org uninstall")["subscriptions"] == 1
        )  # org-wide
        assert {(r["enterprise_id"], r["team_id"]) for r in store.subscriptions(db)} == {("", "T1")}
        assert len(uninstall_rows(db)) == 2 and audit.verify(db, key)
        with pytest.raises(ValueError):
            workspaces.forget_team(db, None, None, audit_key=key)


def test_oauth_settings():
    env = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": "s"}
    settings = Settings.from_env(env)
    settings.require_slack()  # no SLACK_BOT_TOKEN needed
    assert settings.oauth_enabled and CLIENT_SECRET in settings.secrets() and CLIENT_SECRET not in repr(settings)
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET is not set"):
        Settings.from_env({**env, "SLACK_SIGNING_SECRET": ""}).require_slack()
    with pytest.raises(SettingsError, match="SLACK_CLIENT_SECRET is not set"):
        Settings.from_env({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_SIGNING_SECRET": "s"}).require_slack()
    with pytest.raises(SettingsError, match="SLACK_REDIRECT_URI must be an http"):
        Settings.from_env({**env, "SLACK_REDIRECT_URI": "not a url"})


def test_installed_bot_tokens_are_encrypted_at_rest(two_teams):
    db = Path(two_teams.settings.db_path)
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
    for team in (TEAM_ID, TEAM2):
        token = workspaces.token_lookup(workspaces.installation_store(two_teams.settings, two_teams.cipher))(
            ChannelRef(team, "C-any")
        )
        assert token and token.encode() not in stored
