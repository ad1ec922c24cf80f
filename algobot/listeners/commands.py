"""The `/algo` slash command: parse, answer bad input in the ack, queue the rest and ack empty."""

from __future__ import annotations

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from algobot import blocks, messages
from algobot.dispatch import Invocation, Services, execute
from algobot.listeners.common import Wiring, channel_ref, hand_off, user_id
from algobot.listeners.responder import BoltResponder
from algobot.logs import SecretFilter
from algobot.parsing import ParsedCommand, ParseError, split_command

WORKING_TEXT_LIMIT = 120  # characters of the command echoed in "Working on …"
_KEY_SHAPES = SecretFilter()


def working_text(parsed: ParsedCommand) -> str:
    """Said just before a command's first Algorithmia call: the command with its arguments.

    Only commands that call the API say it (login never does); key-shaped text is redacted, the
    rest escaped and cut to WORKING_TEXT_LIMIT characters.
    """
    words = [parsed.name, *parsed.positional]
    words += [f'{k}="{v}"' if " " in v else f"{k}={v}" for k, v in parsed.options.items()]
    text = _KEY_SHAPES.scrub(" ".join(words)).replace("`", "'")
    if len(text) > WORKING_TEXT_LIMIT:
        text = text[: WORKING_TEXT_LIMIT - 1] + "…"
    return messages.WORKING.format(text=blocks.esc(text))


def _usage_for(text: str, services: Services) -> str:
    """The usage of the command the text names (even when the text cannot be parsed), else help's."""
    words = text.split()
    spec = services.registry.get(words[0].lower()) if words else None
    return spec.usage if spec is not None else "/algo help"


def register(app: App, wiring: Wiring) -> None:
    services, work = wiring.services, wiring.work

    @app.command("/algo")
    def on_algo(ack: Ack, body: dict, respond: Respond, client: WebClient) -> None:
        text = body.get("text") or ""
        try:
            parsed = split_command(text)
        except ParseError as exc:
            ack(**blocks.text_message(messages.bad_input(str(exc), _usage_for(text, services))))
            return
        spec = services.registry.get(parsed.name)
        if spec is not None:
            try:
                spec.check(parsed)
            except ParseError as exc:  # answered in the ack: no worker needed, nothing to wait for
                ack(**blocks.text_message(messages.bad_input(str(exc), spec.usage)))
                return
        ref, user = channel_ref(body), user_id(body)
        responder = BoltResponder(client, ref, user, respond=respond, trigger_id=body.get("trigger_id"))

        def working() -> None:
            responder.ephemeral(blocks.text_message(working_text(parsed)))

        invocation = Invocation(
            ref=ref,
            user_id=user,
            source="command",
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
            on_api_call=working if spec is not None and spec.needs_key else None,
        )
        name = spec.name if spec is not None else "help"
        lane = "api" if spec is not None and spec.needs_key else "local"
        job = lambda: execute(services, invocation, parsed, responder)  # noqa: E731
        if not hand_off(work, name, body, responder, job, lane=lane):
            ack(**blocks.text_message(messages.BUSY.format(name=blocks.esc(name))))
            return
        ack()  # no text: the answer follows, after "Working on …" when Algorithmia is asked
