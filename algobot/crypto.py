"""Encryption of stored API keys (Fernet: AES-128-CBC + HMAC-SHA256, authenticated).

The secret comes from ALGOBOT_SECRET_KEY: either a Fernet key (`Fernet.generate_key()`) or any
passphrase, turned into a Fernet key deterministically so the same passphrase always opens the same
database. Without it a random key is kept in a file beside the database (mode 0600): convenient for a
single host, but whoever copies the database directory copies the key too, hence the warning.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

SECRET_ENV = "ALGOBOT_SECRET_KEY"


class SecretKeyError(RuntimeError):
    """The stored keys cannot be decrypted with the configured secret; the message says what to do."""


def fernet_key_from_secret(secret: str) -> bytes:
    """A Fernet key as is; any other string is a passphrase, hashed (SHA-256) into a key."""
    candidate = secret.strip().encode()
    try:
        Fernet(candidate)
    except ValueError:
        return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
    return candidate


class KeyCipher:
    """Encrypts and decrypts API keys; holds the Fernet key and never shows it."""

    def __init__(self, fernet_key: bytes) -> None:
        self._fernet = Fernet(fernet_key)

    @classmethod
    def from_secret(cls, secret: str) -> KeyCipher:
        """Build from ALGOBOT_SECRET_KEY's value (Fernet key or passphrase)."""
        if not secret.strip():
            raise ValueError(f"{SECRET_ENV} is empty")
        return cls(fernet_key_from_secret(secret))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt, turning a wrong key into an error that names the setting to fix."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken:
            raise SecretKeyError(
                f"A stored API key cannot be decrypted: {SECRET_ENV} (or the key file beside the "
                f"database) is not the one it was stored with. Restore the previous {SECRET_ENV}, "
                "or set the channel's key again."
            ) from None

    def __repr__(self) -> str:
        return "KeyCipher(<hidden>)"


def key_file_path(db_path: str | os.PathLike[str]) -> Path:
    """Where the generated key lives when ALGOBOT_SECRET_KEY is unset: `<db>.key`."""
    return Path(f"{os.fspath(db_path)}.key")


def load_cipher(secret_key: str | None, db_path: str | os.PathLike[str], logger: logging.Logger) -> KeyCipher:
    """The cipher for this deployment: from ALGOBOT_SECRET_KEY, else from (or into) `<db>.key`."""
    if secret_key:
        return KeyCipher.from_secret(secret_key)
    if os.fspath(db_path) == ":memory:":
        logger.warning("%s is not set; using a throw-away key for an in-memory database.", SECRET_ENV)
        return KeyCipher(Fernet.generate_key())
    path = key_file_path(db_path)
    if _create_key_file(path):
        logger.warning(
            "%s is not set: generated a new encryption key in %s (mode 0600). Back it up with the "
            "database, or set %s, or the stored API keys become unreadable.",
            SECRET_ENV,
            path,
            SECRET_ENV,
        )
    else:
        logger.info("%s is not set; using the key file %s.", SECRET_ENV, path)
        if path.stat().st_mode & 0o077:
            logger.warning("The key file %s is readable by other users; run: chmod 600 %s", path, path)
    try:
        return KeyCipher(path.read_bytes().strip())
    except ValueError:
        raise SecretKeyError(
            f"The key file {path} does not hold a valid key; restore it from a backup or set {SECRET_ENV}."
        ) from None


def _create_key_file(path: Path) -> bool:
    """Write a new random key to `path` unless it exists; True if this call created it.

    The key is written to a private temporary file first and then hard-linked into place, so the file
    appears complete and 0600 in one step and, of two processes starting at once, exactly one wins.
    """
    if path.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)
    return True
