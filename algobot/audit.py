"""The tamper-evident audit trail: who did what, where, with which result.

Every command, button and modal submission that reaches the API or changes configuration appends one
row. Rows form a keyed hash chain: `hash` is an HMAC-SHA256, under a key derived from the
deployment's secret (ALGOBOT_SECRET_KEY or the key file; never stored in the database), over the
canonical JSON of the row's content and `prev_hash`; `prev_hash` is the previous row's `hash` (the
first row chains from GENESIS_HASH). So editing, removing, inserting or reordering rows breaks the
chain at a row `verify` can name, and whoever has only the database file cannot re-hash the chain
after a change, nor append a row that verifies.

What the file alone cannot show is its newest rows being cut off (together with SQLite's record of
the highest id): after every append the head (row count and hash) is logged at INFO, and with
ALGOBOT_AUDIT_CHANNEL a daily checkpoint is posted to Slack; `verify(head=..., rows=...)` checks the
trail against such a record.

Trails written before the chain was keyed hold plain SHA-256 rows. `ensure_keyed` re-anchors such a
trail once: it appends a keyed "anchor" row whose `prev_hash` is the old head, which pins every older
row. `verify` accepts plain rows only before the first keyed row, and requires one.

Arguments are stored with secrets removed (`redact`): nothing that looks like a key or token reaches
the table.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any

import sqlite_utils

from algobot.channels import ChannelRef
from algobot.db import utc_iso
from algobot.parsing import KEY_SHAPED
from algobot.store import Store, as_store

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
SOURCES = frozenset({"command", "button", "modal", "cli", "system"})
# The actor of what algobot does by itself (source "system"): anchors, checkpoints, uninstalls, stopped notices.
SYSTEM_ACTOR = "system"
OUTCOMES = frozenset({"ok", "error", "refused"})
REDACTED = "[redacted]"
# How a successful publish is recorded: typed, or pressed as a button / submitted in a dialog.
PUBLISH_ACTIONS = ("publish", "button:publish", "modal:publish")
MAX_ERROR_LENGTH = 2000

# The columns covered by `hash`, in the order they are exported. `id` is not hashed: order is
# carried by `prev_hash`, and ids are checked for gaps separately.
HASHED_COLUMNS = (
    "time",
    "enterprise_id",
    "team_id",
    "channel_id",
    "user_id",
    "action",
    "source",
    "algorithm",
    "arguments",
    "outcome",
    "error",
    "result",
    "prev_hash",
)
COLUMNS = ("id", *HASHED_COLUMNS, "hash")

# Argument names whose values are secrets, matched per word: api_key, apiKey, access_token, ...
_SECRET_WORDS = frozenset(
    {"key", "keys", "apikey", "token", "tokens", "secret", "secrets", "password", "passwd", "passphrase"}
    | {"authorization", "credential", "credentials"}
)
# Values that look like secrets wherever they appear: Algorithmia keys and Slack tokens.
_SECRET_VALUE = KEY_SHAPED


def is_secret_name(name: str) -> bool:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return any(word in _SECRET_WORDS for word in re.split(r"[^a-z0-9]+", words))


def redact(value: Any) -> Any:
    """A JSON-able copy of `value` with secrets replaced by "[redacted]".

    Values under secret-sounding names go whole; key- and token-shaped strings go wherever they appear,
    even inside free text such as release notes or error messages.
    """
    if isinstance(value, Mapping):
        return {
            str(name): REDACTED if is_secret_name(str(name)) and item not in (None, "") else redact(item)
            for name, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _SECRET_VALUE.sub(REDACTED, str(value))


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(row: Mapping[str, Any], key: bytes | None) -> str:
    """The hash a row must carry: HMAC-SHA256 under `key` of the canonical JSON of its hashed columns.

    `key` None gives the plain SHA-256 of rows written before the chain was keyed.
    """
    content = _canonical_json({column: row[column] for column in HASHED_COLUMNS}).encode()
    if key is None:
        return hashlib.sha256(content).hexdigest()
    return hmac.new(key, content, hashlib.sha256).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One event to record. `arguments` are redacted on the way in; `result` is a version or build id.

    Channel columns are "" for events that belong to no channel.
    """

    team_id: str = ""
    channel_id: str = ""
    enterprise_id: str = ""
    user_id: str  # Slack user id, "cli" or SYSTEM_ACTOR
    action: str  # the subcommand ("publish", "login") or "<source>:<name>" ("button:rebuild")
    source: str  # one of SOURCES
    algorithm: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    outcome: str = "ok"  # one of OUTCOMES
    error: str | None = None
    result: str | None = None

    @classmethod
    def in_channel(cls, channel: ChannelRef, **fields: Any) -> AuditEntry:
        return cls(**channel.columns(), **fields)


def _as_dict(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as returned by the queries: every column, `arguments` parsed back from JSON."""
    return {**{column: raw[column] for column in COLUMNS}, "arguments": json.loads(raw["arguments"])}


def record(db: Store | sqlite_utils.Database, entry: AuditEntry, *, now: datetime, key: bytes) -> dict[str, Any]:
    """Append one entry to the chain, sealed with `key` (`KeyCipher.audit_key`), and return the stored row.

    The new head is logged at INFO ("audit head: N rows, hash H"), so the log collector keeps a record
    of the trail outside the database.

    Takes the write lock before reading the last hash, so concurrent writers (threads with their own
    connections, other processes) serialise instead of forking the chain. Inside a caller's
    transaction (to commit a configuration change together with its audit row) that transaction must
    have been opened with `algobot.db.immediate`.
    """
    if entry.source not in SOURCES:
        raise ValueError(f"audit source must be one of {sorted(SOURCES)}, not {entry.source!r}")
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(OUTCOMES)}, not {entry.outcome!r}")
    if not entry.action:
        raise ValueError("audit action is empty")
    row: dict[str, Any] = {
        "time": utc_iso(now),
        "enterprise_id": entry.enterprise_id or "",
        "team_id": entry.team_id or "",
        "channel_id": entry.channel_id or "",
        "user_id": entry.user_id or "",
        "action": entry.action,
        "source": entry.source,
        "algorithm": entry.algorithm,
        "arguments": _canonical_json(redact(dict(entry.arguments))),
        "outcome": entry.outcome,
        "error": redact(entry.error)[:MAX_ERROR_LENGTH] if entry.error else None,
        "result": None if entry.result is None else redact(str(entry.result)),
    }
    db = as_store(db)
    # Replicas serialise on the chain head: BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL.
    with db.transaction("audit", what="appending to the audit trail"):
        last = db.query('SELECT "hash" FROM "audit" ORDER BY "id" DESC LIMIT 1')
        row["prev_hash"] = last[0]["hash"] if last else GENESIS_HASH
        row["hash"] = row_hash(row, key)
        row["id"] = db.append_numbered("audit", row)
    log.info("audit head: %d rows, hash %s", row["id"], row["hash"])
    return _as_dict(row)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int  # rows checked (all of them when ok)
    head_hash: str  # hash of the last good row; keep it elsewhere to detect a rewritten chain
    bad_row_id: int | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok


def verify(
    db: Store | sqlite_utils.Database, key: bytes | None, *, head: str | None = None, rows: int | None = None
) -> VerifyResult:
    """Walk the chain in id order; name the first row that was edited, removed, inserted or moved.

    Rows must be sealed with `key` from the first keyed row on; plain SHA-256 rows are accepted only
    before it (a trail from before the chain was keyed), and a trail with no keyed row fails. `key`
    None checks a plain trail only (what `ensure_keyed` inspects before re-anchoring it). With
    `head` and `rows` (a checkpoint recorded earlier: the log's "audit head" line, or the Slack
    post), row `rows` must still carry the hash `head`, which catches rows cut off the end.
    """
    db = as_store(db)
    expected_prev, expected_id, count = GENESIS_HASH, 1, 0
    keyed_since: int | None = None

    def bad(row_id: int, reason: str) -> VerifyResult:
        return VerifyResult(False, count, expected_prev, row_id, reason)

    for raw in db.query(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY id"):
        row_id = raw["id"]
        if row_id != expected_id:
            missing = (
                f"row {expected_id} (before row {row_id}) was removed"
                if row_id == expected_id + 1
                else f"rows {expected_id}-{row_id - 1} (before row {row_id}) were removed"
            )
            return bad(row_id, missing)
        if raw["prev_hash"] != expected_prev:
            return bad(
                row_id,
                f"row {row_id} does not follow row {row_id - 1} in the chain: a row was inserted, "
                "removed or moved here, or the previous row was rewritten"
                if row_id > 1
                else "row 1 does not start from the genesis hash: the beginning of the trail was replaced",
            )
        if key is not None and raw["hash"] == row_hash(raw, key):
            keyed_since = keyed_since or row_id
        elif keyed_since is None and raw["hash"] == row_hash(raw, None):
            pass  # a row from before the chain was keyed, pinned by the first keyed row after it
        elif keyed_since is None and key is not None:
            return bad(
                row_id,
                f"row {row_id} does not match its hash: it was edited after it was written, or {_SECRET_HINT} "
                "is not the secret the trail was written with",
            )
        else:
            return bad(
                row_id,
                f"row {row_id} was edited after it was written (its content no longer matches its hash)",
            )
        expected_prev, expected_id, count = raw["hash"], row_id + 1, count + 1
    highest = _highest_id_ever(db)
    if highest >= expected_id:
        return bad(expected_id, f"rows {expected_id}-{highest} (the newest) were removed")
    if key is not None and keyed_since is None:
        if count == 0:
            return bad(
                1,
                "the trail is empty: every row was removed, or algobot never started with this database "
                "(it writes a first, sealed row when it starts)",
            )
        return bad(
            count,
            f"no row is sealed with the secret key: the trail was rewritten, or {_SECRET_HINT} is not the "
            "secret it was written with, or algobot has not started since the upgrade that seals it",
        )
    if rows is not None and head is not None:
        return _against_checkpoint(db, VerifyResult(True, count, expected_prev), head, rows)
    return VerifyResult(True, count, expected_prev)


_SECRET_HINT = "ALGOBOT_SECRET_KEY (or the key file beside the database)"


def _against_checkpoint(db: Store | sqlite_utils.Database, result: VerifyResult, head: str, rows: int) -> VerifyResult:
    """An intact chain must still hold the checkpoint's row `rows`, with the checkpoint's hash."""
    if rows > result.rows:
        first = result.rows + 1
        span = (
            f"row {rows} (the newest at the checkpoint) was"
            if first == rows
            else f"rows {first}-{rows} (the newest at the checkpoint) were"
        )
        return VerifyResult(False, result.rows, result.head_hash, first, f"{span} removed")
    if rows < 1:
        return VerifyResult(False, result.rows, result.head_hash, None, "the checkpoint's row count must be 1 or more")
    found = as_store(db).query('SELECT "hash" FROM audit WHERE id = ?', [rows])
    if found[0]["hash"] != head.strip().lower():
        return VerifyResult(
            False,
            result.rows,
            result.head_hash,
            rows,
            f"row {rows} does not carry the checkpoint's hash: the trail was replaced or rewritten since the "
            "checkpoint (or the checkpoint was copied wrongly)",
        )
    return result


def head(db: Store | sqlite_utils.Database) -> tuple[int, str]:
    """The trail's newest row id (its row count when intact) and hash: what a checkpoint records."""
    last = as_store(db).query('SELECT "id", "hash" FROM audit ORDER BY id DESC LIMIT 1')
    return (last[0]["id"], last[0]["hash"]) if last else (0, GENESIS_HASH)


def ensure_keyed(db: Store | sqlite_utils.Database, key: bytes, *, now: datetime) -> dict[str, Any] | None:
    """Start the keyed chain if it has not started: on an empty trail, or once on a trail from before
    the chain was keyed. Appends one row (source "system", action "anchor") and returns it; None when
    the newest row is already sealed with `key`.

    The anchor records what the old, plain chain looked like (rows, head, and whether it verified), so
    a break found now stays on record. If the newest row is neither sealed with `key` nor a plain row,
    the secret is not the one the trail was written with (or the row was edited): nothing is appended,
    and a warning says to run `algobot audit verify`.
    """
    db = as_store(db)
    with db.transaction("audit", what="anchoring the audit trail"):
        last = db.query(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY id DESC LIMIT 1")
        if last and last[0]["hash"] == row_hash(last[0], key):
            return None
        if last and last[0]["hash"] != row_hash(last[0], None):
            log.warning(
                "the newest audit row is not sealed with this deployment's secret key; run `algobot audit verify`"
            )
            return None
        legacy = verify(db, None)
        arguments: dict[str, Any] = {"plain_rows": last[0]["id"] if last else 0, "plain_head": head(db)[1]}
        if last:
            arguments["plain_chain"] = "intact" if legacy.ok else f"broken at row {legacy.bad_row_id}"
        entry = AuditEntry(
            user_id=SYSTEM_ACTOR,
            action="anchor",
            source="system",
            arguments=arguments,
            outcome="ok" if legacy.ok else "error",
            error=None if legacy.ok else legacy.reason,
        )
        return record(db, entry, now=now, key=key)


def _highest_id_ever(db: Store | sqlite_utils.Database) -> int:
    """The memory of the largest id handed out, which deleting rows does not lower (AUTOINCREMENT's
    sqlite_sequence; the ``id_high_water`` row on PostgreSQL, which unlike a sequence is rolled back
    with a failed append, so a rollback leaves no gap to be mistaken for a removed row)."""
    return as_store(db).highest_id_ever("audit")


def _since_text(since: date | datetime | None) -> str:
    if since is None:
        return ""
    if isinstance(since, datetime):
        return utc_iso(since)
    return since.isoformat()  # "YYYY-MM-DD" sorts before every timestamp of that day


def iter_rows(db: Store | sqlite_utils.Database, since: date | datetime | None = None) -> Iterator[dict[str, Any]]:
    """All rows in id order, optionally only those at or after `since` (a date means its midnight UTC)."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit WHERE time >= ? ORDER BY id"
    for raw in as_store(db).query(sql, [_since_text(since)]):
        yield _as_dict(raw)


def export(
    db: Store | sqlite_utils.Database,
    fmt: str = "jsonl",
    since: date | datetime | None = None,
    *,
    out: IO[str],
) -> int:
    """Write the trail as JSON lines (arguments as an object) or CSV (arguments as JSON text).

    Both keep `prev_hash` and `hash`, so an export can be checked against the database later.
    Returns the number of rows written.
    """
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"export format must be 'jsonl' or 'csv', not {fmt!r}")
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in iter_rows(db, since):
            writer.writerow({**row, "arguments": _canonical_json(row["arguments"])})
            count += 1
    else:
        for row in iter_rows(db, since):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def recent(
    db: Store | sqlite_utils.Database, channel: ChannelRef, algorithm: str | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """This channel's rows, newest first, optionally for one algorithm (for `/algo audit`).

    Each row has every column of COLUMNS (`time`, `user_id`, `action`, `outcome`, `result`, ...) with
    `arguments` as a dict.
    """
    where, params = channel.where()
    if algorithm is not None:
        where, params = f"{where} AND algorithm = ?", [*params, algorithm]
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit WHERE {where} ORDER BY id DESC LIMIT ?"
    return [_as_dict(raw) for raw in as_store(db).query(sql, [*params, limit])]


def releases(
    db: Store | sqlite_utils.Database, scope: ChannelRef | str, algorithm: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """Who published which version of `algorithm` when, newest first (for `/algo releases`).

    `scope` is a channel, or a team id for releases made from any channel of that workspace. Each
    release is a dict: `version` (the row's result), `time`, `user_id`, `notes` (from the arguments'
    "notes" or "release_notes"), `algorithm`, `enterprise_id`, `team_id`, `channel_id`, `arguments`
    and `audit_id`.
    """
    if isinstance(scope, ChannelRef):
        where, params = scope.where()
    else:
        where, params = "team_id = ?", [scope]
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM audit WHERE {where} AND algorithm = ? AND outcome = 'ok' "
        f"AND action IN ({', '.join('?' for _ in PUBLISH_ACTIONS)}) ORDER BY id DESC"
    )
    params = [*params, algorithm, *PUBLISH_ACTIONS]
    if limit is not None:
        sql, params = f"{sql} LIMIT ?", [*params, limit]
    found = []
    for row in map(_as_dict, as_store(db).query(sql, params)):
        notes = row["arguments"].get("notes", row["arguments"].get("release_notes"))
        found.append(
            {
                "version": row["result"],
                "time": row["time"],
                "user_id": row["user_id"],
                "notes": None if notes is None else str(notes),
                "algorithm": row["algorithm"],
                "enterprise_id": row["enterprise_id"],
                "team_id": row["team_id"],
                "channel_id": row["channel_id"],
                "arguments": row["arguments"],
                "audit_id": row["id"],
            }
        )
    return found
