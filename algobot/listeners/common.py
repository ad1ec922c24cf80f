"""What every kind of listener shares: who and where a payload comes from, and handing work to the queue."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore

from algobot import blocks, messages
from algobot.channels import ChannelRef, DialogMetadata
from algobot.crypto import KeyCipher
from algobot.dispatch import Services
from algobot.intake import WorkQueue
from algobot.listeners.responder import BoltResponder

log = logging.getLogger("algobot.slack_app")  # the logger name operators already filter on


@dataclass(frozen=True)
class Wiring:
    """What listeners are given: the dispatcher's services, the intake queue, and (with OAuth) the
    installation store the uninstall events clear."""

    services: Services
    work: WorkQueue
    installations: SQLite3InstallationStore | None = None


def channel_ref(body: Mapping[str, Any]) -> ChannelRef:
    """The (enterprise, team, channel) a request comes from, for every payload shape."""
    team = body.get("team_id") or (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    channel = body.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    enterprise = body.get("enterprise_id") or (body.get("enterprise") or {}).get("id") or ""
    return ChannelRef(team_id=str(team or ""), channel_id=str(channel), enterprise_id=str(enterprise or ""))


def user_id(body: Mapping[str, Any]) -> str:
    """Who sent a request, for every payload shape."""
    user = body.get("user")
    return str(body.get("user_id") or (user.get("id") if isinstance(user, dict) else "") or "")


def dialog_target(cipher: KeyCipher, body: Mapping[str, Any], view: Mapping[str, Any]) -> DialogMetadata | None:
    """The signed metadata of a submitted dialog, if it was opened by this deployment for this very user
    in this team (and enterprise); None otherwise. Slack signs the submission, but not what the
    metadata says, so the channel is trusted only when both agree."""
    opened = ChannelRef.from_metadata(cipher, view.get("private_metadata"))
    submitter = channel_ref(body)
    if (
        opened is None
        or opened.ref.team_id != submitter.team_id
        or opened.ref.enterprise_id != submitter.enterprise_id
        or opened.user_id != user_id(body)
    ):
        log.warning(
            "refused a dialog submission from %s/%s whose metadata is not signed for that user and team",
            submitter.team_id,
            user_id(body),
        )
        return None
    return opened


def report_failure(error: Exception, body: Mapping[str, Any], logger: logging.Logger) -> str:
    """Log an unexpected failure with a short reference a person can quote; returns the reference."""
    reference = uuid.uuid4().hex[:8]
    ref = channel_ref(body)
    logger.error(
        "unhandled error ref=%s team=%s channel=%s user=%s: %r",
        reference,
        ref.team_id,
        ref.channel_id,
        user_id(body),
        error,
        exc_info=error,
    )
    return reference


def hand_off(
    work: WorkQueue,
    name: str,
    body: Mapping[str, Any],
    responder: BoltResponder,
    job: Callable[[], None],
    *,
    lane: str = "api",
) -> bool:
    """Queue ``job``; False when the queue is full (the caller says "busy"). Failures and timeouts are told.

    ``lane="local"`` for work that never calls Algorithmia, so it never waits behind work that does.
    """

    def run() -> None:
        try:
            job()
        except Exception as exc:  # reported to the person with a reference, and logged with the traceback
            reference = report_failure(exc, body, log)
            try:
                responder.notice(blocks.text_message(messages.INTERNAL_ERROR.format(ref=reference)))
            except Exception:  # Slack itself failing: the log line above is all that is left
                log.exception("could not tell the user about ref=%s", reference)

    def on_timeout(reason: str) -> None:
        responder.expired = True
        sentence = {
            "running": messages.TIMED_OUT_RUNNING,
            "waiting": messages.TIMED_OUT_WAITING,
            "stopping": messages.NOT_RUN_STOPPING,
        }[reason]
        responder.notice(blocks.text_message(sentence.format(name=blocks.esc(name), seconds=round(work.deadline))))

    return work.submit(run, on_timeout=on_timeout, lane=lane)
