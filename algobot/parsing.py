"""Where `/algo` command text becomes a subcommand, positional arguments and key=value options.

Grammar: ``SUB [positional ...] [key=value ...]`` with shell-style quoting (``notes="two words"``).
Slack sends the text HTML-escaped (``&amp;``, ``&lt;``, ``&gt;``), may turn quotes into curly ones,
and sends user mentions as ``<@U123|name>``; all of that is normalised here so each command sees
plain values.
"""

from __future__ import annotations

import html
import re
import shlex
from dataclasses import dataclass, field

_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_BARE_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_OPTION = re.compile(r"^([a-z_]+)=(.*)$", re.DOTALL)


class UsageError(ValueError):
    """What a person typed cannot be run as is: raised before any API call, never by the API.

    The one type for local problems (unclosed quotes, unknown or malformed options, missing
    arguments, algorithm names, build ids, setting values); the message names the problem and the
    fix, and is shown with the command's usage. Refusals from Algorithmia are `AlgorithmiaError`s.
    """

    @property
    def message(self) -> str:
        return str(self)


# The former name of UsageError, for callers that still spell it so (the same class).
ParseError = UsageError


@dataclass(frozen=True)
class ParsedCommand:
    """One `/algo` invocation, split but not yet validated against a command's spec."""

    name: str
    positional: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)
    raw_text: str = ""

    def to_text(self) -> str:
        """The canonical text of this command, e.g. to show what a button will run."""
        parts = [self.name, *(shlex.quote(p) for p in self.positional)]
        parts += [f"{k}={shlex.quote(v)}" for k, v in self.options.items()]
        return " ".join(parts)


def normalise(text: str) -> str:
    """Undo Slack's escaping and curly quotes."""
    return html.unescape(text or "").translate(_CURLY).strip()


def split_command(text: str) -> ParsedCommand:
    """Split command text into subcommand, positional arguments and options.

    Options are the tokens of the form ``key=value``; a key may be given once.
    """
    clean = normalise(text)
    try:
        tokens = shlex.split(clean)
    except ValueError:
        raise UsageError('a quote is not closed: put a matching " at the end of the value.') from None
    if not tokens:
        return ParsedCommand(name="", raw_text=clean)
    name, rest = tokens[0].lower(), tokens[1:]
    positional: list[str] = []
    options: dict[str, str] = {}
    for token in rest:
        match = _OPTION.match(token)
        if match:
            key, value = match.group(1), match.group(2)
            if key in options:
                raise UsageError(f"{key}= is given twice: give it once.")
            options[key] = value
        else:
            positional.append(token)
    return ParsedCommand(name=name, positional=tuple(positional), options=options, raw_text=clean)


def parse_user_reference(token: str) -> str | None:
    """A Slack user id from a mention ``<@U123|name>`` or a bare id; None for a plain @name."""
    match = _MENTION.match(token.strip())
    if match:
        return match.group(1)
    if _BARE_USER_ID.match(token.strip()):
        return token.strip()
    return None


# Text shaped like a credential wherever it appears: Algorithmia API keys ("sim" + 20 or more letters
# and digits) and Slack tokens (xoxb-, xoxp-, xoxe.xoxp-, xapp-, ...). One pattern for everything
# that must not echo or store one: free-text options (`contains_key_shape`) and the audit trail.
KEY_SHAPED = re.compile(r"\bsim[A-Za-z0-9]{20,}\b|\bxox[a-z]{1,2}(?:\.xox[a-z])?-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+")


def contains_key_shape(text: str) -> bool:
    """True when `text` holds something shaped like an Algorithmia key or a Slack token."""
    return KEY_SHAPED.search(text) is not None


def looks_like_secret(text: str) -> bool:
    """True for text that may be an API key or token, so it is never echoed or stored."""
    for token in normalise(text).split():
        if len(token) >= 20 and re.fullmatch(r"[A-Za-z0-9+/=_\-.]+", token) and token.count("/") != 1:
            return True
        if token.startswith(("sim", "xox")) and len(token) >= 12:
            return True
    return False
