"""pytest-perfbudget's own hooks, for conftest.py files and other plugins."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_perfbudget_result(item: pytest.Item, result: dict[str, Any]) -> None:
    """Called once for every judged test, in the process that ran it.

    ``result`` is the test's entry of the JSON report (builtins only): its metrics,
    limits, baseline, regression checks, verdict and messages, numbers in base units.
    Ship it to a dashboard, say. Do not change it.
    """


@pytest.hookspec(firstresult=True)
def pytest_perfbudget_fingerprint(config: pytest.Config) -> Any:
    """Return the machine key that baselines are filed under, or None for the default.

    The default is a hash of the CPU model, core count, OS and Python version. Teams
    whose CI runners are better named by a label return that label (a string).
    """
