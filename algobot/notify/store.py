"""SQL for build notifications: subscriptions, tracked builds, the outbox and poll health.

Plain functions over an open `Database`, so the poller, the sender and the slash commands share
one definition of every row. Claims (`claimed_by`, `claimed_until`) let several pollers share one
database file: a row is acted on only by whoever changed it from unclaimed to claimed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from algobot.channels import ChannelRef
from algobot.notify.types import NewBuild as NewBuild  # re-exported: callers write store.NewBuild
from algobot.notify.types import NoticePart as NoticePart  # re-exported for callers

FILTERS = ("all", "failed", "succeeded")


def ref_of(row: dict[str, Any]) -> ChannelRef:
    return ChannelRef(team_id=row["team_id"], channel_id=row["channel_id"], enterprise_id=row["enterprise_id"] or "")


def _ref_args(ref: ChannelRef) -> list[str]:
    return [ref.enterprise_id, ref.team_id, ref.channel_id]


_REF_WHERE = "enterprise_id = ? and team_id = ? and channel_id = ?"


# -- subscriptions ---------------------------------------------------------------------------


def subscribe(db: Database, ref: ChannelRef, algorithm: str, only: str, user_id: str, now_iso: str) -> bool:
    """Watch an algorithm's builds in a channel; True when this is a new subscription."""
    existed = bool(
        db.execute(
            f"select 1 from subscriptions where {_REF_WHERE} and algorithm = ?", [*_ref_args(ref), algorithm]
        ).fetchone()
    )
    db.execute(
        """insert into subscriptions (enterprise_id, team_id, channel_id, algorithm, "only", created_by, created_at,
               next_discovery_at) values (?, ?, ?, ?, ?, ?, ?, 0)
           on conflict (enterprise_id, team_id, channel_id, algorithm) do update set "only" = excluded."only\"""",
        [*_ref_args(ref), algorithm, only, user_id, now_iso],
    )
    return not existed


def unsubscribe(db: Database, ref: ChannelRef, algorithm: str | None) -> list[str]:
    """Stop watching one algorithm (or all, with None); returns the algorithms unwatched."""
    where, args = _REF_WHERE, _ref_args(ref)
    if algorithm is not None:
        where += " and algorithm = ?"
        args = [*args, algorithm]
    names = [r[0] for r in db.execute(f"select algorithm from subscriptions where {where}", args).fetchall()]
    db.execute(f"delete from subscriptions where {where}", args)
    db.execute(
        f"update tracked_builds set state = 'dropped' where {where} and origin = 'watch' and state in "
        "('tracking', 'final')",
        args,
    )
    return names


def subscriptions(db: Database, ref: ChannelRef | None = None) -> list[dict[str, Any]]:
    if ref is None:
        return list(db.query("select * from subscriptions order by team_id, channel_id, algorithm"))
    return list(db.query(f"select * from subscriptions where {_REF_WHERE} order by algorithm", _ref_args(ref)))


def subscription(db: Database, ref: ChannelRef, algorithm: str) -> dict[str, Any] | None:
    rows = list(
        db.query(f"select * from subscriptions where {_REF_WHERE} and algorithm = ?", [*_ref_args(ref), algorithm])
    )
    return rows[0] if rows else None


def due_subscriptions(db: Database, now: float) -> list[dict[str, Any]]:
    return list(
        db.query(
            """select s.* from subscriptions s
               left join channel_poll_state p using (enterprise_id, team_id, channel_id)
               where s.next_discovery_at <= ? and coalesce(p.auth_failed, 0) = 0""",
            [now],
        )
    )


def watchers_of(db: Database, algorithms: Sequence[str]) -> list[dict[str, Any]]:
    """Every subscription to these algorithms whose channel's key works, due or not (one list serves all)."""
    if not algorithms:
        return []
    marks = ", ".join("?" for _ in algorithms)
    return list(
        db.query(
            f"""select s.* from subscriptions s
               left join channel_poll_state p using (enterprise_id, team_id, channel_id)
               where s.algorithm in ({marks}) and coalesce(p.auth_failed, 0) = 0""",
            list(algorithms),
        )
    )


def set_next_discovery(db: Database, row: dict[str, Any], when: float) -> None:
    db.execute(
        f"update subscriptions set next_discovery_at = ? where {_REF_WHERE} and algorithm = ?",
        [when, *_ref_args(ref_of(row)), row["algorithm"]],
    )


# -- tracked builds --------------------------------------------------------------------------


def track(db: Database, ref: ChannelRef, build: NewBuild, now: float, *, next_poll_at: float | None = None) -> bool:
    """Start tracking a build in a channel; True if it was not tracked there before.

    ``next_poll_at`` (default: now) lets a build found by listing its algorithm join that list's schedule.

    A build started from Slack that the watcher already found takes over the compile's message and
    caller, so its final notice updates the "build started" message.
    """
    cursor = db.execute(
        """insert or ignore into tracked_builds (enterprise_id, team_id, channel_id, algorithm, build_id, origin,
               started_by, message_ts, commit_sha, started_at, finished_at, status, state, first_seen_at, next_poll_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            *_ref_args(ref),
            build.algorithm,
            build.build_id,
            build.origin,
            build.started_by,
            build.message_ts,
            build.commit_sha,
            build.started_at,
            build.finished_at,
            build.status,
            build.state,
            now,
            now if next_poll_at is None else next_poll_at,
        ],
    )
    if cursor.rowcount:
        return True
    if build.origin == "compile":
        db.execute(
            f"""update tracked_builds set origin = 'compile', started_by = ?, message_ts = coalesce(?, message_ts)
                where {_REF_WHERE} and algorithm = ? and build_id = ?""",
            [build.started_by, build.message_ts, *_ref_args(ref), build.algorithm, build.build_id],
        )
    return False


def set_message_ts(db: Database, ref: ChannelRef, algorithm: str, build_id: str, message_ts: str) -> None:
    """The "build started" message a compile posted, which the build's final notice updates in place."""
    db.execute(
        f"update tracked_builds set message_ts = ? where {_REF_WHERE} and algorithm = ? and build_id = ?",
        [message_ts, *_ref_args(ref), algorithm, build_id],
    )


def known_build_ids(db: Database, ref: ChannelRef, algorithm: str, among: Sequence[str] | None = None) -> set[str]:
    """Build ids tracked in the channel for the algorithm; with ``among``, only those of these ids
    (a list page's), so the cost does not grow with the channel's history."""
    where, args = f"{_REF_WHERE} and algorithm = ?", [*_ref_args(ref), algorithm]
    if among is not None:
        if not among:
            return set()
        where += f" and build_id in ({', '.join('?' for _ in among)})"
        args += list(among)
    return {r[0] for r in db.execute(f"select build_id from tracked_builds where {where}", args).fetchall()}


def claim_due_builds(db: Database, poller_id: str, now: float, lease: float, limit: int = 5000) -> list[dict]:
    """Claim tracked builds due for a poll (or with a final status awaiting its notice)."""
    with db.atomic():
        db.execute(
            """update tracked_builds set claimed_by = ?, claimed_until = ?
               where id in (
                   select t.id from tracked_builds t
                   left join channel_poll_state p using (enterprise_id, team_id, channel_id)
                   where t.state in ('tracking', 'final') and t.next_poll_at <= ?
                     and (t.claimed_until is null or t.claimed_until < ?) and coalesce(p.auth_failed, 0) = 0
                   order by t.next_poll_at limit ?)""",
            [poller_id, now + lease, now, now, limit],
        )
    return list(
        db.query(
            """select * from tracked_builds
               where claimed_by = ? and claimed_until = ? and state in ('tracking', 'final')""",
            [poller_id, now + lease],
        )
    )


def claim_algorithm_builds(
    db: Database, ref: ChannelRef, algorithm: str, poller_id: str, now: float, lease: float
) -> list[dict[str, Any]]:
    """Claim every unclaimed tracked build of one algorithm in one channel, due or not.

    The list request that serves one of them reports them all, so they share its schedule.
    """
    with db.atomic():  # sqlite-utils leaves a statement with RETURNING uncommitted on its own
        cursor = db.execute(
            f"""update tracked_builds set claimed_by = ?, claimed_until = ?
                where {_REF_WHERE} and algorithm = ? and state in ('tracking', 'final')
                  and (claimed_until is null or claimed_until < ?)
                returning *""",
            [poller_id, now + lease, *_ref_args(ref), algorithm, now],
        )
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def claim_build(db: Database, row_id: int, poller_id: str, now: float, lease: float) -> bool:
    """Claim one build (e.g. one discovered already finished) unless another poller holds it."""
    cursor = db.execute(
        """update tracked_builds set claimed_by = ?, claimed_until = ?
           where id = ? and state in ('tracking', 'final') and (claimed_until is null or claimed_until < ?)""",
        [poller_id, now + lease, row_id, now],
    )
    return bool(cursor.rowcount)


def update_build(db: Database, build_row_id: int, **fields: Any) -> None:
    if not fields:
        return
    columns = ", ".join(f'"{k}" = ?' for k in fields)
    db.execute(f"update tracked_builds set {columns} where id = ?", [*fields.values(), build_row_id])


def release_claims(db: Database, poller_id: str) -> None:
    db.execute("update tracked_builds set claimed_by = null, claimed_until = null where claimed_by = ?", [poller_id])


def drop_channel(db: Database, ref: ChannelRef) -> None:
    """Stop everything for a channel Slack will no longer accept messages in."""
    db.execute(f"delete from subscriptions where {_REF_WHERE}", _ref_args(ref))
    db.execute(
        f"update tracked_builds set state = 'dropped' where {_REF_WHERE} and state in ('tracking', 'final')",
        _ref_args(ref),
    )
    db.execute(f"delete from outbox where {_REF_WHERE}", _ref_args(ref))


def tracked(db: Database, ref: ChannelRef | None = None) -> list[dict[str, Any]]:
    if ref is None:
        return list(db.query("select * from tracked_builds order by id"))
    return list(db.query(f"select * from tracked_builds where {_REF_WHERE} order by id", _ref_args(ref)))


# -- poll health ------------------------------------------------------------------------------


def poll_state(db: Database, ref: ChannelRef) -> dict[str, Any]:
    rows = list(db.query(f"select * from channel_poll_state where {_REF_WHERE}", _ref_args(ref)))
    return rows[0] if rows else {"auth_failed": 0, "outage_notified": 0}


def set_poll_state(db: Database, ref: ChannelRef, **fields: int) -> None:
    current = {k: v for k, v in poll_state(db, ref).items() if k in ("auth_failed", "outage_notified")}
    current.update(fields)
    db.execute(
        """insert into channel_poll_state (enterprise_id, team_id, channel_id, auth_failed, outage_notified)
           values (?, ?, ?, ?, ?) on conflict (enterprise_id, team_id, channel_id)
           do update set auth_failed = excluded.auth_failed, outage_notified = excluded.outage_notified""",
        [*_ref_args(ref), current["auth_failed"], current["outage_notified"]],
    )


def endpoint_state(db: Database, endpoint: str) -> dict[str, Any]:
    rows = list(db.query("select * from endpoint_state where endpoint = ?", [endpoint]))
    return rows[0] if rows else {"endpoint": endpoint, "failing_since": None, "failures": 0, "next_attempt_at": 0.0}


def save_endpoint_state(db: Database, state: dict[str, Any]) -> None:
    db.table("endpoint_state").upsert(
        {k: state.get(k) for k in ("endpoint", "failing_since", "failures", "next_attempt_at")}, pk="endpoint"
    )


# -- outbox -----------------------------------------------------------------------------------


def enqueue(db: Database, ref: ChannelRef, dedupe_key: str, kind: str, parts: Sequence[NoticePart], now: float) -> bool:
    """Write a notice before anything is sent; a key already queued or delivered is ignored."""
    if db.execute("select 1 from notices_sent where dedupe_key = ?", [dedupe_key]).fetchone():
        return False
    cursor = db.execute(
        """insert or ignore into outbox (dedupe_key, enterprise_id, team_id, channel_id, kind, parts, created_at,
               next_attempt_at) values (?, ?, ?, ?, ?, ?, ?, ?)""",
        [dedupe_key, *_ref_args(ref), kind, json.dumps([part.to_json() for part in parts]), now, now],
    )
    return bool(cursor.rowcount)


def parts_of(row: dict[str, Any]) -> list[NoticePart]:
    """The parts of an outbox row, as any version stored them."""
    return [NoticePart.from_json(part) for part in json.loads(row["parts"])]


def due_outbox(db: Database, now: float, limit: int = 500, sender_id: str | None = None) -> list[dict[str, Any]]:
    """Due rows; a notice's first message goes before the thread replies of others (latency of the news).

    Rows ``sender_id`` itself still holds count as due: a lock kept its last mark out of the table, and
    it resumes them from what it remembers instead of waiting for its own lease to end.
    """
    return list(
        db.query(
            """select * from outbox where next_attempt_at <= ?
                   and (claimed_until is null or claimed_until < ? or claimed_by = ?)
               order by step > 0, id limit ?""",
            [now, now, sender_id, limit],
        )
    )


def claim_outbox(db: Database, row_id: int, sender_id: str, now: float, lease: float) -> bool:
    """Claim a row unless another sender holds it (a sender may renew its own claim)."""
    cursor = db.execute(
        """update outbox set claimed_by = ?, claimed_until = ?
           where id = ? and (claimed_until is null or claimed_until < ? or claimed_by = ?)""",
        [sender_id, now + lease, row_id, now, sender_id],
    )
    return bool(cursor.rowcount)


def advance_outbox(db: Database, row_id: int, step: int, parent_ts: str | None) -> None:
    db.execute("update outbox set step = ?, parent_ts = coalesce(parent_ts, ?) where id = ?", [step, parent_ts, row_id])


def finish_outbox(db: Database, row: dict[str, Any], now: float) -> None:
    """Slack accepted every part: remember the key, then remove the row."""
    with db.atomic():
        db.execute("insert or ignore into notices_sent (dedupe_key, sent_at) values (?, ?)", [row["dedupe_key"], now])
        db.execute("delete from outbox where id = ?", [row["id"]])


def retry_outbox(db: Database, row_id: int, when: float, attempts: int) -> None:
    db.execute(
        "update outbox set next_attempt_at = ?, attempts = ?, claimed_by = null, claimed_until = null where id = ?",
        [when, attempts, row_id],
    )


def outbox_rows(db: Database) -> list[dict[str, Any]]:
    return list(db.query("select * from outbox order by id"))


def next_send_at(db: Database, ref: ChannelRef) -> float:
    row = db.execute(f"select next_send_at from channel_send_state where {_REF_WHERE}", _ref_args(ref)).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def set_next_send_at(db: Database, ref: ChannelRef, when: float) -> None:
    db.execute(
        """insert into channel_send_state (enterprise_id, team_id, channel_id, next_send_at) values (?, ?, ?, ?)
           on conflict (enterprise_id, team_id, channel_id) do update set next_send_at = excluded.next_send_at""",
        [*_ref_args(ref), when],
    )
