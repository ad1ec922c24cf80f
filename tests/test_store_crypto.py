"""Encryption of stored keys and where the encryption key comes from (algobot.crypto)."""

from __future__ import annotations

import logging
import os
import stat

import pytest
from cryptography.fernet import Fernet

from algobot.crypto import KeyCipher, SecretKeyError, key_file_path, load_cipher

log = logging.getLogger("test.crypto")


def test_a_fernet_key_is_used_as_is():
    key = Fernet.generate_key()
    token = Fernet(key).encrypt(b"simSecret")

    assert KeyCipher.from_secret(key.decode()).decrypt(token.decode()) == "simSecret"


def test_a_passphrase_derives_the_same_key_every_time():
    token = KeyCipher.from_secret("my passphrase").encrypt("simSecret")

    assert token != "simSecret" and "simSecret" not in token
    assert KeyCipher.from_secret("my passphrase").decrypt(token) == "simSecret"


def test_a_wrong_secret_is_a_clear_error_naming_the_setting():
    token = KeyCipher.from_secret("the old one").encrypt("simSecret")

    with pytest.raises(SecretKeyError, match="ALGOBOT_SECRET_KEY") as caught:
        KeyCipher.from_secret("a new one").decrypt(token)
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
