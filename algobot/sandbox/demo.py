"""Demo data: user ``demo`` with a managing key, ``demo/hello`` (builds) and ``demo/broken`` (does not).

`seed_demo` is reusable (``algobot sandbox --demo`` and the playground call it). It is idempotent
for the algorithms, which get a real repository with an initial commit but are not built, so the
first build is the person's own ``compile`` or ``git push``. A new key is issued on every call,
because only key hashes are stored and an old key cannot be shown again.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from algobot.sandbox import store
from algobot.sandbox.git import commit_files, init_repo

if TYPE_CHECKING:
    from algobot.sandbox.app import Sandbox

DEMO_USER = "demo"

HELLO_FILES = {
    "README.md": "# hello\n\nA demo algorithm of the algobot sandbox: says hello.\n",
    "requirements.txt": "",
    "src/__init__.py": "",
    "src/hello.py": (
        '"""demo/hello: greets its input."""\n\n\ndef apply(input):\n    return "Hello {}".format(input)\n'
    ),
}
BROKEN_FILES = {
    "README.md": "# broken\n\nA demo algorithm whose build fails: src/broken.py has a syntax error.\n",
    "requirements.txt": "",
    "src/__init__.py": "",
    "src/broken.py": (
        '"""demo/broken: a missing colon, so the build fails."""\n\n\ndef apply(input)\n    return input\n'
    ),
}
SETTINGS = {
    "language": "python3-1",
    "environment": "cpu",
    "source_visibility": "closed",
    "license": "apl",
    "network_access": "isolated",
    "pipeline_enabled": False,
    "algorithm_callability": "private",
}
DEMO_ALGORITHMS: dict[str, tuple[str, dict[str, str]]] = {
    "hello": ("Hello", HELLO_FILES),
    "broken": ("Broken", BROKEN_FILES),
}


def seed_demo(sandbox: Sandbox) -> dict[str, Any]:
    """Seed the demo user and algorithms; return ``{"user", "key", "algorithms"}``."""
    key = sandbox.create_key(DEMO_USER, manage=True)
    names = []
    for name, (label, files) in DEMO_ALGORITHMS.items():
        names.append(f"{DEMO_USER}/{name}")
        _seed_algorithm(sandbox, name, label, files)
    return {"user": DEMO_USER, "key": key, "algorithms": names}


def _seed_algorithm(sandbox: Sandbox, name: str, label: str, files: dict[str, str]) -> None:
    repo = sandbox.repo_path(DEMO_USER, name)
    with sandbox.write_lock, sandbox.db() as db:
        if store.get_algorithm(db, DEMO_USER, name) is not None:
            return
        if not repo.exists():
            init_repo(repo)
            commit_files(repo, files, "Initial commit (algobot sandbox demo)")
        now = store.now_iso()
        db["algorithms"].insert(
            {
                "id": str(uuid.uuid4()),
                "owner": DEMO_USER,
                "name": name,
                "details": store.dumps({"label": label, "summary": f"Sandbox demo algorithm {DEMO_USER}/{name}"}),
                "settings": store.dumps(SETTINGS),
                "sample_input": json.dumps("world"),
                "created_at": now,
                "updated_at": now,
            }
        )
