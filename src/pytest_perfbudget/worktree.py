"""The code a paired run compares against: a git revision checked out into a throwaway
worktree outside the repository, and the import roots that make the control run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

__all__ = [
    "AgainstError",
    "Worktree",
    "git_toplevel",
    "import_roots",
    "interpreter_path",
    "interpreter_problem",
    "modules_under",
    "pythonpath",
    "resolve_revision",
]

#: Worktrees are made under the system's temporary directory with this prefix.
PREFIX = "perfbudget-against-"


class AgainstError(Exception):
    """A comparison that cannot be made (no git, an unknown revision...): a usage error."""


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=directory,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        raise AgainstError("git is not installed, and --perf-against needs it") from None
    except subprocess.TimeoutExpired:
        raise AgainstError(f"git {' '.join(args)} took more than 2 minutes") from None


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def git_toplevel(directory: Path) -> Path:
    """The top of the git repository that holds ``directory``."""
    completed = _git(directory, "rev-parse", "--show-toplevel")
    if completed.returncode != 0:
        raise AgainstError(
            f"--perf-against: {directory} is not in a git repository "
            f"({_first_line(completed.stderr) or 'git rev-parse failed'})"
        )
    return Path(completed.stdout.strip()).resolve()


def resolve_revision(toplevel: Path, revision: str) -> str:
    """The commit ``revision`` names, as a full sha."""
    if not revision or revision.startswith("-"):
        raise AgainstError(f"--perf-against={revision!r}: expected a git revision")
    completed = _git(toplevel, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if completed.returncode == 0:
        return completed.stdout.strip()
    shallow = _git(toplevel, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
    if shallow:
        raise AgainstError(
            f"--perf-against={revision}: no such revision in this shallow clone of "
            f"{toplevel}; fetch it first (git fetch --unshallow, or git fetch origin "
            f"{revision.removeprefix('origin/')}; actions/checkout takes fetch-depth: 0)"
        )
    raise AgainstError(f"--perf-against={revision}: no such git revision in {toplevel}")


class Worktree:
    """``revision`` checked out, detached, in a new directory under the system's temporary
    directory; :meth:`remove` takes it away and unregisters it."""

    def __init__(self, toplevel: Path, sha: str) -> None:
        self.toplevel = toplevel
        self._parent = Path(tempfile.mkdtemp(prefix=PREFIX))
        self.path = self._parent / toplevel.name
        completed = _git(toplevel, "worktree", "add", "--detach", "--quiet", str(self.path), sha)
        if completed.returncode != 0:
            shutil.rmtree(self._parent, ignore_errors=True)
            raise AgainstError(
                f"cannot check {sha[:12]} out into a worktree: {_first_line(completed.stderr)}"
            )

    def remove(self) -> None:
        _git(self.toplevel, "worktree", "remove", "--force", str(self.path))
        shutil.rmtree(self._parent, ignore_errors=True)
        _git(self.toplevel, "worktree", "prune")

    def map(self, path: Path) -> Path:
        """Where ``path``, under the repository, is in the worktree."""
        return self.path / path.relative_to(self.toplevel)


def _installed_places() -> list[Path]:
    """Where installed packages live: a virtual environment inside the repository is
    not the repository's code."""
    places = {sysconfig.get_paths()[key] for key in ("purelib", "platlib", "stdlib")}
    return [Path(place).resolve() for place in places]


def _is_under(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def modules_under(modules: Mapping[str, ModuleType], toplevel: Path) -> dict[str, Path]:
    """The imported modules whose file is in the repository at ``toplevel`` (not in an
    environment installed there), by name."""
    installed = _installed_places()
    found: dict[str, Path] = {}
    for name, module in list(modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue
        path = Path(file).resolve()
        if _is_under(path, toplevel) and not any(_is_under(path, place) for place in installed):
            found[name] = path
    return found


def import_roots(modules: Mapping[str, Path]) -> list[Path]:
    """The directories on ``sys.path`` that the modules were imported from: for
    ``pkg.sub`` in ``src/pkg/sub/__init__.py``, ``src``."""
    roots: list[Path] = []
    for name, path in modules.items():
        depth = name.count(".") + (1 if path.stem == "__init__" else 0)
        if depth < len(path.parents):
            root = path.parents[depth]
            if root not in roots:
                roots.append(root)
    return roots


def pythonpath(roots: Iterable[Path], worktree: Worktree) -> str:
    """``PYTHONPATH`` for the control: the import roots in the worktree, before the
    entries already set (those in the repository mapped too)."""
    entries = [str(worktree.map(root)) for root in roots]
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if not entry:
            continue
        path = Path(entry).resolve()
        entries.append(str(worktree.map(path)) if _is_under(path, worktree.toplevel) else entry)
    return os.pathsep.join(dict.fromkeys(entries))


def interpreter_problem(python: str) -> str | None:
    """Why ``python`` cannot run the control (missing, not runnable, without pytest or
    this plugin), or None."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        found = shutil.which(python)
        if found is None:
            return f"no such interpreter: {python}"
        python = found
    probe = "import pytest, pytest_perfbudget; print(pytest_perfbudget.__version__)"
    try:
        completed = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{python} cannot be run: {error}"
    if completed.returncode == 0:
        return None
    missing = "pytest" if "No module named 'pytest'" in completed.stderr else "pytest-perfbudget"
    return (
        f"{python} has no {missing}: install it there (pip install pytest-perfbudget), "
        f"or point --perf-against-python at an environment that has it"
    )


def interpreter_path(python: str) -> str:
    """``python`` as a path to run (a name is looked up on PATH)."""
    if os.path.isfile(python):
        return python
    return shutil.which(python) or python
