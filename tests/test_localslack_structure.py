"""The local Slack's shape: its state is reached only through `SlackState`'s public API, and its
modules import one another in layers (no cycle, nothing imported inside a function to hide one).

These read the source with `ast`; each failure names the file and line to fix.
"""

from __future__ import annotations

import ast
from pathlib import Path

from algobot.localslack.core import LocalSlack
from algobot.localslack.state import SlackState

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "algobot" / "localslack"
STATE = PACKAGE / "state.py"


def private_members(*classes: type) -> set[str]:
    """``_names`` a class defines or assigns on ``self`` (its private state and helpers)."""
    names: set[str] = set()
    for cls in classes:
        names.update(n for n in vars(cls) if n.startswith("_") and not n.startswith("__"))
    tree = ast.parse(STATE.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        on_self = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
        if on_self and node.attr.startswith("_") and not node.attr.startswith("__"):
            names.add(node.attr)
    return names


def private_uses(paths: list[Path], private: set[str]) -> list[str]:
    """``file:line: expr._name`` for each use of a private member on something other than ``self``."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in private:
                if isinstance(node.value, ast.Name) and node.value.id == "self":
                    continue  # the module's own object, not the local Slack
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def sibling_imports(path: Path, modules: set[str]) -> list[tuple[str, int, bool]]:
    """``(module, line, inside_a_function)`` for every import of another module of the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = "algobot.localslack"
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nested.update(id(child) for child in ast.walk(node) if child is not node)
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1:
                base = f"{package}.{base}" if base else package
            if base == package:
                names = [a.name for a in node.names]
            elif base.startswith(package + "."):
                names = [base[len(package) + 1 :].split(".")[0]]
        elif isinstance(node, ast.Import):
            names = [a.name[len(package) + 1 :].split(".")[0] for a in node.names if a.name.startswith(package + ".")]
        for name in names:
            if name in modules:
                found.append((name, node.lineno, id(node) in nested))
    return found


def import_cycle(package_dir: Path) -> list[str] | None:
    """One cycle among the package's modules (counting imports under TYPE_CHECKING), or None."""
    modules = {p.stem for p in package_dir.glob("*.py") if p.stem != "__init__"}
    graph = {m: {name for name, _, _ in sibling_imports(package_dir / f"{m}.py", modules)} - {m} for m in modules}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            cycle = visit(imported, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(modules):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_no_module_but_state_touches_a_private_member_of_the_local_slack() -> None:
    private = private_members(SlackState, LocalSlack)
    assert {"_cond", "_channels", "_views", "_stacks", "_files", "_seq"} <= private  # the scan sees the state
    paths = [p for p in PACKAGE.glob("*.py") if p != STATE]
    paths += sorted((ROOT / "tests" / "fixtures").glob("*.py")) + sorted((ROOT / "tests" / "fakes").glob("*.py"))
    paths += sorted(ROOT.glob("tests/test_localslack_*.py")) + [ROOT / "tests" / "test_playground_browser.py"]
    paths += [ROOT / "algobot" / "dev.py", *sorted((ROOT / "bench").glob("*.py"))]
    assert private_uses(paths, private) == []


def test_the_local_slack_modules_form_no_import_cycle() -> None:
    assert import_cycle(PACKAGE) is None


def test_no_local_slack_module_imports_a_sibling_inside_a_function() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    nested = [
        f"{path.name}:{line}: imports {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        for name, line, inside in sibling_imports(path, modules)
        if inside
    ]
    assert nested == []
