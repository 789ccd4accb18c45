from __future__ import annotations

# pytester's in-process runs drop the modules they import; hypothesis' pytest plugin imports
# hypothesis at the end of every run, which costs seconds a run unless it is imported here.
import hypothesis  # noqa: F401

pytest_plugins = ["pytester"]
