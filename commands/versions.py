"""List an algorithm's published versions, newest first."""

from __future__ import annotations

from algobot import blocks, messages

from ._paging import listing_command

COMMAND = listing_command(
    "versions",
    __doc__,
    lambda api, algorithm, limit, marker: api.versions(algorithm, limit=limit, marker=marker, published=True),
    blocks.versions_message,
    messages.NO_VERSIONS,
)
