"""Every subcommand documents itself, and the README lists it."""

from pathlib import Path

import pytest

from algobot.commands import COMMAND_MODULES, load_registry

README = (Path(__file__).parent.parent / "README.md").read_text()
REGISTRY = load_registry()


@pytest.mark.parametrize("name", COMMAND_MODULES)
def test_command_has_help_and_is_in_readme(name):
    spec = REGISTRY[name]
    assert spec.summary and spec.summary.endswith(".")
    assert spec.usage.startswith(f"/algo {name}")
    assert f"`{spec.usage}`" in README


def test_readme_opens_with_the_two_commands():
    first, second = README.splitlines()[:2]
    assert first.endswith("algobot dev")
    assert "pytest" in second
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "sed -n 2p README.md" in ci
