"""Encryption of stored keys and where the encryption key comes from (algobot.crypto)."""

from __future__ import annotations

import logging
import os
import stat

import pytest
from cryptography.fernet import Fernet

from algobot.crypto import KeyCipher, SecretKeyError, key_file_path, legacy_fernet_key, load_cipher
from algobot.db import database, migrate
from tests.fixtures.store import TEST_SALT

log = logging.getLogger("test.crypto")


def test_a_fernet_key_is_used_as_is():
    key = Fernet.generate_key()
    token = Fernet(key).encrypt(b"simSecret")

    assert KeyCipher.from_secret(key.decode()).decrypt(token.decode()) == "simSecret"


def test_a_passphrase_derives_the_same_key_every_time_for_one_database(tmp_path):
    db_path = tmp_path / "algobot.db"
    token = load_cipher("my passphrase", db_path, log).encrypt("simSecret")

    assert token != "simSecret" and "simSecret" not in token
    assert load_cipher("my passphrase", db_path, log).decrypt(token) == "simSecret"


def test_a_wrong_secret_is_a_clear_error_naming_the_setting():
    token = KeyCipher.from_secret("the old one", salt=TEST_SALT).encrypt("simSecret")

    with pytest.raises(SecretKeyError, match="ALGOBOT_SECRET_KEY") as caught:
        KeyCipher.from_secret("a new one", salt=TEST_SALT).decrypt(token)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "InvalidToken" not in str(caught.value)


def test_the_cipher_never_shows_its_key():
    key = Fernet.generate_key().decode()
    assert key not in repr(KeyCipher.from_secret(key))
    with pytest.raises(ValueError, match="ALGOBOT_SECRET_KEY"):
        KeyCipher.from_secret("   ")


def test_with_a_secret_no_key_file_is_written(tmp_path):
    db_path = tmp_path / "algobot.db"

    load_cipher("passphrase", db_path, log)

    assert not key_file_path(db_path).exists()


def test_without_a_secret_a_private_key_file_is_generated_with_a_warning(tmp_path, caplog):
    db_path = tmp_path / "algobot.db"
    caplog.set_level(logging.INFO)

    first = load_cipher(None, db_path, log)

    path = key_file_path(db_path)
    assert path == tmp_path / "algobot.db.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes().strip().decode()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ALGOBOT_SECRET_KEY" in warnings[0].getMessage() and str(path) in warnings[0].getMessage()
    assert key not in caplog.text
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind

    caplog.clear()
    second = load_cipher(None, db_path, log)  # a restart reuses the file, quietly
    assert second.decrypt(first.encrypt("simSecret")) == "simSecret"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_key_file_readable_by_others_is_reported(tmp_path, caplog):
    db_path = tmp_path / "algobot.db"
    load_cipher(None, db_path, log)
    os.chmod(key_file_path(db_path), 0o644)

    load_cipher(None, db_path, log)

    assert "chmod 600" in caplog.text


def test_a_damaged_key_file_is_a_clear_error(tmp_path):
    db_path = tmp_path / "algobot.db"
    key_file_path(db_path).write_text("not a key\n")

    with pytest.raises(SecretKeyError, match="ALGOBOT_SECRET_KEY"):
        load_cipher(None, db_path, log)


# -- passphrases: scrypt with a salt stored in the database ---------------------------------------------


def kdf_row(db_path) -> dict:
    with database(db_path) as db:
        return next(db.query("SELECT * FROM secret_kdf"))


def test_a_passphrase_is_stretched_with_scrypt_and_a_random_salt_kept_in_the_database(tmp_path):
    one, two = tmp_path / "one.db", tmp_path / "two.db"

    token = load_cipher("my passphrase", one, log).encrypt("simSecret")
    load_cipher("my passphrase", two, log)

    row = kdf_row(one)
    assert row["version"] == "scrypt-1" and row["n"] >= 2**15 and row["r"] == 8
    assert row["salt"] != kdf_row(two)["salt"]  # the same passphrase gives each database its own key
    with pytest.raises(SecretKeyError):
        load_cipher("my passphrase", two, log).decrypt(token)
    with pytest.raises(SecretKeyError):  # the old unsalted SHA-256 derivation no longer opens it
        KeyCipher(legacy_fernet_key("my passphrase")).decrypt(token)


def test_a_copied_database_still_decrypts_with_the_passphrase(tmp_path):
    live, restored = tmp_path / "live.db", tmp_path / "restored.db"
    token = load_cipher("my passphrase", live, log).encrypt("simSecret")
    with database(live) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    restored.write_bytes(live.read_bytes())

    assert load_cipher("my passphrase", restored, log).decrypt(token) == "simSecret"


def seed_legacy(db_path, secret: str) -> tuple[str, str]:
    """A database as an older algobot wrote it: an API key and an OAuth bot token under SHA-256(secret)."""
    migrate(db_path)
    legacy = KeyCipher(legacy_fernet_key(secret))
    with database(db_path) as db:
        db.table("channel_keys").insert(
            {
                "team_id": "T1",
                "channel_id": "C1",
                "key_encrypted": legacy.encrypt("simLegacyKey"),
                "key_last4": "yKey",
                "set_by": "U1",
                "set_at": "2024-05-01T00:00:00.000000+00:00",
            }
        )
        db.execute("CREATE TABLE slack_bots (bot_token TEXT, bot_refresh_token TEXT)")
        db.execute("INSERT INTO slack_bots VALUES (?, NULL)", ["enc:" + legacy.encrypt("xoxb-legacy-token")])
    return "simLegacyKey", "xoxb-legacy-token"


def test_old_ciphertexts_are_re_encrypted_on_start_without_losing_one(tmp_path, caplog):
    db_path = tmp_path / "old.db"
    api_key, bot_token = seed_legacy(db_path, "my passphrase")
    caplog.set_level(logging.INFO)

    cipher = load_cipher("my passphrase", db_path, log)

    with database(db_path) as db:
        stored_key = next(db.query("SELECT key_encrypted FROM channel_keys"))["key_encrypted"]
        stored_token = next(db.query("SELECT bot_token FROM slack_bots"))["bot_token"]
    assert cipher.decrypt(stored_key) == api_key
    assert stored_token.startswith("enc:") and cipher.decrypt(stored_token[4:]) == bot_token
    assert "Re-encrypted 2 stored secret(s)" in caplog.text
    assert load_cipher("my passphrase", db_path, log).decrypt(stored_key) == api_key  # once only


def test_a_wrong_passphrase_stops_the_start_and_changes_nothing(tmp_path):
    db_path = tmp_path / "old.db"
    seed_legacy(db_path, "the old passphrase")
    with database(db_path) as db:
        before = next(db.query("SELECT key_encrypted FROM channel_keys"))["key_encrypted"]

    with pytest.raises(SecretKeyError, match="ALGOBOT_SECRET_KEY") as caught:
        load_cipher("a different passphrase", db_path, log)

    assert "channel_keys" in str(caught.value) and "Nothing was changed" in str(caught.value)
    with database(db_path) as db:
        assert next(db.query("SELECT key_encrypted FROM channel_keys"))["key_encrypted"] == before
        assert db["secret_kdf"].count == 0  # the next start, with the right passphrase, still migrates
    assert KeyCipher(legacy_fernet_key("the old passphrase")).decrypt(before) == "simLegacyKey"


def test_a_fernet_key_needs_no_salt_and_writes_none(tmp_path):
    db_path = tmp_path / "algobot.db"
    migrate(db_path)
    key = Fernet.generate_key().decode()

    assert load_cipher(key, db_path, log).decrypt(Fernet(key.encode()).encrypt(b"x").decode()) == "x"
    with database(db_path) as db:
        assert db["secret_kdf"].count == 0


def test_a_key_already_unreadable_is_left_alone_while_the_others_move(tmp_path, caplog):
    db_path = tmp_path / "old.db"
    api_key, _ = seed_legacy(db_path, "my passphrase")
    stale = KeyCipher(legacy_fernet_key("an even older passphrase")).encrypt("simStaleKey")
    with database(db_path) as db:
        db.execute("UPDATE slack_bots SET bot_token = ?", ["enc:" + stale])

    cipher = load_cipher("my passphrase", db_path, log)

    with database(db_path) as db:
        assert cipher.decrypt(next(db.query("SELECT key_encrypted FROM channel_keys"))["key_encrypted"]) == api_key
        assert next(db.query("SELECT bot_token FROM slack_bots"))["bot_token"] == "enc:" + stale
    assert "slack_bots.bot_token (row 1) was stored with another secret" in caplog.text
