"""Dialog submissions: Publish…, Try, login and a release request's Reject…. Field errors are answered
in the ack, so the dialog stays open with what was typed; a dialog's channel comes from its signed
private_metadata only."""

from __future__ import annotations

from slack_bolt import Ack, App
from slack_sdk import WebClient

from algobot import ids, messages
from algobot.channels import normalize_endpoint
from algobot.dispatch import Invocation, execute
from algobot.listeners.common import Wiring, dialog_target, hand_off, user_id
from algobot.listeners.responder import BoltResponder
from algobot.parsing import ParsedCommand, contains_key_shape


def _valid_endpoint(value: str) -> bool:
    try:
        normalize_endpoint(value)
    except ValueError:
        return False
    return True


def register(app: App, wiring: Wiring) -> None:
    services, work = wiring.services, wiring.work

    @app.view(ids.VIEW_PUBLISH)
    def on_publish_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})

        def field(block_id: str, action_id: str) -> str:
            state = (values.get(block_id) or {}).get(action_id) or {}
            return str((state.get("selected_option") or {}).get("value") or state.get("value") or "").strip()

        target = dialog_target(services.cipher, body, view)
        if target is None:
            ack(response_action="errors", errors={ids.BLOCK_PUBLISH_VERSION: messages.DIALOG_NOT_FOR_YOU})
            return
        shaped = {
            block_id: messages.DIALOG_FIELD_HOLDS_A_KEY
            for block_id, action_id in (
                (ids.BLOCK_PUBLISH_NOTES, ids.ACTION_PUBLISH_NOTES),
                (ids.BLOCK_PUBLISH_SAMPLE, ids.ACTION_PUBLISH_SAMPLE),
            )
            if contains_key_shape(field(block_id, action_id))
        }
        if shaped:  # refused in the dialog, which stays open with what was typed
            ack(response_action="errors", errors=shaped)
            return
        meta = target.extra
        options = {"callability": field(ids.BLOCK_PUBLISH_CALLABILITY, ids.ACTION_PUBLISH_CALLABILITY) or "private"}
        if notes := field(ids.BLOCK_PUBLISH_NOTES, ids.ACTION_PUBLISH_NOTES):
            options["notes"] = notes
        if sample := field(ids.BLOCK_PUBLISH_SAMPLE, ids.ACTION_PUBLISH_SAMPLE):
            options["sample_input"] = sample
        if meta.get("build_id"):
            options["build"] = str(meta["build_id"])
        version_type = field(ids.BLOCK_PUBLISH_VERSION, ids.ACTION_PUBLISH_VERSION) or "minor"
        parsed = ParsedCommand(name="publish", positional=(str(meta.get("algorithm")), version_type), options=options)
        user = user_id(body)
        # The modal is the confirmation, public callability included.
        invocation = Invocation(ref=target.ref, user_id=user, source="modal", confirmed=True)
        responder = BoltResponder(client, target.ref, user)
        if not hand_off(work, "publish", body, responder, lambda: execute(services, invocation, parsed, responder)):
            # The dialog stays open with the sentence, so nothing typed is lost.
            ack(response_action="errors", errors={ids.BLOCK_PUBLISH_VERSION: messages.BUSY_FIELD})
            return
        ack()

    @app.view(ids.VIEW_TRY)
    def on_try_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})
        text = str(((values.get(ids.BLOCK_TRY_INPUT) or {}).get(ids.ACTION_TRY_INPUT) or {}).get("value") or "")
        target = dialog_target(services.cipher, body, view)
        if target is None:
            ack(response_action="errors", errors={ids.BLOCK_TRY_INPUT: messages.DIALOG_NOT_FOR_YOU})
            return
        if contains_key_shape(text):
            ack(response_action="errors", errors={ids.BLOCK_TRY_INPUT: messages.DIALOG_FIELD_HOLDS_A_KEY})
            return
        meta = target.extra
        # The build's commit from the signed metadata: the dialog calls exactly the build it was opened on.
        options = {"input": text, "thread": str(meta.get("thread") or "")}
        parsed = ParsedCommand(
            name="call", positional=(f"{meta.get('algorithm')}/{meta.get('git_hash')}",), options=options
        )
        user = user_id(body)
        invocation = Invocation(ref=target.ref, user_id=user, source="modal")
        responder = BoltResponder(client, target.ref, user)
        if not hand_off(work, "call", body, responder, lambda: execute(services, invocation, parsed, responder)):
            ack(response_action="errors", errors={ids.BLOCK_TRY_INPUT: messages.BUSY_FIELD})
            return
        ack()

    @app.view(ids.VIEW_REJECT_REQUEST)
    def on_reject_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})
        state = (values.get(ids.BLOCK_REJECT_REASON) or {}).get(ids.ACTION_REJECT_REASON) or {}
        reason = " ".join(str(state.get("value") or "").split())
        target = dialog_target(services.cipher, body, view)
        if target is None:
            ack(response_action="errors", errors={ids.BLOCK_REJECT_REASON: messages.DIALOG_NOT_FOR_YOU})
            return
        if contains_key_shape(reason):  # the reason is shown in the channel and kept in the audit trail
            ack(response_action="errors", errors={ids.BLOCK_REJECT_REASON: messages.DIALOG_FIELD_HOLDS_A_KEY})
            return
        options = {"reason": reason} if reason else {}
        parsed = ParsedCommand(
            name="requests", positional=("reject", str(target.extra.get("request"))), options=options
        )
        user = user_id(body)
        invocation = Invocation(ref=target.ref, user_id=user, source="modal")
        responder = BoltResponder(client, target.ref, user)
        job = lambda: execute(services, invocation, parsed, responder)  # noqa: E731
        if not hand_off(work, "requests", body, responder, job, lane="local"):  # no Algorithmia call
            ack(response_action="errors", errors={ids.BLOCK_REJECT_REASON: messages.BUSY_FIELD})
            return
        ack()

    @app.view(ids.VIEW_LOGIN)
    def on_login_submit(ack: Ack, body: dict, view: dict, client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})
        key = ((values.get(ids.BLOCK_LOGIN_KEY) or {}).get(ids.ACTION_LOGIN_KEY) or {}).get("value") or ""
        endpoint = ((values.get(ids.BLOCK_LOGIN_ENDPOINT) or {}).get(ids.ACTION_LOGIN_ENDPOINT) or {}).get(
            "value"
        ) or ""
        errors = {}
        if not key.strip():
            errors[ids.BLOCK_LOGIN_KEY] = messages.LOGIN_KEY_EMPTY
        elif len(key.strip().split()) > 1:
            errors[ids.BLOCK_LOGIN_KEY] = messages.LOGIN_KEY_HAS_SPACES
        if not _valid_endpoint(endpoint):
            errors[ids.BLOCK_LOGIN_ENDPOINT] = messages.LOGIN_ENDPOINT_BAD
        chosen = ((values.get(ids.BLOCK_LOGIN_SCOPE) or {}).get(ids.ACTION_LOGIN_SCOPE) or {}).get("selected_option")
        target = dialog_target(services.cipher, body, view)
        if target is None:
            errors = {ids.BLOCK_LOGIN_KEY: messages.DIALOG_NOT_FOR_YOU}  # the key goes nowhere
        if errors or target is None:
            ack(response_action="errors", errors=errors)
            return
        # Whose key: the choice made, else the one the dialog opened with; the dispatcher checks who may.
        scope = str((chosen or {}).get("value") or target.extra.get("scope") or ids.LOGIN_SCOPE_CHANNEL)
        if scope not in (ids.LOGIN_SCOPE_CHANNEL, ids.LOGIN_SCOPE_ME):
            ack(response_action="errors", errors={ids.BLOCK_LOGIN_KEY: messages.DIALOG_NOT_FOR_YOU})
            return
        user = user_id(body)
        invocation = Invocation(
            ref=target.ref,
            user_id=user,
            source="modal",
            secret_input={"api_key": key.strip(), "endpoint": endpoint.strip()},
        )
        responder = BoltResponder(client, target.ref, user)
        parsed = ParsedCommand(name="login", positional=(scope,))
        job = lambda: execute(services, invocation, parsed, responder)  # noqa: E731
        if not hand_off(work, "login", body, responder, job, lane="local"):  # stores the key; no API call
            ack(response_action="errors", errors={ids.BLOCK_LOGIN_KEY: messages.BUSY_FIELD})
            return
        ack()
