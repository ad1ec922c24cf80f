"""``python -m algobot.sandbox [options] | key USER``: the sandbox command on its own."""

from algobot.sandbox.cli import main

raise SystemExit(main())
