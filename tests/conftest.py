"""Shared fixtures. Each area keeps its fixtures in tests/fixtures/<area>.py."""

import os

import pytest

pytest_plugins = [
    "tests.fixtures.sandbox",
    "tests.fixtures.slack",
    "tests.fixtures.store",
    "tests.fixtures.bot",
    "tests.fixtures.postgres",
    "tests.fixtures.notify",
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Bolt reads SLACK_* (and turns OAuth on by itself); tests start from none of them."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "ALGOBOT_", "ALGORITHMIA_")):
            monkeypatch.delenv(name, raising=False)
