"""Request intake under load: acks never wait for a worker, overflow is told "busy", stuck work times out.

The bot runs under waitress with a tiny work queue; its channel's Algorithmia endpoint is a real HTTP
server on 127.0.0.1 that holds every request until the test releases it, so "the workers are all
busy waiting on Algorithmia" is a state the test controls, not a race.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
import requests

from algobot import ids, messages
from algobot.crypto import load_cipher
from algobot.db import database
from algobot.ids import BLOCK_LOGIN_KEY
from algobot.intake import AckPriority, WorkQueue
from algobot.localslack import LocalSlack
from algobot.localslack.client import post_signed
from algobot.server import BotServer, build_wsgi
from tests.fixtures.bot import RunningBot, make_settings, message_text
from tests.fixtures.slack import ADMIN, DEV_CHANNEL, TEAM_ID
from tests.test_channel_config_e2e import open_login, submit_key

WAIT = 10.0


class HeldAlgorithmia:
    """An Algorithmia endpoint that answers nothing until `release`, then 404 to everything."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.arrived = 0
        self._cond = threading.Condition()
        held = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with held._cond:
                    held.arrived += 1
                    held._cond.notify_all()
                held.released.wait(WAIT)
                body = json.dumps({"error": {"message": "algorithm not found", "code": 404}}).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_arrived(self, count: int) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.arrived >= count, WAIT), f"{self.arrived} of {count} arrived"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class QueuedBot:
    bot: RunningBot
    queue: WorkQueue
    held: HeldAlgorithmia
    clock: list[float]


@pytest.fixture
def queued_bot(tmp_path, slack: LocalSlack, sandbox) -> Iterator[QueuedBot]:
    """The bot with 2 workers and room for 1 waiting command; the channel's endpoint holds requests."""
    clock = [1000.0]
    queue = WorkQueue.threaded(2, capacity=1, deadline=60, clock=lambda: clock[0], watchdog=False)
    settings = make_settings(tmp_path, slack, sandbox.url)
    server = BotServer.create(build_wsgi(settings, work_queue=queue), "127.0.0.1", 0).start()
    held = HeldAlgorithmia()
    cipher = load_cipher(settings.secret_key, settings.db_path, logging.getLogger("tests"))
    bot = RunningBot(server.url + "/slack/events", settings, slack, sandbox, server, cipher)
    bot.set_key(sandbox.key("demo"), endpoint=held.url)
    try:
        yield QueuedBot(bot, queue, held, clock)
    finally:
        held.released.set()
        queue.shutdown(wait=True)
        server.close()
        held.close()


def replies(bot: RunningBot, text: str) -> list:
    return [m for m in bot.slack.messages(DEV_CHANNEL, include_ephemeral_for=ADMIN) if text in message_text(m)]


def not_answered(bot: RunningBot, reason: str) -> float:
    """algobot_commands_not_answered_total{reason=...} as /metrics shows it to an operator."""
    text = requests.get(bot.url.replace("/slack/events", "/metrics"), timeout=WAIT).text
    match = re.search(rf'^algobot_commands_not_answered_total\{{reason="{reason}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_acks_do_not_wait_for_busy_workers_and_overflow_is_told_busy(queued_bot):
    bot, held = queued_bot.bot, queued_bot.held
    shed_before = not_answered(bot, "busy")
    first, second = bot.command("info demo/one"), bot.command("info demo/two")
    held.wait_arrived(2)  # both workers now wait on Algorithmia
    waiting = bot.command("info demo/three")  # takes the one free place in the queue
    shed = bot.command("info demo/four")
    for response in (first, second, waiting, shed):
        assert response.status_code == 200 and response.elapsed.total_seconds() < 3
    assert first.text == second.text == waiting.text == ""
    assert shed.json()["text"] == messages.BUSY.format(name="info")  # told at once, in the ack itself
    assert not replies(bot, "failed with the error")  # Slack saw every ack in time

    assert not_answered(bot, "busy") == shed_before + 1  # operators see the shedding

    # Commands that never call Algorithmia have a lane of their own: answered while the others wait.
    assert bot.command("status").text == ""
    bot.reply_containing("set by <@U0ADMIN>")

    held.released.set()
    for name in ("one", "two", "three"):
        bot.reply_containing(f"demo/{name}")
    queued_bot.queue.shutdown(wait=True)
    assert held.arrived == 3  # the shed command never reached Algorithmia
    assert not replies(bot, "demo/four")


def test_a_login_dialog_submitted_while_busy_stays_open_with_the_busy_sentence(queued_bot):
    bot, held = queued_bot.bot, queued_bot.held
    for name in ("one", "two", "three"):
        bot.command(f"info demo/{name}")
    held.wait_arrived(2)
    view = open_login(bot)  # opens at once although every command worker waits on Algorithmia
    queued_bot.queue.local_limit = 0  # and now the local lane is full too
    response = submit_key(bot, view, bot.sandbox.key("demo"))
    assert response.status_code == 200
    assert bot.slack.view(view.id).errors == {BLOCK_LOGIN_KEY: messages.BUSY_FIELD}
    assert not bot.slack.view(view.id).closed  # what was typed is still there to submit again
    with database(bot.settings.db_path) as db:
        assert [r["endpoint"] for r in db["channel_keys"].rows] == [held.url]  # the key was not replaced


def test_stuck_commands_are_reported_at_their_deadline_and_late_replies_dropped(queued_bot):
    bot, held, queue = queued_bot.bot, queued_bot.held, queued_bot.queue
    bot.command("info demo/one")
    bot.command("info demo/two")
    held.wait_arrived(2)
    bot.command("info demo/three")  # waits behind the two stuck ones
    assert queue.check_deadlines() == 0
    queued_bot.clock[0] += 61
    assert queue.check_deadlines() == 3
    running = messages.TIMED_OUT_RUNNING.format(name="info", seconds=60)
    waiting = messages.TIMED_OUT_WAITING.format(name="info", seconds=60)
    bot.slack.wait_for(lambda: len(replies(bot, "got no answer within 60 s")) == 2, WAIT)
    bot.reply_containing(waiting)
    assert [m.text for m in replies(bot, "got no answer")] == [running, running]

    held.released.set()
    queue.shutdown(wait=True)  # the stuck commands end now; their answers come too late to be shown
    assert held.arrived == 2  # the one that timed out while waiting never ran
    assert not replies(bot, "No such algorithm")


def test_a_reply_whose_response_url_answers_500_falls_back_to_chat_post_ephemeral(bot):
    bot.slack.script("response_url", "internal error", status=500)
    assert bot.command("status").status_code == 200
    reply = bot.reply_containing("no Algorithmia API key")
    assert reply.is_ephemeral and reply.ephemeral_to == ADMIN and reply.source != "response_url"
    [failed] = bot.slack.calls("response_url")
    assert failed.status == 500
    assert [c.args["channel"] for c in bot.slack.calls("chat.postEphemeral")] == [DEV_CHANNEL]


def test_work_waits_for_a_burst_of_acks_to_pass_but_never_longer_than_the_limit():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds
        if now[0] < 0.5:
            priority.acked()  # acks keep arriving for the first half second

    priority = AckPriority(clock=lambda: now[0], sleep=sleep)
    priority.wait_quiet(quiet=0.02, limit=1.0)
    assert slept == []  # nothing acked yet: work starts at once
    priority.acked()
    priority.wait_quiet(quiet=0.02, limit=1.0)
    assert 0.5 <= now[0] <= 0.55  # started once the burst was over
    now[0] = 10.0
    priority.last_ack = float("inf")  # acks that never stop
    priority.wait_quiet(quiet=0.02, limit=1.0)
    assert now[0] == 11.0


def test_on_shutdown_running_commands_finish_and_waiting_ones_are_told_they_were_not_run(queued_bot):
    bot, held, queue = queued_bot.bot, queued_bot.held, queued_bot.queue
    for name in ("one", "two", "three"):
        bot.command(f"info demo/{name}")
    held.wait_arrived(2)
    stopper = threading.Thread(target=queue.shutdown, kwargs={"wait": True})
    stopper.start()  # as SIGTERM does, while two commands wait on Algorithmia and one waits for a worker
    bot.slack.wait_for(lambda: queue.stopping, WAIT)
    held.released.set()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    bot.reply_containing("demo/one")
    bot.reply_containing("demo/two")
    bot.reply_containing(messages.NOT_RUN_STOPPING.format(name="info"))
    assert held.arrived == 2 and not replies(bot, "demo/three")


def test_working_on_keeps_the_arguments_escaped_and_never_a_key(bot, created_algorithm):
    assert bot.command('update demo/hello summary="<b> & two words"').text == ""
    bot.reply_containing('Working on `/algo update demo/hello summary="&lt;b&gt; &amp; two words"`…')
    key = "simA1b2C3d4E5f6G7h8I9j0k1"
    bot.command(f"info {key}")
    working = bot.reply_containing("Working on `/algo info [redacted]`…")
    assert key not in message_text(working)
    bot.command("info demo/" + "x" * 300)
    assert len(bot.reply_containing("Working on `/algo info demo/xxx").text) < 160
    bot.reply(lambda m: "Working on" not in m.text and "xxxxxxxx" in message_text(m))  # its answer


def test_local_answers_and_refusals_never_say_working_on(bot):
    for text in ("help", "status", "watching", "info demo/hello", "allow <@U0MEMBER>"):
        assert bot.command(text).text == ""
    bot.reply_containing("no Algorithmia API key")  # info without a key is refused before any API call
    bot.reply_containing("<@U0MEMBER>")
    assert not replies(bot, "Working on")


def test_a_button_pressed_while_busy_is_told_so(queued_bot):
    bot, held = queued_bot.bot, queued_bot.held
    for name in ("one", "two", "three"):
        bot.command(f"info demo/{name}")
    held.wait_arrived(2)
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": ADMIN, "team_id": TEAM_ID},
        "channel": {"id": DEV_CHANNEL},
        "response_url": bot.slack.issue_response_url(DEV_CHANNEL, ADMIN),
        "trigger_id": bot.slack.issue_trigger_id(ADMIN, DEV_CHANNEL),
        "actions": [{"action_id": ids.COMMAND_ACTIONS[0], "value": json.dumps({"cmd": "builds", "args": ["demo/x"]})}],
    }
    response, _ = post_signed(
        bot.slack, bot.url, urlencode({"payload": json.dumps(payload)}), timestamp=None, secret=None, timeout=WAIT
    )
    assert response.status_code == 200
    bot.reply_containing(messages.BUSY.format(name="builds"))


def test_a_burst_of_refusals_leaves_one_log_line_a_second(caplog):
    class Never(Executor):
        def submit(self, fn, /, *args, **kwargs):
            return Future()

    now = [0.0]
    queue = WorkQueue(Never(), workers=1, capacity=0, clock=lambda: now[0], watchdog=False)
    assert queue.submit(lambda: None, on_timeout=lambda reason: None)
    with caplog.at_level(logging.WARNING, logger="algobot.intake"):
        for _ in range(100):
            assert not queue.submit(lambda: None, on_timeout=lambda reason: None)
        now[0] += 1.0
        assert not queue.submit(lambda: None, on_timeout=lambda reason: None)
    lines = [r.getMessage() for r in caplog.records if r.name == "algobot.intake"]
    assert lines == [
        "1 command(s) refused (busy): 1 running or waiting is the limit",
        "100 command(s) refused (busy): 1 running or waiting is the limit",
    ]
