"""Release requests: under a channel's approval policy a publish waits here for a second person.

A request pins the build `/algo publish` would have published when it was asked for (its id and
commit), with the version type, notes, callability and sample input. Its life:

    open → publishing → approved            (an approver claimed it and the publish went through)
    open → publishing → open                (the publish failed safe: a newer build, a passing error)
    open → publishing → closed              (the pinned build can never be published: already published, gone)
    open → rejected | cancelled | expired

Every move out of ``open`` is one conditional UPDATE (``WHERE status = 'open'``) through
`algobot.store.Store`, so two approvers clicking at once, or an approver and the expiry job of any
replica, cannot both win: exactly one gets the row back. The rest of this module only reads.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from algobot import audit, blocks, messages
from algobot.channels import ChannelRef
from algobot.db import DatabaseLocked, utc_iso
from algobot.notify import store as notify_store
from algobot.notify.types import NoticePart
from algobot.store import Store, connect

log = logging.getLogger(__name__)

OPEN, PUBLISHING, APPROVED = "open", "publishing", "approved"
REJECTED, CANCELLED, EXPIRED, CLOSED = "rejected", "cancelled", "expired", "closed"
STATUSES = (OPEN, PUBLISHING, APPROVED, REJECTED, CANCELLED, EXPIRED, CLOSED)

EXPIRED_PER_TICK = 200  # a backlog of due requests is worked off over a few ticks
# A claim older than this lost its approver (the process died mid-publish): the request opens again.
STALE_CLAIM_SECONDS = 600
ID_SHAPE = re.compile(r"[0-9a-f]{8}")  # secrets.token_hex(4)


def is_id(text: str) -> bool:
    """Whether ``text`` has the shape of a request id (checked before any lookup)."""
    return ID_SHAPE.fullmatch(text) is not None


@dataclass(frozen=True)
class ReleaseRequest:
    """One stored request (a row of ``release_requests``)."""

    id: str
    enterprise_id: str
    team_id: str
    channel_id: str
    algorithm: str
    build_id: str
    commit_sha: str | None
    version_type: str
    notes: str | None
    callability: str | None
    sample_input: str | None
    requested_by: str
    requested_at: str
    expires_at: float
    status: str = OPEN
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None
    published_version: str | None = None
    message_ts: str | None = None

    @property
    def ref(self) -> ChannelRef:
        return ChannelRef(self.team_id, self.channel_id, self.enterprise_id)

    @property
    def expires_iso(self) -> str:
        return utc_iso(datetime.fromtimestamp(self.expires_at, UTC))

    def audit_arguments(self) -> dict[str, Any]:
        """What the audit trail records about the request itself (by the names publish records)."""
        return {
            "request_id": self.id,
            "requested_by": self.requested_by,
            "build_id": self.build_id,
            "git_hash": self.commit_sha,
            "version_type": self.version_type,
            "notes": self.notes,
            "callability": self.callability,
            "sample_input": self.sample_input,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ReleaseRequest:
        names = {f.name for f in fields(cls)}
        values = {name: row[name] for name in names if name in row}
        values["expires_at"] = float(values["expires_at"])
        return cls(**values)


_COLUMNS = ", ".join(f.name for f in fields(ReleaseRequest))


def new(
    ref: ChannelRef,
    *,
    algorithm: str,
    build_id: str,
    commit_sha: str | None,
    version_type: str,
    notes: str | None,
    callability: str | None,
    sample_input: str | None,
    requested_by: str,
    now: datetime,
    expires_seconds: int,
) -> ReleaseRequest:
    """A request not stored yet: its id is chosen here, so its buttons can name it before it is written."""
    return ReleaseRequest(
        id=secrets.token_hex(4),
        **ref.columns(),
        algorithm=algorithm,
        build_id=build_id,
        commit_sha=commit_sha,
        version_type=version_type,
        notes=notes,
        callability=callability,
        sample_input=sample_input,
        requested_by=requested_by,
        requested_at=utc_iso(now),
        expires_at=now.timestamp() + expires_seconds,
    )


def save(db: Store, request: ReleaseRequest) -> None:
    db.insert("release_requests", {f.name: getattr(request, f.name) for f in fields(ReleaseRequest)})


def get(db: Store, request_id: str) -> ReleaseRequest | None:
    row = db.one(f"SELECT {_COLUMNS} FROM release_requests WHERE id = ?", [request_id])
    return ReleaseRequest.from_row(row) if row else None


def in_channel(db: Store, ref: ChannelRef, request_id: str) -> ReleaseRequest | None:
    """The request with this id, only if it belongs to this channel (ids are typed and clicked here)."""
    where, params = ref.where()
    row = db.one(f"SELECT {_COLUMNS} FROM release_requests WHERE id = ? AND {where}", [request_id, *params])
    return ReleaseRequest.from_row(row) if row else None


def open_requests(db: Store, ref: ChannelRef) -> list[ReleaseRequest]:
    """The channel's requests still waiting for a decision (or being published), oldest first."""
    where, params = ref.where()
    rows = db.query(
        f"SELECT {_COLUMNS} FROM release_requests WHERE {where} AND status IN (?, ?) ORDER BY requested_at, id",
        [*params, OPEN, PUBLISHING],
    )
    return [ReleaseRequest.from_row(row) for row in rows]


def set_message_ts(db: Store, request_id: str, message_ts: str) -> None:
    """Remember the request's message, so each outcome updates it in place."""
    db.execute("UPDATE release_requests SET message_ts = ? WHERE id = ?", [message_ts, request_id])


def decide(
    db: Store,
    request_id: str,
    status: str,
    user_id: str,
    now: datetime,
    *,
    reason: str | None = None,
    expected: str = OPEN,
    due_by: float | None = None,
) -> ReleaseRequest | None:
    """Move the request from ``expected`` to ``status`` atomically; the row as it is now, or None
    when someone else moved it first (or, with ``due_by``, it is not due yet)."""
    sql = (
        "UPDATE release_requests SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ? AND status = ?"
    )
    params: list[Any] = [status, user_id, utc_iso(now), reason, request_id, expected]
    if due_by is not None:
        sql, params = f"{sql} AND expires_at <= ?", [*params, due_by]
    with db.transaction("write", what="deciding a release request"):
        rows = db.query(f"{sql} RETURNING {_COLUMNS}", params)
    return ReleaseRequest.from_row(rows[0]) if rows else None


def finish(db: Store, request_id: str, status: str, *, version: str | None = None, reason: str | None = None) -> None:
    """Settle a claimed (``publishing``) request: approved with its version, closed, or back to open."""
    if status == OPEN:
        db.execute(
            "UPDATE release_requests SET status = ?, decided_by = NULL, decided_at = NULL WHERE id = ? AND status = ?",
            [OPEN, request_id, PUBLISHING],
        )
        return
    db.execute(
        "UPDATE release_requests SET status = ?, published_version = ?, reason = COALESCE(?, reason) "
        "WHERE id = ? AND status = ?",
        [status, version, reason, request_id, PUBLISHING],
    )


def due(db: Store, now: float, limit: int = EXPIRED_PER_TICK) -> list[str]:
    """Ids of open requests whose time ran out (served by the (status, expires_at) index)."""
    rows = db.query(
        "SELECT id FROM release_requests WHERE status = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?",
        [OPEN, now, limit],
    )
    return [str(row["id"]) for row in rows]


def reopen_stale(db: Store, claimed_before: datetime) -> int:
    """Open again the requests whose approval never settled (its process died between claim and record).

    Safe because an approval checks the pinned build first: one that did get published closes the
    request at the next approval instead of publishing it twice.
    """
    return int(
        db.execute(
            "UPDATE release_requests SET status = ?, decided_by = NULL, decided_at = NULL "
            "WHERE status = ? AND decided_at < ?",
            [OPEN, PUBLISHING, utc_iso(claimed_before)],
        ).rowcount
    )


class RequestExpiry:
    """The scheduler's part that closes requests nobody decided in time, once across replicas.

    Each due request is claimed (open → expired) in one transaction with its audit row and the notice
    that updates its message and says it expired; the outbox delivers that notice at the channel's
    pace. A replica that loses the claim does nothing.
    """

    def __init__(self, location: str, audit_key: bytes):
        self.location = location
        self.audit_key = audit_key

    def run(self, now: float) -> int:
        """Expire what is due at ``now``; the number this process expired."""
        moment = datetime.fromtimestamp(now, UTC)
        expired = 0
        with connect(self.location) as db:
            reopened = reopen_stale(db, moment - timedelta(seconds=STALE_CLAIM_SECONDS))
            if reopened:
                log.warning("%d release request(s) claimed by an approval that never finished are open again", reopened)
            for request_id in due(db, now):
                try:
                    if self._expire(db, request_id, now, moment):
                        expired += 1
                except DatabaseLocked as exc:  # the next tick tries again; nothing was half-written
                    log.warning("expiring release request %s waits for the database: %s", request_id, exc)
                    break
        return expired

    def _expire(self, db: Store, request_id: str, now: float, moment: datetime) -> bool:
        with db.transaction("write", what="expiring a release request"):
            request = decide(db, request_id, EXPIRED, audit.SYSTEM_ACTOR, moment, due_by=now)
            if request is None:
                return False
            audit.record(
                db,
                audit.AuditEntry.in_channel(
                    request.ref,
                    user_id=audit.SYSTEM_ACTOR,
                    action="expire",
                    source="system",
                    algorithm=request.algorithm,
                    arguments=request.audit_arguments(),
                ),
                now=moment,
                key=self.audit_key,
            )
            final = blocks.release_request_message(request)
            parts = [NoticePart.of("update", final, ts=request.message_ts)] if request.message_ts else []
            text = messages.request_expired(request.requested_by, request.algorithm, request.build_id)
            parts.append(NoticePart.of("post", blocks.text_message(text)))
            notify_store.enqueue(db, request.ref, f"request:{request.id}:expired", "request", parts, now)
        return True
