"""The notification tests that matter for exactly-once, run again with the bot on a real PostgreSQL.

The test functions are those of tests/test_notifications.py (imported, so pytest collects them here
too); this module's `bot_settings_overrides` points the bot at a fresh PostgreSQL database, so every
read and write, claims and the outbox included, goes through the PostgreSQL half of the store.
"""

from __future__ import annotations

import pytest

from tests.test_notifications import (  # noqa: F401 - collected here to run on PostgreSQL
    Clock,
    make_job,
    test_a_watched_push_gets_exactly_one_notice_with_the_tail,
    test_archived_channel_stops_its_subscriptions_and_is_audited,
    test_compile_from_slack_updates_its_own_message,
    test_restart_between_deciding_and_posting_delivers_once,
    test_two_pollers_on_one_database_deliver_one_notice,
    test_watching_and_unwatch,
)


@pytest.fixture
def bot_settings_overrides(pg_url) -> dict[str, str]:
    return {"database_url": pg_url}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def job(bot):
    return make_job(bot)
