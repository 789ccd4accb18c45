"""Where a run happens: the machine fingerprint and the git commit and branch."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

__all__ = ["git_revision", "machine_description", "machine_fingerprint"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith(("model name", "Model", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_description() -> dict[str, str]:
    """CPU model, core count, OS and Python version: what baselines are filed under."""
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count() or 0),
        "os": f"{platform.system()} {platform.machine()}",
        "python": f"{sys.implementation.name} {sys.version_info[0]}.{sys.version_info[1]}",
    }


def machine_fingerprint(description: dict[str, str]) -> str:
    """A short stable key of a machine description."""
    canonical = json.dumps(description, sort_keys=True).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()[:16]


def _git(directory: Path, *args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *args],
            cwd=directory,
            capture_output=True,
            encoding="utf-8",
            errors="replace",  # a ref name is bytes, in any encoding
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    output = completed.stdout.strip()
    return output if completed.returncode == 0 and output else None


def git_revision(directory: Path) -> tuple[str | None, str | None]:
    """The commit and branch checked out in ``directory``; None for each that is unknown
    (no git, not a repository, no commit yet, a detached head has no branch)."""
    commit = _git(directory, "rev-parse", "HEAD")
    branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
    return commit, (None if branch == "HEAD" else branch)
