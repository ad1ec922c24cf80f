"""Keep the local Slack's channel history in a file, so the playground page survives a restart.

The bot's database keeps everything across a restart of `algobot dev` (channel keys, build
subscriptions, the notices it will update in place), so the page must keep the messages those
refer to: without them the page starts empty and the bot's later ``chat.update`` of a build notice
fails with ``message_not_found``.

Kept: every channel's messages as everyone sees them (edits, threads, deleted flags) and the files
they carry. Not kept, as in Slack: ephemeral messages (Slack drops them when the client reloads),
open modals, trigger ids and response URLs (all short-lived). Messages of a channel that the new
start does not create again are left out.

The file is JSON, written whole to a temporary file and renamed over the old one (mode 0600), at
most every ``interval`` seconds while the state changes, and once more at `HistoryFile.close`. A
file that cannot be read is moved aside (``<name>.damaged``) with a warning and the page starts empty.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Self

from .model import File, Message
from .state import SlackState

log = logging.getLogger(__name__)

FORMAT = 1  # bumped if the layout changes; a file of another format is set aside, not misread


def export_history(slack: SlackState) -> dict[str, Any]:
    """The state worth keeping, as JSON-able data (taken under the state lock)."""
    with slack.reading():
        channels: dict[str, list[dict[str, Any]]] = {}
        file_ids: set[str] = set()
        for channel in slack.channels():
            kept = [m for m in channel.messages if m.ephemeral_to is None]
            if kept:
                channels[channel.id] = [_message(m) for m in kept]
                file_ids.update(f.id for m in kept for f in m.files)
        files = [_file(f) for f in sorted(slack.files(), key=lambda f: f.id) if f.id in file_ids]
        return {"format": FORMAT, "seq": slack.sequence, "channels": channels, "files": files}


def import_history(slack: SlackState, data: dict[str, Any]) -> int:
    """Put saved messages back into the channels that exist; returns how many were restored.

    Raises ValueError when ``data`` is not a history this code wrote.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a local Slack history of format {FORMAT}")
    try:
        files = {f["id"]: _load_file(f) for f in data.get("files", [])}
        restored = {
            channel_id: [_load_message(m, files) for m in messages]
            for channel_id, messages in dict(data.get("channels", {})).items()
        }
        seq = int(data.get("seq", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a damaged local Slack history ({exc.__class__.__name__}: {exc})") from None
    return slack.restore(restored, files, seq)


class HistoryFile:
    """Loads a history file into a `LocalSlack`, then keeps the file up to date until `close`."""

    def __init__(self, slack: SlackState, path: str | os.PathLike[str], *, interval: float = 0.5) -> None:
        self.slack = slack
        self.path = Path(path)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._written = ""

    def load(self) -> int:
        """Restore the saved messages, if any; a damaged file is set aside with a warning."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        try:
            count = import_history(self.slack, json.loads(text))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError too
            aside = self.path.with_name(self.path.name + ".damaged")
            os.replace(self.path, aside)
            log.warning("local Slack: %s could not be read (%s); moved it to %s, starting empty", self.path, exc, aside)
            return 0
        self._written = text
        return count

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="localslack-history", daemon=True)
        self._thread.start()
        return self

    def save(self) -> bool:
        """Write the history if it changed since the last write; returns whether it wrote."""
        text = json.dumps(export_history(self.slack), separators=(",", ":"))
        if text == self._written:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp creates it with mode 0600
                out.write(text)
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._written = text
        return True

    def close(self) -> None:
        """Stop the saving thread and write the last state."""
        self._stop.set()
        self.slack.wake()  # the thread's wait returns at once
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.save()

    def _run(self) -> None:
        seen = -1
        while not self._stop.is_set():
            version = self.slack.wait_for_change(seen, timeout=5.0)
            if self._stop.is_set():
                return
            if version != seen:
                seen = version
                try:
                    self.save()
                except OSError as exc:  # a full disk must not stop the playground; say so and retry later
                    log.warning("local Slack: could not save the history to %s: %s", self.path, exc)
            self._stop.wait(self.interval)  # at most one write per interval while messages stream in


def _message(message: Message) -> dict[str, Any]:
    data = {f.name: getattr(message, f.name) for f in dataclasses.fields(Message) if f.name != "files"}
    data["files"] = [f.id for f in message.files]
    return data


def _load_message(data: dict[str, Any], files: dict[str, File]) -> Message:
    names = {f.name for f in dataclasses.fields(Message)}
    values = {k: v for k, v in data.items() if k in names and k != "files"}
    return Message(**values, files=[files[i] for i in data.get("files", []) if i in files])


def _file(file: File) -> dict[str, Any]:
    data = {f.name: getattr(file, f.name) for f in dataclasses.fields(File)}
    data["content"] = None if file.content is None else base64.b64encode(file.content).decode("ascii")
    return data


def _load_file(data: dict[str, Any]) -> File:
    names = {f.name for f in dataclasses.fields(File)}
    values = {k: v for k, v in data.items() if k in names}
    if values.get("content") is not None:
        values["content"] = base64.b64decode(values["content"])
    return File(**values)
