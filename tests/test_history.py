"""The history file: shape checks, baselines, retention, atomic and concurrent saves."""

from __future__ import annotations

import dataclasses
import functools
import json
import multiprocessing
import operator
import os
import random
import re
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_perfbudget import files as files_module
from pytest_perfbudget.baseline import BASELINE_RUNS, SPEED_WINDOW
from pytest_perfbudget.files import LockTimeout, locked, write_json_atomic
from pytest_perfbudget.history import (
    SAMPLES_PER_RUN,
    History,
    HistoryError,
    RunInfo,
    SavedResult,
    save_results,
    thin,
)
from pytest_perfbudget.summary_row import SUMMARY_COLUMNS, Status


@pytest.fixture(params=["stdlib json", "orjson"])
def codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the standard library's json and, when installed, with orjson."""
    if request.param == "stdlib json":
        monkeypatch.setattr(files_module, "fast_json", lambda: None)
    elif files_module.fast_json() is None:
        pytest.skip("orjson is not installed")
    return str(request.param)


RUN = RunInfo("m1", {"cpu": "test"}, "2026-01-01T00:00:00Z", "abc123", "main")


def result(
    nodeid: str = "t.py::test_a",
    *,
    wall: Sequence[float] = (0.01,) * 10,
    status: Status = "accepted",
    memory: Sequence[float] = (4096.0,),
) -> SavedResult:
    ordered = sorted(wall)
    metrics = {"p50": ordered[len(ordered) // 2], "p95": ordered[-1], "memory": max(memory)}
    return SavedResult(nodeid, status, len(wall), 1.0, metrics, wall, memory)


def test_missing_file_is_an_empty_history(tmp_path: Path) -> None:
    history = History.load(tmp_path / "none.json")
    assert history.baseline("t.py::test_a", "m1") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "cannot read the history as JSON"),
        (b'{"version": 1, "tests": {', "cannot read the history as JSON"),
        (b"\xff\xfe", "cannot read the history as JSON"),
        (b"[]", "the top level should be an object"),
        (b'{"version": 99}', "history version 99 is not supported"),
        (b'{"version": 1}', '"summary_columns" should be'),
    ],
)
def test_unreadable_file_is_an_error_naming_it_and_left_alone(
    tmp_path: Path, content: bytes, message: str, codec: str
) -> None:
    path = tmp_path / "history.json"
    path.write_bytes(content)
    with pytest.raises(HistoryError, match=message) as raised:
        History.load(path)
    assert str(raised.value).startswith(str(path))
    with pytest.raises(HistoryError):
        save_results(path, RUN, [result()], keep=50)
    assert path.read_bytes() == content


@pytest.mark.parametrize("summaries", [[[1, 2]], [dict.fromkeys("abcdefghijk")], ["a" * 11], {}])
def test_wrong_shape_inside_tests_is_an_error(tmp_path: Path, summaries: object) -> None:
    path = tmp_path / "history.json"
    save_results(path, RUN, [result()], keep=50)
    document = json.loads(path.read_text())
    document["tests"]["t.py::test_a"]["m1"]["summaries"] = summaries
    path.write_text(json.dumps(document))
    with pytest.raises(HistoryError, match=r'"tests"/"t.py::test_a"/"m1"/summaries'):
        History.load(path)


def broken_history(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """Two saved runs of t.py::test_a on machine m1, then edited by ``edit``."""
    path = tmp_path / "history.json"
    for _ in range(2):
        save_results(path, RUN, [result()], keep=50)
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    return path


def entry_of(document: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = document["tests"]["t.py::test_a"]["m1"]
    return entry


def set_value(run: int, column: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        entry_of(document)["summaries"][run - 1][SUMMARY_COLUMNS.index(column)] = value

    return edit


def set_samples(run: int, key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        entry_of(document)["samples"][str(run)][key] = value

    return edit


def set_limit(metric: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        entry_of(document)["limits"] = {metric: value}

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            set_value(1, "p50", "fast"),
            """"p50" of run 1 should be a number of at least 0, or null, got 'fast'""",
        ),
        (
            set_value(2, "reference", -1e-05),
            '"reference" of run 2 should be a number of at least 0, or null, got -1e-05',
        ),
        (
            set_value(1, "memory", True),
            '"memory" of run 1 should be a number of at least 0, or null, got True',
        ),
        (
            set_value(1, "p95", [0.01]),
            '"p95" of run 1 should be a number of at least 0, or null, got [0.01]',
        ),
        (
            set_value(2, "status", "x"),
            """"status" of run 2 should be "a", "r" or "b", then "c", "t", "r" or nothing, """
            "got 'x'",
        ),
        (
            set_value(2, "status", "ax"),
            """"status" of run 2 should be "a", "r" or "b", then "c", "t", "r" or nothing, """
            "got 'ax'",
        ),
        (
            set_value(1, "rounds", 0),
            '"rounds" of run 1 should be a whole number of at least 1, got 0',
        ),
        (set_value(1, "ops", None), '"ops" of run 1 should be a number above 0, got None'),
        (
            set_value(1, "run", "1"),
            """"run" of run '1' should be a whole number of at least 1, got '1'""",
        ),
        (
            set_samples(1, "wall", [0.01, "x"]),
            """"wall" samples of run 1 should be numbers of at least 0, got [0.01, 'x']""",
        ),
        (
            set_samples(2, "memory", "lots"),
            """"memory" samples of run 2 should be numbers of at least 0, got 'lots'""",
        ),
        (set_limit("p95", 5), 'the limit of "p95" should be like {"max": 0.05}, got 5'),
    ],
)
def test_a_value_its_place_cannot_hold_is_an_error_naming_test_run_and_value(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    path = broken_history(tmp_path, edit)
    history = History.load(path)  # read when used, not when loaded
    with pytest.raises(HistoryError) as raised:
        history.baseline("t.py::test_a", "m1")
    expected = f"{path}: cannot use the results of t.py::test_a on machine m1: {message}"
    assert str(raised.value) == expected + " (correct or delete them)"


@pytest.mark.parametrize("text", ["1e400", "NaN", "Infinity"])
def test_numbers_json_does_not_have_are_refused(tmp_path: Path, codec: str, text: str) -> None:
    path = broken_history(tmp_path, set_value(1, "p50", "PLACEHOLDER"))
    path.write_text(path.read_text().replace('"PLACEHOLDER"', text))
    with pytest.raises(HistoryError, match=rf"^{re.escape(str(path))}: "):
        History.load(path).baseline("t.py::test_a", "m1")


def test_saving_leaves_another_tests_broken_results_as_they_were_and_pruning_works(
    tmp_path: Path,
) -> None:
    def edit(document: dict[str, Any]) -> None:
        set_value(1, "run", [1])(document)  # an id that names no run, where merging reads ids
        set_value(2, "p50", "fast")(document)

    path = broken_history(tmp_path, edit)
    broken = entry_of(json.loads(path.read_text()))
    for _ in range(2):
        save_results(path, RUN, [result("t.py::test_b")], keep=1)
    document = json.loads(path.read_text())
    assert entry_of(document) == broken
    assert [row[0] for row in document["tests"]["t.py::test_b"]["m1"]["summaries"]] == [4]
    history = History.load(path)
    history.prune(keep=1)
    history.save()
    assert entry_of(json.loads(path.read_text()))["summaries"] == broken["summaries"][-1:]


def leaves(node: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every value in a JSON document, containers included."""
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))


EDITED_VALUES = [None, -1, 0, 1.5, 1e308, 10**30, True, "x", "1", [], [None], {}, {"a": 1}]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(data=st.data())
def test_any_edited_value_is_read_saved_and_pruned_or_named_in_an_error(
    data: st.DataObject,
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = broken_history(Path(directory), lambda document: None)
        document = json.loads(path.read_text())
        place = data.draw(st.sampled_from(sorted(leaves(document), key=str)))
        container = functools.reduce(operator.getitem, place[:-1], document)
        container[place[-1]] = data.draw(st.sampled_from(EDITED_VALUES))
        path.write_text(json.dumps(document))

        def save_and_prune() -> None:
            save_results(path, RUN, [result("t.py::test_b")], keep=1)
            History.load(path).prune(keep=1)

        for action in (lambda: History.load(path).baseline("t.py::test_a", "m1"), save_and_prune):
            message = error_of(action)
            assert message is None or message.startswith(f"{path}: ")


def error_of(action: Callable[[], object]) -> str | None:
    """The message of the :class:`HistoryError` that ``action`` raises, or None."""
    try:
        action()
    except HistoryError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda document: document["runs"].update(first={}),
            "\"runs\" should be keyed by run numbers, got 'first'",
        ),
        (
            lambda document: document["runs"].update({"1": 5}),
            '"runs"/"1" should be an object, got 5',
        ),
        (
            lambda document: document["runs"]["1"].pop("machine"),
            '"runs"/"1"/"machine" should be a string, got None',
        ),
        (
            lambda document: document["runs"]["2"].update(commit=5),
            '"runs"/"2"/"commit" should be a string or null, got 5',
        ),
        (
            lambda document: document["machines"].update(m1="big"),
            '"machines"/"m1" should be an object, got \'big\'',
        ),
    ],
)
def test_runs_and_machines_are_checked_when_the_file_is_loaded(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    path = broken_history(tmp_path, edit)
    content = path.read_bytes()
    with pytest.raises(HistoryError) as raised:
        History.load(path)
    assert str(raised.value) == (
        f"{path}: not a pytest-perfbudget history: {message}; the file was left as it is"
    )
    with pytest.raises(HistoryError):
        save_results(path, RUN, [result()], keep=50)
    assert path.read_bytes() == content


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges")
def test_a_history_behind_a_symbolic_link_is_saved_to_the_file_it_names(tmp_path: Path) -> None:
    shared = tmp_path / "cache" / "history.json"  # not there yet: the first save makes it
    link = tmp_path / "project" / ".perf" / "history.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(shared)
    for _ in range(2):
        save_results(link, RUN, [result()], keep=50)
    assert link.is_symlink()
    assert len(json.loads(shared.read_text())["runs"]) == 2
    assert (shared.parent / "history.json.lock").exists()
    assert sorted(path.name for path in link.parent.iterdir()) == ["history.json"]


def test_saved_runs_round_trip_with_run_info(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "deep" / "history.json"
    run_id = save_results(path, RUN, [result(), result("t.py::test_b")], keep=50)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["version"] == 1
    assert document["runs"][run_id] == {
        "time": "2026-01-01T00:00:00Z",
        "commit": "abc123",
        "branch": "main",
        "machine": "m1",
    }
    assert document["machines"] == {"m1": {"cpu": "test"}}
    assert set(document["tests"]) == {"t.py::test_a", "t.py::test_b"}
    baseline = History.load(path).baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert baseline.wall == (0.01,) * 10
    assert baseline.metrics["p50"] == 0.01
    assert baseline.metrics["throughput"] == pytest.approx(100)


def test_both_codecs_write_the_same_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if files_module.fast_json() is None:
        pytest.skip("orjson is not installed")
    document = {"b": [1.23e-05, 0.000107, 4100, None], "a": {"z": "ü", "y": 1.5}}
    fast = files_module.encode_json(document, indent=None)
    monkeypatch.setattr(files_module, "fast_json", lambda: None)
    slow = files_module.encode_json(document, indent=None)
    assert json.loads(fast) == json.loads(slow) == document
    assert list(json.loads(fast)) == ["a", "b"]


def test_baseline_pools_the_newest_accepted_runs_only(tmp_path: Path) -> None:
    history = History(tmp_path / "h.json", History.load(tmp_path / "h.json").document)
    for run in range(8):
        history.add_run(RUN, [result(wall=[float(run)] * 3)], keep=50)
    history.add_run(RUN, [result(wall=[99.0] * 3, status="rejected")], keep=50)
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert len(baseline.runs) == BASELINE_RUNS
    assert sorted(set(baseline.wall)) == [3.0, 4.0, 5.0, 6.0, 7.0]


def test_baseline_on_another_machine_is_separate(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    history.add_run(RUN, [result()], keep=50)
    assert history.baseline("t.py::test_a", "another machine") is None


def test_a_rebased_run_starts_the_baseline_again(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    for _ in range(3):
        history.add_run(RUN, [result(wall=[1.0] * 3)], keep=50)
    history.add_run(RUN, [result(wall=[2.0] * 3, status="rebased")], keep=50)
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert baseline.wall == (2.0, 2.0, 2.0)
    history.add_run(RUN, [result(wall=[2.5] * 3)], keep=50)
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert sorted(baseline.wall) == [2.0] * 3 + [2.5] * 3


def test_retention_keeps_summaries_and_only_baseline_samples(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    for run in range(12):
        save_results(path, RUN, [result(wall=[float(run)] * 3)], keep=10)
    entry = json.loads(path.read_text())["tests"]["t.py::test_a"]["m1"]
    assert [row[0] for row in entry["summaries"]] == list(range(3, 13))
    assert sorted(entry["samples"], key=int) == [str(run) for run in range(8, 13)]
    runs = json.loads(path.read_text())["runs"]
    assert sorted(runs, key=int) == [str(run) for run in range(3, 13)]


def test_prune(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    for _ in range(6):
        history.add_run(RUN, [result()], keep=50)
    history.prune(keep=2)
    assert len(history.document["tests"]["t.py::test_a"]["m1"]["summaries"]) == 2
    assert len(history.document["runs"]) == 2


def test_a_run_another_test_still_holds_is_kept(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    history.add_run(RUN, [result("t.py::test_a"), result("t.py::test_b")], keep=50)
    for _ in range(3):
        history.add_run(RUN, [result("t.py::test_a")], keep=2)
    assert sorted(history.document["runs"], key=int) == ["1", "3", "4"]
    history.add_run(RUN, [result("t.py::test_b")], keep=1)
    assert sorted(history.document["runs"], key=int) == ["3", "4", "5"]


def test_a_test_given_twice_in_one_run_keeps_its_last_result(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    history.add_run(RUN, [result(wall=[1.0] * 3), result(wall=[2.0] * 3)], keep=50)
    entry = history.document["tests"]["t.py::test_a"]["m1"]
    assert [row[0] for row in entry["summaries"]] == [1]
    assert entry["samples"]["1"]["wall"] == [2.0] * 3
    assert entry["summaries"][0][SUMMARY_COLUMNS.index("p50")] == 2.0


def test_thin_keeps_evenly_spaced_order_statistics() -> None:
    thinned = thin([float(n) for n in range(1000, 0, -1)])
    assert len(thinned) == SAMPLES_PER_RUN
    assert thinned[0] == 1.0
    assert thinned[-1] == 1000.0
    assert thinned == sorted(thinned)
    assert thin([3.0, 1.0]) == [1.0, 3.0]
    assert thin([0.0123456789]) == [0.0123]


def test_atomic_write_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    write_json_atomic(path, {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    path.chmod(0o664)
    write_json_atomic(path, {"a": 2})
    assert stat.S_IMODE(path.stat().st_mode) == 0o664
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["h.json"]


def test_a_lock_held_too_long_is_an_error_and_the_file_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "h.json"
    save_results(path, RUN, [result()], keep=50)
    before = path.read_bytes()
    monkeypatch.setattr(files_module, "LOCK_TIMEOUT", 0.1)
    held_by_a_hung_saver = locked(path)
    refused = pytest.raises(LockTimeout, match=r"h\.json\.lock: another process has held")
    with held_by_a_hung_saver, refused:
        save_results(path, RUN, [result("t.py::test_b")], keep=50)
    assert path.read_bytes() == before
    save_results(path, RUN, [result("t.py::test_b")], keep=50)  # released: saved
    assert "t.py::test_b" in json.loads(path.read_text())["tests"]


def _save_many(path: str, name: str, count: int) -> None:
    for number in range(count):
        save_results(Path(path), RUN, [result(f"{name}.py::test_{number}")], keep=50)


def test_concurrent_savers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_save_many, args=(str(path), name, 15)) for name in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    document = json.loads(path.read_text())
    assert len(document["runs"]) == 30
    assert set(document["tests"]) == {
        f"{name}.py::test_{number}" for name in ("a", "b") for number in range(15)
    }


SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pytest_perfbudget.history import RunInfo, SavedResult, save_results

    run = RunInfo("m1", {"cpu": "x"}, "2026-01-01T00:00:00Z", None, None)
    results = [
        SavedResult(f"t.py::test_{n}", "accepted", 100, 1.0, {"p50": 0.001 * n},
                   [0.001 * n] * 100, [4096.0])
        for n in range(1, 400)
    ]
    path = Path(sys.argv[1])
    while True:
        save_results(path, run, results, keep=50)
        print("saved", flush=True)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_saver_leaves_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    save_results(path, RUN, [result()], keep=50)
    generator = random.Random(1234)
    for _ in range(50):
        saver = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert saver.stdout is not None
        saver.stdout.readline()  # at least one save finished: the interpreter is warm
        time.sleep(generator.uniform(0, 0.2))
        os.kill(saver.pid, signal.SIGKILL)
        saver.wait()
        history = History.load(path)  # never torn: the old file or the new one
        assert "t.py::test_1" in history.document["tests"]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("h.json", "h.json.lock")]
    assert len(leftovers) <= 1  # the next save clears what a killed saver left


def test_unmeasured_metrics_are_null_and_limits_are_kept(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    measured = SavedResult(
        "t.py::test_a", "accepted", 3, 1.0, {"p50": 0.01, "cpu": 0.01}, [0.01] * 3, [],
        limits={"p50": {"max": 0.02}},
    )  # fmt: skip
    history.add_run(RUN, [measured, measured], keep=50)
    entry = history.document["tests"]["t.py::test_a"]["m1"]
    assert entry["summaries"][0][SUMMARY_COLUMNS.index("memory")] is None
    assert entry["limits"] == {"p50": {"max": 0.02}}
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert "memory" not in baseline.metrics
    assert baseline.metrics["p50"] == 0.01


def test_baseline_before_a_run(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    for level in (1.0, 2.0, 3.0):
        history.add_run(RUN, [result(wall=[level] * 3)], keep=50)
    before = history.baseline("t.py::test_a", "m1", before=3)
    assert before is not None
    assert sorted(set(before.wall)) == [1.0, 2.0]


def transient_of(statuses_and_levels: list[tuple[Status, float]]) -> float | None:
    history = History.load(Path("unused.json"))
    for status, level in statuses_and_levels:
        history.add_run(RUN, [result(wall=[level] * 8, status=status)], keep=50)
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    return baseline.transient_p50


def test_transient_level_is_a_rejected_run_the_test_came_back_from() -> None:
    assert transient_of([("accepted", 1.0), ("rejected", 2.0), ("accepted", 1.0)]) == 2.0
    assert transient_of([("accepted", 1.0), ("rejected", 2.0), ("rejected", 2.1)]) is None
    assert transient_of([("accepted", 1.0), ("rejected", 2.0), ("accepted", 2.5)]) is None
    assert transient_of([("accepted", 1.0), ("rejected", 2.0), ("rebased", 1.0)]) is None
    assert (
        transient_of([("rejected", 3.0), ("accepted", 1.0), ("rejected", 2.0), ("accepted", 1.0)])
        == 3.0
    )


def test_each_run_keeps_the_machine_speed_in_its_summary(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    for reading, level in ((20e-6, 0.010), (40e-6, 0.020), (None, 0.030)):
        saved = dataclasses.replace(result(wall=[level] * 8), reference=reading)
        history.add_run(RUN, [saved], keep=50)
    entry = history.document["tests"]["t.py::test_a"]["m1"]
    column = SUMMARY_COLUMNS.index("reference")
    assert [row[column] for row in entry["summaries"]] == [20e-6, 40e-6, None]
    assert all("reference" not in samples for samples in entry["samples"].values())
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert [run.reference for run in baseline.runs] == [None, 40e-6, 20e-6]
    assert baseline.speed_history == ((20e-6, 0.010), (40e-6, 0.020))
    earlier = history.baseline("t.py::test_a", "m1", before=2)
    assert earlier is not None
    assert earlier.speed_history == ((20e-6, 0.010),)


def test_the_speed_history_starts_at_the_newest_rebase(tmp_path: Path) -> None:
    history = History.load(tmp_path / "h.json")
    runs: list[tuple[Status, float, float]] = [
        ("accepted", 20e-6, 0.005),
        ("rejected", 40e-6, 0.050),  # slower code, timed while the machine read slower
        ("rebased", 40e-6, 0.050),
        ("accepted", 30e-6, 0.050),
    ]
    for status, reading, level in runs:
        saved = dataclasses.replace(result(wall=[level] * 8, status=status), reference=reading)
        history.add_run(RUN, [saved], keep=50)
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert baseline.speed_history == ((40e-6, 0.050), (30e-6, 0.050))


def test_the_machine_speed_is_kept_for_the_runs_the_regression_check_reads() -> None:
    history = History.load(Path("unused.json"))
    for _ in range(SPEED_WINDOW + 3):
        saved = dataclasses.replace(result(wall=[0.01] * 8), reference=3e-5)
        history.add_run(RUN, [saved], keep=50)
    entry = history.document["tests"]["t.py::test_a"]["m1"]
    readings = [row[SUMMARY_COLUMNS.index("reference")] for row in entry["summaries"]]
    assert readings == [None] * 3 + [3e-5] * SPEED_WINDOW


def test_a_history_from_before_the_speed_column_is_brought_up_to_date(tmp_path: Path) -> None:
    columns = [column for column in SUMMARY_COLUMNS if column != "reference"]
    row = [1, "a", 8, 1.0, *[0.01] * (len(columns) - 5), 4096.0]  # the metrics, then memory
    old = {
        "version": 1,
        "summary_columns": columns,
        "machines": {"m1": {"cpu": "test"}},
        "runs": {"1": {"time": "t", "commit": None, "branch": None, "machine": "m1"}},
        "tests": {
            "t.py::test_a": {
                "m1": {
                    "summaries": [row],
                    "samples": {"1": {"wall": [0.01] * 8, "memory": [], "reference": 3e-5}},
                }
            }
        },
    }
    path = tmp_path / "h.json"
    path.write_text(json.dumps(old))
    before = path.read_bytes()
    history = History.load(path)
    assert path.read_bytes() == before  # reading never writes
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert [run.reference for run in baseline.runs] == [3e-5]
    history.save()
    saved = json.loads(path.read_text())
    assert saved["summary_columns"] == list(SUMMARY_COLUMNS)
    (entry,) = saved["tests"]["t.py::test_a"].values()
    assert entry["summaries"][0][SUMMARY_COLUMNS.index("reference")] == 3e-5
    assert entry["samples"]["1"] == {"wall": [0.01] * 8, "memory": []}


def test_rows_written_with_other_columns_are_read_by_column_name(tmp_path: Path) -> None:
    # a file from a version that saved fewer metrics, in another order: what it lacks is
    # null, what it has lands in its column
    columns = ["run", "status", "rounds", "ops", "reference", "memory", "p50"]
    old = {
        "version": 1,
        "summary_columns": columns,
        "machines": {"m1": {"cpu": "test"}},
        "runs": {"1": {"time": "t", "commit": None, "branch": None, "machine": "m1"}},
        "tests": {
            "t.py::test_a": {
                "m1": {
                    "summaries": [[1, "a", 8, 1.0, 3e-5, 4096, 0.01]],
                    "samples": {"1": {"wall": [0.01] * 8, "memory": [4096]}},
                }
            }
        },
    }
    path = tmp_path / "h.json"
    path.write_text(json.dumps(old))
    history = History.load(path)
    (row,) = history.document["tests"]["t.py::test_a"]["m1"]["summaries"]
    assert dict(zip(SUMMARY_COLUMNS, row, strict=True)) == {
        **dict.fromkeys(SUMMARY_COLUMNS),  # null: not measured then
        "run": 1, "status": "a", "rounds": 8, "ops": 1.0, "reference": 3e-5,
        "p50": 0.01, "memory": 4096,
    }  # fmt: skip
    baseline = history.baseline("t.py::test_a", "m1")
    assert baseline is not None
    assert baseline.metrics == {"p50": 0.01, "memory": 4096, "throughput": 100.0}


def test_a_column_this_version_does_not_know_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    save_results(path, RUN, [result()], keep=50)
    document = json.loads(path.read_text())
    document["summary_columns"][-1] = "p42"
    path.write_text(json.dumps(document))
    before = path.read_bytes()
    with pytest.raises(HistoryError, match=r"columns this version .* does not know \(p42\)"):
        History.load(path)
    assert path.read_bytes() == before
