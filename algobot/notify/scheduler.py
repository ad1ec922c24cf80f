"""Wiring the poller and the outbox sender into two APScheduler 3.x interval jobs.

One job polls (`NotificationJob.poll_tick`), the other sends (`NotificationJob.send_tick`): at scale a
poll cycle can take longer than the tick, and a sender that waited behind it let notices queue up
(the benchmark's profile). They coordinate only through the store's claims, as replicas do. All
state is in the database, so the job store stays in memory and a restart simply resumes. Tests call
`tick(now)` (both halves, in order) or the poller and sender directly and never start a scheduler.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient

from algobot.crypto import KeyCipher
from algobot.notify.checkpoint import AuditCheckpoint
from algobot.notify.poller import Poller
from algobot.notify.sender import OutboxSender
from algobot.pending import pending_writes
from algobot.release_requests import RequestExpiry
from algobot.settings import Settings
from algobot.workspaces import installation_store, token_lookup

log = logging.getLogger(__name__)

JOB_ID = "algobot-notify"
SEND_JOB_ID = "algobot-send"
TICK_SECONDS = 1.0


class NotificationJob:
    """One tick: records waiting for the database, a poll cycle and release requests that ran out, then
    the outbox.

    Each part logs its own failure and the next tick runs.
    """

    def __init__(
        self,
        poller: Poller,
        sender: OutboxSender,
        clock: Callable[[], float] = time.time,
        *,
        checkpoint: AuditCheckpoint | None = None,
        expiry: RequestExpiry | None = None,
    ):
        self.poller = poller
        self.sender = sender
        self.clock = clock
        self.checkpoint = checkpoint
        self.expiry = expiry
        self.last_completed: float | None = None

    def tick(self, now: float | None = None) -> None:
        """A poll cycle, then the outbox: what the two scheduled jobs do, in one call (tests)."""
        now = self.clock() if now is None else now
        self.poll_tick(now)
        self.send_tick(now)

    def poll_tick(self, now: float | None = None) -> None:
        """Records waiting for the database, then a poll cycle; `last_completed` is the poller's health."""
        now = self.clock() if now is None else now
        try:  # records commands could not write while the database was locked (builds to follow first)
            pending_writes(self.sender.db_path).flush()
        except Exception:
            log.exception("writing the records waiting for the database failed")
        try:
            self.poller.run(now)
        except Exception:  # logged with context; the outbox still drains and the next tick runs
            log.exception("poll cycle at %.0f failed", now)
        if self.expiry is not None:
            try:  # each expiry is claimed, audited and queued together: a failure leaves the rest for next tick
                self.expiry.run(now)
            except Exception:
                log.exception("expiring release requests at %.0f failed", now)
        self.last_completed = now

    def send_tick(self, now: float | None = None) -> None:
        """The outbox, then the audit checkpoint; runs on its own so a slow poll cycle never delays it."""
        now = self.clock() if now is None else now
        try:
            self.sender.run(now)
        except Exception:
            log.exception("outbox delivery at %.0f failed", now)
        if self.checkpoint is not None:
            try:
                self.checkpoint.run(now)
            except Exception:
                log.exception("audit checkpoint at %.0f failed", now)


def build_job(settings: Settings, cipher: KeyCipher, *, slack_client: WebClient | None = None) -> NotificationJob:
    """The poller and sender for this deployment (the sender's client handles 429s itself).

    With OAuth installs each notice goes out with the bot token of its own workspace, read from the
    installation store; otherwise with SLACK_BOT_TOKEN.
    """
    token_for = None
    if settings.oauth_enabled:
        token_for = token_lookup(installation_store(settings, cipher))
        client = slack_client or WebClient(base_url=settings.slack_api_url)
    else:
        client = slack_client or WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    checkpoint = None
    if settings.audit_channel:
        checkpoint = AuditCheckpoint(
            settings.database_location, settings.audit_channel, client, audit_key=cipher.audit_key, token_for=token_for
        )
    return NotificationJob(
        Poller(settings, cipher),
        OutboxSender(settings.database_location, client, token_for=token_for, audit_key=cipher.audit_key),
        checkpoint=checkpoint,
        expiry=RequestExpiry(settings.database_location, cipher.audit_key),
    )


def _on_job_error(event: JobExecutionEvent) -> None:
    log.error("job %s raised %r; it runs again at its next interval", event.job_id, event.exception)


def start_scheduler(job: NotificationJob, *, interval: float = TICK_SECONDS) -> BackgroundScheduler:
    """Start the background scheduler with the poll job and the send job (each at most one at a time)."""
    scheduler = BackgroundScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60}
    )
    scheduler.add_job(job.poll_tick, "interval", seconds=interval, id=JOB_ID, replace_existing=True)
    scheduler.add_job(job.send_tick, "interval", seconds=interval, id=SEND_JOB_ID, replace_existing=True)
    scheduler.add_listener(_on_job_error, EVENT_JOB_ERROR)
    scheduler.start()
    return scheduler
