"""Delivers the outbox to Slack: about one message per second per channel, each notice once.

Channels are served concurrently by a small pool of workers (Slack's posting limit is per channel);
one channel's notices go out in order, from one worker at a time.

A notice is a list of parts (post or update, then thread replies). The row records how many parts
Slack has accepted, so a crash between parts resumes at the next one; the row is deleted, and its
dedupe key remembered, only once Slack has accepted every part.

Marks survive database locks: each is retried with backoff up to the bound (`algobot.db.LOCKS`),
and the sender also keeps in memory how far each notice got, so a part Slack accepted is never sent
again by this process even when its mark could not be written; the next attempt resumes after it.
The one duplicate left is a crash (or kill) between Slack's answer and the mark: the part is then
sent again after the claim lease, as no record of Slack's answer survived. 429s wait for Retry-After (passed
clock, no sleeping); a permanent refusal (channel gone, bot removed, archived, account inactive)
stops that channel's subscriptions and is written to the audit trail.
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
        """Deliver what is due: channels concurrently, each channel's notices in order and paced."""
        db = open_store(self.db_path)
        try:
            due = store.due_outbox(db, now, sender_id=self.sender_id)
        finally:
            db.close()
        by_channel: dict[ChannelRef, list[dict[str, Any]]] = {}
        for row in due:
            by_channel.setdefault(store.ref_of(row), []).append(row)
        channels = list(by_channel.values())
        shares = [channels[i :: self._workers] for i in range(min(self._workers, len(channels)))]
        report = SendReport()
        for part in self._executor.map(lambda share: self._run_channels(share, now), shares):
            report.sent += part.sent
            report.parts += part.parts
            report.deferred += part.deferred
            report.dropped += part.dropped
        return report

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _run_channels(self, channels: list[list[dict[str, Any]]], now: float) -> SendReport:
        """Some channels' due notices, on one worker thread with its own connection.

        Only this worker sends to these channels in this run, so each channel's pacing
        (``next_send_at``, and Retry-After after a 429) is read and written by one thread at a time.
        """
        report = SendReport()
        db = open_store(self.db_path)
        try:
            for rows in channels:
                for row in rows:
                    if store.next_send_at(db, store.ref_of(row)) > now:
                        report.deferred += 1
                        continue
                    if not store.claim_outbox(db, row["id"], self.sender_id, now, CLAIM_LEASE):
                        continue
                    self._deliver(db, row, now, report)
        finally:
            db.close()
        return report

    def _deliver(self, db: Store, row: dict[str, Any], now: float, report: SendReport) -> None:
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
        while step < len(parts):
            wait_until = store.next_send_at(db, ref)
            if wait_until > now:
                store.retry_outbox(db, row["id"], wait_until, attempts)
                report.deferred += 1
                return
            part = parts[step]
            try:
                ts = self._send(ref.channel_id, part, parent_ts, client)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                metrics.NOTICES_FAILED.labels(reason=error or str(exc.response.status_code)).inc()
                if exc.response.status_code == 429 or error == "ratelimited":
                    retry_after = float(
                        exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1))
                    )
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
            except (SlackClientError, OSError) as exc:
                metrics.NOTICES_FAILED.labels(reason=type(exc).__name__).inc()
                self._retry_later(db, row, attempts, now, type(exc).__name__)
                report.deferred += 1
                return
            step += 1
            parent_ts = parent_ts or ts
            self._progress[row["id"]] = (row["dedupe_key"], step, parent_ts)  # before the mark: never resent
            report.parts += 1
            if not self._mark(db, row, step, parent_ts, now):
                report.deferred += 1
                return
        try:
            with db.transaction("outbox", what=f"marking a {row['kind']} notice delivered"):
                store.finish_outbox(db, row, now)
        except DatabaseLocked as exc:
            log.warning("notice %s to %s delivered but not yet marked (%s); retried next run", row["kind"], ref, exc)
            report.deferred += 1
            return
        self._progress.pop(row["id"], None)
        metrics.NOTICES_SENT.labels(kind=row["kind"]).inc()
        report.sent += 1

    def _mark(self, db: Store, row: dict[str, Any], step: int, parent_ts: str | None, now: float) -> bool:
        """Record that Slack accepted part ``step``; False when a lock outlasted the retries.

        The progress is then only in memory: the row stays claimed by this sender, which resumes it
        after that part at its next run (other senders wait for the claim's lease to end).
        """
        ref = store.ref_of(row)
        try:
            with db.transaction("outbox", what=f"marking part {step} of a {row['kind']} notice sent"):
                store.advance_outbox(db, row["id"], step, parent_ts)
                store.set_next_send_at(db, ref, now + self.min_interval)
        except DatabaseLocked as exc:
            log.warning("part %d of notice %s to %s sent but not yet marked (%s)", step, row["kind"], ref, exc)
            return False
        return True

    def _send(
        self, channel: str, part: store.NoticePart, parent_ts: str | None, client: WebClient | None = None
    ) -> str:
        client = client or self.client
        content = {"text": part.text, "blocks": part.blocks}
        if part.op == "update":
            response = client.chat_update(channel=channel, ts=part.ts, **content)
        elif part.op == "thread":
            response = client.chat_postMessage(channel=channel, thread_ts=parent_ts, **content)
        else:
            response = client.chat_postMessage(channel=channel, **content)
        return str(response.get("ts") or part.ts or "")

    def _retry_later(self, db: Store, row: dict[str, Any], attempts: int, now: float, why: str) -> None:
        attempts += 1
        delay = min(RETRY_CAP, 2.0**attempts)
        log.warning(
            "notice %s to %s deferred %.0fs after attempt %d: %s", row["kind"], row["channel_id"], delay, attempts, why
        )
        store.retry_outbox(db, row["id"], now + delay, attempts)

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
