"""Escaping and cutting text for Slack's mrkdwn, shared by messages and builders."""

from __future__ import annotations

from typing import Any

CUT_MARKER = "…"


def esc(text: Any) -> str:
    """Escape &, < and > so user or API text cannot mention @channel or forge links."""
    return str(text if text is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int, marker: str = CUT_MARKER) -> str:
    """Cut text to `limit` characters, ending with a visible marker when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker
