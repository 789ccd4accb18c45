"""The ``perfbudget`` history tool: every command, its output and its exit status."""

from __future__ import annotations

import datetime
import errno
import gc
import io
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

import pytest_perfbudget
from pytest_perfbudget import cli
from pytest_perfbudget.cli import main
from pytest_perfbudget.history import History, RunInfo, SavedResult, save_results
from pytest_perfbudget.html import render_report
from pytest_perfbudget.summary_row import SUMMARY_COLUMNS


def run_info(number: int, machine: str = "m1") -> RunInfo:
    return RunInfo(
        machine,
        {"cpu": "test"},
        f"{datetime.date(2026, 10, 1) + datetime.timedelta(days=number)}T10:00:00Z",
        f"c{number + 1:03d}" + "0" * 36,  # the commit of run number + 1
        "main",
    )


def result(
    nodeid: str,
    level: float,
    generator: random.Random,
    *,
    status: str = "accepted",
    memory: float = 4096.0,
    stopped: str | None = "certain",
) -> SavedResult:
    wall = sorted(level * generator.lognormvariate(0, 0.03) for _ in range(40))
    metrics = {
        "p50": wall[20], "p90": wall[36], "p95": wall[38], "p99": wall[39], "max": wall[-1],
        "cpu": wall[20] * 0.95, "memory": memory,
    }  # fmt: skip
    return SavedResult(
        nodeid,
        status,  # type: ignore[arg-type]
        len(wall),
        1.0,
        metrics,
        wall,
        [memory] * 3,
        reference=1e-4,
        limits={"p95": {"max": 0.05}, "memory": {"max": 1 << 20}},
        stopped=stopped,  # type: ignore[arg-type]
    )


def build(
    path: Path, levels: dict[str, Sequence[float]], statuses: dict[int, str] | None = None
) -> None:
    """One saved run per position of the level lists (every test in every run)."""
    generator = random.Random(7)
    runs = len(next(iter(levels.values())))
    for number in range(runs):
        status = (statuses or {}).get(number, "accepted")
        results = [
            result(nodeid, series[number], generator, status=status)
            for nodeid, series in levels.items()
        ]
        save_results(path, run_info(number), results, keep=50)


class Terminal(io.StringIO):
    """Output that is a terminal, as stdout is for ``perfbudget`` run in one."""

    def isatty(self) -> bool:
        return True


def run(*argv: str, terminal: bool = False) -> tuple[int, str]:
    out = Terminal() if terminal else io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


HEADER = ["test", "latest", "baseline", "change", "runs", "rounds", "stopped", "recent"]
STEADY = [0.010] * 12
STEPPED = [0.010] * 12 + [0.014] * 10


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.json"
    build(
        path, {"tests/test_a.py::test_fast": STEADY, "tests/test_a.py::test_sort[<big>]": STEADY}
    )
    return path


def test_show_one_row_per_test_within_80_columns(history: Path) -> None:
    status, output = run("--history", str(history), "show", "--width", "80", terminal=True)
    assert status == 0
    lines = output.splitlines()
    assert lines[0].split() == HEADER
    assert len(lines) == 3
    assert all(len(line) <= 80 for line in lines)
    row = lines[1].split()
    assert row[0] == "…est_a.py::test_fast"  # cut from its start to the 20 characters left
    assert row[1].endswith("ms")
    assert row[2].endswith("ms")
    assert row[3].endswith("%")
    assert row[4] == "12"
    assert row[5:7] == ["40", "certain"]  # the newest run's rounds, and why it stopped
    assert set(row[7]) <= set("▁▂▃▄▅▆▇█")
    assert len(row[7]) == 8  # as many runs as fit in 80 columns


@pytest.mark.parametrize(
    ("stopped", "shown"),
    [("certain", "certain"), ("max_time", "max_time"), ("rounds", "rounds"), (None, "-")],
)
def test_show_says_why_the_newest_run_stopped_measuring(
    tmp_path: Path, stopped: str | None, shown: str
) -> None:
    path = tmp_path / "h.json"
    generator = random.Random(3)
    for number, why in enumerate(["max_time", stopped]):
        saved = result("t.py::test_x", 0.01, generator, stopped=why)
        save_results(path, run_info(number), [saved], keep=50)
    status, output = run("--history", str(path), "show")
    assert status == 0
    assert output.splitlines()[1].split()[5:7] == ["40", shown]


LONG_NAME = "tests/" + "deep/" * 20 + "test_x.py::test_long[a-b]"


def test_show_filters_by_glob_and_cuts_long_names_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {LONG_NAME: STEADY[:3], "tests/other.py::test_y": STEADY[:3]})
    status, output = run(
        "--history", str(path), "show", "*test_long*", "--width", "100", terminal=True
    )
    assert status == 0
    lines = output.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == HEADER
    assert lines[1].startswith("…")
    assert "test_x.py::test_long[a-b]" in lines[1]
    assert all(len(line) <= 100 for line in lines)


@pytest.mark.parametrize(
    ("argv", "terminal"),
    [
        (["--width", "40"], False),
        ([], False),
        (["--full"], True),
        (["--full", "--width", "40"], True),
    ],
)
def test_show_keeps_node_ids_whole_when_piped_or_full(
    tmp_path: Path, argv: list[str], terminal: bool
) -> None:
    path = tmp_path / "h.json"
    build(path, {LONG_NAME: STEADY[:3], "t.py::test_y": STEADY[:3]})
    status, output = run("--history", str(path), "show", *argv, terminal=terminal)
    assert status == 0
    header, *rows = output.splitlines()
    assert header.split() == HEADER
    assert [row.split()[0] for row in rows] == ["t.py::test_y", LONG_NAME]
    latest_end = header.index("latest") + len("latest")
    assert all(row.index("ms") + len("ms") == latest_end for row in rows)  # aligned


@pytest.mark.parametrize("width", [30, 78, 80, 120])
def test_show_never_cuts_a_word_of_its_header(tmp_path: Path, width: int) -> None:
    # 3 runs: a sparkline narrower than "recent", which was cut to "rec" (issue 18)
    path = tmp_path / "h.json"
    build(path, {LONG_NAME: STEADY[:3]})
    status, output = run("--history", str(path), "show", "--width", str(width), terminal=True)
    assert status == 0
    header, row = output.splitlines()
    assert header.split() == HEADER
    if width >= 78:  # narrower, the numbers alone do not fit
        assert len(header) <= width
        assert len(row) <= width


def test_trend_keeps_node_ids_whole_unless_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    nodeid = "tests/" + "deep/" * 50 + "test_x.py::test_stepped"  # longer than 200
    build(path, {nodeid: STEPPED})
    for argv, terminal in (([], False), (["--full"], True)):
        status, output = run("--history", str(path), "trend", *argv, terminal=terminal)
        assert status == 0
        assert output.startswith(f"{nodeid}: step +")
    status, output = run("--history", str(path), "trend", terminal=True)
    assert status == 0
    label = output.split(": step +")[0]
    assert len(label) == 200
    assert label.startswith("…")
    assert nodeid.endswith(label[1:])


def test_show_takes_a_parametrized_node_id_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {"t.py::test_q[en]": STEADY[:3], "t.py::test_q[de]": STEADY[:3]})
    status, output = run("--history", str(path), "show", "t.py::test_q[en]", "--width", "80")
    assert status == 0
    assert [line.split()[0] for line in output.splitlines()[1:]] == ["t.py::test_q[en]"]


def test_the_history_option_expands_home_and_variables(
    history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(history.parent))
    status, output = run("--history=~/" + history.name, "show", "--width", "80")
    assert status == 0
    assert "tests/test_a.py::test_fast" in output


@pytest.mark.parametrize(
    "command",
    [
        ["show", "--width", "80"],
        ["trend"],
        ["check"],
        ["html", "{tmp}/report.html"],
        ["prune", "--keep", "5"],
        ["import-benchmark", "{tmp}/.benchmarks"],
    ],
)
def test_the_history_option_goes_before_or_after_the_command(
    history: Path, tmp_path: Path, command: list[str]
) -> None:
    benchmark_save(
        tmp_path / ".benchmarks" / "0001_a.json",
        "a" * 40,
        "2026-11-01T10:00:00+00:00",
        0.001,
        True,
    )
    argv = [part.format(tmp=tmp_path) for part in command]
    saved = history.read_bytes()
    before = run("--history", str(history), *argv)
    written = history.read_bytes()
    history.write_bytes(saved)
    after = run(*argv, "--history", str(history))
    assert before[0] == 0
    assert after == before
    assert history.read_bytes() == written


def test_the_history_option_given_twice_takes_the_later(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.json"
    status, output = run("--history", str(missing), "show", "--history", str(history))
    assert status == 0
    assert "tests/test_a.py::test_fast" in output
    assert run("--history", str(history), "show", "--history", str(missing))[0] == 2
    assert capsys.readouterr().err == f"perfbudget: error: {missing}: no such history file\n"


@pytest.mark.parametrize("argv", [["--version"], ["show", "--version"], ["prune", "--version"]])
def test_version_goes_before_or_after_the_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"perfbudget {pytest_perfbudget.__version__}\n"


def test_show_other_metric(history: Path) -> None:
    status, output = run("--history", str(history), "show", "--metric", "memory", "--width", "100")
    assert status == 0
    assert "4.00KiB" in output or "4KiB" in output or "4.1KiB" in output


def test_trend_reports_a_step_with_its_run_time_and_commit(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {"t.py::test_stepped": STEPPED, "t.py::test_steady": [0.010] * 22})
    status, output = run("--history", str(path), "trend")
    assert status == 0
    lines = output.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("t.py::test_stepped: step +")
    assert "from run 13 (2026-10-13T10:00:00Z, commit c01300000000)" in lines[0]


def test_trend_reports_a_clean_step_in_a_short_history(tmp_path: Path) -> None:
    # issue 16: 6 runs at 10 ms, then 6 at 30 ms
    path = tmp_path / "h.json"
    build(path, {"t.py::test_slowed": [0.010] * 6 + [0.030] * 6})
    status, output = run("--history", str(path), "trend")
    assert status == 0
    assert output.startswith("t.py::test_slowed: step +")
    assert output.endswith(
        "from run 7 (2026-10-07T10:00:00Z, commit c00700000000), "
        "every run since slower than every run before\n"
    )


def test_trend_reports_creep(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {"t.py::test_creeping": [0.010 * 1.02**run for run in range(30)]})
    status, output = run("--history", str(path), "trend")
    assert status == 0
    assert output.startswith("t.py::test_creeping: creep +")
    assert "a run in p50" in output


def test_trend_is_quiet_on_stationary_series(history: Path) -> None:
    status, output = run("--history", str(history), "trend")
    assert status == 0
    assert output == "no step or creep in p50 over the last 12 runs of 2 tests\n"


def test_trend_counts_the_runs_it_looked_at(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    build(one, {"t.py::test_a": [0.010] * 12})
    assert run("--history", str(one), "trend") == (
        0,
        "no step or creep in p50 over the last 12 runs of 1 test\n",
    )
    two = tmp_path / "two.json"
    build(two, {"t.py::test_a": [0.010] * 12, "t.py::test_b": [0.010] * 12})
    generator = random.Random(1)
    for number in range(12, 40):  # then 28 runs of test_a alone: it has 40, trend reads 30
        save_results(two, run_info(number), [result("t.py::test_a", 0.010, generator)], keep=50)
    assert run("--history", str(two), "trend") == (
        0,
        "no step or creep in p50 over the last 12 to 30 runs of 2 tests\n",
    )


def test_check_passes_an_unchanged_newest_run(history: Path) -> None:
    status, output = run("--history", str(history), "check")
    assert status == 0
    assert output == "run 12: 2 tests checked, 0 regressed\n"


def test_check_fails_a_run_saved_as_regressed(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {"t.py::test_a": [0.01] * 6 + [0.02]}, statuses={6: "rejected"})
    status, output = run("--history", str(path), "check")
    assert status == 1
    assert output.splitlines() == [
        "t.py::test_a: regressed when it was saved (run 7)",
        "run 7: 1 test checked, 1 regressed",
    ]


def test_check_re_tests_an_accepted_newest_run(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {"t.py::test_a": [0.01] * 6 + [0.02], "t.py::test_b": [0.01] * 7})
    status, output = run("--history", str(path), "check")
    assert status == 1
    lines = output.splitlines()
    assert lines[0].startswith("t.py::test_a: perf regression: p50 ")
    assert lines[-1] == "run 7: 2 tests checked, 1 regressed"
    status, _ = run("--history", str(path), "check", "--regression", "150%")
    assert status == 0


def test_html_is_self_contained_and_escaped(history: Path, tmp_path: Path) -> None:
    output_path = tmp_path / "report.html"
    status, output = run("--history", str(history), "html", str(output_path))
    assert status == 0
    assert output == f"{output_path}: 2 tests charted\n"
    page = output_path.read_text(encoding="utf-8")
    assert page.count('<svg class="chart"') == 4  # time and memory for each test
    assert "test_sort[&lt;big&gt;]" in page
    assert "<big>" not in page
    assert " src=" not in page
    assert " href=" not in page
    assert "@import" not in page
    assert "url(" not in page
    assert 'class="limit"' in page
    assert 'class="band"' in page


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0,
    reason="root, and Windows, write into a read-only directory all the same",
)
def test_html_into_a_read_only_directory_names_the_output(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        status, _ = run("--history", str(history), "html", str(readonly / "report.html"))
        assert status == 2
        assert capsys.readouterr().err == (
            f"perfbudget: error: cannot write {readonly / 'report.html'}: Permission denied\n"
        )
        assert not list(readonly.iterdir())
    finally:
        readonly.chmod(0o755)


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param("Permission denied", id="temporary file refused"),
        pytest.param("Is a directory", id="output is a directory"),
        pytest.param("Not a directory", id="a file in the way"),
    ],
)
def test_html_that_cannot_be_written_names_the_output_not_its_temporary_file(
    history: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reason: str,
) -> None:
    directory = tmp_path / "out"
    directory.mkdir()
    output = directory / "report.html"
    if reason == "Permission denied":
        # as in a read-only directory, for a user other than root (this runs as root too)
        def refused(*args: object, **kwargs: object) -> tuple[int, str]:
            temporary = directory / ".report.html.abcd1234"
            raise PermissionError(errno.EACCES, "Permission denied", str(temporary))

        monkeypatch.setattr(tempfile, "mkstemp", refused)
    elif reason == "Is a directory":
        output.mkdir()  # the temporary file is written, then cannot replace a directory
    else:
        (directory / "sub").write_text("a file")
        output = directory / "sub" / "report.html"
    before = sorted(directory.rglob("*"))
    status, _ = run("--history", str(history), "html", str(output))
    assert status == 2
    assert capsys.readouterr().err == f"perfbudget: error: cannot write {output}: {reason}\n"
    assert sorted(directory.rglob("*")) == before  # nothing left behind


def test_prune_keeps_the_newest_runs(history: Path) -> None:
    status, output = run("--history", str(history), "prune", "--keep", "3")
    assert status == 0
    assert output == f"{history}: kept the newest 3 runs per test; 9 runs dropped\n"
    document = json.loads(history.read_text())
    assert sorted(document["runs"], key=int) == ["10", "11", "12"]


def benchmark_save(path: Path, commit: str, when: str, median: float, data: bool) -> None:
    stats: dict[str, object] = {
        "min": median * 0.9, "max": median * 1.5, "mean": median * 1.05, "median": median,
        "stddev": median * 0.1, "rounds": 5, "iterations": 1, "ops": 1 / median,
    }  # fmt: skip
    if data:
        stats["data"] = [median * factor for factor in (0.9, 0.95, 1.0, 1.05, 1.5)]
    document = {
        "machine_info": {
            "machine": "x86_64", "system": "Linux", "python_implementation": "CPython",
            "python_version": "3.11.7", "cpu": {"brand_raw": "Test CPU", "count": 8},
        },
        "commit_info": {"id": commit, "branch": "main", "time": when},
        "benchmarks": [{"fullname": "tests/test_b.py::test_sum", "stats": stats}],
        "datetime": when,
        "version": "5.1.0",
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def test_import_benchmark_saves_become_runs(tmp_path: Path) -> None:
    saves = tmp_path / ".benchmarks" / "Linux-CPython-3.11-64bit"
    benchmark_save(saves / "0002_bbb.json", "b" * 40, "2026-11-02T10:00:00+00:00", 0.002, True)
    benchmark_save(saves / "0001_aaa.json", "a" * 40, "2026-11-01T10:00:00+00:00", 0.001, False)
    path = tmp_path / "h.json"
    status, output = run("--history", str(path), "import-benchmark", str(tmp_path / ".benchmarks"))
    assert status == 0
    assert output == f"{path}: imported 2 pytest-benchmark saves\n"
    document = json.loads(path.read_text())
    runs = document["runs"]
    assert [runs[key]["commit"] for key in ("1", "2")] == ["a" * 40, "b" * 40]
    assert runs["1"]["time"] == "2026-11-01T10:00:00Z"
    (machine,) = document["machines"].values()
    assert machine == {
        "cpu": "Test CPU",
        "cores": "8",
        "os": "Linux x86_64",
        "python": "cpython 3.11",
    }
    (entry,) = document["tests"]["tests/test_b.py::test_sum"].values()
    first, second = entry["summaries"]
    p50, p95 = SUMMARY_COLUMNS.index("p50"), SUMMARY_COLUMNS.index("p95")
    assert first[p50] == 0.001
    assert first[p95] is None
    assert second[p50] == 0.002
    assert second[p95] is not None
    status, output = run("--history", str(path), "import-benchmark", str(tmp_path / ".benchmarks"))
    assert (
        output
        == f"{path}: imported 0 pytest-benchmark saves, skipped 2 (imported before, or empty)\n"
    )
    status, output = run("--history", str(path), "show", "--width", "80")
    assert status == 0
    assert "test_sum" in output


@pytest.mark.parametrize(
    ("key", "value", "wanted"),
    [
        ("median", float("nan"), "a number of at least 0"),
        ("median", -0.001, "a number of at least 0"),
        ("max", float("inf"), "a number of at least 0"),
        ("mean", True, "a number of at least 0"),
        ("rounds", 0, "a whole number of at least 1"),
        ("rounds", 2.5, "a whole number of at least 1"),
        ("rounds", float("nan"), "a whole number of at least 1"),
    ],
)
def test_import_benchmark_refuses_a_statistic_a_history_cannot_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, value: object, wanted: str
) -> None:
    save = tmp_path / "0001_a.json"
    benchmark_save(save, "a" * 40, "2026-11-01T10:00:00+00:00", 0.001, True)
    document = json.loads(save.read_text())
    document["benchmarks"][0]["stats"][key] = value
    document["benchmarks"][0]["stats"]["data"].append(float("nan"))
    save.write_text(json.dumps(document))  # NaN and Infinity as Python's json writes them
    status, _ = run("--history", str(tmp_path / "h.json"), "import-benchmark", str(save))
    assert status == 2
    error = capsys.readouterr().err
    assert f"tests/test_b.py::test_sum: stats {key!r} should be {wanted}, got" in error
    assert "Traceback" not in error
    assert not (tmp_path / "h.json").exists()


def test_import_benchmark_leaves_out_raw_timings_that_are_not_times(tmp_path: Path) -> None:
    save = tmp_path / "0001_a.json"
    benchmark_save(save, "a" * 40, "2026-11-01T10:00:00+00:00", 0.001, True)
    document = json.loads(save.read_text())
    document["benchmarks"][0]["stats"]["data"] += [float("nan"), -1.0, True, "x"]
    save.write_text(json.dumps(document))
    path = tmp_path / "h.json"
    status, _ = run("--history", str(path), "import-benchmark", str(save))
    assert status == 0
    (entry,) = json.loads(path.read_text())["tests"]["tests/test_b.py::test_sum"].values()
    assert entry["samples"]["1"]["wall"] == [0.0009, 0.00095, 0.001, 0.00105, 0.0015]


def test_import_benchmark_from_a_real_pytest_benchmark_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makepyfile("def test_sum(benchmark):\n    benchmark(sum, range(100))\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--benchmark-autosave", "--benchmark-save-data"
    )
    result.assert_outcomes(passed=1)
    path = pytester.path / "h.json"
    status, output = run(
        "--history", str(path), "import-benchmark", str(pytester.path / ".benchmarks")
    )
    assert status == 0
    assert output == f"{path}: imported 1 pytest-benchmark saves\n"
    document = json.loads(path.read_text())
    (entry,) = document["tests"][
        "test_import_benchmark_from_a_real_pytest_benchmark_run.py::test_sum"
    ].values()
    assert entry["summaries"][0][SUMMARY_COLUMNS.index("p95")] > 0  # from the raw data


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--history", "{missing}", "show"], "{missing}: no such history file"),
        (["--history", "{garbage}", "show"], "{garbage}: cannot read the history as JSON"),
        (["--history", "{good}", "show", "nothing*"], "no test in {good} matches 'nothing*'"),
        (["--history", "{good}", "frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
        (["--history", "{good}"], "the following arguments are required: COMMAND"),
        (
            ["--history", "{good}", "prune", "--keep", "0"],
            "argument --keep: expected a whole number of at least 1, got '0'",
        ),
        (
            ["--history", "{good}", "prune", "--keep", "x"],
            "argument --keep: expected a whole number of at least 1, got 'x'",
        ),
        (["--history", "{good}", "check", "--regression", "lots"], "regression"),
        (
            ["--history", "{good}", "show", "--metric", "speed"],
            "argument --metric: invalid choice",
        ),
        (
            ["--history", "{good}", "import-benchmark", "{missing}"],
            "{missing}: no such file or directory",
        ),
        (
            ["--history", "{good}", "import-benchmark", "{garbage}"],
            "{garbage}: cannot read it as JSON",
        ),
        (
            ["--history", "{good}", "import-benchmark", "{good}"],
            "{good}: not a pytest-benchmark save",
        ),
        (
            ["--history", "{good}", "html", "{tmp}/no/such/dir/x.html"],
            "cannot write {tmp}/no/such/dir/x.html: Not a directory",
        ),
    ],
)
def test_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    good = tmp_path / "good.json"
    build(good, {"t.py::test_a": [0.01] * 2})
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    blocked = tmp_path / "no"
    blocked.write_text("a file where a directory should be")
    names = {
        "missing": tmp_path / "missing.json",
        "garbage": garbage,
        "good": good,
        "tmp": tmp_path,
    }
    status = main([part.format(**names) for part in argv], out=io.StringIO())
    captured = capsys.readouterr()
    assert status == 2
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("perfbudget: error: ")
    assert message.format(**names) in lines[0]
    assert "Traceback" not in captured.err


def edited(path: Path, run: int, column: str, value: object) -> Path:
    """``path`` with one summary value of its first test's run ``run`` replaced."""
    document = json.loads(path.read_text())
    (machines,) = list(document["tests"].values())[:1]
    machines["m1"]["summaries"][run][SUMMARY_COLUMNS.index(column)] = value
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("command", "run_number", "column"),
    [("check", -1, "ops"), ("check", 0, "p50"), ("show", 0, "status"), ("trend", 0, "run")],
)
def test_a_value_a_command_cannot_use_is_an_error_naming_it(
    history: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    run_number: int,
    column: str,
) -> None:
    edited(history, run_number, column, "lots")
    status = main(["--history", str(history), command], out=io.StringIO())
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith(
        f"perfbudget: error: {history}: cannot use the results of tests/test_a.py::test_fast"
    )
    assert f'"{column}" of run ' in captured.err
    assert "got 'lots'" in captured.err
    assert "Traceback" not in captured.err


def test_show_and_trend_read_a_value_that_is_not_a_number_as_not_measured(
    history: Path,
) -> None:
    edited(history, -1, "p50", "lots")
    status, output = run("--history", str(history), "show", "--width", "80")
    assert status == 0
    assert output.splitlines()[1].split()[1] == "-"  # the latest p50 of test_fast
    assert run("--history", str(history), "trend")[0] == 0


def test_a_command_runs_with_the_collector_paused_and_restores_it(
    history: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector_enabled: list[bool] = []

    def command(*args: object) -> int:
        collector_enabled.append(gc.isenabled())
        return 0

    monkeypatch.setitem(cli.COMMANDS, "show", command)
    assert run("--history", str(history), "show") == (0, "")
    assert collector_enabled == [False]
    assert gc.isenabled()


def test_python_dash_m_and_the_console_script(history: Path) -> None:
    for command in (
        [sys.executable, "-m", "pytest_perfbudget"],
        [str(Path(sys.executable).parent / "perfbudget")],
    ):
        completed = subprocess.run(
            [*command, "--history", str(history), "show", "--width", "80"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr
        assert "tests/test_a.py::test_fast" in completed.stdout
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_perfbudget", "--history", str(history / "x"), "show"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminal on Windows")
def test_the_console_script_cuts_ids_on_a_terminal_only(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {LONG_NAME: STEADY[:3]})
    command = [str(Path(sys.executable).parent / "perfbudget"), "--history", str(path), "show"]
    environment = {**os.environ, "COLUMNS": "80"}
    piped = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
    assert piped.stdout.splitlines()[1].split()[0] == LONG_NAME  # `perfbudget show | grep`
    primary, secondary = os.openpty()
    try:
        subprocess.run(command, stdout=secondary, env=environment, check=True)
    finally:
        os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: all read, and the terminal's other end is closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    lines = shown.decode("utf-8").splitlines()
    assert lines[1].startswith("…")
    assert LONG_NAME.endswith(lines[1].split()[0][1:])
    assert all(len(line) <= 80 for line in lines)


def test_default_history_comes_from_the_project_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(tmp_path / "perf" / "h.json", {"t.py::test_a": [0.01] * 2})
    (tmp_path / "pyproject.toml").write_text('[tool.perfbudget]\nhistory = "perf/h.json"\n')
    monkeypatch.chdir(tmp_path)
    status, output = run("show", "--width", "80")
    assert status == 0
    assert "t.py::test_a" in output


def test_settings_come_from_the_ini_file_as_for_pytest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    build(tmp_path / "perf" / "h.json", {"t.py::test_a": [0.01] * 2})
    (tmp_path / "tox.ini").write_text("[pytest]\nperf_history = perf/h.json\n")
    (tmp_path / "tests").mkdir()
    monkeypatch.chdir(tmp_path / "tests")  # pytest finds tox.ini from here: so does the tool
    status, output = run("show", "--width", "80")
    assert status == 0
    assert "t.py::test_a" in output
    capsys.readouterr()
    (tmp_path / "tox.ini").write_text("[pytest]\nperf_keep = none\n")
    status, output = run("prune", "--keep", "3")
    assert status == 2
    assert f"{tmp_path / 'tox.ini'}: perf_keep = 'none' is invalid" in capsys.readouterr().err


def test_html_names_a_limit_far_above_the_data_instead_of_drawing_it(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    build(path, {"t.py::test_tiny": [0.0003] * 5, "t.py::test_near": [0.03] * 5})
    page, charted = render_report(History.load(path), "*", lambda nodeid: 0.2)
    assert charted == 2
    tiny, near = (
        page.split('data-name="t.py::test_tiny"')[1],
        page.split('data-name="t.py::test_near"')[1],
    )
    tiny, near = tiny.split("</section>")[0], near.split("</section>")[0]
    assert "p95 limit 50ms (far above)" in tiny
    assert '<line class="limit"' not in tiny.split("</svg>")[0]
    assert '<line class="limit"' in near.split("</svg>")[0]  # 50ms is within 3x of 30ms
