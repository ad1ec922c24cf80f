"""The local Slack's history file (algobot/localslack/history.py): what the playground keeps across a restart."""

from __future__ import annotations

import json

import requests
from slack_sdk import WebClient

from algobot.localslack import LocalSlackServer
from algobot.localslack.history import HistoryFile
from tests.fixtures.slack import ADMIN, BOT_TOKEN, DEV_CHANNEL, seeded_local_slack


def test_files_threads_and_edits_come_back_and_new_ids_do_not_reuse_old_ones(tmp_path):
    path = tmp_path / "history.json"
    first = seeded_local_slack()
    with LocalSlackServer(first):
        client = WebClient(token=BOT_TOKEN, base_url=first.api_url)
        parent = client.chat_postMessage(channel=DEV_CHANNEL, text="build started")["ts"]
        client.chat_update(channel=DEV_CHANNEL, ts=parent, text="build failed")
        client.files_upload_v2(channel=DEV_CHANNEL, thread_ts=parent, content="SyntaxError", filename="log.txt")
        client.chat_postEphemeral(channel=DEV_CHANNEL, user=ADMIN, text="only for alice")
        HistoryFile(first, path).save()
    [old_file] = first.files()

    second = seeded_local_slack()
    assert HistoryFile(second, path).load() == 2  # the ephemeral is not kept, as in Slack
    with LocalSlackServer(second):
        [notice, upload] = second.messages(DEV_CHANNEL, include_ephemeral_for=ADMIN)
        assert (notice.ts, notice.text, notice.edited is not None) == (parent, "build failed", True)
        assert [h["text"] for h in notice.history] == ["build started"]
        assert upload.thread_ts == parent and notice.replies == [upload.ts]
        shown = requests.get(f"{second.url}/_ui/files/{old_file.id}", timeout=10)
        assert shown.status_code == 200 and shown.text == "SyntaxError"

        client = WebClient(token=BOT_TOKEN, base_url=second.api_url)
        newer = client.files_upload_v2(channel=DEV_CHANNEL, content="again", filename="log.txt")
        assert newer["file"]["id"] != old_file.id
        assert float(client.chat_postMessage(channel=DEV_CHANNEL, text="next")["ts"]) > float(upload.ts)


def test_a_history_of_another_format_is_set_aside_not_misread(tmp_path, caplog):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"format": 99, "channels": {DEV_CHANNEL: [{"ts": "1.0"}]}}))
    slack = seeded_local_slack()
    assert HistoryFile(slack, path).load() == 0
    assert slack.messages(DEV_CHANNEL) == []
    assert not path.exists() and path.with_name("history.json.damaged").exists()
    assert "format 1" in caplog.text
