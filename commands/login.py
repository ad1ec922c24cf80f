"""Set this channel's Algorithmia API key, or your own (`me`), in a private dialog."""

from __future__ import annotations

from algobot import blocks, ids, messages
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line, may_configure
from algobot.notify import store as notify_store
from algobot.options import Arg
from algobot.parsing import ParsedCommand, looks_like_secret

SCOPES = (ids.LOGIN_SCOPE_CHANNEL, ids.LOGIN_SCOPE_ME)


def check_text(parsed: ParsedCommand) -> str | None:
    """Refuse any text after `login` but `me` (or `channel`) without echoing it: keys are taken only in the dialog."""
    if parsed.options or len(parsed.positional) > 1 or (parsed.positional and parsed.positional[0] not in SCOPES):
        return messages.LOGIN_LOOKS_LIKE_KEY if looks_like_secret(parsed.raw_text) else messages.LOGIN_TAKES_NO_TEXT
    return None


def kind_of(parsed: ParsedCommand) -> Kind:
    """Setting your own key is open to anyone (and audited); the channel's key is for its configurers.

    Typed bare, `/algo login` only opens the dialog (`shows_when_bare`), so anyone may open it.
    """
    return Kind.READ if parsed.positional == (ids.LOGIN_SCOPE_ME,) else Kind.CONFIGURE


def login_view(ctx: CommandContext, wanted: str) -> dict:
    """The dialog: the channel's key is offered only to whoever may configure the channel."""
    config = ctx.channels.config(ctx.ref)
    endpoint = (config.endpoint if config and config.endpoint else None) or ctx.settings.algorithmia_api
    configurer = may_configure(ctx)
    choices = [(ids.LOGIN_SCOPE_ME, messages.LOGIN_SCOPE_ME)]
    if configurer:
        choices.insert(0, (ids.LOGIN_SCOPE_CHANNEL, messages.LOGIN_SCOPE_CHANNEL))
    else:
        wanted = ids.LOGIN_SCOPE_ME
    # The initial choice travels signed, as the choice a submission without one means.
    metadata = ctx.ref.to_metadata(ctx.services.cipher, ctx.user_id, scope=wanted)
    return blocks.login_modal(
        callback_id=ids.VIEW_LOGIN,
        private_metadata=metadata,
        title=messages.LOGIN_MODAL_TITLE,
        intro=messages.LOGIN_MODAL_INTRO if configurer else messages.LOGIN_MEMBER_INTRO,
        key_block=(ids.BLOCK_LOGIN_KEY, ids.ACTION_LOGIN_KEY, messages.LOGIN_KEY_LABEL),
        endpoint_block=(
            ids.BLOCK_LOGIN_ENDPOINT,
            ids.ACTION_LOGIN_ENDPOINT,
            messages.LOGIN_ENDPOINT_LABEL,
            endpoint,
            messages.LOGIN_ENDPOINT_HINT.format(default=ctx.settings.algorithmia_api),
        ),
        scope_block=(
            ids.BLOCK_LOGIN_SCOPE,
            ids.ACTION_LOGIN_SCOPE,
            messages.LOGIN_SCOPE_LABEL,
            choices,
            wanted,
            messages.LOGIN_SCOPE_ME_HINT,
        ),
    )


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    secret = ctx.invocation.secret_input
    if ctx.invocation.source != "modal" or not secret:
        wanted = parsed.positional[0] if parsed.positional else ids.LOGIN_SCOPE_CHANNEL
        return Reply(view=login_view(ctx, wanted), skip_audit=True)
    endpoint = (secret.get("endpoint") or "").strip().rstrip("/") or ctx.settings.algorithmia_api
    # The deployment's default is stored as "none", so the key follows a later ALGORITHMIA_API.
    stored = None if endpoint == ctx.settings.algorithmia_api else endpoint
    if parsed.positional == (ids.LOGIN_SCOPE_ME,):  # private: nothing is announced
        own = ctx.channels.personal.set_key(ctx.ref, ctx.user_id, secret["api_key"], stored, ctx.now)
        return Reply(
            ephemeral=blocks.text_message(messages.login_personal_saved(own.masked_key, endpoint)),
            audit_arguments={"scope": "personal", "endpoint": endpoint},
            result=own.masked_key,
        )
    config = ctx.channels.set_key(ctx.ref, secret["api_key"].strip(), stored, ctx.user_id, ctx.now)
    notify_store.set_poll_state(ctx.db, ctx.ref, auth_failed=0)  # a new key resumes build notices
    return Reply(
        ephemeral=blocks.text_message(messages.login_saved(ctx.ref.channel_id, config.masked_key, endpoint)),
        announce=blocks.text_message(messages.login_announcement(ctx.user_id, endpoint)),
        audit_arguments={"scope": "channel", "endpoint": endpoint},
        result=config.masked_key,
    )


COMMAND = CommandSpec(
    name="login",
    summary=first_line(__doc__),
    kind=Kind.CONFIGURE,
    run=run,
    args=(Arg("me", required=False),),
    check_text=check_text,
    shows_when_bare=True,
    kind_of=kind_of,
    details="Opens a dialog; never type a key into a message. Anyone may set their own key; "
    "the channel's key is for its configurers.",
)
