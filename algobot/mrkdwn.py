"""Escaping and cutting text for Slack's mrkdwn, shared by messages and builders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

CUT_MARKER = "…"


class Mrkdwn(str):
    """Text algobot itself built as mrkdwn (e.g. a date token): `esc` leaves it as it is."""


def esc(text: Any) -> str:
    """Escape &, < and > so user or API text cannot mention @channel or forge links."""
    if isinstance(text, Mrkdwn):
        return text
    return str(text if text is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def parse_time(value: Any) -> datetime | None:
    """An API or database time (ISO 8601, `Z` or an offset; naive means UTC) or epoch seconds, or None."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def slack_date(value: Any, missing: str = "—") -> str:
    """A time as Slack's date token, so each reader sees it in their own time zone.

    ``<!date^UNIX^{date_short_pretty} {time}|2026-11-27 07:29 UTC>``: clients that cannot render the
    token show the UTC fallback. Text that is not a time is escaped and shown as is.
    """
    moment = parse_time(value)
    if moment is None:
        return Mrkdwn(esc(value)) if value not in (None, "") else missing
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Mrkdwn(f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>")


def duration(seconds: float | None) -> str:
    """A duration people read at a glance: "3 s", "2 min 5 s", "2 min", "1 h 4 min"."""
    if seconds is None or seconds < 0:
        return "—"
    total = int(round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def truncate(text: str, limit: int, marker: str = CUT_MARKER) -> str:
    """Cut text to `limit` characters, ending with a visible marker when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker
