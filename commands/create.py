"""Create an algorithm with an empty repository, and say how to push code to it."""

from __future__ import annotations

from urllib.parse import urlparse

from algobot import blocks, messages
from algobot.algorithmia import split_algo_name
from algobot.dispatch import CommandContext, CommandSpec, Kind, Reply, first_line
from algobot.options import Arg, Option
from algobot.parsing import ParsedCommand

from ._algorithm_fields import SUMMARY, TAGLINE, given_details, given_values, setting

LABEL = Option("label", required=True, shown='"Label"', example='"Sentiment analysis"')
# Sent with these values unless given; royalty_microcredits and package_set only when given.
SETTINGS = (
    setting("language", "python3-1"),
    setting("environment", "cpu"),
    setting("source_visibility", "closed"),
    setting("license", "apl"),
    setting("network_access", "isolated"),
    setting("pipeline_enabled", "false"),
    setting("royalty_microcredits", shown="0"),
    setting("package_set"),
)


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
    details = given_details(parsed)  # label= is required: the dispatcher checked it is there
    settings = given_values(parsed, SETTINGS)
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
    kind=Kind.CHANGE,
    run=run,
    args=(Arg("USER/ALGO"),),
    options=(LABEL, TAGLINE, SUMMARY, *SETTINGS),
    needs_key=True,
    details=(
        "Defaults: language python3-1, environment cpu, source closed, license apl, network isolated, "
        "pipelines off. Languages: java, javascript, python2-langpack, python3-1, r, ruby, rust, scala."
    ),
)
