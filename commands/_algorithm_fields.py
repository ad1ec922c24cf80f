"""The options `create` and `update` share: an algorithm's details and its settings.

Not a subcommand itself (the registry loads only the modules it names).
"""

from __future__ import annotations

from algobot.algorithmia import DETAILS_KEYS
from algobot.options import Option
from algobot.parsing import ParsedCommand

TAGLINE = Option("tagline")
SUMMARY = Option("summary")


def setting(name: str, default: str | None = None, *, shown: str = "") -> Option:
    """An algorithm setting as an option, checked exactly as the API client checks that setting."""
    return Option(name, default=default, setting=True, shown=shown)


def given_details(parsed: ParsedCommand) -> dict[str, str]:
    """The details (label, summary, tagline) typed in this command, in the API's order."""
    return {key: parsed.options[key] for key in DETAILS_KEYS if key in parsed.options}


def given_values(parsed: ParsedCommand, options: tuple[Option, ...]) -> dict[str, str]:
    """The options typed, or their defaults, in declaration order; options left out stay out."""
    values = {option.name: option.text(parsed) for option in options}
    return {name: value for name, value in values.items() if value is not None}
