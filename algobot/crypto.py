"""Encryption of stored secrets (Fernet: AES-128-CBC + HMAC-SHA256, authenticated) and the keys derived
from the deployment's secret.

The secret comes from ALGOBOT_SECRET_KEY: either a Fernet key (`Fernet.generate_key()`), used as is, or
any passphrase, stretched into a key with scrypt (memory-hard: 32 MiB per guess) and a random salt. The
salt and the scrypt parameters live in the database itself (table `secret_kdf`, version tag
"scrypt-1"), so a backup restored elsewhere still decrypts with the same passphrase, and the parameters
can be raised later without guessing what an old file used. Without ALGOBOT_SECRET_KEY a random key is
kept in a file beside the database (mode 0600): convenient for a single host, but whoever copies the
database directory copies the key too, hence the warning.

Databases written before the salt existed hold keys encrypted under the old derivation (one unsalted
SHA-256 of the passphrase); `load_cipher` re-encrypts them, the channels' API keys and the workspaces'
OAuth tokens alike, in one transaction on the first start, and refuses to start rather than lose one.

Besides encryption, the same secret yields (HKDF, one label per use) the key that seals the audit
chain and the key that signs dialog metadata, so neither is stored anywhere.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlite_utils
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from algobot.db import database, immediate, migrate
from algobot.store import connect, is_postgres
from algobot.store import migrate as migrate_store

SECRET_ENV = "ALGOBOT_SECRET_KEY"

KDF_VERSION = "scrypt-1"
# scrypt cost: N=2**15, r=8 → 32 MiB and about 0.1 s per derivation (once per process start).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_BYTES = 16
KDF_TABLE = "secret_kdf"
# Where ciphertexts live: (table, column, prefix the value carries before the Fernet token).
CIPHERTEXT_COLUMNS = (
    ("channel_keys", "key_encrypted", ""),
    ("personal_keys", "key_encrypted", ""),
    ("slack_installations", "bot_token", "enc:"),
    ("slack_installations", "bot_refresh_token", "enc:"),
    ("slack_installations", "user_token", "enc:"),
    ("slack_installations", "user_refresh_token", "enc:"),
    ("slack_installations", "incoming_webhook_url", "enc:"),
    ("slack_bots", "bot_token", "enc:"),
    ("slack_bots", "bot_refresh_token", "enc:"),
)


class SecretKeyError(RuntimeError):
    """The stored keys cannot be decrypted with the configured secret; the message says what to do."""


def is_fernet_key(secret: str) -> bool:
    """True when `secret` is a Fernet key (32 url-safe base64 bytes), used as is rather than stretched."""
    try:
        Fernet(secret.strip().encode())
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=8)
def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    """The Fernet key scrypt derives from a passphrase (cached: a process derives each key once)."""
    return base64.urlsafe_b64encode(Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret.encode()))


def legacy_fernet_key(secret: str) -> bytes:
    """How passphrases became keys before the salt existed; only to re-encrypt old ciphertexts."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())


class KeyCipher:
    """Encrypts and decrypts stored secrets; holds the Fernet key and never shows it."""

    def __init__(self, fernet_key: bytes) -> None:
        self._fernet = Fernet(fernet_key)
        self._master = base64.urlsafe_b64decode(fernet_key)

    @classmethod
    def from_secret(
        cls, secret: str, *, salt: bytes | None = None, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P
    ) -> KeyCipher:
        """Build from ALGOBOT_SECRET_KEY's value: a Fernet key as is, a passphrase through scrypt with
        `salt` (the database's, see `load_cipher`)."""
        if not secret.strip():
            raise ValueError(f"{SECRET_ENV} is empty")
        if is_fernet_key(secret):
            return cls(secret.strip().encode())
        if salt is None:
            raise ValueError(f"a passphrase in {SECRET_ENV} needs the database's salt (use load_cipher)")
        return cls(_scrypt(secret, salt, n, r, p))

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

    def subkey(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose, derived (HKDF-SHA256) from the secret and never stored."""
        info = f"algobot {purpose} v1".encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._master)

    @functools.cached_property
    def audit_key(self) -> bytes:
        """The key of the audit chain's HMACs (see algobot.audit)."""
        return self.subkey("audit chain")

    def sign_metadata(self, fields: Mapping[str, Any]) -> str:
        """`fields` as JSON with an HMAC, for a dialog's private_metadata: Slack hands it back on submit,
        and only this deployment can have written it."""
        body = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))
        return json.dumps({"v": body, "sig": self._metadata_mac(body)}, separators=(",", ":"))

    def open_metadata(self, text: str | None) -> dict[str, Any] | None:
        """The fields `sign_metadata` sealed, or None when the text is missing, malformed or forged."""
        try:
            sealed = json.loads(text or "")
            body, sig = sealed["v"], sealed["sig"]
            if not isinstance(body, str) or not isinstance(sig, str):
                return None
            if not hmac.compare_digest(sig, self._metadata_mac(body)):
                return None
            fields = json.loads(body)
        except (ValueError, TypeError, KeyError):
            return None
        return fields if isinstance(fields, dict) else None

    def _metadata_mac(self, body: str) -> str:
        return hmac.new(self.subkey("dialog metadata"), body.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "KeyCipher(<hidden>)"


def key_file_path(db_path: str | os.PathLike[str]) -> Path:
    """Where the generated key lives when ALGOBOT_SECRET_KEY is unset: `<db>.key`."""
    return Path(f"{os.fspath(db_path)}.key")


def load_cipher(
    secret_key: str | None,
    db_path: str | os.PathLike[str],
    logger: logging.Logger,
    *,
    create: bool = True,
) -> KeyCipher:
    """The cipher for this deployment: from ALGOBOT_SECRET_KEY, else from (or into) `<db>.key`.

    With a passphrase, the salt is read from the database (created, and old ciphertexts re-encrypted,
    on first use). `create=False` (read-only tools such as `audit verify`) never writes a key file or a
    salt, and raises SecretKeyError instead.
    """
    if secret_key:
        if is_fernet_key(secret_key) or os.fspath(db_path) == ":memory:":
            salt = None if is_fernet_key(secret_key) else secrets.token_bytes(SALT_BYTES)
            return KeyCipher.from_secret(secret_key, salt=salt)
        return _passphrase_cipher(secret_key, db_path, logger, create=create)
    if is_postgres(os.fspath(db_path)):  # replicas share the store: a key file on one host would not do
        raise SecretKeyError(f"{SECRET_ENV} is not set: a PostgreSQL database needs it (the same on every replica).")
    if os.fspath(db_path) == ":memory:":
        logger.warning("%s is not set; using a throw-away key for an in-memory database.", SECRET_ENV)
        return KeyCipher(Fernet.generate_key())
    path = key_file_path(db_path)
    if not create and not path.exists():
        raise SecretKeyError(f"{SECRET_ENV} is not set and there is no key file {path}; set {SECRET_ENV}.")
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


def _kdf_row(db: sqlite_utils.Database) -> dict[str, Any] | None:
    if not db.table(KDF_TABLE).exists():
        raise SecretKeyError(f"the database has no {KDF_TABLE} table yet; run `algobot migrate` first")
    rows = list(db.query(f'SELECT * FROM "{KDF_TABLE}" WHERE id = 1'))
    return rows[0] if rows else None


def _cipher_from_row(secret: str, row: Mapping[str, Any]) -> KeyCipher:
    if row["version"] != KDF_VERSION:
        raise SecretKeyError(
            f"The database's key derivation is {row['version']!r}, which this version of algobot does not "
            "know; upgrade algobot."
        )
    return KeyCipher.from_secret(secret, salt=base64.b64decode(row["salt"]), n=row["n"], r=row["r"], p=row["p"])


def _passphrase_cipher(
    secret: str, db_path: str | os.PathLike[str], logger: logging.Logger, *, create: bool
) -> KeyCipher:
    if is_postgres(os.fspath(db_path)):
        return _shared_passphrase_cipher(secret, os.fspath(db_path), create=create)
    if create:
        migrate(db_path)  # the salt's table; harmless when the database is up to date
    elif not os.path.exists(db_path):
        raise SecretKeyError(f"there is no database at {os.fspath(db_path)}")
    with database(db_path) as db:
        row = _kdf_row(db)
        if row is not None:
            return _cipher_from_row(secret, row)
        if not create:
            raise SecretKeyError(
                f"The database has no key salt yet: start algobot once with {SECRET_ENV} set so it derives its key."
            )
        with immediate(db):
            row = _kdf_row(db)  # another process may have won the race while we waited for the lock
            if row is not None:
                return _cipher_from_row(secret, row)
            row = {
                "id": 1,
                "version": KDF_VERSION,
                "salt": base64.b64encode(secrets.token_bytes(SALT_BYTES)).decode("ascii"),
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
            }
            cipher = _cipher_from_row(secret, row)
            moved, stale = _reencrypt(db, KeyCipher(legacy_fernet_key(secret)), cipher)
            db.table(KDF_TABLE).insert(row)
    if moved:
        logger.info("Re-encrypted %d stored secret(s) under the scrypt-derived key (%s).", moved, KDF_VERSION)
    for where in stale:
        logger.warning(
            "%s was stored with another secret and could not be read before either; it was left as it was "
            "(set that channel's key again).",
            where,
        )
    return cipher


def _shared_passphrase_cipher(secret: str, url: str, *, create: bool) -> KeyCipher:
    """The passphrase's cipher on a shared (PostgreSQL) store: every replica reads the one salt row; the
    first to start writes it (the others find it, whoever wins the race). Such a store is new, so no
    ciphertext from before the salt existed can be in it, and nothing is re-encrypted."""
    if create:
        migrate_store(url)
    with connect(url) as store:
        row = store.one(f'SELECT * FROM "{KDF_TABLE}" WHERE id = 1')
        if row is None:
            if not create:
                raise SecretKeyError(
                    f"The database has no key salt yet: start algobot once with {SECRET_ENV} set so it derives its key."
                )
            salt = base64.b64encode(secrets.token_bytes(SALT_BYTES)).decode("ascii")
            new = {"id": 1, "version": KDF_VERSION, "salt": salt, "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P}
            store.insert(KDF_TABLE, new, conflict="ON CONFLICT DO NOTHING")
            row = store.one(f'SELECT * FROM "{KDF_TABLE}" WHERE id = 1')
    return _cipher_from_row(secret, row)


def _reencrypt(db: sqlite_utils.Database, old: KeyCipher, new: KeyCipher) -> tuple[int, list[str]]:
    """Re-encrypt every stored ciphertext from `old` to `new` in the caller's transaction; returns how
    many moved and where the ones `old` cannot open are.

    When `old` opens none of them, the secret is not the one they were stored with: raise, so nothing
    is written and the right secret still migrates them later. Ciphertexts stored under some earlier
    secret among readable ones were unreadable already; they stay as they are.
    """
    existing, moved, stale = set(db.table_names()), 0, []
    for table, column, prefix in CIPHERTEXT_COLUMNS:
        if table not in existing or column not in db.table(table).columns_dict:
            continue
        rows = db.execute(f'SELECT rowid, "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL').fetchall()
        for rowid, value in rows:
            if not isinstance(value, str) or not value.startswith(prefix) or not value[len(prefix) :]:
                continue
            try:
                plain = old._fernet.decrypt(value[len(prefix) :].encode("ascii")).decode()
            except InvalidToken:
                stale.append(f"{table}.{column} (row {rowid})")
                continue
            db.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', [prefix + new.encrypt(plain), rowid])
            moved += 1
    if stale and not moved:
        raise SecretKeyError(
            f"The stored keys cannot be decrypted with {SECRET_ENV} ({stale[0]} and {len(stale) - 1} more): they "
            f"were stored with another secret. Nothing was changed; restore the previous {SECRET_ENV}."
        )
    return moved, stale


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
