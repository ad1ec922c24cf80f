"""Set this channel's Algorithmia API key (and endpoint) in a private dialog."""

from __future__ import annotations

from algobot import blocks, ids, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.notify import store as notify_store
from algobot.parsing import ParsedCommand, looks_like_secret


def check_text(parsed: ParsedCommand) -> str | None:
    """Refuse any text after `login` without echoing it: keys are taken only in the dialog."""
    if parsed.positional or parsed.options:
        return messages.LOGIN_LOOKS_LIKE_KEY if looks_like_secret(parsed.raw_text) else messages.LOGIN_TAKES_NO_TEXT
    return None


def login_view(ctx: CommandContext) -> dict:
    config = ctx.channels.config(ctx.ref)
    endpoint = (config.endpoint if config and config.endpoint else None) or ctx.settings.algorithmia_api
    metadata = ctx.ref.to_metadata(ctx.services.cipher, ctx.user_id)
    return blocks.login_modal(
        callback_id=ids.VIEW_LOGIN,
        private_metadata=metadata,
        title=messages.LOGIN_MODAL_TITLE,
        intro=messages.LOGIN_MODAL_INTRO,
        key_block=(ids.BLOCK_LOGIN_KEY, ids.ACTION_LOGIN_KEY, messages.LOGIN_KEY_LABEL),
        endpoint_block=(
            ids.BLOCK_LOGIN_ENDPOINT,
            ids.ACTION_LOGIN_ENDPOINT,
            messages.LOGIN_ENDPOINT_LABEL,
            endpoint,
            messages.LOGIN_ENDPOINT_HINT.format(default=ctx.settings.algorithmia_api),
        ),
    )


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    secret = ctx.invocation.secret_input
    if ctx.invocation.source != "modal" or not secret:
        return Reply(view=login_view(ctx), skip_audit=True)
    endpoint = (secret.get("endpoint") or "").strip().rstrip("/") or ctx.settings.algorithmia_api
    # The deployment's default is stored as "none", so the channel follows a later ALGORITHMIA_API.
    stored = None if endpoint == ctx.settings.algorithmia_api else endpoint
    config = ctx.channels.set_key(ctx.ref, secret["api_key"].strip(), stored, ctx.user_id, ctx.now)
    notify_store.set_poll_state(ctx.db, ctx.ref, auth_failed=0)  # a new key resumes build notices
    return Reply(
        ephemeral=blocks.text_message(messages.login_saved(ctx.ref.channel_id, config.masked_key, endpoint)),
        announce=blocks.text_message(messages.login_announcement(ctx.user_id, endpoint)),
        audit_arguments={"endpoint": endpoint},
        result=config.masked_key,
    )


COMMAND = CommandSpec(
    name="login",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    check_text=check_text,
    details="Opens a dialog; never type a key into a message.",
)
