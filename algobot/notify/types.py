"""Typed values of the notification pipeline: a build to track, and one part of a queued notice.

The outbox stores a notice as a JSON list of parts, and databases already hold such rows, so
`NoticePart.to_json` writes exactly the dict shape earlier versions wrote (``op``, then ``ts`` for an
update, then the message's ``text`` and ``blocks``) and `NoticePart.from_json` reads any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from algobot.algorithmia import FINAL_BUILD_STATUSES

Op = Literal["post", "update", "thread"]

# A tracked build's states: followed until it ends ("tracking"), ended with its notice still to
# queue ("final"), finished with ("done": notified, filtered out, or history when first seen), or
# abandoned ("dropped": unwatched, deleted, channel gone).
TRACKING, FINAL, DONE, DROPPED = "tracking", "final", "done", "dropped"


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
