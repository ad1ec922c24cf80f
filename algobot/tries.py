"""What a channel last called an algorithm with, so the next *Try* starts from it.

One row per (channel, algorithm) in ``try_inputs``: the input of the last `/algo call` or *Try* there,
the commit it was called on and the first line of its result (the *Publish…* dialog of that build
shows it). Inputs are what people typed into Slack, already refused when shaped like a key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from algobot.algorithmia import AlgorithmiaClient, AlgorithmiaError
from algobot.channels import ChannelRef, ChannelStore
from algobot.parsing import UsageError
from algobot.store import Store

RESULT_LINE_CHARS = 150


def first_line(text: str, limit: int = RESULT_LINE_CHARS) -> str:
    """The first non-empty line of ``text``, cut to ``limit`` characters."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def remember(
    db: Store,
    ref: ChannelRef,
    algorithm: str,
    input_text: str,
    *,
    commit_sha: str | None,
    result_line: str | None,
    user_id: str,
    now: datetime,
) -> None:
    """Keep the input (and the result's first line for that commit) as this channel's last try."""
    row: dict[str, Any] = {
        **ref.columns(),
        "algorithm": algorithm,
        "input": input_text,
        "commit_sha": commit_sha,
        "result_line": result_line,
        "updated_by": user_id,
        "updated_at": now.isoformat(),
    }
    with db.transaction("write", what="remembering the input of a call"):
        db.insert(
            "try_inputs",
            row,
            conflict="ON CONFLICT (enterprise_id, team_id, channel_id, algorithm) DO UPDATE SET "
            "input = excluded.input, commit_sha = excluded.commit_sha, result_line = excluded.result_line, "
            "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )


def last(db: Store, ref: ChannelRef, algorithm: str) -> dict[str, Any] | None:
    """This channel's last try of ``algorithm``: ``input``, ``commit_sha``, ``result_line``; None if never."""
    return db.one(
        "SELECT input, commit_sha, result_line FROM try_inputs "
        "WHERE enterprise_id = ? AND team_id = ? AND channel_id = ? AND algorithm = ?",
        [ref.enterprise_id, ref.team_id, ref.channel_id, algorithm],
    )


def initial_input(db: Store, ref: ChannelRef, algorithm: str, sample: Callable[[], str | None]) -> str:
    """What a Try dialog starts from: the last input used here, else ``sample()`` (the algorithm's sample
    input, asked of the API only when nothing was tried here), else nothing."""
    row = last(db, ref, algorithm)
    if row is not None:
        return str(row["input"])
    return sample() or ""


def tried_line(db: Store, ref: ChannelRef, algorithm: str, commit: str | None) -> str | None:
    """The first line of what this channel's last try answered, when it called ``commit``."""
    row = last(db, ref, algorithm)
    if not commit or row is None or not row["commit_sha"] or row["result_line"] is None:
        return None
    tried, wanted = str(row["commit_sha"]).lower(), commit.lower()
    return str(row["result_line"]) if wanted.startswith(tried) or tried.startswith(wanted) else None


SAMPLE_TIMEOUT = 1.5  # seconds: a dialog must open within Slack's 3 s trigger window


def sample_input(channels: ChannelStore, ref: ChannelRef, algorithm: str, default_endpoint: str) -> str | None:
    """The algorithm's sample input, asked once with this channel's key and a short timeout (the dialog
    waits for it); None when the channel has no key or the API does not answer in time."""
    credentials = channels.api_key(ref)
    if credentials is None:
        return None
    key, endpoint = credentials
    client = AlgorithmiaClient(key, endpoint or default_endpoint, read_timeout=SAMPLE_TIMEOUT, max_retries=0)
    try:
        info = client.info(algorithm)
    except (AlgorithmiaError, UsageError):
        return None
    finally:
        client.close()
    sample = (info.get("version_info") or {}).get("sample_input")
    return str(sample) if sample is not None else None
