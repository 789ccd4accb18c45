"""What a paired run's control runs: import roots, modules of the repository, pinning."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from pytest_perfbudget.pairing import pinned
from pytest_perfbudget.worktree import import_roots, modules_under, shadowed_packages


def module(name: str, file: Path) -> types.ModuleType:
    found = types.ModuleType(name)
    found.__file__ = str(file)
    return found


def test_modules_of_the_repository_and_where_they_were_imported_from(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg" / "sub").mkdir(parents=True)
    modules = {
        "pkg": module("pkg", tmp_path / "src" / "pkg" / "__init__.py"),
        "pkg.sub": module("pkg.sub", tmp_path / "src" / "pkg" / "sub" / "__init__.py"),
        "pkg.tools": module("pkg.tools", tmp_path / "src" / "pkg" / "tools.py"),
        "test_a": module("test_a", tmp_path / "tests" / "test_a.py"),
        "__main__": module("__main__", tmp_path / ".venv" / "bin" / "pytest"),
        "os": os,
    }
    found = modules_under(modules, tmp_path)
    assert set(found) == {"pkg", "pkg.sub", "pkg.tools", "test_a"}  # not the script
    assert import_roots(found) == [tmp_path / "src", tmp_path / "tests"]


def test_a_virtual_environment_inside_the_repository_is_not_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / ".venv"
    monkeypatch.setattr(sys, "prefix", str(venv))
    installed = module("dependency", venv / "lib" / "site" / "dependency.py")
    assert modules_under({"dependency": installed}, tmp_path) == {}


def test_an_installed_copy_of_a_package_of_the_repository_is_found(tmp_path: Path) -> None:
    (tmp_path / "repo" / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "repo" / "src" / "pkg" / "__init__.py").write_text("")
    site = tmp_path / "site" / "pkg" / "__init__.py"
    modules = {"pkg": module("pkg", site), "other": module("other", tmp_path / "o.py")}
    assert shadowed_packages(modules, tmp_path / "repo") == {"pkg": site.resolve()}
    editable = {"pkg": module("pkg", tmp_path / "repo" / "src" / "pkg" / "__init__.py")}
    assert shadowed_packages(editable, tmp_path / "repo") == {}


def test_modules_behind_links_are_where_the_links_lead(tmp_path: Path) -> None:
    repository, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    (repository / "src" / "pkg").mkdir(parents=True)
    (repository / "src" / "pkg" / "__init__.py").touch()
    (repository / "tool.py").touch()
    elsewhere.mkdir()
    (elsewhere / "linked_dir").symlink_to(repository / "src" / "pkg")
    (elsewhere / "tool.py").symlink_to(repository / "tool.py")
    modules = {
        "pkg": module("pkg", elsewhere / "linked_dir" / "__init__.py"),
        "tool": module("tool", elsewhere / "tool.py"),
    }
    assert modules_under(modules, repository) == {
        "pkg": repository / "src" / "pkg" / "__init__.py",
        "tool": repository / "tool.py",
    }
    assert shadowed_packages(modules, repository) == {}
    # a link, then "..": the link is followed first, as the file system does
    (repository / "src" / "sub").mkdir()
    (repository / "src" / "sub" / "x.py").touch()
    through = {"x": module("x", elsewhere / "linked_dir" / ".." / "sub" / "x.py")}
    assert modules_under(through, repository) == {"x": repository / "src" / "sub" / "x.py"}


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux pins processes")
def test_a_cpu_that_cannot_be_pinned_to_is_measured_unpinned() -> None:
    before = os.sched_getaffinity(0)
    with pinned(10_000):  # no such CPU
        assert os.sched_getaffinity(0) == before
    with pinned(max(before)):
        assert os.sched_getaffinity(0) == {max(before)}
    assert os.sched_getaffinity(0) == before
