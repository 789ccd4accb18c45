from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# pytester's in-process runs drop the modules they import; hypothesis' pytest plugin imports
# hypothesis at the end of every run, which costs seconds a run unless it is imported here.
import hypothesis  # noqa: F401
import pytest
from packaging.version import Version

pytest_plugins = ["pytester"]


def _sets_loop_scope() -> bool:
    """Whether pytest-asyncio (of the test extra) warns in a run whose configuration leaves
    its fixtures' loop scope unset, as it does from 0.24 on."""
    try:
        return Version(version("pytest-asyncio")) >= Version("0.24")
    except PackageNotFoundError:
        return False


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, its runs given pytest-asyncio's loop scope: its warning would end every run
    under -W error before the first test (a paired run's control gets it as an -o too)."""
    if _sets_loop_scope():
        monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
    return pytester
