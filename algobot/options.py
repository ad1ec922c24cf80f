"""A command's arguments, declared once: the usage line, the checks and the help text come from here.

Each `CommandSpec` lists its positional `Arg`s and its key=value `Option`s (as errbot's
``arg_botcmd`` and click declare them). The dispatcher checks what was typed against them before
anything else happens (no permission lookup, no API call), so every problem found here is a
`UsageError` shown with the usage line; a command's ``run`` reads typed values with `Option.value`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from algobot import messages
from algobot.algorithmia import BOOLEAN_SETTINGS, SETTINGS_ENUMS, validate_settings
from algobot.parsing import ParsedCommand, UsageError


@dataclass(frozen=True)
class Arg:
    """A positional argument: its name in "X is missing", and how the usage line shows it."""

    name: str
    required: bool = True
    shown: str = ""  # the usage line's spelling when it differs from the name (``USER/ALGO|all``)

    def usage(self) -> str:
        text = self.shown or self.name
        return text if self.required else f"[{text}]"


@dataclass(frozen=True)
class Option:
    """A key=value option: its type (text, whole number, choice, algorithm setting) and default.

    ``low``/``high`` make it a whole number in that range; ``choices`` a word from that list (read
    case-insensitively); ``setting`` an algorithm setting, checked exactly as the API client checks
    it so the sentence is the same whichever catches it. ``hidden`` options are set by algobot's
    own buttons (a page marker, a thread) and are left out of the usage line and the help.
    """

    name: str
    default: str | int | None = None
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    setting: bool = False
    required: bool = False
    example: str = ""  # the value shown when a required option is missing
    shown: str = ""  # the usage line's placeholder when neither choices nor a default say it
    hidden: bool = False
    help: str = ""
    parse: Callable[[str], str] | None = None  # a text option's own check: its canonical form or a UsageError
    audit_length: bool = False  # the audit trail records the value's length, never its text (a call's input)

    def placeholder(self) -> str:
        """What the usage line shows after ``name=``: choices, else the default, else ``…``."""
        if self.shown:
            return self.shown
        if self.choices:
            return "|".join(self.choices)
        if self.default is not None:
            return str(self.default)
        if self.setting and self.name in SETTINGS_ENUMS:
            return "|".join(SETTINGS_ENUMS[self.name])
        if self.setting and self.name in BOOLEAN_SETTINGS:
            return "true|false"
        return "…"

    def usage(self) -> str:
        text = f"{self.name}={self.placeholder()}"
        return text if self.required else f"[{text}]"

    def help_line(self) -> str | None:
        """`/algo help CMD`'s line for this option, when there is more to say than the usage line."""
        if self.hidden:
            return None
        if self.low is not None and self.high is not None:
            accepts = messages.whole_number_range(self.low, self.high, self.default)
        elif self.choices:
            accepts = messages.one_of(self.choices, self.default)
        else:
            accepts = ""
        if not (self.help or accepts):
            return None
        return messages.option_help(self.name, self.help, accepts)

    def convert(self, raw: str) -> str | int:
        """The typed value of ``raw``, or a UsageError naming the option and what it accepts."""
        if self.low is not None and self.high is not None:
            try:
                number = int(raw)
            except ValueError:
                raise UsageError(messages.not_a_whole_number(self.name, self.low, self.high, f"'{raw}'")) from None
            if not self.low <= number <= self.high:
                raise UsageError(messages.not_a_whole_number(self.name, self.low, self.high, str(number)))
            return number
        if self.choices:
            if raw.lower() not in self.choices:
                raise UsageError(messages.not_a_choice(self.name, self.choices, raw))
            return raw.lower()
        if self.setting:
            validate_settings({self.name: raw})
        if self.parse is not None:
            return self.parse(raw)
        return raw

    def check(self, parsed: ParsedCommand) -> None:
        raw = parsed.options.get(self.name)
        if self.required and not raw:
            raise UsageError(messages.option_required(self.name, self.example or self.placeholder()))
        if raw is not None:
            self.convert(raw)

    def value(self, parsed: ParsedCommand) -> str | int | None:
        """The typed value given, else the default (the dispatcher has already checked it)."""
        raw = parsed.options.get(self.name)
        return self.default if raw is None else self.convert(raw)

    def number(self, parsed: ParsedCommand) -> int:
        """A whole-number option's value (``low``/``high`` and a default declared)."""
        return int(self.value(parsed) or 0)

    def text(self, parsed: ParsedCommand) -> str | None:
        value = self.value(parsed)
        return None if value is None else str(value)


def usage_line(name: str, args: Sequence[Arg], options: Sequence[Option]) -> str:
    """``/algo NAME ARGS [key=value] …``: what `/algo help` and every usage error show."""
    parts = [f"/algo {name}", *(a.usage() for a in args), *(o.usage() for o in options if not o.hidden)]
    return " ".join(parts)


# Options several commands share.
PAGE_LIMIT = Option("limit", default=10, low=1, high=40, help="how many to show")
PAGE_MARKER = Option("marker", hidden=True)  # set by the "Next page" button
