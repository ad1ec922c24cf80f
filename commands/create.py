"""Create an algorithm with an empty repository, and say how to push code to it."""

from __future__ import annotations

from urllib.parse import urlparse

from algobot import blocks, messages
from algobot.algorithmia import DETAILS_KEYS, InvalidInput, split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.parsing import ParsedCommand

DEFAULT_SETTINGS = {
    "language": "python3-1",
    "environment": "cpu",
    "source_visibility": "closed",
    "license": "apl",
    "network_access": "isolated",
    "pipeline_enabled": "false",
}
SETTING_OPTIONS = (*DEFAULT_SETTINGS, "royalty_microcredits", "package_set")


def clone_url_for(algorithm: str, endpoint: str, response: dict) -> str:
    """The repository URL: as the API reports it, else Algorithmia's git host for the endpoint."""
    reported = response.get("clone_url") or (response.get("source") or {}).get("clone_url")
    if reported:
        return str(reported)
    parsed = urlparse(endpoint)
    host = parsed.netloc
    host = "git." + host[4:] if host.startswith("api.") else host
    return f"{parsed.scheme}://{host}/git/{algorithm}.git"


def run(ctx: CommandContext, parsed: ParsedCommand) -> Reply:
    algorithm = parsed.positional[0]
    split_algo_name(algorithm)
    details = {key: parsed.options[key] for key in DETAILS_KEYS if key in parsed.options}
    if not details.get("label"):
        raise InvalidInput('label= is required, e.g. label="Sentiment analysis".')
    settings = {key: parsed.options.get(key, default) for key, default in DEFAULT_SETTINGS.items()}
    for key in ("royalty_microcredits", "package_set"):
        if key in parsed.options:
            settings[key] = parsed.options[key]
    if "package_set" in parsed.options and "language" not in parsed.options:
        settings.pop("language")
    response = ctx.require_api().create(algorithm, details, settings)
    clone = clone_url_for(algorithm, ctx.endpoint, response)
    announce = blocks.text_message(messages.created(ctx.user_id, algorithm) + "\n" + messages.clone_instructions(clone))
    return Reply(
        announce=announce,
        result=str(response.get("id") or ""),
        audit_arguments={"details": details, "settings": settings},
    )


COMMAND = CommandSpec(
    name="create",
    summary=first_line(__doc__),
    usage=(
        '/algo create USER/ALGO label="Label" [tagline=…] [summary=…] [language=python3-1] [environment=cpu] '
        "[source_visibility=closed] [license=apl] [network_access=isolated] [pipeline_enabled=false] "
        "[royalty_microcredits=0] [package_set=…]"
    ),
    kind=Kind.CHANGE,
    run=run,
    min_args=1,
    max_args=1,
    options=(*DETAILS_KEYS, *SETTING_OPTIONS),
    needs_key=True,
    details=(
        "Defaults: language python3-1, environment cpu, source closed, license apl, network isolated, "
        "pipelines off. Languages: java, javascript, python2-langpack, python3-1, r, ruby, rust, scala."
    ),
)
