"""List an algorithm's builds, newest first, with a button for the next page."""

from __future__ import annotations

from algobot import blocks, messages

from ._paging import listing_command

COMMAND = listing_command(
    "builds",
    __doc__,
    lambda api, algorithm, limit, marker: api.builds(algorithm, limit=limit, marker=marker),
    blocks.builds_message,
    messages.NO_BUILDS,
)
