"""What the distribution installs: `algobot` and nothing else at the top level.

The subcommands live in the repository's top-level `commands/` folder and install as `algobot.commands`
(a setuptools package-dir mapping); a top-level `commands` package could clash with any other
distribution's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import algobot.commands

ROOT = Path(__file__).resolve().parent.parent


def _modules(folder: Path, package: str) -> set[str]:
    """Wheel paths of every module under ``folder`` once installed as ``package``."""
    prefix = package.replace(".", "/")
    return {
        f"{prefix}/{path.relative_to(folder).as_posix()}"
        for path in folder.rglob("*.py")
        if "__pycache__" not in path.parts
    }


@pytest.mark.slow
def test_the_wheel_holds_algobot_only_with_the_commands_inside_it(tmp_path):
    source = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("algobot", "commands"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    out = tmp_path / "dist"
    build = "import sys; from setuptools import build_meta; print(build_meta.build_wheel(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", build, str(out)], cwd=source, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    wheel = out / done.stdout.strip().splitlines()[-1]

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        top_level = archive.read(f"{dist_info}/top_level.txt").decode().split()
    assert top_level == ["algobot"]
    assert {n.split("/")[0] for n in names} == {"algobot", dist_info}
    assert _modules(ROOT / "commands", "algobot.commands") <= names
    # Every module of the source tree, so a new subpackage cannot be left out of the package list.
    assert _modules(ROOT / "algobot", "algobot") <= names
    assert "algobot/localslack/static/index.html" in names


def test_the_installed_distribution_declares_no_top_level_commands():
    dist = metadata.distribution("algobot")
    assert (dist.read_text("top_level.txt") or "").split() == ["algobot"]


@pytest.mark.slow
def test_algobot_commands_imports_from_anywhere_and_commands_does_not(tmp_path):
    # Away from the checkout, so nothing is found through the current directory.
    probe = (
        "import importlib.util, algobot.commands as c; "
        "print(len(c.load_registry()), importlib.util.find_spec('commands') is None)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    count, no_top_level = done.stdout.split()
    assert int(count) > 0 and no_top_level == "True"


def test_the_registry_is_the_commands_folder_imported_as_algobot_commands():
    registry = algobot.commands.load_registry()
    assert Path(algobot.commands.__file__).parent == ROOT / "commands"
    modules = [sys.modules[f"algobot.commands.{name}"] for name in algobot.commands.COMMAND_MODULES]
    assert {id(spec) for spec in registry.values()} == {id(module.COMMAND) for module in modules}
