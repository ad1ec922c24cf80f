"""The poll-per-algorithm tests, run again with the bot on a real PostgreSQL.

The test functions are those of tests/test_poll_by_algorithm.py that drive the bot (imported, so
pytest collects them here too); `bot_settings_overrides` points the bot at a fresh PostgreSQL
database. The query-plan test stays SQLite-only there: it reads SQLite's `explain query plan`.
"""

from __future__ import annotations

import pytest

from tests.test_poll_by_algorithm import (  # noqa: F401 - collected here to run on PostgreSQL
    test_builds_of_one_algorithm_share_its_list_request,
    test_channels_with_different_keys_are_listed_each_with_its_own,
    test_one_list_serves_every_channel_watching_with_the_same_key,
)


@pytest.fixture
def bot_settings_overrides(pg_url) -> dict[str, str]:
    return {"database_url": pg_url}
