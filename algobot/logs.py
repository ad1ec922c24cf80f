"""Logging: one line per event, as text or JSON (ALGOBOT_LOG_FORMAT), with secrets scrubbed.

The scrubber is the last line of defence: algobot never logs a key or token on purpose, but a
library at DEBUG level or an exception text might. Every handler gets a filter that replaces the
deployment's own secrets and anything shaped like a Slack token or an Algorithmia key, also inside
URL-encoded (``%22sim…``) and JSON-escaped (``\u0022sim…``, ``\nsim…``) text. A message never
spans lines: line breaks in it are written as ``\n`` so request text cannot forge a log line.

Other libraries' records below WARNING (APScheduler's two lines a second, Bolt, waitress, urllib3)
are dropped unless the level is DEBUG: at INFO the log holds algobot's own events.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

REDACTED = "[redacted]"
# A token starts after a non-letter, after a %XX escape (URL-encoded text) or after a backslash
# escape (JSON); a key's own +, / and = may appear percent-encoded or JSON-escaped.
_BEFORE = r"(?:(?<![A-Za-z_])|(?<=%[0-9A-Fa-f]{2})|(?<=\\[nrtbfu]))"
_KEY_CHAR = r"(?:[A-Za-z0-9+/=]|%2[BbFf]|%3[Dd]|\\/)"
_SHAPES = re.compile(_BEFORE + r"(xox[abposr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|sim" + _KEY_CHAR + r"{16,})")
# Everything str.splitlines() would break a line at, written as an escape instead.
_LINE_BREAKS = {ord(c): ascii(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class SecretFilter(logging.Filter):
    """Replaces known secrets and token-shaped strings in every record's final message."""

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _SHAPES.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.scrub(record.getMessage()).translate(_LINE_BREAKS)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text or record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry)


HANDLER_NAME = "algobot"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the moment (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - mirrors StreamHandler.stream
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OwnEventsFilter(logging.Filter):
    """Below WARNING, only algobot's own records pass (everything passes at DEBUG)."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if self.level <= logging.DEBUG or record.levelno >= logging.WARNING:
            return True
        return record.name == "algobot" or record.name.startswith("algobot.")


def configure(level: str | int = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Route every log record to stderr in the chosen format, through the secret filter."""
    number = level if isinstance(level, int) else getattr(logging, str(level).upper(), logging.INFO)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(OwnEventsFilter(number))
    handler.addFilter(SecretFilter(secrets))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == HANDLER_NAME:  # ours from an earlier call; others' (pytest's) stay
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
