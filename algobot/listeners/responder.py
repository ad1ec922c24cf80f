"""`BoltResponder`: the dispatcher's `Responder` on top of Bolt's `respond()` and the Web API client."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from algobot import blocks, messages
from algobot.channels import ChannelRef
from algobot.dispatch import Upload

log = logging.getLogger("algobot.slack_app")  # the logger name operators already filter on

NOT_IN_CHANNEL_ERRORS = ("not_in_channel", "channel_not_found")


class BoltResponder:
    """Delivers replies through `respond()` (response_url) and the bot's Web API client."""

    def __init__(
        self,
        client: WebClient,
        ref: ChannelRef,
        user_id: str,
        *,
        respond: Respond | None = None,
        trigger_id: str | None = None,
        replace_original: bool = False,
    ):
        self.client = client
        self.ref = ref
        self.user_id = user_id
        self._respond = respond if respond is not None and respond.response_url else None
        self.trigger_id = trigger_id
        self.replace_original = replace_original
        self.expired = False  # set once the person was told algobot stopped waiting

    def ephemeral(self, message: Mapping[str, Any]) -> None:
        """A reply only the caller sees; dropped once the command was reported as timed out."""
        if self.expired:
            log.info("late reply dropped: the command had already been reported as timed out")
            return
        self.notice(message)

    def notice(self, message: Mapping[str, Any]) -> None:
        """Through response_url when there is one, falling back to chat.postEphemeral when it fails."""
        if self._respond is not None:
            try:
                response = self._respond(**message, response_type="ephemeral", replace_original=self.replace_original)
            except OSError as exc:  # urllib's URLError, a refused connection, a timeout
                log.warning("response_url unreachable (%s); replying with chat.postEphemeral", type(exc).__name__)
            else:
                if response.status_code == 200:
                    return
                log.warning("response_url answered %s; replying with chat.postEphemeral", response.status_code)
        self.client.chat_postEphemeral(channel=self.ref.channel_id, user=self.user_id, **message)

    def announce(self, message: Mapping[str, Any]) -> str | None:
        try:
            response = self.client.chat_postMessage(channel=self.ref.channel_id, **message)
        except SlackApiError as exc:
            if exc.response.get("error") not in NOT_IN_CHANNEL_ERRORS or self._respond is None:
                raise
            # The bot is not a member: the command's response_url can still post in the channel.
            self._respond(**message, response_type="in_channel", replace_original=False)
            return None
        return str(response.get("ts") or "") or None

    def update(self, ts: str, message: Mapping[str, Any]) -> None:
        """Edit a message the bot posted in this channel (a release request, to its outcome)."""
        self.client.chat_update(channel=self.ref.channel_id, ts=ts, **message)

    def upload(self, upload: Upload) -> None:
        """Into the channel (a notice's thread), or privately; a channel the bot left falls back to private."""
        if upload.private:
            if self._upload_privately(upload) and upload.note:
                self.ephemeral(blocks.text_message(upload.note))
            return
        try:
            self._upload_to(self.ref.channel_id, upload, thread_ts=upload.thread_ts)
        except SlackApiError as exc:
            if exc.response.get("error") not in NOT_IN_CHANNEL_ERRORS:
                raise
            if self._upload_privately(upload):
                self.ephemeral(blocks.text_message(messages.FULL_LOG_NOT_IN_CHANNEL))

    def _upload_privately(self, upload: Upload) -> bool:
        """Upload into the bot's DM with the user (conversations.open, scope im:write); False if Slack refused."""
        try:
            opened = self.client.conversations_open(users=self.user_id)
        except SlackApiError as exc:
            if exc.response.get("error") != "missing_scope":
                raise
            # An installation from before im:write: say what the operator has to do.
            self.ephemeral(blocks.text_message(messages.FULL_LOG_NEEDS_IM_WRITE))
            return False
        self._upload_to(str((opened.get("channel") or {}).get("id") or ""), upload, thread_ts=None)
        return True

    def _upload_to(self, channel: str, upload: Upload, *, thread_ts: str | None) -> None:
        self.client.files_upload_v2(
            channel=channel,
            content=upload.content,
            filename=upload.filename,
            title=upload.title,
            initial_comment=upload.comment,
            thread_ts=thread_ts,
        )

    def open_view(self, view: Mapping[str, Any]) -> None:
        self.client.views_open(trigger_id=self.trigger_id, view=dict(view))

    def is_workspace_admin(self, user_id: str) -> bool:
        user = self.client.users_info(user=user_id).get("user") or {}
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
