"""The code a paired run compares against: a git revision checked out into a throwaway
worktree outside the repository, and the import roots that make the control run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Iterator, Mapping
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
    "prune_stale_worktrees",
    "pythonpath",
    "resolve_revision",
    "shadowed_packages",
]

#: Worktrees are made under the system's temporary directory with this prefix.
PREFIX = "perfbudget-against-"
#: A worktree is locked with this reason, and the process id that made it: a run that was
#: killed leaves it registered, and the next run removes it.
LOCK_REASON = "pytest-perfbudget run "


class AgainstError(Exception):
    """A comparison that cannot be made (no git, an unknown revision...): a usage error."""


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            # the repository's own hooks (post-checkout, git-lfs) are not ours to run
            ["git", "-c", "core.hooksPath=/dev/null", *args],
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
    """``revision`` checked out, detached and locked, in a new directory under the
    system's temporary directory; :meth:`remove` takes it away and unregisters it."""

    def __init__(self, toplevel: Path, sha: str) -> None:
        self.toplevel = toplevel
        # resolved: a temporary directory behind a link (macOS's /var) must compare equal
        # to the paths modules are imported from
        self._parent = Path(tempfile.mkdtemp(prefix=PREFIX)).resolve()
        self.path = self._parent / toplevel.name
        self._removed = False
        completed = _git(
            toplevel, "worktree", "add", "--detach", "--quiet", "--lock",
            f"--reason={LOCK_REASON}{os.getpid()}", str(self.path), sha,
        )  # fmt: skip
        if completed.returncode != 0:
            shutil.rmtree(self._parent, ignore_errors=True)
            raise AgainstError(
                f"cannot check {sha[:12]} out into a worktree: {_first_line(completed.stderr)}"
            )

    def remove(self) -> None:
        """Take it away (once; later calls do nothing)."""
        if not self._removed:
            self._removed = True
            _remove(self.toplevel, self.path)
            shutil.rmtree(self._parent, ignore_errors=True)

    def map(self, path: Path) -> Path:
        """Where ``path``, under the repository, is in the worktree."""
        return self.path / path.relative_to(self.toplevel)


def _remove(toplevel: Path, path: Path) -> None:
    # a locked worktree needs --force twice
    _git(toplevel, "worktree", "remove", "--force", "--force", str(path))
    _git(toplevel, "worktree", "prune")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune_stale_worktrees(toplevel: Path) -> None:
    """Remove the worktrees that runs killed before their cleanup left behind (the
    process that made them is gone)."""
    listing = _git(toplevel, "worktree", "list", "--porcelain").stdout
    for record in listing.split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in record.splitlines())
        reason = fields.get("locked", "")
        pid = reason.removeprefix(LOCK_REASON)
        if reason.startswith(LOCK_REASON) and pid.isdigit() and not _alive(int(pid)):
            path = Path(fields["worktree"])
            _remove(toplevel, path)
            if path.parent.name.startswith(PREFIX):
                shutil.rmtree(path.parent, ignore_errors=True)


def _installed_places() -> list[Path]:
    """Where installed packages and their scripts live: a virtual environment inside the
    repository is not the repository's code."""
    paths = sysconfig.get_paths()
    places = {paths[key] for key in ("purelib", "platlib", "stdlib", "scripts")}
    places |= {sys.prefix, sys.base_prefix}
    return [Path(place).resolve() for place in places]


def _is_under(path: Path | str, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or in it (as text: a process's thousands of
    modules are checked)."""
    text, top = str(path), str(directory)
    return text == top or text.startswith(os.path.join(top, ""))


def _module_files(modules: Mapping[str, ModuleType]) -> Iterator[tuple[str, str]]:
    """Each module that has a file, by name, and its file with links resolved: each
    directory once, as a large process imports thousands of modules from a few hundred."""
    directories: dict[str, str] = {}
    for name, module in list(modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            continue
        if os.path.islink(file):
            yield name, os.path.realpath(file)
            continue
        directory, base = os.path.split(file)
        if directory not in directories:
            directories[directory] = os.path.realpath(directory)
        yield name, os.path.join(directories[directory], base)


def modules_under(modules: Mapping[str, ModuleType], toplevel: Path) -> dict[str, Path]:
    """The imported modules whose file is in the repository at ``toplevel`` (not in an
    environment installed there), by name."""
    installed = _installed_places()
    found: dict[str, Path] = {}
    for name, path in _module_files(modules):
        if name in ("__main__", "__mp_main__"):  # the script that started the process
            continue
        if _is_under(path, toplevel) and not any(_is_under(path, place) for place in installed):
            found[name] = Path(path)
    return found


def shadowed_packages(modules: Mapping[str, ModuleType], toplevel: Path) -> dict[str, Path]:
    """The top-level packages imported from outside the repository at ``toplevel`` that
    the repository has a copy of (in ``src/`` or at the top): a non-editable install."""
    copies = _top_level_modules(toplevel / "src") | _top_level_modules(toplevel)
    named = {name: module for name, module in list(modules.items()) if name in copies}
    return {
        name: Path(path) for name, path in _module_files(named) if not _is_under(path, toplevel)
    }


def _top_level_modules(directory: Path) -> set[str]:
    """The names of the modules and packages at the top of ``directory``."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return set()
    return {
        entry.removesuffix(".py")
        for entry in entries
        if entry.endswith(".py") or (directory / entry / "__init__.py").is_file()
    }


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
    for missing in ("pytest", "pytest_perfbudget"):
        if f"No module named '{missing}'" in completed.stderr:
            return (
                f"{python} has no {missing.replace('_', '-')}: install it there (pip install "
                "pytest-perfbudget), or point --perf-against-python at an environment that "
                "has it"
            )
    return f"{python} cannot import pytest and pytest-perfbudget: {_last_line(completed.stderr)}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def interpreter_path(python: str) -> str:
    """``python`` as an absolute path to run (a name is looked up on PATH)."""
    if os.path.isfile(python):
        return os.path.abspath(python)
    return shutil.which(python) or python
