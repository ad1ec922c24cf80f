"""Every subcommand documents itself, and the README lists it."""

import re
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


ROOT = Path(__file__).parent.parent
CONTRACT = ROOT / "docs" / "algorithmia-contract.md"
# Written so this file does not match itself: a section sign, and the name of a document kept outside the repository.
OUTSIDE_CITATIONS = ("\u00a7", "algorithmia" + "-api", "shared/" + "reference")
CITED_SECTION = re.compile(r'algorithmia-contract\.md, "([^"]+)"')


def repository_texts() -> dict[str, str]:
    """Every source and documentation file a reader of the repository can open."""
    files = [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("deploy/**/*")]
    for folder in ("algobot", "commands", "tests", "bench"):
        files += [path for path in (ROOT / folder).rglob("*.py")]
    return {str(path.relative_to(ROOT)): path.read_text() for path in files if path.is_file()}


def test_no_file_cites_a_document_that_is_not_in_the_repository():
    texts = repository_texts()
    citing = [f"{name}: {needle!r}" for name, text in texts.items() for needle in OUTSIDE_CITATIONS if needle in text]
    assert not citing, f"facts must live in docs/algorithmia-contract.md or in the docstring itself: {citing}"


def test_every_section_of_the_contract_that_code_cites_exists():
    headings = {line.lstrip("#").strip() for line in CONTRACT.read_text().splitlines() if line.startswith("#")}
    cited = {(name, section) for name, text in repository_texts().items() for section in CITED_SECTION.findall(text)}
    assert cited, "the code points to the contract by section name"
    missing = sorted(f"{name} cites {section!r}" for name, section in cited if section not in headings)
    assert not missing, missing
