"""The `algobot` command line: one sub-command per job, each registered by the module that owns it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from importlib import metadata

from algobot import admin_cli, dev, serve_cli
from algobot import settings as settings_cli
from algobot.logs import configure
from algobot.sandbox import cli as sandbox_cli
from algobot.settings import LOG_LEVELS, Settings, SettingsError

SIGPIPE_STATUS = 141  # 128 + SIGPIPE: what a shell reports for a program cut off by `| head`


def version() -> str:
    """The installed package's version (pyproject.toml), so `--version` never drifts from a release."""
    try:
        return metadata.version("algobot")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed; pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser from each area's own `register(subparsers)`."""
    parser = argparse.ArgumentParser(prog="algobot", description="Algorithmia chat-ops for Slack.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "--log-level",
        default=None,
        type=str.upper,  # `--log-level debug` works too; anything else is refused, not silently ignored
        choices=LOG_LEVELS,
        help="logging level: DEBUG, INFO, WARNING or ERROR (default $ALGOBOT_LOG_LEVEL or INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev.register(subparsers)
    serve_cli.register(subparsers)
    sandbox_cli.register(subparsers)
    admin_cli.register(subparsers)
    settings_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    # The environment is read here, once, and handed to the command as `args.settings()`. When it is
    # invalid, logging still starts (at the flag's level) and a command that needs the settings
    # reports the bad one when it calls `args.settings()`; the others (dev, sandbox) run regardless.
    try:
        settings = Settings.from_env()
    except SettingsError as problem:
        configure(args.log_level or "INFO")
        args.settings = _raise(problem)
    else:
        configure(args.log_level or settings.log_level, settings.log_format, settings.secrets())
        args.settings = lambda: settings
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a reader that went away shows up here, not as a traceback at exit
    except BrokenPipeError:
        # `algobot audit export | head`: the reader has what it wanted. Point stdout at /dev/null so
        # the interpreter's final flush does not complain again, and exit as SIGPIPE would have.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return SIGPIPE_STATUS
    return status


def _raise(problem: SettingsError) -> Callable[[], Settings]:
    """`args.settings` for an invalid environment: each command that asks is told what is wrong."""

    def settings() -> Settings:
        raise SettingsError(str(problem))

    return settings
