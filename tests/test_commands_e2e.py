"""Every subcommand end to end: signed slash commands over real HTTP, sandbox and local Slack."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest
import requests

from algobot import audit
from algobot.channels import ChannelRef
from algobot.cli import main
from algobot.db import database
from algobot.ids import ACTION_CONFIRM_PUBLISH, ACTION_FULL_LOG, ACTION_MORE_BUILDS, ACTION_MORE_VERSIONS
from tests.fixtures.bot import button_value, message_text
from tests.fixtures.sandbox import BROKEN_PY, HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, OTHER_CHANNEL, TEAM_ID


def announced(bot, text: str, channel: str = DEV_CHANNEL):
    """Wait for a channel (not ephemeral) message containing text."""
    return bot.reply(lambda m: not m.is_ephemeral and text in message_text(m), channel=channel)


# -- help and grammar ------------------------------------------------------------------


def test_help_lists_every_command(bot):
    assert bot.command("help").status_code == 200
    reply = bot.reply_containing("/algo publish")
    assert reply.is_ephemeral
    for name in (
        "create",
        "update",
        "compile",
        "builds",
        "build",
        "logs",
        "info",
        "versions",
        "login",
        "audit",
    ):
        assert f"/algo {name}" in message_text(reply)


def test_help_for_one_command(bot):
    bot.command("help publish")
    reply = bot.reply_containing("first minor publish is 0.1.0")
    assert "/algo publish USER/ALGO" in message_text(reply)


def test_unknown_subcommand_gets_the_help(bot):
    bot.command("frobnicate demo/x")
    reply = bot.reply_containing("I don't know `/algo frobnicate`")
    assert "/algo info" in message_text(reply)


def test_empty_command_gets_the_help(bot):
    bot.command("")
    assert "/algo info" in message_text(bot.reply_containing("/algo publish"))


def test_echoed_arguments_are_escaped_exactly_once(bot, demo_channel):
    bot.command("info demo/hello <!here> a&b")
    reply = bot.reply_containing("unexpected argument")
    raw = json.dumps(reply.blocks)
    assert "unexpected argument &lt;!here&gt; a&amp;b." in raw  # Slack shows: <!here> a&b
    assert "&amp;lt;" not in raw and "&amp;amp;" not in raw and "<!here>" not in raw


def test_unbalanced_quote_is_refused_in_the_ack(bot):
    response = bot.command('publish demo/hello notes="unfinished')
    assert response.status_code == 200
    assert "quote is not closed" in response.text
    reply = bot.reply_containing("quote is not closed")
    assert reply.is_ephemeral


@pytest.mark.parametrize(
    "text, problem",
    [
        ("info", "USER/ALGO is missing"),
        ("info demo/hello extra", "unexpected argument extra"),
        ("builds demo/hello colour=red", "`colour=` is not an option"),
        ("builds demo/hello limit=many", "limit= must be a whole number"),
        ("info hello", "is not an algorithm name"),
        ("publish demo/hello huge", "version type must be major, minor or revision"),
        ("publish demo/hello callability=everyone", "callability= must be one of private, public"),
        ("update demo/hello license=wtfpl", "license must be one of"),
    ],
)
def test_bad_input_names_the_problem_and_shows_usage(bot, demo_channel, text, problem):
    before = sum(bot.box.request_counts.values())
    bot.command(text)
    reply = bot.reply_containing(problem)
    assert reply.is_ephemeral
    assert "Usage: `/algo" in message_text(reply)
    assert sum(bot.box.request_counts.values()) == before  # nothing was sent


# -- reads -------------------------------------------------------------------------------


def test_info_of_a_new_algorithm(bot, created_algorithm):
    response = bot.command("info demo/hello")
    assert response.status_code == 200
    assert response.text == ""  # the ack says nothing; "Working on" comes once Algorithmia is asked
    reply = bot.reply_containing("not published")
    working = bot.reply_containing("Working on `/algo info demo/hello`…")
    assert working.is_ephemeral and float(working.ts) < float(reply.ts)
    assert reply.is_ephemeral and reply.ephemeral_to == ADMIN
    assert "python3-1" in message_text(reply)


def test_info_labels_the_published_commit_and_the_newest_builds_commit(bot, created_algorithm, tmp_path):
    released = push_files(created_algorithm, {"src/hello.py": HELLO_PY}, tmp_path, message="release")
    bot.box.wait_for_builds()
    bot.command("publish demo/hello")
    announced(bot, "*0.1.0*")
    broken = push_files(created_algorithm, {"src/hello.py": BROKEN_PY}, tmp_path, message="later, broken")
    bot.box.wait_for_builds()

    bot.command("info demo/hello")
    reply = bot.reply(lambda m: m.is_ephemeral and "Latest version" in message_text(m))
    fields = {
        f["text"].split("\n")[0].strip("*"): f["text"].split("\n")[1]
        for block in reply.blocks
        if block.get("fields")
        for f in block["fields"]
    }
    assert fields["Latest version"] == "0.1.0"
    assert fields["Latest version's commit"] == released[:7]
    assert "Newest build `" in message_text(reply) and f"failed, commit `{broken[:7]}`" in message_text(reply)
    assert "Git hash" not in fields


def test_info_of_a_missing_algorithm(bot, demo_channel):
    bot.command("info demo/nothing")
    assert bot.reply_containing("No such algorithm *demo/nothing*").is_ephemeral


def test_channel_ping_in_summary_arrives_escaped(bot, created_algorithm):
    bot.command('update demo/hello summary="<!channel> click <http://evil.example|here> & win"')
    announced(bot, "updated *demo/hello*")
    bot.command("info demo/hello")
    reply = bot.reply(lambda m: m.is_ephemeral and "Latest version" in message_text(m))
    raw = json.dumps(reply.blocks)
    assert "<!channel>" not in raw and "<http://evil" not in raw
    assert "&lt;!channel&gt;" in raw and "&amp; win" in raw


def test_builds_pages_with_the_more_button(bot, created_algorithm, tmp_path):
    for number in range(3):
        push_files(created_algorithm, {"src/hello.py": HELLO_PY + f"# {number}\n"}, tmp_path, message=f"c{number}")
        bot.box.wait_for_builds()
    bot.command("builds demo/hello limit=2")
    first = bot.reply_containing("Builds of demo/hello")
    assert message_text(first).count("succeeded") == 2
    value = button_value(first, ACTION_MORE_BUILDS)
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=first.ts,
        action_id=ACTION_MORE_BUILDS,
        value=value,
    )
    second = bot.reply(lambda m: m.ts != first.ts and "Builds of demo/hello" in message_text(m))
    assert message_text(second).count("succeeded") == 1
    assert ACTION_MORE_BUILDS not in json.dumps(second.blocks)  # the last page has no More


def test_builds_of_an_algorithm_without_builds(bot, created_algorithm):
    bot.command("builds demo/hello")
    assert bot.reply_containing("has no builds yet").is_ephemeral


def test_build_and_logs_of_a_failed_build(bot, demo_channel, tmp_path):
    clone = bot.sandbox.create_algorithm("demo/broken")
    push_files(clone, {"src/broken.py": BROKEN_PY}, tmp_path)
    bot.box.wait_for_builds()
    build_id = bot.sandbox.client().builds("demo/broken")["results"][0]["build_id"]

    bot.command(f"build demo/broken {build_id}")
    detail = bot.reply_containing(f"Build {build_id}")
    assert "failed" in message_text(detail)

    bot.command(f"logs demo/broken {build_id} lines=60")
    logs = bot.reply_containing("SyntaxError")
    assert logs.is_ephemeral
    code = next(b["text"]["text"] for b in logs.blocks if b["type"] == "section" and "```" in b["text"]["text"])
    assert len(code) <= 3000

    value = button_value(logs, ACTION_FULL_LOG)
    bot.slack.click(
        bot.url, user=ADMIN, channel=DEV_CHANNEL, message_ts=logs.ts, action_id=ACTION_FULL_LOG, value=value
    )
    uploaded = bot.slack.wait_for(lambda: [f for f in bot.slack.files() if f.completed])
    assert b"SyntaxError" in uploaded[0].content
    # A read answers only you: the whole log goes to your DM with the bot, never into the channel.
    (dm,) = uploaded[0].channels
    assert bot.slack.channel(dm).is_im and bot.slack.channel(dm).im_user == ADMIN
    assert not any(m.files for m in bot.slack.messages(DEV_CHANNEL))
    assert bot.reply_containing("in your direct messages").is_ephemeral


RAW_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
DATE_TOKEN = re.compile(r"<!date\^(\d+)\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>")


def test_times_use_slack_date_formatting_and_durations_read_plainly(bot, built_algorithm):
    build = bot.sandbox.client().builds("demo/hello")["results"][0]
    started = datetime.fromisoformat(build["started_at"].replace("Z", "+00:00"))
    bot.command('publish demo/hello notes="first"')
    announced(bot, "*0.1.0*")
    for text, marker in [
        (f"build demo/hello {build['build_id']}", f"Build {build['build_id']}"),
        ("builds demo/hello", "Builds of demo/hello"),
        ("audit", "Audit trail of this channel"),
        ("releases demo/hello", "Releases of demo/hello"),
        ("status", "set by <@"),
    ]:
        bot.command(text)
        shown = message_text(bot.reply_containing(marker))
        assert not RAW_TIME.search(shown), (text, shown)
        assert DATE_TOKEN.search(shown), (text, shown)
        if text.startswith("build "):
            assert int(DATE_TOKEN.search(shown).group(1)) == int(started.timestamp())
            assert re.search(r"\*Duration\*\n\d+ (s|min)", shown)


def test_unknown_build_id(bot, created_algorithm):
    bot.command("build demo/hello 00000000-0000-0000-0000-000000000000")
    assert bot.reply_containing("has no build").is_ephemeral


def test_logs_of_a_running_build(bot, created_algorithm, tmp_path):
    bot.box.hold_builds = True
    push_files(created_algorithm, {"src/hello.py": HELLO_PY}, tmp_path)
    build_id = bot.sandbox.client().builds("demo/hello")["results"][0]["build_id"]
    bot.command(f"logs demo/hello {build_id}")
    assert bot.reply_containing("is still running").is_ephemeral
    bot.box.release_builds()
    bot.box.wait_for_builds()


# -- changes -----------------------------------------------------------------------------


def test_create_announces_and_explains_the_push(bot, demo_channel):
    bot.command('create demo/sentiment label="Sentiment" tagline="Is it nice?"')
    message = announced(bot, "created *demo/sentiment*")
    assert f"git clone {bot.sandbox.url}/git/demo/sentiment.git" in message_text(message)
    assert "user name and, as the password, an API key" in message_text(message)  # git over HTTP needs them
    info = bot.sandbox.client().info("demo/sentiment")
    assert info["details"]["label"] == "Sentiment"
    assert info["settings"]["license"] == "apl" and info["settings"]["network_access"] == "isolated"


def test_create_errors(bot, demo_channel):
    bot.command("create demo/sentiment")
    assert bot.reply_containing("label= is required").is_ephemeral
    bot.sandbox.create_algorithm("demo/taken")
    bot.command("create demo/taken label=Again")
    assert bot.reply_containing("already exists").is_ephemeral
    bot.command("create demo/x label=X language=cobol")
    assert bot.reply_containing("language must be one of").is_ephemeral


def test_update_changes_settings_and_keeps_the_rest(bot, created_algorithm):
    bot.command("update demo/hello license=mit pipeline_enabled=true")
    announced(bot, "updated *demo/hello*")
    settings = bot.sandbox.client().info("demo/hello")["settings"]
    assert settings["license"] == "mit" and settings["pipeline_enabled"] is True
    assert settings["source_visibility"] == "closed"


def test_update_without_changes(bot, demo_channel):
    bot.command("update demo/hello")
    assert bot.reply_containing("give at least one key=value").is_ephemeral


def test_compile_announces_the_build(bot, built_algorithm):
    bot.command("compile demo/hello")
    message = announced(bot, "started a build of *demo/hello*")
    assert "build `" in message_text(message)
    bot.box.wait_for_builds()


def test_compile_with_no_code_says_why(bot, demo_channel):
    bot.sandbox.create_algorithm("demo/empty")
    bot.command("compile demo/empty")
    assert bot.reply_containing("Algorithmia refused the request").is_ephemeral


def test_publish_then_republish_then_releases_and_versions(bot, built_algorithm):
    bot.command('publish demo/hello notes="faster tokenizer"')
    message = announced(bot, "published *demo/hello* *0.1.0*")
    assert "faster tokenizer" in message_text(message) and f"<@{ADMIN}>" in message_text(message)

    bot.command("publish demo/hello")
    assert bot.reply_containing("already published").is_ephemeral

    bot.command("compile demo/hello")
    announced(bot, "started a build")
    bot.box.wait_for_builds()
    bot.command("publish demo/hello major")
    announced(bot, "*1.0.0*")

    bot.command("releases demo/hello")
    releases = bot.reply_containing("Releases of demo/hello")
    text = message_text(releases)
    assert text.index("1.0.0") < text.index("0.1.0") and "faster tokenizer" in text

    bot.command("versions demo/hello limit=1")
    page = bot.reply_containing("Versions of demo/hello")
    assert "1.0.0" in message_text(page) and "0.1.0" not in message_text(page)
    value = button_value(page, ACTION_MORE_VERSIONS)
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=page.ts,
        action_id=ACTION_MORE_VERSIONS,
        value=value,
    )
    bot.reply(lambda m: m.ts != page.ts and "0.1.0" in message_text(m) and "Versions of" in message_text(m))


def test_public_publish_asks_first(bot, built_algorithm):
    bot.command("publish demo/hello callability=public")
    question = bot.reply_containing("*public* callability")
    assert question.is_ephemeral
    build_id = bot.sandbox.client().builds("demo/hello")["results"][0]["build_id"]
    assert f"Confirming publishes build `{build_id}` (commit `" in message_text(question)  # what it releases
    assert bot.sandbox.client().info("demo/hello").get("version_info", {}).get("semantic_version") is None
    value = button_value(question, ACTION_CONFIRM_PUBLISH)
    assert json.loads(value)["opts"]["build"] == build_id
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=question.ts,
        action_id=ACTION_CONFIRM_PUBLISH,
        value=value,
    )
    announced(bot, "published *demo/hello* *0.1.0* (public)")
    assert bot.sandbox.client().info("demo/hello")["settings"]["algorithm_callability"] == "public"
    with database(bot.settings.db_path) as db:
        rows = audit.recent(db, _ref(), algorithm="demo/hello")
    assert rows[0]["action"] == "button:publish" and rows[0]["result"] == "0.1.0"


def test_cancelled_public_publish_changes_nothing(bot, built_algorithm):
    bot.command("publish demo/hello callability=public")
    question = bot.reply_containing("*public* callability")
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=question.ts,
        action_id="algo_cancel",
        value="cancel",
    )
    bot.reply_containing("Publishing was cancelled")
    assert bot.sandbox.client().info("demo/hello").get("version_info", {}).get("semantic_version") is None


def _ref():
    return ChannelRef(TEAM_ID, DEV_CHANNEL)


# -- audit ---------------------------------------------------------------------------------


def test_audit_lists_this_channels_actions_and_verify_catches_an_edit(bot, built_algorithm, monkeypatch):
    bot.command("publish demo/hello")
    announced(bot, "published")
    bot.command("info demo/nothing")
    bot.reply_containing("No such algorithm")
    bot.command("audit")
    trail = bot.reply_containing("Audit trail of this channel")
    text = message_text(trail)
    assert "ran `/algo publish` on *demo/hello* → version *0.1.0*" in text
    assert "ran `/algo info` on *demo/nothing* — failed" in text

    monkeypatch.setenv("ALGOBOT_SECRET_KEY", bot.settings.secret_key)  # the chain is sealed with it
    assert main(["audit", "verify", "--db", bot.settings.db_path]) == 0
    with database(bot.settings.db_path) as db:
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        for (name,) in db.execute("select name from sqlite_master where type='trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("update audit set result = '9.9.9' where action = 'publish'")
    assert main(["audit", "verify", "--db", bot.settings.db_path]) == 1


# -- keys, slowness, signatures ---------------------------------------------------------------


def test_no_key_says_how_to_login_and_sends_nothing(bot):
    before = sum(bot.box.request_counts.values())
    bot.command("info demo/hello", user=MEMBER)
    assert bot.reply_containing("/algo login", user=MEMBER).is_ephemeral
    assert sum(bot.box.request_counts.values()) == before


def test_a_key_set_in_one_channel_is_not_used_in_another(bot):
    bot.login_demo(channel=DEV_CHANNEL)
    bot.sandbox.create_algorithm("demo/hello")
    before = sum(bot.box.request_counts.values())
    bot.command("info demo/hello", channel=OTHER_CHANNEL)
    assert bot.reply_containing("has no Algorithmia API key", channel=OTHER_CHANNEL).is_ephemeral
    assert sum(bot.box.request_counts.values()) == before


def test_rejected_and_underpowered_keys(bot):
    bot.set_key("simNotAKeyTheSandboxKnows")
    bot.command("info demo/hello")
    assert bot.reply_containing("was rejected by Algorithmia; run `/algo login`").is_ephemeral
    bot.set_key(bot.sandbox.key("demo", manage=False))
    bot.command("info demo/hello")
    assert bot.reply_containing("may not manage *demo/hello*").is_ephemeral


@pytest.mark.parametrize("typo", ["nosuch/thing", "Demo/Hello"])
def test_a_typo_in_the_owner_does_not_send_people_to_replace_a_good_key(bot, created_algorithm, typo):
    bot.command("info demo/hello")
    bot.reply_containing("Latest version")
    bot.command(f"info {typo}")
    reply = bot.reply_containing(f"*{typo}* does not exist or belongs to someone")
    text = message_text(reply)
    assert reply.is_ephemeral and "manages algorithms of *demo*" in text and "case-sensitive" in text
    assert "/algo login" not in text


def test_a_403_with_nothing_known_about_the_key_names_both_causes(bot, demo_channel):
    bot.command("info nosuch/thing")
    text = message_text(bot.reply_containing("may not manage *nosuch/thing*"))
    assert "does not exist or belongs to someone" in text and "check the owner's spelling" in text
    assert "*Allow this key to manage my algorithms*" in text


def test_unreachable_endpoint_names_it(bot):
    bot.set_key("simWhatever", endpoint="http://127.0.0.1:9")
    bot.command("info demo/hello")
    reply = bot.reply_containing("could not be reached")
    assert "http://127.0.0.1:9" in message_text(reply) and "was not carried out" in message_text(reply)


def test_ack_is_fast_while_algorithmia_is_slow(bot, created_algorithm):
    bot.box.latency_ms = 5000
    started = time.monotonic()
    response = bot.command("info demo/hello")
    acked_in = time.monotonic() - started
    assert response.status_code == 200 and acked_in < 3.0
    bot.slack.wait_for(
        lambda: any(
            "Latest version" in message_text(m) for m in bot.slack.messages(DEV_CHANNEL, include_ephemeral_for=ADMIN)
        ),
        timeout=20,
    )
    bot.box.latency_ms = 0


@pytest.mark.parametrize("kind", ["bad signature", "stale timestamp"])
def test_unsigned_requests_are_rejected_without_side_effects(bot, created_algorithm, kind):
    before = sum(bot.box.request_counts.values())
    if kind == "bad signature":
        response = bot.command("compile demo/hello", secret="not-the-secret")
    else:
        response = bot.command("compile demo/hello", timestamp=int(time.time()) - 600)
    assert response.status_code == 401
    assert sum(bot.box.request_counts.values()) == before
    assert bot.slack.calls("chat.postMessage") == []
    with database(bot.settings.db_path) as db:
        assert [row["action"] for row in audit.iter_rows(db)] == ["anchor"]  # only the start's sealed row


def test_unknown_path_is_404_and_health_is_ok(bot):
    base = bot.url.rsplit("/slack/events", 1)[0]
    assert requests.get(base + "/nope", timeout=5).status_code == 404
    health = requests.get(base + "/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["ok"] is True


def test_bot_not_in_channel_still_announces_through_the_response_url(bot):
    bot.login_demo(channel=OTHER_CHANNEL)
    bot.command('create demo/outside label="Outside"', channel=OTHER_CHANNEL)
    message = announced(bot, "created *demo/outside*", channel=OTHER_CHANNEL)
    assert message.source == "response_url"
    assert [c.response.get("error") for c in bot.slack.calls("chat.postMessage")] == ["not_in_channel"]
