"""``python -m pytest_perfbudget``: the ``perfbudget`` history tool."""

from .cli import main

raise SystemExit(main())
