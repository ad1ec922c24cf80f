"""The `algobot` command line: one sub-command per job, each registered by the module that owns it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from algobot import admin_cli, dev, serve_cli
from algobot.logs import configure
from algobot.sandbox import cli as sandbox_cli
from algobot.settings import Settings, SettingsError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
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
        default="INFO",
        type=str.upper,  # `--log-level debug` works too; anything else is refused, not silently ignored
        choices=LOG_LEVELS,
        help="logging level: DEBUG, INFO, WARNING or ERROR (default INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev.register(subparsers)
    serve_cli.register(subparsers)
    sandbox_cli.register(subparsers)
    admin_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Secrets and format come from the environment when it is valid; commands that need valid
    # settings report a bad one themselves.
    try:
        settings = Settings.from_env()
        configure(args.log_level, settings.log_format, settings.secrets())
    except SettingsError:
        configure(args.log_level)
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
