"""The `algobot` command line: one sub-command per job, each registered by the module that owns it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser from each area's own `register(subparsers)`."""
    from algobot import admin_cli, dev, serve_cli
    from algobot.sandbox import cli as sandbox_cli

    parser = argparse.ArgumentParser(prog="algobot", description="Algorithmia chat-ops for Slack.")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev.register(subparsers)
    serve_cli.register(subparsers)
    sandbox_cli.register(subparsers)
    admin_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from algobot.logs import configure
    from algobot.settings import Settings, SettingsError

    # Secrets and format come from the environment when it is valid; commands that need valid
    # settings report a bad one themselves.
    try:
        settings = Settings.from_env()
        configure(args.log_level, settings.log_format, settings.secrets())
    except SettingsError:
        configure(args.log_level)
    return int(args.handler(args) or 0)
