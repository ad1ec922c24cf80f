"""Two-person approval for publishes, end to end over signed HTTP against the sandbox and the local Slack.

Under `/algo policy approvals=on` a publish posts a release request pinned to one build; another person's
Approve publishes exactly that build's commit (or fails safe), Reject… asks for a reason, the requester may
Cancel, and the scheduler expires what nobody decided. Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest

from algobot import audit, messages, release_requests
from algobot.channels import ChannelRef
from algobot.ids import (
    ACTION_APPROVE_REQUEST,
    ACTION_CANCEL_REQUEST,
    ACTION_OPEN_PUBLISH,
    ACTION_PUBLISH_CALLABILITY,
    ACTION_REJECT_REASON,
    ACTION_REJECT_REQUEST,
    BLOCK_PUBLISH_CALLABILITY,
    BLOCK_REJECT_REASON,
    VIEW_PUBLISH,
    VIEW_REJECT_REQUEST,
)
from algobot.release_requests import RequestExpiry
from algobot.store import open_store
from tests.fixtures.bot import (
    button_value,
    message_text,
)
from tests.fixtures.engines import on_both_engines  # noqa: F401 - every test here runs on both engines
from tests.fixtures.sandbox import HELLO_PY, push_files
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, MEMBER, TEAM_ID
from tests.test_notifications import Clock, make_job

REF = ChannelRef(TEAM_ID, DEV_CHANNEL)
CAROL = "U0CAROL"


@pytest.fixture(autouse=True)
def _carol(slack) -> None:
    """A third person in the workspace, for a second approver and a bystander."""
    slack.add_user(CAROL, "carol", real_name="Carol")


def stored(bot) -> tuple[list[release_requests.ReleaseRequest], list[dict]]:
    """Every request of the channel (any status) and the channel's audit rows, oldest first."""
    db = open_store(bot.settings.database_location)
    try:
        ids = [row["id"] for row in db.query("SELECT id FROM release_requests ORDER BY requested_at")]
        return [release_requests.get(db, i) for i in ids], list(reversed(audit.recent(db, REF, limit=50)))
    finally:
        db.close()


def approvals_on(bot, options: str = "") -> None:
    bot.command(f"policy approvals=on {options}".strip())
    bot.reply(lambda m: not m.is_ephemeral and "changed this channel's release policy" in message_text(m))


def pushed(bot, clone: str, tmp_path, text: str = HELLO_PY, message: str = "first") -> tuple[str, str]:
    """Push, wait for the build; (build id, commit)."""
    sha = push_files(clone, {"src/hello.py": text}, tmp_path, message=message)
    bot.box.wait_for_builds()
    return bot.sandbox.client().builds("demo/hello")["results"][0]["build_id"], sha


def request_message(bot):
    return bot.reply(lambda m: not m.is_ephemeral and "asks to publish" in message_text(m))


def current(bot, message):
    """The message as it is now (updates in place included)."""
    return bot.slack.message(DEV_CHANNEL, message.ts)


def click(bot, message, action_id: str, user: str):
    return bot.slack.click(
        bot.url,
        user=user,
        channel=DEV_CHANNEL,
        message_ts=message.ts,
        action_id=action_id,
        value=button_value(message, action_id),
    )


def published_versions(bot) -> list[dict]:
    return bot.sandbox.client().versions("demo/hello", published=True)["results"]


def has_buttons(message) -> bool:
    return any(block.get("type") == "actions" for block in message.blocks or [])


def requested(bot, clone, tmp_path, command: str = 'publish demo/hello notes="faster" sample_input="world"'):
    """MEMBER asks to publish the first build; (request message, build id, commit)."""
    approvals_on(bot)
    build_id, sha = pushed(bot, clone, tmp_path)
    bot.command(command, user=MEMBER)
    return request_message(bot), build_id, sha


def test_a_request_pins_the_build_and_only_another_person_publishes_exactly_it(bot, created_algorithm, tmp_path):
    message, build_id, sha = requested(bot, created_algorithm, tmp_path)
    text = message_text(message)
    assert "<@U0MEMBER> asks to publish *demo/hello*" in text
    assert build_id in text and sha[:7] in text and "minor" in text and "faster" in text and "world" in text
    assert published_versions(bot) == []  # a request publishes nothing
    [request], rows = stored(bot)
    assert (request.status, request.build_id, request.commit_sha, request.message_ts) == (
        "open",
        build_id,
        sha,
        message.ts,
    )
    assert rows[-1]["action"] == "request" and rows[-1]["user_id"] == MEMBER and rows[-1]["result"] == request.id
    assert rows[-1]["arguments"]["git_hash"] == sha

    click(bot, message, ACTION_APPROVE_REQUEST, MEMBER)
    refusal = bot.reply_containing("someone else must approve", user=MEMBER)
    assert refusal.is_ephemeral and published_versions(bot) == []

    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    announced = bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello* *0.1.0*" in message_text(m))
    assert "Requested by <@U0MEMBER>, approved by <@U0ADMIN>" in message_text(announced)
    assert f"commit `{sha[:7]}`" in message_text(announced)
    [version] = published_versions(bot)
    assert version["version_info"]["git_hash"] == sha and version["version_info"]["release_notes"] == "faster"
    updated = current(bot, message)
    assert "Approved by <@U0ADMIN>, published as *0.1.0*" in message_text(updated) and not has_buttons(updated)

    [request], rows = stored(bot)
    assert (request.status, request.decided_by, request.published_version) == ("approved", ADMIN, "0.1.0")
    refused, approved = rows[-2], rows[-1]
    assert (refused["action"], refused["user_id"], refused["outcome"]) == ("button:publish", MEMBER, "refused")
    assert (approved["action"], approved["user_id"], approved["outcome"]) == ("button:publish", ADMIN, "ok")
    assert approved["arguments"]["requested_by"] == MEMBER and approved["arguments"]["request_id"] == request.id
    assert approved["result"] == "0.1.0" and approved["arguments"]["git_hash"] == sha

    bot.command("audit", user=MEMBER)
    trail = message_text(bot.reply_containing("asked for a release", user=MEMBER))
    assert f"<@U0MEMBER> asked for a release of *demo/hello* (build `{build_id}`)" in trail
    assert "→ version *0.1.0*, requested by <@U0MEMBER>" in trail
    assert "refused: someone else must approve" in trail


def test_a_newer_build_before_approval_fails_safe_and_the_request_stays_open(bot, created_algorithm, tmp_path):
    message, build_id, _ = requested(bot, created_algorithm, tmp_path)
    newer_id, _ = pushed(bot, created_algorithm, tmp_path, HELLO_PY + "# v2\n", "second")

    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    answer = message_text(bot.reply_containing("Nothing was published"))
    assert f"pins build `{build_id}`" in answer and f"build `{newer_id}`" in answer and "stays open" in answer
    assert published_versions(bot) == []
    [request], rows = stored(bot)
    assert request.status == "open" and request.decided_by is None
    assert rows[-1]["outcome"] == "error" and "newer build" in rows[-1]["error"]
    assert has_buttons(current(bot, message))

    bot.command("requests", user=CAROL)
    listed = bot.reply_containing("Open release requests", user=CAROL)
    assert listed.is_ephemeral and request.id in message_text(listed) and build_id in message_text(listed)


def test_a_pinned_build_already_published_closes_the_request(bot, created_algorithm, tmp_path):
    message, build_id, sha = requested(bot, created_algorithm, tmp_path)
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"}, git_hash=sha)

    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    answer = message_text(bot.reply_containing("The request is closed"))
    assert f"build `{build_id}` was already published as *0.1.0*" in answer
    assert len(published_versions(bot)) == 1
    [request], _ = stored(bot)
    assert request.status == "closed"
    updated = current(bot, message)
    assert "Closed" in message_text(updated) and not has_buttons(updated)


def test_reject_asks_for_a_reason_and_updates_the_request(bot, created_algorithm, tmp_path):
    message, _, _ = requested(bot, created_algorithm, tmp_path)
    click(bot, message, ACTION_REJECT_REQUEST, ADMIN)
    dialog = bot.slack.wait_for(
        lambda: [v for v in bot.slack.views(user=ADMIN) if v.callback_id == VIEW_REJECT_REQUEST]
    )[0]

    answer = bot.slack.submit_view(
        bot.url, user=ADMIN, view_id=dialog.id, values={BLOCK_REJECT_REASON: {ACTION_REJECT_REASON: "xoxb-123-456-abc"}}
    )
    assert "errors" in answer.json()  # a token-shaped reason is refused in the dialog, which stays open
    bot.slack.submit_view(
        bot.url,
        user=ADMIN,
        view_id=dialog.id,
        values={BLOCK_REJECT_REASON: {ACTION_REJECT_REASON: "needs a changelog"}},
    )
    bot.reply_containing("You rejected the release request")
    updated = bot.slack.wait_for(lambda: "Rejected" in message_text(current(bot, message)) and current(bot, message))
    assert "Rejected by <@U0ADMIN>: needs a changelog" in message_text(updated) and not has_buttons(updated)
    [request], rows = stored(bot)
    assert (request.status, request.reason) == ("rejected", "needs a changelog")
    assert (rows[-1]["action"], rows[-1]["source"], rows[-1]["arguments"]["reason"]) == (
        "reject",
        "modal",
        "needs a changelog",
    )

    bot.command(f"publish demo/hello request={request.id}", user=CAROL)  # typed approval after the rejection
    assert "Rejected by <@U0ADMIN>" in message_text(bot.reply_containing("no longer open", user=CAROL))
    assert published_versions(bot) == []


def test_only_the_requester_cancels(bot, created_algorithm, tmp_path):
    message, _, _ = requested(bot, created_algorithm, tmp_path)
    click(bot, message, ACTION_CANCEL_REQUEST, ADMIN)
    assert "Only <@U0MEMBER>" in message_text(bot.reply_containing("can cancel it"))
    [request], rows = stored(bot)
    assert request.status == "open" and (rows[-1]["action"], rows[-1]["outcome"]) == ("cancel", "refused")

    click(bot, message, ACTION_CANCEL_REQUEST, MEMBER)
    bot.reply_containing("You cancelled", user=MEMBER)
    updated = current(bot, message)
    assert "Cancelled by <@U0MEMBER>" in message_text(updated) and not has_buttons(updated)
    [request], rows = stored(bot)
    assert request.status == "cancelled" and (rows[-1]["action"], rows[-1]["outcome"]) == ("cancel", "ok")
    assert published_versions(bot) == []


def test_requests_expire_on_the_passed_clock_announced_once(bot, created_algorithm, tmp_path):
    approvals_on(bot, "expires=1h")
    pushed(bot, created_algorithm, tmp_path)
    bot.command("publish demo/hello", user=MEMBER)
    message = request_message(bot)
    job, clock = make_job(bot), Clock()
    job.expiry = RequestExpiry(bot.settings.database_location, bot.cipher.audit_key)

    job.tick(clock.advance(30 * 60))
    [request], _ = stored(bot)
    assert request.status == "open" and has_buttons(current(bot, message))

    for _ in range(3):
        job.tick(clock.advance(3600))
    [request], rows = stored(bot)
    assert request.status == "expired" and request.decided_by == audit.SYSTEM_ACTOR
    expired = [m for m in bot.slack.messages(DEV_CHANNEL) if "expired without an approval" in message_text(m)]
    assert len(expired) == 1 and not expired[0].is_ephemeral
    updated = current(bot, message)
    assert "Expired" in message_text(updated) and not has_buttons(updated)
    assert [(r["action"], r["user_id"], r["source"]) for r in rows if r["action"] == "expire"] == [
        ("expire", audit.SYSTEM_ACTOR, "system")
    ]
    bot.command(f"publish demo/hello request={request.id}")
    assert "Expired" in message_text(bot.reply_containing("no longer open"))
    assert published_versions(bot) == []


def test_two_approvers_at_once_publish_once_and_the_other_sees_the_outcome(bot, created_algorithm, tmp_path):
    message, _, sha = requested(bot, created_algorithm, tmp_path)
    start = threading.Barrier(2)
    answers = []

    def approve(user: str) -> None:
        start.wait()
        answers.append(click(bot, message, ACTION_APPROVE_REQUEST, user).status_code)

    threads = [threading.Thread(target=approve, args=(user,)) for user in (ADMIN, CAROL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200, 200]
    bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello* *0.1.0*" in message_text(m))

    def loser_told():
        for user in (ADMIN, CAROL):
            for m in bot.slack.ephemerals(DEV_CHANNEL, user):
                if "no longer open" in message_text(m):
                    return user
        return None

    loser = bot.slack.wait_for(loser_told)
    winner = CAROL if loser == ADMIN else ADMIN
    [version] = published_versions(bot)
    assert version["version_info"]["git_hash"] == sha
    [request], rows = stored(bot)
    assert request.status == "approved" and request.decided_by == winner
    oks = [r for r in rows if r["action"] == "button:publish" and r["outcome"] == "ok"]
    assert [r["user_id"] for r in oks] == [winner]


def test_someone_not_on_the_allow_list_cannot_approve(bot, created_algorithm, tmp_path):
    bot.command(f"allow <@{MEMBER}>")
    bot.reply(lambda m: "may now run" in message_text(m))
    message, _, _ = requested(bot, created_algorithm, tmp_path)
    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    assert bot.reply_containing("limits create, update, compile, publish and call to its allow list").is_ephemeral
    assert published_versions(bot) == []
    [request], rows = stored(bot)
    assert request.status == "open" and (rows[-1]["action"], rows[-1]["outcome"]) == ("button:publish", "refused")


def test_public_requests_skip_the_confirm_dialog_and_show_a_public_marker(bot, created_algorithm, tmp_path):
    approvals_on(bot, "public_only=true")
    pushed(bot, created_algorithm, tmp_path)
    bot.command("publish demo/hello callability=public", user=MEMBER)
    message = request_message(bot)
    assert "*Public*: once approved, anyone may call this version" in message_text(message)
    assert not [m for m in bot.slack.ephemerals(DEV_CHANNEL, MEMBER) if "*public* callability" in message_text(m)]

    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    bot.reply(lambda m: not m.is_ephemeral and "*0.1.0* (public)" in message_text(m))
    assert published_versions(bot)[0]["settings"]["algorithm_callability"] == "public"

    # public_only: a private publish needs nobody else.
    pushed(bot, created_algorithm, tmp_path, HELLO_PY + "# v2\n", "second")
    bot.command("publish demo/hello", user=MEMBER)
    bot.reply(lambda m: not m.is_ephemeral and "<@U0MEMBER> published *demo/hello* *0.2.0*" in message_text(m))
    assert len(stored(bot)[0]) == 1


@pytest.mark.parametrize(
    ("typed", "sentence"),
    [
        ("requests approve 0123abcd", "takes `cancel` or `reject` and a request id"),
        ("requests cancel", "needs the request's id"),
        ("requests cancel zz", "'zz' is not a release request id"),
        ("requests cancel 0123abcd reason=why", "reason= goes with `reject` only"),
        ("requests reject 0123abcd", "has no release request `0123abcd`"),
        ("publish demo/hello request=nope", "'nope' is not a release request id"),
        ("publish demo/hello major request=0123abcd", "request= approves a release request exactly as it was asked"),
        ("publish demo/hello request=0123abcd", "has no release request `0123abcd`"),
    ],
)
def test_bad_request_input_names_the_problem_and_changes_nothing(bot, demo_channel, typed, sentence):
    bot.command(typed)
    answer = bot.reply_containing(sentence)
    assert answer.is_ephemeral
    assert stored(bot)[0] == []


def test_the_request_buttons_carry_the_request_and_nothing_secret(bot, created_algorithm, tmp_path):
    message, _, _ = requested(bot, created_algorithm, tmp_path)
    [request], _ = stored(bot)
    assert json.loads(button_value(message, ACTION_APPROVE_REQUEST)) == {
        "cmd": "publish",
        "args": ["demo/hello"],
        "opts": {"request": request.id},
    }
    assert json.loads(button_value(message, ACTION_REJECT_REQUEST)) == {
        "request": request.id,
        "algorithm": "demo/hello",
    }


def test_the_publish_dialog_under_approvals_posts_a_request_for_its_build(bot, created_algorithm, tmp_path):
    approvals_on(bot)
    old_id, _ = pushed(bot, created_algorithm, tmp_path)
    new_id, new_sha = pushed(bot, created_algorithm, tmp_path, HELLO_PY + "# v2\n", "second")
    bot.command(f"publish demo/hello build={old_id}", user=MEMBER)  # refused as any publish: a newer build exists
    refusal = bot.reply_containing("is no longer the newest", user=MEMBER)
    assert stored(bot)[0] == []

    click(bot, refusal, ACTION_OPEN_PUBLISH, MEMBER)  # its Publish… offers the newer build
    dialog = bot.slack.wait_for(lambda: [v for v in bot.slack.views(user=MEMBER) if v.callback_id == VIEW_PUBLISH])[0]
    values = {BLOCK_PUBLISH_CALLABILITY: {ACTION_PUBLISH_CALLABILITY: "public"}}
    bot.slack.submit_view(bot.url, user=MEMBER, view_id=dialog.id, values=values)
    message = request_message(bot)
    assert new_id in message_text(message) and "*Public*" in message_text(message)
    [request], rows = stored(bot)
    assert (request.build_id, request.commit_sha, request.callability) == (new_id, new_sha, "public")
    assert (rows[-1]["action"], rows[-1]["source"]) == ("request", "modal")
    assert published_versions(bot) == []


def test_an_approval_that_never_settled_opens_again_and_cannot_publish_twice(bot, created_algorithm, tmp_path):
    message, build_id, sha = requested(bot, created_algorithm, tmp_path)
    [request], _ = stored(bot)
    db = open_store(bot.settings.database_location)
    try:  # an approver's process claimed it, published, and died before recording anything
        claimed_at = datetime.now(UTC)
        release_requests.decide(db, request.id, release_requests.PUBLISHING, ADMIN, claimed_at)
    finally:
        db.close()
    bot.sandbox.client().publish("demo/hello", version_info={"version_type": "minor"}, git_hash=sha)
    job = make_job(bot)
    job.expiry = RequestExpiry(bot.settings.database_location, bot.cipher.audit_key)

    job.tick(claimed_at.timestamp() + 60)  # a minute on: still someone's claim
    assert stored(bot)[0][0].status == "publishing"
    job.tick(claimed_at.timestamp() + release_requests.STALE_CLAIM_SECONDS + 60)
    assert stored(bot)[0][0].status == "open"

    click(bot, message, ACTION_APPROVE_REQUEST, CAROL)
    assert f"build `{build_id}` was already published" in message_text(bot.reply_containing("closed", user=CAROL))
    assert len(published_versions(bot)) == 1 and stored(bot)[0][0].status == "closed"


def test_the_audit_trail_describes_each_step_of_a_request():
    base = {"time": "2026-11-27T10:00:00.000000+00:00", "algorithm": "demo/hello", "outcome": "ok", "result": None}
    arguments = {"request_id": "0123abcd", "build_id": "b-1", "requested_by": MEMBER}

    def said(**row) -> str:
        return messages.audit_entry({**base, "arguments": arguments, **row}, configure_actions=frozenset())

    assert "<@U0MEMBER> asked for a release of *demo/hello* (build `b-1`)" in said(
        action="request", source="command", user_id=MEMBER
    )
    rejected = said(action="reject", source="modal", user_id=ADMIN, arguments={**arguments, "reason": "no notes"})
    assert "<@U0ADMIN> rejected the release request of *demo/hello* (build `b-1`) (in a dialog): no notes" in rejected
    cancelled = said(action="cancel", source="button", user_id=MEMBER)
    assert "<@U0MEMBER> cancelled the release request of *demo/hello* (build `b-1`) (with a button)" in cancelled
    assert "algobot expired the release request nobody approved of *demo/hello*" in said(
        action="expire", source="system", user_id=audit.SYSTEM_ACTOR
    )
    approved = said(action="button:publish", source="button", user_id=ADMIN, result="0.1.0")
    assert "→ version *0.1.0*, requested by <@U0MEMBER>" in approved


def test_an_api_failure_during_approval_leaves_the_request_open_for_another_try(bot, created_algorithm, tmp_path):
    message, _, sha = requested(bot, created_algorithm, tmp_path)
    bot.box.inject_fault(503, path_contains="/versions")
    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    bot.reply(lambda m: m.is_ephemeral and "Algorithmia" in message_text(m) and "Working on" not in message_text(m))
    assert published_versions(bot) == []
    [request], rows = stored(bot)
    assert request.status == "open" and has_buttons(current(bot, message))
    assert (rows[-1]["action"], rows[-1]["outcome"]) == ("button:publish", "error")

    click(bot, message, ACTION_APPROVE_REQUEST, ADMIN)
    bot.reply(lambda m: not m.is_ephemeral and "published *demo/hello* *0.1.0*" in message_text(m))
    assert [v["version_info"]["git_hash"] for v in published_versions(bot)] == [sha]
