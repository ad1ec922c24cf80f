"""The `algobot` command line: one sub-command per job, each registered by the module that owns it."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Assemble the parser from each area's own `register(subparsers)`."""
    from algobot import admin_cli, serve_cli
    from algobot.sandbox import cli as sandbox_cli

    parser = argparse.ArgumentParser(prog="algobot", description="Algorithmia chat-ops for Slack.")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cli.register(subparsers)
    sandbox_cli.register(subparsers)
    admin_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.handler(args) or 0)
