"""Release notices and alerts that matter, end to end: sandbox, poller, outbox, local Slack.

A version published straight through the API (not from Slack) reaches a watching channel once and
within two minutes; `only=` takes comma lists (`releases`, `failed,releases`, `changes`); failures
mention who started them. Time is passed in (`Clock`); nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime

from algobot import audit, blocks
from algobot.ids import ACTION_MORE_RELEASES
from algobot.notify import store
from algobot.store import connect
from tests.fixtures.bot import button_value, message_text
from tests.fixtures.sandbox import BROKEN_PY, HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER
from tests.test_notifications import REF, make_job, notices, run_until, tick_together, watched

VERSIONS = ("GET", "/v1/algorithms/{u}/{a}/versions")


def releases_posted(bot, channel=DEV_CHANNEL):
    """Channel messages that are release notices."""
    return [m for m in bot.slack.messages(channel) if not m.is_ephemeral and "was published" in message_text(m)]


def settled(bot, count):
    """Every tracked build of the channel has ended and been dealt with (notified or filtered out)."""

    def check():
        with connect(bot.settings.database_location) as db:
            rows = store.tracked(db, REF)
        return len(rows) >= count and all(r["state"] == "done" for r in rows)

    return check


def push_and_settle(bot, job, clock, clone, files, tmp_path, count, message="update"):
    sha = push_files(clone, files, tmp_path, message=message)
    bot.box.wait_for_builds()
    run_until(job, clock, settled(bot, count))
    return sha


def test_a_version_published_through_the_api_reaches_the_channel_once_within_two_minutes(bot, clock, job, tmp_path):
    clone = watched(bot, "demo/hello")
    push_and_settle(bot, job, clock, clone, {"src/hello.py": HELLO_PY}, tmp_path, 1)
    for _ in range(20):  # well past the look-harder window after the build: back to once a minute
        job.tick(clock.advance(11))
    bot.box.reset_request_counts()
    for _ in range(11):  # two minutes of quiet: at most one versions request a minute
        job.tick(clock.advance(11))
    assert 1 <= bot.box.request_counts.get(VERSIONS, 0) <= 3
    assert releases_posted(bot) == []

    sha = bot.sandbox.client().builds("demo/hello")["results"][0]["commit_sha"]
    bot.sandbox.client().publish(
        "demo/hello", version_info={"version_type": "minor", "release_notes": "faster tokenizer"}
    )
    published_at = clock.now
    run_until(job, clock, lambda: releases_posted(bot), step=5)
    assert clock.now - published_at <= 120
    [notice] = releases_posted(bot)
    text = message_text(notice)
    assert "*demo/hello* *0.1.0* was published" in text and "faster tokenizer" in text
    assert sha[:7] in text and "private" in text and "published outside Slack" in text

    # A second poller, and one that lost what was seen (a restore, a crash before the mark), repeat nothing.
    with connect(bot.settings.database_location) as db:
        store.update_subscription(db, store.subscription(db, REF, "demo/hello"), release_seen="", next_release_at=0)
    other = make_job(bot)
    for _ in range(12):
        job.tick(clock.advance(11))
        other.tick(clock.now)
    assert len(releases_posted(bot)) == 1


def test_two_pollers_at_once_post_a_release_once(bot, clock, tmp_path):
    clone = watched(bot, "demo/hello")
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path)
    bot.box.wait_for_builds()
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"})
    tick_together([make_job(bot), make_job(bot)], clock, ticks=8)
    assert len(releases_posted(bot)) == 1 and len(notices(bot)) == 1


def test_a_release_right_after_a_successful_build_is_found_within_a_few_cycles(bot, clock, job, tmp_path):
    clone = watched(bot, "demo/hello")
    push_and_settle(bot, job, clock, clone, {"src/hello.py": HELLO_PY}, tmp_path, 1)
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"})
    published_at = clock.now
    run_until(job, clock, lambda: releases_posted(bot), step=5)
    assert clock.now - published_at <= 20  # looked for every cycle, not once a minute


def test_versions_published_before_watching_are_history(bot, built_algorithm, clock, job):
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"})
    bot.command("watch demo/hello")
    bot.reply(lambda m: "subscribed this channel" in message_text(m))
    # A subscription from before releases were reported has no baseline: its first check takes one.
    with connect(bot.settings.database_location) as db:
        store.update_subscription(db, store.subscription(db, REF, "demo/hello"), release_seen=None)
    for _ in range(15):
        job.tick(clock.advance(11))
    assert releases_posted(bot) == []
    bot.command("compile demo/hello")
    bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: "succeeded" in " ".join(message_text(m) for m in notices(bot)))
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "major"})
    run_until(job, clock, lambda: releases_posted(bot))
    [notice] = releases_posted(bot)
    assert "*1.0.0* was published" in message_text(notice)


def test_a_release_from_slack_says_who_published_it(bot, built_algorithm, clock, job):
    bot.command("watch demo/hello")
    bot.reply(lambda m: "subscribed this channel" in message_text(m))
    bot.command('publish demo/hello notes="first"')
    bot.reply(lambda m: not m.is_ephemeral and "*0.1.0*" in message_text(m) and "published" in message_text(m))
    run_until(job, clock, lambda: releases_posted(bot))
    [notice] = releases_posted(bot)
    assert f"published from Slack by <@{ADMIN}>" in message_text(notice)


def test_only_releases_posts_releases_alone(bot, clock, job, tmp_path):
    clone = watched(bot, "demo/hello", only="releases")
    push_and_settle(bot, job, clock, clone, {"src/hello.py": HELLO_PY}, tmp_path, 1)
    assert notices(bot) == []
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"})
    run_until(job, clock, lambda: releases_posted(bot))
    assert notices(bot) == [] and len(releases_posted(bot)) == 1


def test_only_failed_and_releases(bot, clock, job, tmp_path):
    clone = watched(bot, "demo/hello", only="failed,releases")
    push_and_settle(bot, job, clock, clone, {"src/hello.py": HELLO_PY}, tmp_path, 1)
    assert notices(bot) == []
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"})
    run_until(job, clock, lambda: releases_posted(bot))
    push_and_settle(bot, job, clock, clone, {"src/bad.py": BROKEN_PY}, tmp_path, 2, message="break")
    run_until(job, clock, lambda: notices(bot))
    [failure] = notices(bot)
    assert "failed" in message_text(failure) and len(releases_posted(bot)) == 1
    bot.command("watching")
    assert "*demo/hello* — failed builds and releases" in message_text(bot.reply_containing("*demo/hello* —"))


def test_only_failed_alone_posts_no_releases(bot, built_algorithm, clock, job):
    bot.command("watch demo/hello only=failed")
    bot.reply(lambda m: "subscribed this channel to failed builds of" in message_text(m))
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"})
    for _ in range(15):
        job.tick(clock.advance(11))
    assert releases_posted(bot) == []


def test_only_changes_posts_the_first_failure_and_the_fix(bot, clock, job, tmp_path):
    clone = watched(bot, "demo/hello", only="changes")
    broke = push_and_settle(bot, job, clock, clone, {"src/bad.py": BROKEN_PY}, tmp_path, 1, message="break")
    push_and_settle(bot, job, clock, clone, {"src/worse.py": BROKEN_PY}, tmp_path, 2, message="still broken")
    assert len(notices(bot)) == 1  # the second failure changes nothing
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, message="fix", delete=("src/bad.py", "src/worse.py"))
    bot.box.wait_for_builds()
    run_until(job, clock, settled(bot, 3))
    for _ in range(5):
        job.tick(clock.advance(11))
    first, fix = notices(bot)
    assert "failed" in message_text(first) and f"Broken since `{broke[:12]}`" in message_text(first)
    assert "succeeded" in message_text(fix) and "Fixed after 2 failed builds" in message_text(fix)
    push_and_settle(bot, job, clock, clone, {"src/more.py": HELLO_PY}, tmp_path, 4, message="green again")
    assert len(notices(bot)) == 2  # a success after a success is not news


def test_a_failed_build_started_from_slack_mentions_who_started_it(bot, clock, job, tmp_path):
    clone = watched(bot, "demo/hello")
    push_and_settle(bot, job, clock, clone, {"src/bad.py": BROKEN_PY}, tmp_path, 1, message="break")
    [pushed] = notices(bot)
    assert "of yours failed" not in message_text(pushed)  # nobody known started it
    bot.command("compile demo/hello", user=ADMIN)
    started = bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: "failed" in message_text(bot.slack.message(DEV_CHANNEL, started.ts)))
    updated = bot.slack.message(DEV_CHANNEL, started.ts)
    assert f"<@{ADMIN}>, this build of yours failed." in message_text(updated)
    assert f"<@{ADMIN}>" in updated.text  # in the notification text too, which is what pings


def test_mention_off_mentions_nobody(bot, clock, job, tmp_path):
    clone = watched(bot, "demo/hello", only="all mention=off")
    push_and_settle(bot, job, clock, clone, {"src/bad.py": BROKEN_PY}, tmp_path, 1, message="break")
    bot.command("compile demo/hello", user=ADMIN)
    started = bot.reply(lambda m: not m.is_ephemeral and "started a build" in message_text(m))
    bot.box.wait_for_builds()
    run_until(job, clock, lambda: "failed" in message_text(bot.slack.message(DEV_CHANNEL, started.ts)))
    assert "of yours failed" not in message_text(bot.slack.message(DEV_CHANNEL, started.ts))
    bot.command("watching")
    assert "failures mention nobody" in message_text(bot.reply_containing("*demo/hello* —"))


def test_bad_only_values_are_refused_with_the_fix(bot, demo_channel):
    for text, problem in [
        ("watch demo/hello only=all,failed", "only=all already means every build and release"),
        ("watch demo/hello only=changes,failed", "give it without failed or succeeded"),
        ("watch demo/hello only=failed,,releases", "comma list of words without blanks"),
        ("watch demo/hello only=failed,sometimes", "'sometimes' is not one of them"),
        ("watch demo/hello mention=loud", "mention= must be one of on, off"),
    ]:
        response = bot.command(text)
        assert response.status_code == 200 and problem in response.text, (text, response.text)
    with connect(bot.settings.database_location) as db:
        assert store.subscriptions(db, REF) == []


def test_me_maps_a_person_to_an_algorithmia_user_and_their_failures_mention_them(bot, clock, job, tmp_path):
    bot.command("me", user=MEMBER)
    assert bot.reply_containing("You have not said which Algorithmia user you are", user=MEMBER).is_ephemeral
    bot.command("me algorithmia=demo/x", user=MEMBER)
    refused = bot.reply_containing("not a valid user name", user=MEMBER)
    assert refused.is_ephemeral and "/algo me [algorithmia=USERNAME]" in message_text(refused)
    bot.command("me algorithmia=demo", user=MEMBER)
    assert bot.reply_containing("Noted: you are *demo*", user=MEMBER).is_ephemeral
    bot.command("me", user=MEMBER)
    assert bot.reply_containing("You are *demo* on Algorithmia", user=MEMBER).is_ephemeral

    clone = watched(bot, "demo/hello")  # owned by the Algorithmia user demo
    push_and_settle(bot, job, clock, clone, {"src/bad.py": BROKEN_PY}, tmp_path, 1, message="break")
    [failure] = notices(bot)
    assert f"<@{MEMBER}>, this build of yours failed." in message_text(failure) and f"<@{MEMBER}>" in failure.text
    push_files(clone, {"src/hello.py": HELLO_PY}, tmp_path, message="fix", delete=("src/bad.py",))
    bot.box.wait_for_builds()
    run_until(job, clock, settled(bot, 2))
    assert f"<@{MEMBER}>" not in message_text(notices(bot)[-1])  # a success pings nobody
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"})
    run_until(job, clock, lambda: releases_posted(bot))
    assert f"published outside Slack · owner <@{MEMBER}>" in message_text(releases_posted(bot)[0])


def test_a_mapping_is_per_person_and_workspace_and_never_pings_others(bot, clock, job, tmp_path):
    bot.command("me algorithmia=someone_else", user=MEMBER)
    bot.reply_containing("Noted: you are *someone_else*", user=MEMBER)
    clone = watched(bot, "demo/hello")
    push_and_settle(bot, job, clock, clone, {"src/bad.py": BROKEN_PY}, tmp_path, 1, message="break")
    [failure] = notices(bot)
    assert "of yours failed" not in message_text(failure) and f"<@{MEMBER}>" not in failure.text
    with connect(bot.settings.database_location) as db:
        assert store.algorithmia_user(db, "", REF.team_id, MEMBER) == "someone_else"
        assert store.algorithmia_user(db, "", "T-other", MEMBER) is None


def announced(bot, text):
    return bot.reply(lambda m: not m.is_ephemeral and text in message_text(m))


def test_releases_lists_the_api_versions_joined_with_the_audit_trail_with_paging(bot, built_algorithm):
    api = bot.sandbox.client()
    api.publish("demo/hello", version_info={"version_type": "minor", "release_notes": "from the CLI"})  # 0.1.0
    bot.command("compile demo/hello")
    announced(bot, "started a build")
    bot.box.wait_for_builds()
    bot.command('publish demo/hello notes="from slack"')
    announced(bot, "*0.2.0*")
    bot.command("compile demo/hello")
    bot.reply(lambda _m: sum("started a build" in message_text(m) for m in bot.slack.messages(DEV_CHANNEL)) == 2)
    bot.box.wait_for_builds()
    api.publish("demo/hello", version_info={"version_type": "minor"})  # 0.3.0, as an approved request records it:
    with connect(bot.settings.database_location) as db:
        audit.record(
            db,
            audit.AuditEntry.in_channel(
                REF,
                user_id=ADMIN,
                action="button:publish",
                source="button",
                algorithm="demo/hello",
                arguments={"requested_by": MEMBER, "request_id": "r1"},
                result="0.3.0",
            ),
            now=datetime.now(UTC),
            key=bot.cipher.audit_key,
        )

    bot.command("releases demo/hello limit=2")
    page = bot.reply_containing("Releases of demo/hello")
    text = message_text(page)
    assert page.is_ephemeral and text.index("0.3.0") < text.index("0.2.0") and "0.1.0" not in text
    assert f"requested by <@{MEMBER}>, approved by <@{ADMIN}>" in text
    assert f"published from Slack by <@{ADMIN}>" in text and "from slack" in text
    bot.slack.click(
        bot.url,
        user=ADMIN,
        channel=DEV_CHANNEL,
        message_ts=page.ts,
        action_id=ACTION_MORE_RELEASES,
        value=button_value(page, ACTION_MORE_RELEASES),
    )
    more = bot.reply(lambda m: m.ts != page.ts and "Releases of demo/hello" in message_text(m))
    assert "0.1.0" in message_text(more) and "published outside Slack" in message_text(more)
    assert "from the CLI" in message_text(more) and "0.2.0" not in message_text(more)


def test_releases_of_an_algorithm_never_published_says_so(bot, created_algorithm):
    bot.command("releases demo/hello")
    assert "demo/hello has no published version yet." in message_text(bot.reply_containing("Releases of"))


def test_a_release_notice_escapes_what_the_api_says_and_fits_slack():
    notes = "<!channel> " + "x" * 4000
    version = {
        "version_info": {"semantic_version": "1.2.3", "git_hash": "a" * 40, "release_notes": notes},
        "settings": {"algorithm_callability": "public"},
    }
    message = blocks.release_notice_message("demo/hello", version, "published outside Slack")
    text = str(message["blocks"])
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "*demo/hello* *1.2.3* was published" in text and "aaaaaaa" in text and "public" in text
    assert all(len(str(b)) < 3500 for b in message["blocks"]) and len(message["text"]) <= 4000
