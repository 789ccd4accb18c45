"""Files that must never be torn: atomic writes, an inter-process lock, fast JSON.

A history that users commit or cache in CI is written through a temporary file in the
same directory, fsynced and renamed over the old one, under a lock that two pytest
processes saving at once both respect.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "LOCK_TIMEOUT",
    "LockTimeout",
    "collector_paused",
    "encode_json",
    "fast_json",
    "locked",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

#: How long a writer waits for another to release a file's lock (seconds), and how often
#: it tries.
LOCK_TIMEOUT = 120.0
LOCK_POLL = 0.02


class LockTimeout(OSError):
    """Another process held a file's lock for :data:`LOCK_TIMEOUT` seconds."""


def fast_json() -> Any | None:
    """orjson, when installed (the ``fast`` extra): it reads and writes a large history
    several times faster than the standard library; None otherwise."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def encode_json(document: object, *, indent: int | None) -> bytes:
    """``document`` as UTF-8 JSON with sorted keys: compact, or indented by ``indent``."""
    fast = fast_json() if indent is None else None
    if fast is not None:
        encoded: bytes = fast.dumps(document, option=fast.OPT_SORT_KEYS)
        return encoded + b"\n"
    separators = (",", ":") if indent is None else (",", ": ")
    # dumps, not dump: only the one-shot encoder is the fast one written in C
    text = json.dumps(document, indent=indent, separators=separators, sort_keys=True)
    return (text + "\n").encode("utf-8")


def write_json_atomic(path: Path, document: object, *, indent: int | None = 2) -> None:
    """Write JSON atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, encode_json(document, indent=indent))


def write_text_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same directory, fsync and rename.

    A crash at any moment leaves either the old file or the new one. A symbolic link is
    written through, to the file it names (a history kept in a shared or cached place).
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = 0o644
        os.chmod(temporary, mode)  # mkstemp makes it private; keep the file's own mode
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive inter-process lock beside ``path`` (``<path>.lock``; beside the
    file a symbolic link names, so that every link to one file shares its lock).

    Raises :class:`LockTimeout` when another process holds it for :data:`LOCK_TIMEOUT`
    seconds: a saver that hangs must not hang every CI job that saves after it.
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as lock_file:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            lock_file.seek(0)
            msvcrt.locking(lock_file.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                lock_file.seek(0)
                msvcrt.locking(lock_file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"{lock_path}: another process has held this lock for "
                            f"{LOCK_TIMEOUT:g} s; {path} was left as it is"
                        ) from None
                    time.sleep(LOCK_POLL)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a history is read, merged and written.

    A large history is millions of lists and numbers, none of them in a cycle; while they
    are created the collector would otherwise traverse them again and again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
