"""Release notices and build-change alerts again with the bot on a real PostgreSQL (CI=true).

The test functions are those of tests/test_release_notices.py; this module's `bot_settings_overrides`
points the bot at a fresh PostgreSQL database, so the subscription state (versions seen, the failing
streak), the outbox and its dedupe keys go through the PostgreSQL half of the store.
"""

from __future__ import annotations

import pytest

from tests.test_release_notices import (  # noqa: F401 - collected here to run on PostgreSQL
    test_a_failed_build_started_from_slack_mentions_who_started_it,
    test_a_release_from_slack_says_who_published_it,
    test_a_version_published_through_the_api_reaches_the_channel_once_within_two_minutes,
    test_bad_only_values_are_refused_with_the_fix,
    test_me_maps_a_person_to_an_algorithmia_user_and_their_failures_mention_them,
    test_mention_off_mentions_nobody,
    test_only_changes_posts_the_first_failure_and_the_fix,
    test_only_failed_and_releases,
    test_only_releases_posts_releases_alone,
    test_releases_lists_the_api_versions_joined_with_the_audit_trail_with_paging,
    test_two_pollers_at_once_post_a_release_once,
    test_versions_published_before_watching_are_history,
)


@pytest.fixture
def bot_settings_overrides(pg_url) -> dict[str, str]:
    return {"database_url": pg_url}
