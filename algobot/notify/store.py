"""SQL for build notifications: subscriptions, tracked builds, the outbox and poll health.

Plain functions over an open `algobot.store.Store` (SQLite or PostgreSQL), so the poller, the sender
and the slash commands share one definition of every row. Claims (`claimed_by`, `claimed_until`, a
lease) let several pollers and senders (replicas) share one database: a row is acted on only by
whoever changed it from unclaimed to claimed, and a dead replica's claims lapse with their lease.
On PostgreSQL the rows a claim picks are locked with FOR UPDATE SKIP LOCKED, so replicas claiming at
once pick different rows instead of queueing behind each other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from algobot.channels import ChannelRef
from algobot.notify.types import NewBuild as NewBuild  # re-exported: callers write store.NewBuild
from algobot.notify.types import NoticePart as NoticePart  # re-exported for callers
from algobot.store import Store, as_store


def ref_of(row: dict[str, Any]) -> ChannelRef:
    return ChannelRef(team_id=row["team_id"], channel_id=row["channel_id"], enterprise_id=row["enterprise_id"] or "")


def _ref_args(ref: ChannelRef) -> list[str]:
    return [ref.enterprise_id, ref.team_id, ref.channel_id]


_REF_WHERE = "enterprise_id = ? and team_id = ? and channel_id = ?"


# -- subscriptions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """What watching starts from: the newest published version ("" for none) and the current failing
    streak, so the first releases and builds reported are news and "fixed after N" counts from history."""

    release_seen: str = ""
    streak_commit: str | None = None
    streak_failures: int = 0


def subscribe(
    db: Store | Database,
    ref: ChannelRef,
    algorithm: str,
    only: str,
    user_id: str,
    now_iso: str,
    *,
    mention: bool = True,
    baseline: Baseline | None = None,
) -> bool:
    """Watch an algorithm's builds (and releases) in a channel; True when this is a new subscription.

    Watching again changes the filter and mentions but keeps what was already seen."""
    existed = bool(
        db.execute(
            f"select 1 from subscriptions where {_REF_WHERE} and algorithm = ?", [*_ref_args(ref), algorithm]
        ).fetchone()
    )
    base = baseline or Baseline()
    db.execute(
        """insert into subscriptions (enterprise_id, team_id, channel_id, algorithm, "only", created_by, created_at,
               next_discovery_at, mention, release_seen, streak_commit, streak_failures)
           values (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
           on conflict (enterprise_id, team_id, channel_id, algorithm) do update set "only" = excluded."only",
               mention = excluded.mention,
               release_seen = coalesce(subscriptions.release_seen, excluded.release_seen)""",
        [
            *_ref_args(ref),
            algorithm,
            only,
            user_id,
            now_iso,
            int(mention),
            base.release_seen,
            base.streak_commit,
            base.streak_failures,
        ],
    )
    return not existed


def update_subscription(db: Store | Database, row: dict[str, Any], **fields: Any) -> None:
    """Change columns of one subscription (and the caller's copy of its row, read again later in a cycle)."""
    if not fields:
        return
    columns = ", ".join(f'"{k}" = ?' for k in fields)
    db.execute(
        f"update subscriptions set {columns} where {_REF_WHERE} and algorithm = ?",
        [*fields.values(), *_ref_args(ref_of(row)), row["algorithm"]],
    )
    row.update(fields)


def unsubscribe(db: Store | Database, ref: ChannelRef, algorithm: str | None) -> list[str]:
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


def subscriptions(db: Store | Database, ref: ChannelRef | None = None) -> list[dict[str, Any]]:
    if ref is None:
        return list(db.query("select * from subscriptions order by team_id, channel_id, algorithm"))
    return list(db.query(f"select * from subscriptions where {_REF_WHERE} order by algorithm", _ref_args(ref)))


def subscription(db: Store | Database, ref: ChannelRef, algorithm: str) -> dict[str, Any] | None:
    rows = list(
        db.query(f"select * from subscriptions where {_REF_WHERE} and algorithm = ?", [*_ref_args(ref), algorithm])
    )
    return rows[0] if rows else None


def due_subscriptions(db: Store | Database, now: float) -> list[dict[str, Any]]:
    return list(
        db.query(
            """select s.* from subscriptions s
               left join channel_poll_state p using (enterprise_id, team_id, channel_id)
               where s.next_discovery_at <= ? and coalesce(p.auth_failed, 0) = 0""",
            [now],
        )
    )


def watchers_of(db: Store | Database, algorithms: Sequence[str]) -> list[dict[str, Any]]:
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


def set_next_discovery(db: Store | Database, row: dict[str, Any], when: float) -> None:
    db.execute(
        f"update subscriptions set next_discovery_at = ? where {_REF_WHERE} and algorithm = ?",
        [when, *_ref_args(ref_of(row)), row["algorithm"]],
    )


# -- tracked builds --------------------------------------------------------------------------


def track(
    db: Store | Database, ref: ChannelRef, build: NewBuild, now: float, *, next_poll_at: float | None = None
) -> bool:
    """Start tracking a build in a channel; True if it was not tracked there before.

    ``next_poll_at`` (default: now) lets a build found by listing its algorithm join that list's schedule.

    A build started from Slack that the watcher already found takes over the compile's message and
    caller, so its final notice updates the "build started" message.
    """
    cursor = db.execute(
        """insert into tracked_builds (enterprise_id, team_id, channel_id, algorithm, build_id, origin,
               started_by, message_ts, commit_sha, started_at, finished_at, status, state, first_seen_at, next_poll_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing""",
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


def set_message_ts(db: Store | Database, ref: ChannelRef, algorithm: str, build_id: str, message_ts: str) -> None:
    """The "build started" message a compile posted, which the build's final notice updates in place."""
    db.execute(
        f"update tracked_builds set message_ts = ? where {_REF_WHERE} and algorithm = ? and build_id = ?",
        [message_ts, *_ref_args(ref), algorithm, build_id],
    )


def known_build_ids(
    db: Store | Database, ref: ChannelRef, algorithm: str, among: Sequence[str] | None = None
) -> set[str]:
    """Build ids tracked in the channel for the algorithm; with ``among``, only those of these ids
    (a list page's), so the cost does not grow with the channel's history."""
    where, args = f"{_REF_WHERE} and algorithm = ?", [*_ref_args(ref), algorithm]
    if among is not None:
        if not among:
            return set()
        where += f" and build_id in ({', '.join('?' for _ in among)})"
        args += list(among)
    return {r[0] for r in db.execute(f"select build_id from tracked_builds where {where}", args).fetchall()}


def claim_due_builds(db: Store | Database, poller_id: str, now: float, lease: float, limit: int = 5000) -> list[dict]:
    """Claim tracked builds due for a poll (or with a final status awaiting its notice)."""
    db = as_store(db)  # callers may still hold a sqlite-utils Database
    with db.transaction("claims", what="claiming due builds"):
        # The outer condition is checked again on the row as committed, after any wait for it.
        return db.query(
            f"""update tracked_builds set claimed_by = ?, claimed_until = ?
               where id in (
                   select t.id from tracked_builds t
                   where t.state in ('tracking', 'final') and t.next_poll_at <= ?
                     and (t.claimed_until is null or t.claimed_until < ?)
                     and not exists (select 1 from channel_poll_state p where p.enterprise_id = t.enterprise_id
                         and p.team_id = t.team_id and p.channel_id = t.channel_id and p.auth_failed <> 0)
                   order by t.next_poll_at limit ?{db.for_update_skip_locked})
                 and (claimed_until is null or claimed_until < ?)
               returning *""",
            [poller_id, now + lease, now, now, limit, now],
        )


def claim_algorithm_builds(
    db: Store | Database, ref: ChannelRef, algorithm: str, poller_id: str, now: float, lease: float
) -> list[dict[str, Any]]:
    """Claim every unclaimed tracked build of one algorithm in one channel, due or not.

    The list request that serves one of them reports them all, so they share its schedule.
    """
    db = as_store(db)  # callers may still hold a sqlite-utils Database
    with db.transaction("claims", what="claiming an algorithm's builds"):
        return db.query(
            f"""update tracked_builds set claimed_by = ?, claimed_until = ?
                where {_REF_WHERE} and algorithm = ? and state in ('tracking', 'final')
                  and (claimed_until is null or claimed_until < ?)
                returning *""",
            [poller_id, now + lease, *_ref_args(ref), algorithm, now],
        )


def claim_build(db: Store | Database, row_id: int, poller_id: str, now: float, lease: float) -> bool:
    """Claim one build (e.g. one discovered already finished) unless another poller holds it."""
    cursor = db.execute(
        """update tracked_builds set claimed_by = ?, claimed_until = ?
           where id = ? and state in ('tracking', 'final') and (claimed_until is null or claimed_until < ?)""",
        [poller_id, now + lease, row_id, now],
    )
    return bool(cursor.rowcount)


def update_build(db: Store | Database, build_row_id: int, **fields: Any) -> None:
    if not fields:
        return
    columns = ", ".join(f'"{k}" = ?' for k in fields)
    db.execute(f"update tracked_builds set {columns} where id = ?", [*fields.values(), build_row_id])


def release_claims(db: Store | Database, poller_id: str) -> None:
    db.execute("update tracked_builds set claimed_by = null, claimed_until = null where claimed_by = ?", [poller_id])


def drop_channel(db: Store | Database, ref: ChannelRef) -> None:
    """Stop everything for a channel Slack will no longer accept messages in."""
    db.execute(f"delete from subscriptions where {_REF_WHERE}", _ref_args(ref))
    db.execute(
        f"update tracked_builds set state = 'dropped' where {_REF_WHERE} and state in ('tracking', 'final')",
        _ref_args(ref),
    )
    db.execute(f"delete from outbox where {_REF_WHERE}", _ref_args(ref))


def tracked(db: Store | Database, ref: ChannelRef | None = None) -> list[dict[str, Any]]:
    if ref is None:
        return list(db.query("select * from tracked_builds order by id"))
    return list(db.query(f"select * from tracked_builds where {_REF_WHERE} order by id", _ref_args(ref)))


# -- who people are on Algorithmia ----------------------------------------------------------


def set_algorithmia_user(
    db: Store | Database, enterprise_id: str, team_id: str, user_id: str, name: str, now_iso: str
) -> None:
    """Remember which Algorithmia user a Slack user says they are (one per person and workspace)."""
    db.execute(
        """insert into algorithmia_users (enterprise_id, team_id, user_id, algorithmia_user, set_at)
           values (?, ?, ?, ?, ?) on conflict (enterprise_id, team_id, user_id)
           do update set algorithmia_user = excluded.algorithmia_user, set_at = excluded.set_at""",
        [enterprise_id, team_id, user_id, name, now_iso],
    )


def algorithmia_user(db: Store | Database, enterprise_id: str, team_id: str, user_id: str) -> str | None:
    row = db.execute(
        "select algorithmia_user from algorithmia_users where enterprise_id = ? and team_id = ? and user_id = ?",
        [enterprise_id, team_id, user_id],
    ).fetchone()
    return str(row[0]) if row else None


def slack_user_of(db: Store | Database, ref: ChannelRef, name: str) -> str | None:
    """The Slack user of the channel's workspace who said they are Algorithmia user `name` (the latest
    to say so, should two people claim one name)."""
    row = db.execute(
        """select user_id from algorithmia_users where enterprise_id = ? and team_id = ?
           and algorithmia_user = ? order by set_at desc limit 1""",
        [ref.enterprise_id, ref.team_id, name],
    ).fetchone()
    return str(row[0]) if row else None


# -- poll health ------------------------------------------------------------------------------


def poll_state(db: Store | Database, ref: ChannelRef) -> dict[str, Any]:
    rows = list(db.query(f"select * from channel_poll_state where {_REF_WHERE}", _ref_args(ref)))
    return rows[0] if rows else {"auth_failed": 0, "outage_notified": 0}


def set_poll_state(db: Store | Database, ref: ChannelRef, **fields: int) -> None:
    current = {k: v for k, v in poll_state(db, ref).items() if k in ("auth_failed", "outage_notified")}
    current.update(fields)
    db.execute(
        """insert into channel_poll_state (enterprise_id, team_id, channel_id, auth_failed, outage_notified)
           values (?, ?, ?, ?, ?) on conflict (enterprise_id, team_id, channel_id)
           do update set auth_failed = excluded.auth_failed, outage_notified = excluded.outage_notified""",
        [*_ref_args(ref), current["auth_failed"], current["outage_notified"]],
    )


def endpoint_state(db: Store | Database, endpoint: str) -> dict[str, Any]:
    rows = list(db.query("select * from endpoint_state where endpoint = ?", [endpoint]))
    return rows[0] if rows else {"endpoint": endpoint, "failing_since": None, "failures": 0, "next_attempt_at": 0.0}


def save_endpoint_state(db: Store | Database, state: dict[str, Any]) -> None:
    db.execute(
        """insert into endpoint_state (endpoint, failing_since, failures, next_attempt_at) values (?, ?, ?, ?)
           on conflict (endpoint) do update set failing_since = excluded.failing_since,
               failures = excluded.failures, next_attempt_at = excluded.next_attempt_at""",
        [state.get(k) for k in ("endpoint", "failing_since", "failures", "next_attempt_at")],
    )


# -- outbox -----------------------------------------------------------------------------------


def enqueue(
    db: Store | Database, ref: ChannelRef, dedupe_key: str, kind: str, parts: Sequence[NoticePart], now: float
) -> bool:
    """Write a notice before anything is sent; a key already queued or delivered is ignored.

    Serialised with `mark_part_sent` ("outbox" lock), so a key cannot be queued again between a sender
    remembering it as sent and removing its row.
    """
    db = as_store(db)  # callers may still hold a sqlite-utils Database
    with db.transaction("outbox", what="queueing a notice"):
        if db.execute("select 1 from notices_sent where dedupe_key = ?", [dedupe_key]).fetchone():
            return False
        cursor = db.execute(
            """insert into outbox (dedupe_key, enterprise_id, team_id, channel_id, kind, parts, created_at,
                   next_attempt_at) values (?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing""",
            [dedupe_key, *_ref_args(ref), kind, json.dumps([part.to_json() for part in parts]), now, now],
        )
        return bool(cursor.rowcount)


def parts_of(row: dict[str, Any]) -> list[NoticePart]:
    """The parts of an outbox row, as any version stored them."""
    return [NoticePart.from_json(part) for part in json.loads(row["parts"])]


def claim_due_outbox(
    db: Store | Database, now: float, sender_id: str, lease: float, limit: int = 500
) -> list[dict[str, Any]]:
    """Claim, in one transaction, the next due row of every channel free to post: one row per channel.

    A channel is free when its pacing (``channel_send_state.next_send_at``: one message a second, or a
    429's Retry-After) has passed and no other sender holds its next row; rows of paced channels are
    neither claimed nor written, so a waiting notice costs nothing per tick. Within a channel a
    notice's first message goes before the thread replies of others (latency of the news). Rows
    ``sender_id`` itself holds count as free: a lock kept its last mark out of the table, and it
    resumes them from what it remembers instead of waiting for its own lease to end.

    A row taken over from a claim that lapsed gets ``unsure_since`` (when that claim began): its
    sender may have died between Slack's answer and the mark, so the part is looked for in Slack first.
    """
    db = as_store(db)  # callers may still hold a sqlite-utils Database
    free = "(claimed_until is null or claimed_until < ? or claimed_by = ?)"
    with db.transaction("outbox", what="claiming due notices"):
        rows = db.query(
            f"""update outbox set claimed_by = ?, claimed_until = ?,
                   unsure_since = case when claimed_by is not null and claimed_by <> ?
                       then coalesce(unsure_since, claimed_until - ?) else unsure_since end
               where id in (
                   select id from outbox where {free} and id in (
                       select id from (
                           select o.id, o.step, o.claimed_by, o.claimed_until, row_number() over (
                               partition by o.enterprise_id, o.team_id, o.channel_id
                               order by o.step > 0, o.id) as nth
                           from outbox o left join channel_send_state c on c.enterprise_id = o.enterprise_id
                               and c.team_id = o.team_id and c.channel_id = o.channel_id
                           where o.next_attempt_at <= ? and coalesce(c.next_send_at, 0) <= ?) ranked
                       where nth = 1 and {free}
                       order by step > 0, id limit ?)
                   order by id{db.for_update_skip_locked})
                 and {free}
               returning *""",
            [sender_id, now + lease, sender_id, lease, now, sender_id, now, now, now, sender_id, limit, now, sender_id],
        )
    return sorted(rows, key=lambda row: (int(row["step"]) > 0, int(row["id"])))


def mark_part_sent(
    db: Store | Database, row: dict[str, Any], step: int, parent_ts: str | None, now: float, next_send_at: float
) -> None:
    """Slack accepted part ``step`` - 1: one transaction records it and the channel's pacing.

    The last part removes the row and remembers its key; an earlier one releases the row until the
    channel may post again (whoever claims it next sends the next part).
    """
    db = as_store(db)  # callers may still hold a sqlite-utils Database
    with db.transaction("outbox", what=f"marking part {step} of a {row['kind']} notice sent"):
        if step >= len(json.loads(row["parts"])):
            db.execute(
                "insert into notices_sent (dedupe_key, sent_at) values (?, ?) on conflict do nothing",
                [row["dedupe_key"], now],
            )
            db.execute("delete from outbox where id = ?", [row["id"]])
        else:
            db.execute(
                """update outbox set step = ?, parent_ts = coalesce(parent_ts, ?), next_attempt_at = ?,
                       claimed_by = null, claimed_until = null, unsure_since = null where id = ?""",
                [step, parent_ts, next_send_at, row["id"]],
            )
        set_next_send_at(db, ref_of(row), next_send_at)


def retry_outbox(
    db: Store | Database, row_id: int, when: float, attempts: int, *, unsure_since: float | None = None
) -> None:
    """Release a row until ``when``; ``unsure_since`` records that Slack may have taken the part
    (no answer came), so the next attempt looks for it first."""
    db.execute(
        """update outbox set next_attempt_at = ?, attempts = ?, claimed_by = null, claimed_until = null,
               unsure_since = coalesce(unsure_since, ?) where id = ?""",
        [when, attempts, unsure_since, row_id],
    )


def outbox_rows(db: Store | Database) -> list[dict[str, Any]]:
    return list(db.query("select * from outbox order by id"))


def next_send_at(db: Store | Database, ref: ChannelRef) -> float:
    row = db.execute(f"select next_send_at from channel_send_state where {_REF_WHERE}", _ref_args(ref)).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def set_next_send_at(db: Store | Database, ref: ChannelRef, when: float) -> None:
    db.execute(
        """insert into channel_send_state (enterprise_id, team_id, channel_id, next_send_at) values (?, ?, ?, ?)
           on conflict (enterprise_id, team_id, channel_id) do update set next_send_at = excluded.next_send_at""",
        [*_ref_args(ref), when],
    )
