"""Per-channel keys, endpoints, configurers and allow lists (algobot.channels), on both engines.

The `db` fixture here is a `Store` on SQLite, then on the test PostgreSQL cluster; the conftest's
`channel_store` is built on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from algobot.channels import ChannelRef, ChannelStore, Credentials, mask_key
from algobot.crypto import KeyCipher, SecretKeyError
from algobot.store import Store, connect, migrate
from tests.fixtures.store import TEST_API_KEY, TEST_SALT


@pytest.fixture
def db(engine_location) -> Iterator[Store]:
    migrate(engine_location)
    with connect(engine_location) as store:
        yield store


def raw_bytes(db_path: str) -> bytes:
    """Everything SQLite has on disk for this database: the main file and its write-ahead log."""
    return b"".join(Path(p).read_bytes() for p in (db_path, f"{db_path}-wal") if Path(p).exists())


def test_a_key_round_trips_with_its_endpoint(channel_store, channel, now):
    config = channel_store.set_key(channel, f"  {TEST_API_KEY}\n", "https://api.example.com/", "U1", now)

    assert config.endpoint == "https://api.example.com"
    assert config.set_by == "U1" and config.set_at == "2024-05-01T12:00:00.123456+00:00"
    key, endpoint = channel_store.api_key(channel)
    assert (key, endpoint) == (TEST_API_KEY, "https://api.example.com")
    assert channel_store.config(channel) == config


def test_the_key_is_never_on_disk_in_plain_text(engine_location, db, channel_store, channel, now):
    channel_store.set_key(channel, TEST_API_KEY, None, "U1", now)

    if db.dialect == "postgresql":  # every column of every stored row, as PostgreSQL returns it
        rows = [str(row) for table in ("channel_keys", "audit") for row in db.query(f"SELECT * FROM {table}")]
        assert "U1" in rows[0] and TEST_API_KEY not in "\n".join(rows)
    else:  # SQLite: the bytes of the file and its write-ahead log
        assert Path(f"{engine_location}-wal").exists()  # the write is still in the WAL: check it too
        assert TEST_API_KEY.encode() not in raw_bytes(engine_location)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert TEST_API_KEY.encode() not in raw_bytes(engine_location)
    assert channel_store.api_key(channel).api_key == TEST_API_KEY


def test_nothing_but_api_key_shows_the_key(channel_store, channel, now):
    config = channel_store.set_key(channel, TEST_API_KEY, None, "U1", now)

    assert config.masked_key == "****K1L2" == mask_key(TEST_API_KEY)
    assert TEST_API_KEY not in repr(config)
    assert TEST_API_KEY not in repr(channel_store.api_key(channel))
    assert TEST_API_KEY not in repr(channel_store.list())


def test_a_short_key_is_masked_entirely(channel_store, channel, now):
    assert channel_store.set_key(channel, "sim12", None, "U1", now).masked_key == "****"


@pytest.mark.parametrize(
    "other",
    [
        ChannelRef("T1", "C2"),  # another channel of the same workspace
        ChannelRef("T2", "C1"),  # the same channel id in another workspace
        ChannelRef("T1", "C1", "E1"),  # the same ids under an Enterprise Grid org
    ],
    ids=["other-channel", "other-team", "other-enterprise"],
)
def test_a_key_is_only_ever_used_in_its_own_channel(channel_store, channel, other, now):
    channel_store.set_key(channel, TEST_API_KEY, None, "U1", now)

    assert channel_store.api_key(other) is None
    assert channel_store.config(other) is None

    channel_store.set_key(other, "simOtherKey000000000000000000", None, "U2", now)
    assert channel_store.api_key(channel).api_key == TEST_API_KEY
    assert channel_store.api_key(other).api_key == "simOtherKey000000000000000000"
    assert channel_store.configurers(other) == {"U2"}


def test_replacing_a_key_keeps_one_row_and_remembers_every_configurer(db, channel_store, channel, now):
    channel_store.set_key(channel, "simFirstKey123", None, "U1", now)
    channel_store.set_key(channel, "simSecondKey456", "https://api.example.com", "U2", now + timedelta(hours=1))
    channel_store.set_key(channel, "simThirdKey789", None, "cli", now + timedelta(hours=2))

    assert channel_store.api_key(channel) == Credentials("simThirdKey789", None)
    assert channel_store.config(channel).set_by == "cli"
    assert db.one("SELECT count(*) AS n FROM channel_keys")["n"] == 1
    assert channel_store.configurers(channel) == {"U1", "U2"}  # "cli" is not a Slack user


def test_logout_forgets_the_key_but_not_who_may_configure(channel_store, channel, now):
    channel_store.set_key(channel, TEST_API_KEY, None, "U1", now)
    channel_store.allow(channel, "U3", "U1", now)

    assert channel_store.remove(channel) is True
    assert channel_store.remove(channel) is False
    assert channel_store.api_key(channel) is None and channel_store.config(channel) is None
    assert channel_store.configurers(channel) == {"U1"}
    assert channel_store.allowed_users(channel) == {"U3"}


def test_the_allow_list(channel_store, channel, now):
    assert channel_store.allowed_users(channel) == frozenset()

    assert channel_store.allow(channel, "U1", "U0", now) is True
    assert channel_store.allow(channel, "U1", "U0", now) is False
    assert channel_store.allow(channel, "U2", "U0", now) is True
    assert channel_store.allowed_users(channel) == {"U1", "U2"}
    assert channel_store.allowed_users(ChannelRef("T1", "C2")) == frozenset()
    assert channel_store.allowed_users(ChannelRef("T2", "C1")) == frozenset()

    assert channel_store.deny(channel, "U1") is True
    assert channel_store.deny(channel, "U1") is False
    assert channel_store.allowed_users(channel) == {"U2"}


def test_list_filters_by_team_and_enterprise(channel_store, now):
    for ref in (
        ChannelRef("T1", "C1"),
        ChannelRef("T1", "C2"),
        ChannelRef("T2", "C1"),
        ChannelRef("T1", "C3", "E1"),
    ):
        channel_store.set_key(ref, TEST_API_KEY, None, "U1", now)

    assert [str(c.channel) for c in channel_store.list()] == ["T1/C1", "T1/C2", "T2/C1", "E1/T1/C3"]
    assert [str(c.channel) for c in channel_store.list(team_id="T1")] == ["T1/C1", "T1/C2", "E1/T1/C3"]
    assert [str(c.channel) for c in channel_store.list(team_id="T1", enterprise_id="")] == ["T1/C1", "T1/C2"]


def test_a_wrong_secret_key_is_a_clear_error(db, channel, now):
    ChannelStore(db, KeyCipher.from_secret("old secret", salt=TEST_SALT)).set_key(
        channel, TEST_API_KEY, None, "U1", now
    )

    with pytest.raises(SecretKeyError, match="ALGOBOT_SECRET_KEY"):
        ChannelStore(db, KeyCipher.from_secret("new secret", salt=TEST_SALT)).api_key(channel)


def test_a_store_without_a_cipher_reads_configuration_but_not_keys(engine_location, channel_store, channel, now):
    channel_store.set_key(channel, TEST_API_KEY, None, "U1", now)
    with connect(engine_location) as db:
        store = ChannelStore(db)
        assert store.config(channel).masked_key == "****K1L2"
        with pytest.raises(ValueError, match="KeyCipher"):
            store.api_key(channel)


@pytest.mark.parametrize("bad_key", ["", "   \n"])
def test_an_empty_key_is_refused(channel_store, channel, now, bad_key):
    with pytest.raises(ValueError, match="empty"):
        channel_store.set_key(channel, bad_key, None, "U1", now)


@pytest.mark.parametrize("endpoint", ["ftp://example.com", "api.example.com", "https://"])
def test_an_endpoint_must_be_an_http_url(channel_store, channel, now, endpoint):
    with pytest.raises(ValueError, match="http"):
        channel_store.set_key(channel, TEST_API_KEY, endpoint, "U1", now)
    assert channel_store.config(channel) is None


def test_a_blank_endpoint_means_the_default(channel_store, channel, now):
    assert channel_store.set_key(channel, TEST_API_KEY, "  ", "U1", now).endpoint is None


def test_channel_refs_must_be_complete_to_reach_the_database(channel_store, now):
    assert ChannelRef("T1", "C1", None).enterprise_id == ""  # Slack's null outside Enterprise Grid
    assert ChannelRef("T1", "C1") == ChannelRef(team_id="T1", channel_id="C1", enterprise_id="")
    for incomplete in (ChannelRef("", "C1"), ChannelRef("T1", "")):
        str(incomplete)  # fine to log
        with pytest.raises(ValueError, match="complete"):
            channel_store.config(incomplete)
        with pytest.raises(ValueError, match="complete"):
            channel_store.set_key(incomplete, TEST_API_KEY, None, "U1", now)
        with pytest.raises(ValueError, match="complete"):
            channel_store.allow(incomplete, "U1", "U0", now)
