"""Operator commands: `algobot migrate`, `algobot backup`, `algobot channel set-key|show|remove`,
`algobot audit verify|export`.

API keys are read from standard input only (never argv, which other users can see in `ps` and shells
keep in history) and are never printed; `show` prints the last 4 characters at most. Every change is
audited with source "cli".

Exit status: 0 done; 1 it could not be done (no database, a file in the way, a damaged copy, a failed
audit check, an unreadable key...), said in one line on stderr; 2 the command line itself is wrong
(argparse's own code for usage errors: a malformed --since, empty ids, no key on standard input).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import getpass
import logging
import os
import re
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TypeVar

import sqlalchemy.exc

from algobot import audit
from algobot.channels import CLI_ACTOR, ChannelRef, ChannelStore, mask_key, normalize_endpoint
from algobot.crypto import SECRET_ENV, SecretKeyError, key_file_path, load_cipher
from algobot.db import BUSY_TIMEOUT_MS, DatabaseLocked
from algobot.settings import Settings, SettingsError
from algobot.store import Store, connect, describe, is_postgres, migrate, redact_url

log = logging.getLogger(__name__)


class CliError(Exception):
    """A problem the operator can fix; printed without a traceback, exit status 1."""


class UsageError(CliError):
    """The command line itself is wrong (exit status 2, like argparse's own usage errors)."""


Handler = Callable[[argparse.Namespace], int]
T = TypeVar("T")


def _reports_errors(handler: Handler) -> Handler:
    """Print expected errors as one line on stderr instead of a traceback: exit 2 for usage, 1 otherwise.

    Files and databases that cannot be read or written (OSError, sqlite3.Error) are such errors too; the
    traceback is still logged at DEBUG. A closed standard output (`| head`) is left to `algobot.cli`.
    """

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except UsageError as error:
            print(f"algobot: error: {error}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            raise
        except (CliError, SettingsError, SecretKeyError, DatabaseLocked, OSError, sqlite3.Error) as error:
            log.debug("%s failed", handler.__name__, exc_info=True)
            print(f"algobot: error: {error}", file=sys.stderr)
            return 1
        except sqlalchemy.exc.DBAPIError as error:  # PostgreSQL refused or could not be reached
            log.debug("%s failed", handler.__name__, exc_info=True)
            print(f"algobot: error: the database answered: {describe(error)}", file=sys.stderr)
            return 1

    return run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's commands to the `algobot` parser (see algobot/cli.py).

    The `add_parser` blocks below share one shape on purpose (a deliberate mirror): each declares one
    subcommand, its help and its handler, in the order `--help` lists them.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        metavar="PATH",
        help="database file or postgresql:// URL (default: $ALGOBOT_DATABASE_URL, else $ALGOBOT_DB, else ./algobot.db)",
    )
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--team", required=True, metavar="T", help="Slack team (workspace) id, e.g. T0123")
    where.add_argument("--channel", required=True, metavar="C", help="Slack channel id, e.g. C0123")
    where.add_argument("--enterprise", default="", metavar="E", help="Enterprise Grid id, if any")

    parser = subparsers.add_parser("migrate", parents=[common], help="apply pending database migrations")
    parser.set_defaults(handler=migrate_command)

    parser = subparsers.add_parser(
        "backup",
        parents=[common],
        help="copy the live database (and its key file) consistently, while the bot runs",
        description="Copy the database with SQLite's online backup API: a consistent snapshot, safe while "
        "the bot writes. The key file <db>.key, if any, is copied beside the copy as PATH.key (mode 0600). "
        "Restore: stop the bot, delete <db>-wal and <db>-shm, copy PATH to <db> (and PATH.key to <db>.key).",
    )
    parser.add_argument("path", metavar="PATH", help="file to write, or a directory (then <db name>-<UTC time>.db)")
    parser.add_argument("--force", action="store_true", help="overwrite PATH (and PATH.key) if they exist")
    parser.set_defaults(handler=backup_command)

    channel = subparsers.add_parser("channel", help="per-channel Algorithmia API keys")
    channel_commands = channel.add_subparsers(dest="channel_command", required=True, metavar="ACTION")
    parser = channel_commands.add_parser(
        "set-key",
        parents=[common, where],
        help="store a channel's API key, read from standard input",
        description="Store a channel's API key. The key is read from standard input, never from the "
        "command line: algobot channel set-key --team T --channel C < keyfile",
    )
    parser.add_argument("--endpoint", metavar="URL", help="API base URL (default: ALGORITHMIA_API)")
    parser.set_defaults(handler=set_key_command)
    parser = channel_commands.add_parser("show", parents=[common], help="list configured channels (keys masked)")
    parser.add_argument("--team", metavar="T", help="only this team")
    parser.add_argument("--channel", metavar="C", help="only this channel (with --team)")
    parser.add_argument("--enterprise", metavar="E", help="only this Enterprise Grid id")
    parser.set_defaults(handler=show_command)
    parser = channel_commands.add_parser("remove", parents=[common, where], help="forget a channel's API key")
    parser.set_defaults(handler=remove_command)

    trail = subparsers.add_parser("audit", help="the tamper-evident audit trail")
    trail_commands = trail.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    parser = trail_commands.add_parser(
        "verify",
        parents=[common],
        help="check the keyed hash chain (needs ALGOBOT_SECRET_KEY or the key file)",
        description="Check every row's HMAC and link. Rows cut off the end are only caught against a "
        "checkpoint recorded elsewhere: pass --head and --rows from an 'audit head: N rows, hash H' log "
        "line or a checkpoint posted to ALGOBOT_AUDIT_CHANNEL.",
    )
    parser.add_argument("--head", metavar="HASH", help="a checkpoint's head hash")
    parser.add_argument("--rows", metavar="N", type=int, help="that checkpoint's row count")
    parser.set_defaults(handler=verify_command)
    parser = trail_commands.add_parser("export", parents=[common], help="write the trail as JSON lines or CSV")
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default: jsonl")
    parser.add_argument("--since", metavar="DATE", help="only rows at or after DATE (YYYY-MM-DD or ISO time, UTC)")
    parser.add_argument("--output", metavar="FILE", help="write here instead of standard output")
    parser.set_defaults(handler=export_command)


# -- plumbing ----------------------------------------------------------------------------------------


def _db_path(args: argparse.Namespace, settings: Settings) -> str:
    return args.db or settings.database_location


@contextlib.contextmanager
def _existing_db(path: str, table: str) -> Iterator[Store]:
    """Open a database that must already exist and hold `table`: a typo must not create a new file."""
    if not is_postgres(path) and not os.path.exists(path):
        raise CliError(f"there is no database at {path} (set ALGOBOT_DB or --db; `algobot migrate` creates one)")
    with connect(path) as store:
        if not store.has_table(table):
            raise CliError(f"{redact_url(path)} has no {table} table yet; run `algobot migrate` first")
        yield store


def _require_db(path: str, table: str) -> None:
    """Fail as `_existing_db` does, before anything (a key file, a salt) could be created beside it."""
    with _existing_db(path, table):
        pass


def _audit_cli(
    db: Store,
    channel: ChannelRef,
    action: str,
    *,
    now: datetime,
    audit_key: bytes,
    arguments: dict[str, str] | None = None,
) -> None:
    """Record a change made from the command line to a channel, so the trail shows who ("cli") did it."""
    entry = audit.AuditEntry.in_channel(
        channel, user_id=CLI_ACTOR, action=action, source="cli", arguments=arguments or {}
    )
    audit.record(db, entry, now=now, key=audit_key)


def _migrate(path: str) -> list[str]:
    """Create or upgrade the database at `path`, saying so plainly if its directory is missing."""
    if not is_postgres(path) and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise CliError(f"cannot create the database {path}: its directory does not exist")
    return migrate(path)


def _read_key(stdin: IO[str]) -> str:
    """One API key from standard input; prompted without echo when stdin is a terminal."""
    raw = getpass.getpass("Algorithmia API key (input hidden): ") if stdin.isatty() else stdin.read()
    key = raw.strip()
    if not key:
        raise UsageError("no API key on standard input; pipe it in: algobot channel set-key ... < keyfile")
    if any(character.isspace() for character in key):
        raise UsageError("standard input holds more than one word; it must hold just the API key")
    return key


def _channel(args: argparse.Namespace) -> ChannelRef:
    channel = ChannelRef(args.team.strip(), args.channel.strip(), args.enterprise.strip())
    if not channel.team_id or not channel.channel_id:
        raise UsageError("--team and --channel must not be empty")
    return channel


def _parse_since(text: str | None) -> date | datetime | None:
    """A date (its midnight UTC) or an ISO date and time (UTC unless it names an offset)."""
    if not text:
        return None
    with contextlib.suppress(ValueError):
        return date.fromisoformat(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--since must be a date (YYYY-MM-DD) or an ISO date and time, not '{text}'") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- commands ----------------------------------------------------------------------------------------


@_reports_errors
def migrate_command(args: argparse.Namespace) -> int:
    """Create or upgrade the database schema."""
    path = _db_path(args, args.settings())
    applied = _migrate(path)
    if applied:
        print(f"Applied {len(applied)} migration(s) to {redact_url(path)}: {', '.join(applied)}")
    else:
        print(f"{redact_url(path)} is up to date; nothing to apply.")
    return 0


def _backup_target(source: str, path: str) -> str:
    """PATH itself, or a time-stamped file inside it when PATH is a directory."""
    if path.endswith(("/", os.sep)) and not os.path.isdir(path):
        raise CliError(f"the directory {path} does not exist")
    if os.path.isdir(path):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return os.path.join(path, f"{Path(source).stem}-{stamp}.db")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise CliError(f"cannot write {path}: its directory does not exist")
    return path


def _write_private(target: str, write: Callable[[str], T]) -> T:
    """Produce `target` (mode 0600) by `write(tmp)` into a temporary file beside it, then a rename: the
    file appears whole or not at all, and a failed backup never replaces a good one. Returns what
    `write` returns."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), prefix=".algobot-backup.")
    os.close(fd)
    try:
        outcome = write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return outcome


def _sqlite_copy(source: str, tmp: str) -> tuple[int, int | None]:
    """Back `source` up into `tmp`; returns (bytes, audit rows or None). Raises CliError if it is damaged.

    `backup()` copies every page in one step, inside one read transaction: with WAL the bot keeps
    writing meanwhile, and the copy is the database as of the moment the step began.
    """
    try:
        src = sqlite3.connect(f"{Path(source).resolve().as_uri()}?mode=rw", uri=True)
    except sqlite3.Error as error:
        raise CliError(f"cannot open {source}: {error}") from None
    dst = sqlite3.connect(tmp)
    try:
        src.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        src.backup(dst)
        problems = [row[0] for row in dst.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise CliError(
                f"the copy of {source} fails PRAGMA integrity_check ({'; '.join(problems[:3])}); nothing "
                "was written. The database itself is probably damaged: check it with "
                f'sqlite3 {source} "PRAGMA integrity_check"'
            )
        has_audit = dst.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").fetchone()
        rows = dst.execute("SELECT count(*) FROM audit").fetchone()[0] if has_audit else None
    except sqlite3.DatabaseError as error:
        raise CliError(f"cannot back up {source}: {error}") from None
    finally:
        dst.close()
        src.close()
    return os.path.getsize(tmp), rows


@_reports_errors
def backup_command(args: argparse.Namespace) -> int:
    """A consistent copy of the live database, plus its key file when there is one."""
    settings = args.settings()
    source = _db_path(args, settings)
    if is_postgres(source):
        raise CliError(
            f"the state is in PostgreSQL ({redact_url(source)}): back it up with pg_dump (e.g. pg_dump -Fc -f "
            "algobot.dump DBNAME), keep ALGOBOT_SECRET_KEY with it, and after a restore check the audit trail "
            "with `algobot audit verify`"
        )
    if not os.path.isfile(source):
        raise CliError(f"there is no database at {source} (set ALGOBOT_DB or --db)")
    target = _backup_target(source, args.path)
    if os.path.abspath(target) == os.path.abspath(source) or (
        os.path.exists(target) and os.path.samefile(target, source)
    ):
        raise CliError(f"{target} is the database itself; back it up to another file")
    source_key, target_key = key_file_path(source), key_file_path(target)
    copy_key = source_key.is_file()
    for existing in (target, str(target_key) if copy_key else None):
        if existing and os.path.lexists(existing) and not args.force:
            raise CliError(f"{existing} already exists; pass --force to overwrite it")

    size, rows = _write_private(target, lambda tmp: _sqlite_copy(source, tmp))
    audit_text = "" if rows is None else f", {rows} audit row(s)"
    print(f"Backed up {source} to {target} ({size} bytes{audit_text}; integrity ok; mode 0600).")
    if copy_key:
        key = source_key.read_bytes()
        _write_private(str(target_key), lambda tmp: Path(tmp).write_bytes(key))
        print(
            f"Copied the encryption key file {source_key} to {target_key} (mode 0600): the stored API keys "
            "cannot be decrypted without it. Keep the two together, and as private as the key itself."
        )
    if settings.secret_key:
        print(f"{SECRET_ENV} is set: the stored API keys are encrypted with it. It is not in the backup; keep it safe.")
    elif not copy_key:
        print(
            f"Neither {SECRET_ENV} nor a key file {source_key} exists: API keys stored in this database, "
            "if any, can only be decrypted with the key they were stored with."
        )
    return 0


@_reports_errors
def set_key_command(args: argparse.Namespace) -> int:
    """Store a channel's key from stdin, encrypted, and audit it."""
    settings = args.settings()
    channel = _channel(args)
    try:
        endpoint = normalize_endpoint(args.endpoint)
    except ValueError as error:
        raise UsageError(str(error)) from None
    api_key = _read_key(sys.stdin)
    path = _db_path(args, settings)
    _migrate(path)
    cipher = load_cipher(settings.secret_key, path, log)
    now = datetime.now(UTC)
    with connect(path) as db, db.transaction("audit", what="storing a channel key"):
        config = ChannelStore(db, cipher).set_key(channel, api_key, endpoint, CLI_ACTOR, now)
        _audit_cli(db, channel, "login", now=now, audit_key=cipher.audit_key, arguments={"endpoint": endpoint})
    print(f"Stored the API key {mask_key(api_key)} for {channel}; endpoint: {config.endpoint or 'default'}.")
    return 0


@_reports_errors
def show_command(args: argparse.Namespace) -> int:
    """List configured channels with masked keys; with --team and --channel, also who may do what."""
    if args.channel and not args.team:
        raise UsageError("--channel needs --team: channel ids are only unique within a team")
    path = _db_path(args, args.settings())
    with _existing_db(path, "channel_keys") as db:
        store = ChannelStore(db)
        configs = store.list(team_id=args.team, enterprise_id=args.enterprise)
        if args.channel:
            configs = [config for config in configs if config.channel.channel_id == args.channel]
        if not configs:
            print("No channel matches." if args.team else "No channel has an API key yet.")
        for config in configs:
            print(
                f"{config.channel}  key {config.masked_key}  endpoint {config.endpoint or 'default'}  "
                f"set by {config.set_by} at {config.set_at}"
            )
            if args.channel:
                allowed = sorted(store.allowed_users(config.channel))
                print(f"  allowed to change algorithms: {', '.join(allowed) or 'anyone'}")
                print(f"  configurers: {', '.join(sorted(store.configurers(config.channel))) or 'none'}")
    return 0


@_reports_errors
def remove_command(args: argparse.Namespace) -> int:
    """Forget a channel's key (its allow list and configurers stay), and audit it."""
    channel = _channel(args)
    settings = args.settings()
    path = _db_path(args, settings)
    now = datetime.now(UTC)
    _require_db(path, "channel_keys")
    cipher = load_cipher(settings.secret_key, path, log, create=False)  # seals the audit row; never a new key
    with _existing_db(path, "channel_keys") as db, db.transaction("audit", what="removing a channel key"):
        if not ChannelStore(db).remove(channel):
            print(f"{channel} has no API key; nothing removed.", file=sys.stderr)
            return 1
        _audit_cli(db, channel, "logout", now=now, audit_key=cipher.audit_key)
    print(f"Removed the API key of {channel}.")
    return 0


@_reports_errors
def verify_command(args: argparse.Namespace) -> int:
    """Exit 0 if the chain is intact (and matches the checkpoint given), 1 naming the first bad row."""
    if (args.head is None) != (args.rows is None):
        raise UsageError("--head and --rows go together: both come from one checkpoint (the 'audit head' log line)")
    if args.head is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", args.head.strip()):
        raise UsageError("--head must be the 64 hexadecimal characters of a checkpoint's hash")
    settings = args.settings()
    path = _db_path(args, settings)
    _require_db(path, "audit")
    cipher = load_cipher(settings.secret_key, path, log, create=False)  # a read-only check writes no key
    with _existing_db(path, "audit") as db:
        result = audit.verify(db, cipher.audit_key, head=args.head, rows=args.rows)
    if not result.ok:
        where = f" at row {result.bad_row_id}" if result.bad_row_id is not None else ""
        print(f"Audit trail check FAILED{where}: {result.reason}", file=sys.stderr)
        print(f"{result.rows} row(s) before it verified.", file=sys.stderr)
        return 1
    print(f"{result.rows} rows verified; head hash {result.head_hash}")
    if args.rows is not None:
        print(
            f"Row {args.rows} still carries the checkpoint's hash: nothing recorded up to it was removed or replaced."
        )
    return 0


@_reports_errors
def export_command(args: argparse.Namespace) -> int:
    """Write the trail to stdout or a file."""
    path = _db_path(args, args.settings())
    since = _parse_since(args.since)
    with _existing_db(path, "audit") as db:
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = audit.export(db, args.format, since, out=out)
            print(f"Exported {count} row(s) to {args.output}.", file=sys.stderr)
        else:
            audit.export(db, args.format, since, out=sys.stdout)
    return 0
