"""The daily audit checkpoint: the trail's row count and head hash, posted to ALGOBOT_AUDIT_CHANNEL.

The audit chain is keyed, so nobody without the secret can forge or re-hash rows; what the database
alone cannot show is its newest rows cut off. A checkpoint kept outside it can: `algobot audit verify
--head HASH --rows N` fails unless row N still carries HASH. Each checkpoint posted is also appended
to the trail (action "checkpoint"), which is how the next start knows when the last one was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from algobot import audit, blocks, messages
from algobot.channels import ChannelRef
from algobot.store import connect

log = logging.getLogger(__name__)

DAY = 86400.0
RETRY_SECONDS = 3600.0


def parse_channel(value: str) -> ChannelRef:
    """ALGOBOT_AUDIT_CHANNEL ("C0123" or "T0123/C0123") as a channel reference."""
    team, _, channel = value.rpartition("/")
    return ChannelRef(team_id=team, channel_id=channel)


class AuditCheckpoint:
    """Posts a checkpoint when a day has passed since the last one; called every scheduler tick with
    the scheduler's clock (UNIX seconds), so tests drive it with a passed clock."""

    def __init__(
        self,
        db_path: str,
        channel: str,
        client: WebClient,
        *,
        audit_key: bytes,
        token_for: Callable[[ChannelRef], str | None] | None = None,
    ) -> None:
        self.db_path = db_path
        self.ref = parse_channel(channel)
        self.client = client
        self.audit_key = audit_key
        self.token_for = token_for
        self.next_due: float | None = None  # read from the trail on the first run

    def run(self, now: float) -> bool:
        """Post a checkpoint if one is due; True when one was posted."""
        if self.next_due is None:
            self.next_due = self._last_posted() + DAY
        if now < self.next_due:
            return False
        with connect(self.db_path) as db:
            rows, head = audit.head(db)
        moment = datetime.fromtimestamp(now, UTC)
        text = messages.audit_checkpoint(rows, head, moment)
        try:
            self._client().chat_postMessage(channel=self.ref.channel_id, **blocks.text_message(text))
        except (SlackApiError, SlackClientError, LookupError) as error:
            reason = error.response.get("error") if isinstance(error, SlackApiError) else type(error).__name__
            log.warning("audit checkpoint not posted to %s (%s); retrying in an hour", self.ref.channel_id, reason)
            self.next_due = now + RETRY_SECONDS
            return False
        with connect(self.db_path) as db:
            audit.record(
                db,
                audit.AuditEntry(
                    user_id=audit.SYSTEM_ACTOR,
                    action="checkpoint",
                    source="system",
                    arguments={"rows": rows, "head": head, "channel": self.ref.channel_id},
                ),
                now=moment,
                key=self.audit_key,
            )
        log.info("audit checkpoint posted to %s: %d rows, hash %s", self.ref.channel_id, rows, head)
        self.next_due = now + DAY
        return True

    def _client(self) -> WebClient:
        if self.token_for is None:
            return self.client
        token = self.token_for(self.ref)
        if not token:
            raise LookupError(f"no installation for team {self.ref.team_id}")
        return WebClient(token=token, base_url=self.client.base_url)

    def _last_posted(self) -> float:
        """When the newest checkpoint was posted (0 when never), from the trail itself."""
        with connect(self.db_path) as db:
            found = list(
                db.query(
                    "SELECT time FROM audit WHERE action = 'checkpoint' AND source = 'system' ORDER BY id DESC LIMIT 1"
                )
            )
        return datetime.fromisoformat(found[0]["time"]).timestamp() if found else 0.0
