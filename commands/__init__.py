"""One module per `/algo` subcommand. Each exposes `COMMAND`, a `CommandSpec` whose summary is the
module docstring's first line; `/algo help` and the README's command list come from this registry.

Every module ends with the same-shaped ``COMMAND = CommandSpec(name=..., kind=..., run=run, args=...,
options=...)`` declaration, often after the same ``return Reply(...)``: a deliberate mirror (one
spec per subcommand), which `duplicates` reports as shape-alike pairs. Helpers shared by several
commands live in the ``_``-prefixed modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from algobot.dispatch import CommandSpec

# The order `/algo help` shows them in.
COMMAND_MODULES = (
    "help",
    "info",
    "versions",
    "builds",
    "build",
    "logs",
    "create",
    "update",
    "compile",
    "publish",
    "requests",
    "call",
    "watch",
    "unwatch",
    "watching",
    "releases",
    "audit",
    "status",
    "me",
    "login",
    "logout",
    "allow",
    "deny",
    "policy",
)


def load_registry() -> Mapping[str, CommandSpec]:
    """Import every command module and index its spec by name."""
    registry: dict[str, CommandSpec] = {}
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"algobot.commands.{module_name}")
        spec: CommandSpec = module.COMMAND
        registry[spec.name] = spec
    return registry
