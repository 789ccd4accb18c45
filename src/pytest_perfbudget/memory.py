"""Peak memory growth of a call, read without slowing it down.

On Linux the kernel keeps the process's resident high-water mark: reset it before the call,
read it after, exact and free during the call. Elsewhere psutil polls the resident size
from a thread. tracemalloc is not used: it slows pure-Python code 4-25x and cannot see
memory outside Python's allocator.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

__all__ = [
    "LinuxPeakProbe",
    "MemoryProbe",
    "SamplingProbe",
    "collect_garbage",
    "default_memory_probe",
    "full_collections",
]


class MemoryProbe(Protocol):
    """Measures the peak memory growth of the code run between ``start`` and ``stop``."""

    method: str
    #: Whether the garbage collector made a collection during the last probed call that
    #: can free garbage older than the call (:func:`full_collections`), for the call to
    #: reuse, so that the reading may hide growth.
    saw_full_collection: bool

    def start(self, *, collect_all: bool = True) -> None:
        """Begin: collect garbage (every generation with ``collect_all``, else the young
        ones), then note where memory stands."""
        ...

    def stop(self) -> int:
        """Peak resident memory during the call minus resident memory at its start, bytes."""
        ...


#: The generations collected before a probed call, where the garbage of the test's
#: previous call lies: 0 and 1 up to Python 3.13; from 3.14, whose collector is
#: incremental, ``gc.collect(1)`` scans part of the old generation too, so 0 alone.
_YOUNG_GENERATIONS = 0 if sys.version_info >= (3, 14) else 1


def collect_garbage(*, collect_all: bool) -> None:
    """Collect garbage before a probed call, so that memory the garbage holds is not
    counted as in use: every generation, or only the young ones. A full collection walks
    every object of the process (10 ms and more in a large one): the sampler asks for one
    only to redo a reading that :attr:`MemoryProbe.saw_full_collection`, or before a
    test's first reading when it may get no other (``Sampler.collect_all_first``)."""
    if collect_all:
        gc.collect()
    else:
        gc.collect(_YOUNG_GENERATIONS)


#: The first generation whose collections can free garbage older than a probed call.
#: Up to Python 3.13, after ``gc.collect(1)`` generations 0 and 1 are empty, so only a
#: collection of generation 2 can; from 3.14 the collector is incremental, and its
#: collections past the young generation scan part of the old one.
_OLD_GENERATION = 1 if sys.version_info >= (3, 14) else 2


def full_collections() -> int:
    """How many collections the garbage collector has made that can free garbage older
    than a probed call (:data:`_OLD_GENERATION`)."""
    return sum(int(stats["collections"]) for stats in gc.get_stats()[_OLD_GENERATION:])


def _status_kib(status: str, field: str) -> int:
    for line in status.splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def _load_malloc_trim() -> Callable[[int], int] | None:
    import ctypes

    try:
        libc = ctypes.CDLL(None)  # the C library the interpreter is linked against
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


class LinuxPeakProbe:
    """Exact peak growth from the kernel's high-water mark, with no cost during the call.

    ``start`` collects garbage (:func:`collect_garbage`), returns freed heap to the OS
    (glibc ``malloc_trim``), resets the high-water mark by writing ``5`` to
    ``/proc/self/clear_refs`` and notes the resident size; ``stop`` reads ``VmHWM``.
    """

    method = "linux-vmhwm"

    def __init__(self, proc: Path = Path("/proc/self")) -> None:
        self._clear_refs = proc / "clear_refs"
        self._status = proc / "status"
        self._malloc_trim = _load_malloc_trim()
        self._start_kib = 0
        self._full_collections = 0
        self.saw_full_collection = False

    def start(self, *, collect_all: bool = True) -> None:
        collect_garbage(collect_all=collect_all)
        if self._malloc_trim is not None:
            self._malloc_trim(0)
        self._clear_refs.write_text("5")
        self._start_kib = _status_kib(self._status.read_text(), "VmRSS:")
        self._full_collections = full_collections()

    def stop(self) -> int:
        # counted first: reading the status allocates, which can set off a collection
        self.saw_full_collection = full_collections() != self._full_collections
        peak_kib = _status_kib(self._status.read_text(), "VmHWM:")
        return max(0, peak_kib - self._start_kib) * 1024


class SamplingProbe:
    """Polls the resident size from a thread: the last resort where no peak is kept."""

    method = "psutil-sampling"

    def __init__(self, interval: float = 0.001) -> None:
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_rss = 0
        self._peak_rss = 0
        self._full_collections = 0
        self.saw_full_collection = False

    def _poll(self) -> None:
        while not self._stopping.wait(self._interval):
            self._peak_rss = max(self._peak_rss, self._process.memory_info().rss)

    def start(self, *, collect_all: bool = True) -> None:
        collect_garbage(collect_all=collect_all)
        self._start_rss = self._peak_rss = self._process.memory_info().rss
        self._full_collections = full_collections()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._poll, name="perfbudget-rss", daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._peak_rss = max(self._peak_rss, self._process.memory_info().rss)
        self.saw_full_collection = full_collections() != self._full_collections
        return max(0, self._peak_rss - self._start_rss)


def default_memory_probe() -> MemoryProbe:
    """The most exact probe this platform allows."""
    if sys.platform.startswith("linux"):
        probe = LinuxPeakProbe()
        try:
            probe.start(collect_all=False)  # the check needs no full collection (10 ms)
            probe.stop()
        except OSError:
            pass
        else:
            return probe
    return SamplingProbe()
