"""Every notification test, run again with the bot on a real PostgreSQL.

The test functions are those of tests/test_notifications.py (imported, so pytest collects them here
too; a test added there and not here fails `test_every_notification_test_runs_on_postgresql_too`);
this module's `bot_settings_overrides` points the bot at a fresh PostgreSQL database, so every
read and write, claims and the outbox included, goes through the PostgreSQL half of the store.
"""

from __future__ import annotations

import pytest

from tests import test_notifications
from tests.test_notifications import (  # noqa: F401 - collected here to run on PostgreSQL
    Clock,
    make_job,
    test_a_build_that_disappears_is_dropped_with_one_notice,
    test_a_failing_poll_is_logged_and_the_outbox_still_drains,
    test_a_revoked_key_is_told_once_and_polling_stops,
    test_a_slow_poll_cycle_does_not_hold_the_outbox_back,
    test_a_watched_push_gets_exactly_one_notice_with_the_tail,
    test_archived_channel_stops_its_subscriptions_and_is_audited,
    test_compile_from_slack_updates_its_own_message,
    test_notice_buttons_full_log_rebuild_and_publish,
    test_only_failed_filters_successes,
    test_outage_then_recovery_gets_one_notice_each_and_every_build_notice,
    test_restart_between_deciding_and_posting_delivers_once,
    test_scheduler_polls_and_sends_in_separate_jobs,
    test_slack_429_is_retried_after_retry_after,
    test_still_running_after_two_hours_is_said_once,
    test_two_pollers_on_one_database_deliver_one_notice,
    test_watch_does_not_report_builds_that_ended_before_it,
    test_watch_is_a_configuring_action,
    test_watching_and_unwatch,
)


@pytest.fixture
def bot_settings_overrides(pg_url) -> dict[str, str]:
    return {"database_url": pg_url}


def test_every_notification_test_runs_on_postgresql_too():
    here = {name for name in globals() if name.startswith("test_")}
    there = {name for name in vars(test_notifications) if name.startswith("test_")}
    assert there <= here, f"import these from tests.test_notifications too: {sorted(there - here)}"
