"""Typed values of the notification pipeline: a build to track, and one part of a queued notice.

The outbox stores a notice as a JSON list of parts, and databases already hold such rows, so
`NoticePart.to_json` writes exactly the dict shape earlier versions wrote (``op``, then ``ts`` for an
update, then the message's ``text`` and ``blocks``) and `NoticePart.from_json` reads any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from algobot import messages
from algobot.algorithmia import FINAL_BUILD_STATUSES
from algobot.parsing import UsageError

Op = Literal["post", "update", "thread"]

# A tracked build's states: followed until it ends ("tracking"), ended with its notice still to
# queue ("final"), finished with ("done": notified, filtered out, or history when first seen), or
# abandoned ("dropped": unwatched, deleted, channel gone).
TRACKING, FINAL, DONE, DROPPED = "tracking", "final", "done", "dropped"


# What `/algo watch … only=` takes, as a comma list, in the order a stored value lists them.
ONLY_WORDS = ("all", "failed", "succeeded", "changes", "releases")
BUILD_WORDS = frozenset({"failed", "succeeded"})


def parse_only(raw: str) -> str:
    """The canonical stored form of an ``only=`` comma list, or a UsageError naming the problem.

    ``all`` (every build ending, and releases) stands alone; ``changes`` (a build whose result differs
    from the previous one) replaces ``failed``/``succeeded`` rather than mixing with them.
    """
    typed = [word.strip() for word in raw.split(",")]
    if not raw.strip() or any(not word for word in typed):
        raise UsageError(messages.only_empty(raw))
    for word in typed:
        if word.lower() not in ONLY_WORDS:
            raise UsageError(messages.only_unknown(word, ONLY_WORDS))
    words = [word.lower() for word in typed]
    chosen = set(words)
    if "all" in chosen and len(chosen) > 1:
        raise UsageError(messages.ONLY_ALL_ALONE)
    if "changes" in chosen and chosen & BUILD_WORDS:
        raise UsageError(messages.ONLY_CHANGES_ALONE)
    return ",".join(word for word in ONLY_WORDS if word in chosen)


def only_words(stored: str | None) -> frozenset[str]:
    """The words of a stored ``only`` value (old rows hold one word, which keeps its meaning)."""
    return frozenset(word for word in (stored or "all").split(",") if word)


def wants_build(stored: str | None, status: str, *, changed: bool) -> bool:
    """Whether a watched build's ending is posted: ``changed`` says its result differs from the
    previous final build's (or it is the first build since watching)."""
    words = only_words(stored)
    return "all" in words or status in words or ("changes" in words and changed)


def wants_releases(stored: str | None) -> bool:
    """Releases are posted with ``all`` or ``releases``, never with ``failed``/``changes`` alone."""
    return bool(only_words(stored) & {"all", "releases"})


@dataclass(frozen=True)
class NoticePart:
    """One Slack call of a notice: a new message, an update of the "build started" one, or a reply."""

    op: Op
    text: str
    blocks: list[dict[str, Any]] | None = None
    ts: str | None = None  # the message an "update" replaces

    @classmethod
    def of(cls, op: Op, message: dict[str, Any], ts: str | None = None) -> NoticePart:
        """A part carrying a message built by `algobot.blocks` ({"text", "blocks"})."""
        return cls(op=op, text=str(message.get("text", "")), blocks=message.get("blocks"), ts=ts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op}
        if self.ts is not None:
            out["ts"] = self.ts
        out["text"] = self.text
        if self.blocks is not None:
            out["blocks"] = self.blocks
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NoticePart:
        op = data.get("op") or "post"
        if op not in ("post", "update", "thread"):
            raise ValueError(f"unknown notice part op {op!r}")
        return cls(op=op, text=str(data.get("text", "")), blocks=data.get("blocks"), ts=data.get("ts"))


@dataclass(frozen=True)
class NewBuild:
    algorithm: str
    build_id: str
    origin: str  # compile | watch
    status: str = "in-progress"
    commit_sha: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    started_by: str | None = None
    message_ts: str | None = None
    state: str = TRACKING

    @classmethod
    def from_api(cls, algorithm: str, build: dict[str, Any], *, news: bool) -> NewBuild:
        """A build as the list of builds shows it, found by watching.

        ``news`` says whether its end is worth a notice: builds the poller discovers are (an ended one
        becomes FINAL, its notice pending); builds already on the page when ``/algo watch`` starts are
        history (an ended one is DONE at once). Running builds are TRACKING either way.
        """
        status = str(build.get("status") or "in-progress")
        ended = status in FINAL_BUILD_STATUSES
        return cls(
            algorithm=algorithm,
            build_id=str(build.get("build_id")),
            origin="watch",
            status=status,
            commit_sha=build.get("commit_sha"),
            started_at=build.get("started_at"),
            finished_at=build.get("finished_at"),
            state=(FINAL if news else DONE) if ended else TRACKING,
        )
