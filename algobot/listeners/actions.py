"""Buttons: Cancel, the buttons that run a command (Confirm, More, Full log, Rebuild, a release request's
Approve and Cancel), and the ones that open a dialog (Publish…, a release request's Reject…)."""

from __future__ import annotations

import json

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from algobot import blocks, ids, messages, tries
from algobot.channels import ChannelStore
from algobot.dispatch import Invocation, Reply, deliver, execute
from algobot.listeners.common import Wiring, channel_ref, hand_off, user_id
from algobot.listeners.responder import BoltResponder
from algobot.parsing import ParsedCommand
from algobot.store import open_store


def register(app: App, wiring: Wiring) -> None:
    services, work = wiring.services, wiring.work

    @app.action({"action_id": ids.ACTION_CANCEL})
    def on_cancel(ack: Ack, respond: Respond) -> None:
        ack()
        work.notify(lambda: respond(text=messages.CONFIRM_CANCELLED, replace_original=True))

    def busy_notice(responder: BoltResponder, name: str) -> None:
        """A button cannot answer in its ack: the busy sentence goes out from the notice pool."""
        work.notify(lambda: responder.notice(blocks.text_message(messages.BUSY.format(name=blocks.esc(name)))))

    for action_id in ids.COMMAND_ACTIONS:

        @app.action({"action_id": action_id})
        def on_command_button(ack: Ack, body: dict, action: dict, respond: Respond, client: WebClient) -> None:
            ack()
            value = json.loads(action.get("value") or "{}")
            parsed = ParsedCommand(
                name=str(value.get("cmd", "")),
                positional=tuple(str(a) for a in value.get("args", [])),
                options={str(k): str(v) for k, v in (value.get("opts") or {}).items()},
            )
            ref, user = channel_ref(body), user_id(body)
            confirmed = action.get("action_id") == ids.ACTION_CONFIRM_PUBLISH
            message = body.get("message") or {}
            if action.get("action_id") == ids.ACTION_FULL_LOG and message.get("ts"):
                # On a channel notice the log goes into the notice's thread.
                parsed.options["thread"] = str(message.get("thread_ts") or message["ts"])
            responder = BoltResponder(
                client,
                ref,
                user,
                respond=respond,
                trigger_id=body.get("trigger_id"),
                replace_original=confirmed,
            )
            invocation = Invocation(
                ref=ref,
                user_id=user,
                source="button",
                response_url=body.get("response_url"),
                confirmed=confirmed,
            )
            if not hand_off(
                work, parsed.name, body, responder, lambda: execute(services, invocation, parsed, responder)
            ):
                busy_notice(responder, parsed.name)

    @app.action({"action_id": ids.ACTION_OPEN_PUBLISH})
    def on_open_publish(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        value = json.loads(action.get("value") or "{}")
        ref, user = channel_ref(body), user_id(body)
        # The button names one build; the dialog publishes that build's commit or nothing.
        build_id, git_hash = value.get("build_id"), value.get("git_hash")
        metadata = ref.to_metadata(
            services.cipher, user, algorithm=value.get("algorithm"), build_id=build_id, git_hash=git_hash
        )
        algorithm = str(value.get("algorithm"))

        def open_dialog() -> None:
            db = open_store(services.settings.database_location)
            try:  # what a Try of this build answered here, if it was tried
                tried = tries.tried_line(db, ref, algorithm, str(git_hash) if git_hash else None)
            finally:
                db.close()
            view = blocks.publish_modal(
                algorithm=algorithm,
                private_metadata=metadata,
                build_id=str(build_id) if build_id else None,
                commit=str(git_hash) if git_hash else None,
                tried=tried,
            )
            deliver(Reply(view=view), responder)

        # Opened as login's dialog is, through a Reply. A Slack call only (no Algorithmia), and the
        # trigger expires in 3 s: not behind the command queue.
        responder = BoltResponder(client, ref, user, trigger_id=body.get("trigger_id"))
        work.notify(open_dialog)

    @app.action({"action_id": ids.ACTION_OPEN_TRY})
    def on_open_try(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        value = json.loads(action.get("value") or "{}")
        ref, user = channel_ref(body), user_id(body)
        algorithm, build_id, git_hash = str(value.get("algorithm")), value.get("build_id"), str(value.get("git_hash"))
        message = body.get("message") or {}
        # The answer goes into the notice's thread; the dialog calls this build's commit, nothing else.
        thread = str(message.get("thread_ts") or message.get("ts") or "")
        metadata = ref.to_metadata(
            services.cipher, user, algorithm=algorithm, build_id=build_id, git_hash=git_hash, thread=thread
        )

        def open_dialog() -> None:
            db = open_store(services.settings.database_location)
            try:
                channels = ChannelStore(db, services.cipher)
                default = services.settings.algorithmia_api
                initial = tries.initial_input(
                    db, ref, algorithm, lambda: tries.sample_input(channels, ref, algorithm, default)
                )
            finally:
                db.close()
            view = blocks.try_modal(
                algorithm=algorithm,
                private_metadata=metadata,
                build_id=str(build_id) if build_id else None,
                commit=git_hash,
                initial=initial,
            )
            deliver(Reply(view=view), responder)

        # Like Publish…: the trigger expires in 3 s, so not behind the command queue.
        responder = BoltResponder(client, ref, user, trigger_id=body.get("trigger_id"))
        work.notify(open_dialog)

    @app.action({"action_id": ids.ACTION_REJECT_REQUEST})
    def on_reject_request(ack: Ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        value = json.loads(action.get("value") or "{}")
        ref, user = channel_ref(body), user_id(body)
        algorithm, request = str(value.get("algorithm") or ""), str(value.get("request") or "")
        metadata = ref.to_metadata(services.cipher, user, request=request, algorithm=algorithm)
        view = blocks.reject_modal(private_metadata=metadata, algorithm=algorithm)
        # Whether this person may reject is the dispatcher's question when the dialog is submitted.
        responder = BoltResponder(client, ref, user, trigger_id=body.get("trigger_id"))
        work.notify(lambda: deliver(Reply(view=view), responder))
