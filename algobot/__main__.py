from algobot.cli import main

raise SystemExit(main())
