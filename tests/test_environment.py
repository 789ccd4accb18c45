"""Machine fingerprints and git revisions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_perfbudget.environment import (
    git_revision,
    machine_description,
    machine_fingerprint,
)


def test_fingerprint_is_stable_and_tells_machines_apart() -> None:
    description = machine_description()
    assert set(description) == {"cpu", "cores", "os", "python"}
    assert machine_fingerprint(description) == machine_fingerprint(dict(description))
    other = {**description, "cores": "64"}
    assert machine_fingerprint(other) != machine_fingerprint(description)


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@needs_git
def test_git_revision_of_a_repository(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        completed = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return completed.stdout.strip()

    git("init", "-q", "-b", "feature")
    (tmp_path / "f.txt").write_text("x")
    git("add", "f.txt")
    git("commit", "-q", "-m", "first")
    assert git_revision(tmp_path) == (git("rev-parse", "HEAD"), "feature")
    git("checkout", "-q", "--detach")
    assert git_revision(tmp_path) == (git("rev-parse", "HEAD"), None)


@needs_git
def test_a_branch_name_that_is_not_utf8_is_read_with_replacements(tmp_path: Path) -> None:
    def git(*args: str | bytes) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            capture_output=True,
            check=True,
        )

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "first")
    git("checkout", "-q", "-b", b"feat-\xff")
    commit, branch = git_revision(tmp_path)
    assert commit is not None
    assert branch == "feat-\ufffd"


@needs_git
def test_git_revision_outside_a_repository_is_unknown(tmp_path: Path) -> None:
    assert git_revision(tmp_path) == (None, None)


def test_git_revision_without_git_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_revision(tmp_path) == (None, None)
