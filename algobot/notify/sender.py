"""Delivers the outbox to Slack: about one message per second per channel, each notice once.

Channels are served concurrently by a small pool of workers (Slack's posting limit is per channel);
one channel's notices go out in order, from one worker at a time.

A notice is a list of parts (post or update, then thread replies). The row records how many parts
Slack has accepted, so a crash between parts resumes at the next one; the row is deleted, and its
dedupe key remembered, only once Slack has accepted every part.

Each tick writes little: one transaction claims the next row of every channel free to post (paced
channels are skipped, not written), and one transaction per part Slack accepted records it together
with the channel's pacing. Marks survive database locks: each is retried with backoff up to the bound
(`algobot.db.LOCKS`), and the sender also keeps in memory how far each notice got, so a part Slack
accepted is never sent again by this process even when its mark could not be written.

A crash (or kill -9) between Slack's answer and the mark leaves the row claimed; whoever takes it
over after the lease finds it marked uncertain and first looks for the part in the channel: every
post carries message metadata (event type ``algobot_notice``, the row's dedupe key and the part's
number), read back with ``conversations.history`` / ``conversations.replies`` and
``include_all_metadata``. A part found there is adopted (its ts threads the replies), not posted
again. Without a history scope (an installation from before it was asked for) the sender logs that
once and posts, as before. 429s wait for Retry-After (passed clock, no sleeping); a permanent refusal
(channel gone, bot removed, archived, account inactive) stops that channel's subscriptions and is
written to the audit trail.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from algobot import audit, metrics
from algobot.channels import ChannelRef
from algobot.db import DatabaseLocked
from algobot.notify import store
from algobot.store import Store, open_store

log = logging.getLogger(__name__)

PERMANENT_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "account_inactive", "invalid_auth", "token_revoked"}
)
CLAIM_LEASE = 60.0
RETRY_CAP = 600.0
NOTICE_EVENT = "algobot_notice"  # message metadata event type: {"key": dedupe key, "part": part number}
# Reading history is rate-limited far below posting (down to one call a minute for some apps), so
# it is read only for an uncertain part, one page, from shortly before the uncertain attempt.
HISTORY_LIMIT = 100
CLOCK_MARGIN = 60.0


@dataclass
class SendReport:
    sent: int = 0
    parts: int = 0
    deferred: int = 0
    dropped: int = 0


class OutboxSender:
    """Sends due outbox rows with the bot's Web API client (no SDK-level 429 retries: we wait ourselves)."""

    def __init__(
        self,
        db_path: str,
        client: WebClient,
        *,
        min_interval: float = 1.0,
        sender_id: str | None = None,
        token_for: Callable[[ChannelRef], str | None] | None = None,
        audit_key: bytes,
        workers: int = 8,
    ):
        """``token_for(ref)``, when given, picks the bot token of each notice's workspace (OAuth installs);
        ``client`` then supplies only the base URL and transport settings. Without it every notice goes
        out with ``client``'s own token (one workspace, SLACK_BOT_TOKEN)."""
        self.db_path = db_path
        self.client = client
        self.min_interval = min_interval
        self.sender_id = sender_id or uuid.uuid4().hex[:12]
        self.token_for = token_for
        self.audit_key = audit_key  # seals the audit row written when a channel refuses notices
        self._clients: dict[str, WebClient] = {}
        # Channels are sent to concurrently (Slack's limit is per channel); 1 = one channel at a time.
        self._workers = max(1, workers)
        self._executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="algobot-send")
        # outbox row id -> (dedupe key, parts Slack accepted, parent ts), for marks a lock kept out of the table
        self._progress: dict[int, tuple[str, int, str | None]] = {}
        self._history_refused: set[str] = set()  # errors reading history already logged (once each)

    def _client_for(self, ref: ChannelRef) -> WebClient | None:
        """The client holding the bot token of ref's workspace; None when the workspace has no installation."""
        if self.token_for is None:
            return self.client
        token = self.token_for(ref)
        if not token:
            return None
        if token not in self._clients:
            if len(self._clients) > 1000:  # tokens of reinstalled workspaces are never used again
                self._clients.clear()
            base = self.client
            self._clients[token] = WebClient(
                token=token,
                base_url=base.base_url,
                timeout=base.timeout,
                ssl=base.ssl,
                proxy=base.proxy,
                headers=dict(base.headers),
                retry_handlers=list(base.retry_handlers),
            )
        return self._clients[token]

    def run(self, now: float) -> SendReport:
        """Deliver what is due: channels concurrently, one part per free channel per tick."""
        db = open_store(self.db_path)
        try:
            due = store.claim_due_outbox(db, now, self.sender_id, CLAIM_LEASE)
        finally:
            db.close()
        shares = [due[i :: self._workers] for i in range(min(self._workers, len(due)))]
        report = SendReport()
        for part in self._executor.map(lambda share: self._run_rows(share, now), shares):
            report.sent += part.sent
            report.parts += part.parts
            report.deferred += part.deferred
            report.dropped += part.dropped
        return report

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _run_rows(self, rows: list[dict[str, Any]], now: float) -> SendReport:
        """Claimed rows, each of a different channel, on one worker thread with its own connection.

        The claim gave each channel's next row to this sender alone, so each channel's pacing
        (``next_send_at``, and Retry-After after a 429) is written by one thread at a time.
        """
        report = SendReport()
        db = open_store(self.db_path)
        try:
            for row in rows:
                self._deliver(db, row, now, report)
        finally:
            db.close()
        return report

    def _deliver(self, db: Store, row: dict[str, Any], now: float, report: SendReport) -> None:
        """Send the row's next part (its channel is free for one message) and mark it in one transaction."""
        ref = store.ref_of(row)
        parts = store.parts_of(row)
        step, parent_ts = int(row["step"]), row["parent_ts"]
        attempts = int(row["attempts"])
        known = self._progress.get(row["id"])
        if known is not None and known[0] == row["dedupe_key"] and known[1] > step:
            step, parent_ts = known[1], known[2]  # accepted by Slack in this process; only the mark was lost
        try:
            client = self._client_for(ref)
        except Exception as exc:  # the installation store could not be read: try again later
            self._retry_later(db, row, attempts, now, f"token lookup failed: {type(exc).__name__}")
            report.deferred += 1
            return
        if client is None:  # the workspace uninstalled the app: these notices can never be delivered
            self._drop_channel(db, row, "not_installed", now)
            report.dropped += 1
            return
        pace = store.next_send_at(db, ref)  # nothing sent: every part was accepted, only a mark was lost
        while step < len(parts):
            part = parts[step]
            try:
                ts = self._already_in_slack(client, ref, row, step, parent_ts, part)
                if ts is None:
                    ts = self._send(ref.channel_id, part, parent_ts, client, row["dedupe_key"], step)
                    pace = now + self.min_interval
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                metrics.NOTICES_FAILED.labels(reason=error or str(exc.response.status_code)).inc()
                if exc.response.status_code == 429 or error == "ratelimited":
                    retry_after = float(
                        exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1))
                    )
                    with db.transaction("outbox", what="pacing a channel after a 429"):
                        store.set_next_send_at(db, ref, now + retry_after)
                        store.retry_outbox(db, row["id"], now + retry_after, attempts)
                    report.deferred += 1
                    return
                if error in ("message_not_found", "cant_update_message") and part.op == "update":
                    parts[step] = replace(part, op="post", ts=None)  # the "build started" message is gone: post anew
                    continue
                if error in PERMANENT_ERRORS:
                    self._drop_channel(db, row, error, now)
                    report.dropped += 1
                    return
                self._retry_later(db, row, attempts, now, f"slack error {error}")
                report.deferred += 1
                return
            except (SlackClientError, OSError) as exc:  # no answer: Slack may have taken the part
                metrics.NOTICES_FAILED.labels(reason=type(exc).__name__).inc()
                self._retry_later(db, row, attempts, now, type(exc).__name__, unsure=True)
                report.deferred += 1
                return
            step += 1
            parent_ts = parent_ts or ts
            self._progress[row["id"]] = (row["dedupe_key"], step, parent_ts)  # before the mark: never resent
            report.parts += 1
            break  # one message per channel per tick: the next part goes when the channel is free again
        try:
            store.mark_part_sent(db, row, step, parent_ts, now, pace)
        except DatabaseLocked as exc:
            # The row stays claimed by this sender, which resumes it after that part at its next run
            # (other senders wait for the claim's lease to end).
            log.warning("part %d of notice %s to %s sent but not yet marked (%s)", step, row["kind"], ref, exc)
            report.deferred += 1
            return
        if step < len(parts):
            return
        self._progress.pop(row["id"], None)
        metrics.NOTICES_SENT.labels(kind=row["kind"]).inc()
        report.sent += 1

    def _already_in_slack(
        self,
        client: WebClient,
        ref: ChannelRef,
        row: dict[str, Any],
        step: int,
        parent_ts: str | None,
        part: store.NoticePart,
    ) -> str | None:
        """The ts of part ``step`` when the channel already shows it; None when it must be sent.

        Asked only for a row marked uncertain (a claim that lapsed, or a post that got no answer). An
        update is simply made again (the same edit twice shows once). A 429 is raised, to be paced
        like a refused post; any other refusal (no history scope) is logged once and the part posted.
        """
        if row.get("unsure_since") is None or part.op == "update" or (part.op == "thread" and not parent_ts):
            return None
        oldest = f"{float(row['unsure_since']) - CLOCK_MARGIN:.6f}"
        try:
            if part.op == "thread":
                response = client.conversations_replies(
                    channel=ref.channel_id, ts=parent_ts, oldest=oldest, limit=HISTORY_LIMIT, include_all_metadata=True
                )
            else:
                response = client.conversations_history(
                    channel=ref.channel_id, oldest=oldest, limit=HISTORY_LIMIT, include_all_metadata=True
                )
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if exc.response.status_code == 429 or error == "ratelimited":
                raise
            if error not in self._history_refused:
                self._history_refused.add(error)
                log.warning(
                    "cannot read channel history (%s): a notice whose delivery is uncertain is posted again; "
                    "reinstall the app to grant channels:history and groups:history",
                    error,
                )
            return None
        for message in response.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == NOTICE_EVENT
                and payload.get("key") == row["dedupe_key"]
                and payload.get("part") == step
            ):
                log.warning(  # a sender stopped between Slack's answer and its mark: worth an operator's eye
                    "part %d of notice %s to %s was already in Slack: not sent again", step, row["kind"], ref
                )
                return str(message.get("ts") or "")
        return None

    def _send(
        self,
        channel: str,
        part: store.NoticePart,
        parent_ts: str | None,
        client: WebClient | None = None,
        key: str = "",
        step: int = 0,
    ) -> str:
        """Post or update one part; a post carries metadata naming it, so it can be found again."""
        client = client or self.client
        content = {"text": part.text, "blocks": part.blocks}
        metadata = {"event_type": NOTICE_EVENT, "event_payload": {"key": key, "part": step}}
        if part.op == "update":
            response = client.chat_update(channel=channel, ts=part.ts, **content)
        elif part.op == "thread":
            response = client.chat_postMessage(channel=channel, thread_ts=parent_ts, metadata=metadata, **content)
        else:
            response = client.chat_postMessage(channel=channel, metadata=metadata, **content)
        return str(response.get("ts") or part.ts or "")

    def _retry_later(
        self, db: Store, row: dict[str, Any], attempts: int, now: float, why: str, *, unsure: bool = False
    ) -> None:
        attempts += 1
        delay = min(RETRY_CAP, 2.0**attempts)
        log.warning(
            "notice %s to %s deferred %.0fs after attempt %d: %s", row["kind"], row["channel_id"], delay, attempts, why
        )
        store.retry_outbox(db, row["id"], now + delay, attempts, unsure_since=now if unsure else None)

    def _drop_channel(self, db: Store, row: dict[str, Any], error: str, now: float) -> None:
        """Slack will never take messages in this channel: stop its subscriptions, record why."""
        ref = store.ref_of(row)
        log.warning("channel %s refuses notices (%s): its subscriptions are stopped", ref, error)
        with db.transaction("outbox", what="dropping a channel"):
            store.drop_channel(db, ref)
            audit.record(
                db,
                audit.AuditEntry(
                    team_id=ref.team_id,
                    channel_id=ref.channel_id,
                    enterprise_id=ref.enterprise_id,
                    user_id=audit.SYSTEM_ACTOR,
                    action="notify",
                    source="system",
                    outcome="error",
                    error=f"Slack refused a {row['kind']} notice ({error}); the channel's subscriptions were stopped",
                ),
                now=datetime.fromtimestamp(now, UTC),
                key=self.audit_key,
            )
