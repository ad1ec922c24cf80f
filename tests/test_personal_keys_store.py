"""People's own keys in the store, on both engines: one per (enterprise, team, user), encrypted,
never returned but through `api_key`, replaced in place, removed, and forgotten with their team."""

from __future__ import annotations

import pytest

from algobot import workspaces
from algobot.channels import ChannelRef, ChannelStore, Credentials
from algobot.crypto import KeyCipher
from algobot.store import connect, migrate
from tests.fixtures.store import T0, TEST_API_KEY, TEST_SALT, TEST_SECRET

OTHER_KEY = "simZ9y8X7w6V5u4T3s2R1q0P"
HERE = ChannelRef("T1", "C1", "E1")


@pytest.fixture
def location(engine_location):
    migrate(engine_location)
    return engine_location


@pytest.fixture
def cipher() -> KeyCipher:
    return KeyCipher.from_secret(TEST_SECRET, salt=TEST_SALT)


def test_a_persons_key_is_theirs_in_their_workspace_only(location, cipher):
    with connect(location) as db:
        keys = ChannelStore(db, cipher).personal
        stored = keys.set_key(HERE, "U1", f"  {TEST_API_KEY} ", "https://cluster.example.com/", T0)
        assert stored.masked_key == f"****{TEST_API_KEY[-4:]}" and stored.endpoint == "https://cluster.example.com"

        # Any channel of the same workspace finds it; another user, team or enterprise does not.
        assert keys.api_key(ChannelRef("T1", "C2", "E1"), "U1") == Credentials(
            TEST_API_KEY, "https://cluster.example.com"
        )
        assert keys.api_key(HERE, "U2") is None
        assert keys.api_key(ChannelRef("T2", "C1", "E1"), "U1") is None
        assert keys.api_key(ChannelRef("T1", "C1", ""), "U1") is None

        [row] = db.query("SELECT * FROM personal_keys")
        assert TEST_API_KEY not in str(row) and row["user_id"] == "U1"
        assert TEST_API_KEY not in repr(keys.api_key(HERE, "U1"))  # Credentials never show the key

        keys.set_key(HERE, "U1", OTHER_KEY, None, T0)  # replaced in place, back on the default endpoint
        assert keys.api_key(HERE, "U1") == Credentials(OTHER_KEY, None)
        assert keys.config(HERE, "U1").key_last4 == OTHER_KEY[-4:]
        assert len(db.query("SELECT * FROM personal_keys")) == 1

        assert keys.remove(HERE, "U1") and not keys.remove(HERE, "U1")
        assert keys.config(HERE, "U1") is None


@pytest.mark.parametrize(
    ("ref", "user", "key"),
    [(ChannelRef("", "C1"), "U1", TEST_API_KEY), (HERE, "", TEST_API_KEY), (HERE, "U1", "   ")],
    ids=["no team", "no user", "empty key"],
)
def test_an_incomplete_owner_or_an_empty_key_is_refused(location, cipher, ref, user, key):
    with connect(location) as db, pytest.raises(ValueError):
        ChannelStore(db, cipher).personal.set_key(ref, user, key, None, T0)


def test_uninstalling_forgets_that_teams_personal_keys_only(location, cipher):
    with connect(location) as db:
        keys = ChannelStore(db, cipher).personal
        keys.set_key(HERE, "U1", TEST_API_KEY, None, T0)
        keys.set_key(ChannelRef("T2", "C9", "E1"), "U1", OTHER_KEY, None, T0)
        removed = workspaces.forget_team(db, "T1", "E1", audit_key=b"k" * 32, now=T0)
        assert removed["personal_keys"] == 1
        assert keys.config(HERE, "U1") is None
        assert keys.config(ChannelRef("T2", "C9", "E1"), "U1") is not None
