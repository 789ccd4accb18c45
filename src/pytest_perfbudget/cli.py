"""The ``perfbudget`` command: read, check, chart and prune a history outside pytest.

Exit status: 0 on success, 1 on a finding (``check``), 2 on bad usage or a file that
cannot be used, always with a one-line reason.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from . import __version__
from .baseline import baseline_rows
from .budget import Budget
from .files import collector_paused, locked
from .history import History, HistoryError, SavedRuns
from .measure import Measurement
from .metrics import SAVED_METRICS, format_metric
from .regression import check_regressions, describe_regression
from .settings import (
    ConfigError,
    Settings,
    expand_path,
    find_project,
    load_settings,
    read_ini_options,
)
from .stats import median
from .summary_row import SummaryRow
from .trend import TREND_RUNS, Creep, Step, find_change, sparkline
from .units import UnitError, format_count, parse_count

__all__ = ["main"]

PROGRAM = "perfbudget"
SPARK_RUNS = 20
#: The project's settings, read on first call.
SettingsOnce = Callable[[], Settings]
#: The latest, baseline, change, runs, rounds and stopped columns of ``show``, with their
#: separators.
NUMBER_COLUMNS = 9 + 9 + 8 + 5 + 6 + 8 + 7
#: ``show`` cuts a node id to no fewer characters than this.
SHORTEST_NAME = 20
#: Where ``trend`` cuts a node id on a terminal.
TREND_LABEL_WIDTH = 200
FULL_HELP = "never cut node ids (they are cut only to fit a terminal)"


class UsageError(Exception):
    """Bad usage or an unusable file: exit status 2 with this one-line message."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROGRAM,
        description="Read, check, chart and prune a pytest-perfbudget history file.",
    )
    _add_global_options(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    show = commands.add_parser("show", help="one row per test with a sparkline of its runs")
    show.add_argument("pattern", nargs="?", default="*", help="node id glob (default: all)")
    show.add_argument("--metric", choices=SAVED_METRICS, default="p50", help="default: p50")
    show.add_argument(
        "--width", type=_positive, metavar="N", help="columns to fit (default: the terminal's)"
    )
    show.add_argument("--full", action="store_true", help=FULL_HELP)

    trend = commands.add_parser("trend", help="step changes and slow creep per test")
    trend.add_argument("pattern", nargs="?", default="*", help="node id glob (default: all)")
    trend.add_argument("--metric", choices=SAVED_METRICS, default="p50", help="default: p50")
    trend.add_argument("--full", action="store_true", help=FULL_HELP)

    check = commands.add_parser(
        "check", help="exit 1 when the newest saved run regressed against the runs before it"
    )
    check.add_argument(
        "--regression",
        metavar="PCT",
        default=None,
        help="allowed degradation of every metric (default: as configured, else 20%%/15%%/50%%)",
    )

    html = commands.add_parser("html", help="a self-contained HTML report with a chart per test")
    html.add_argument("output", metavar="OUT.html", help="the file to write")
    html.add_argument("pattern", nargs="?", default="*", help="node id glob (default: all)")

    prune = commands.add_parser("prune", help="keep only the newest N runs per test and machine")
    prune.add_argument("--keep", type=_positive, required=True, metavar="N")

    imported = commands.add_parser(
        "import-benchmark", help="turn pytest-benchmark saves (.benchmarks/) into history runs"
    )
    imported.add_argument("path", metavar="PATH", help="a .benchmarks directory or a JSON save")
    # after the command too (`perfbudget show --history h.json`); not given there, they
    # must not overwrite what was given before it, hence no default; given in both
    # places, the later wins, as when an option is repeated
    for command in commands.choices.values():
        _add_global_options(command, default=argparse.SUPPRESS)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--history",
        metavar="PATH",
        default=default,
        help="the history file (default: as configured for pytest, else .perf/history.json)",
    )
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")


def _positive(text: str) -> int:
    try:
        return parse_count(text, minimum=1, text=True)
    except UnitError as error:
        raise argparse.ArgumentTypeError(f"{error}, got {text!r}") from None


def _settings(regression: str | None = None) -> Settings:
    """The project's pytest-perfbudget settings, read as pytest run in the current directory
    reads them: ``[tool.perfbudget]`` and the ``perf_*`` options of its ini file."""
    try:
        project = find_project(Path.cwd())
        return load_settings(
            rootdir=project.rootdir,
            pyproject=project.pyproject,
            ini=read_ini_options(project.inifile) if project.inifile is not None else {},
            flags={} if regression is None else {"regression": regression},
        )
    except ConfigError as error:
        raise UsageError(str(error)) from None


def _budget(settings: Settings, nodeid: str) -> Budget:
    """The budget the plugin gives ``nodeid`` without a marker: its ``[[budget]]`` entry's,
    else the defaults."""
    budget = settings.budget_for(nodeid, None) or settings.budget_for(nodeid, {})
    assert budget is not None  # an empty marker always gives the default budget
    return budget


def _load(path: Path) -> History:
    if not path.is_file():
        raise UsageError(f"{path}: no such history file")
    try:
        return History.load(path)
    except HistoryError as error:
        raise UsageError(str(error)) from None


def _series(history: History, pattern: str) -> list[SavedRuns]:
    """The saved runs of every test matching ``pattern``; at least one."""
    found = list(history.matching(pattern))
    if not found:
        raise UsageError(f"no test in {history.path} matches {pattern!r}")
    return found


def _label(saved: SavedRuns, several_machines: bool) -> str:
    return f"{saved.nodeid} @{saved.machine[:6]}" if several_machines else saved.nodeid


def _cut(label: str, width: int) -> str:
    """``label`` in ``width`` characters, its beginning replaced by "…" if it is longer."""
    return label if len(label) <= width else "…" + label[-(width - 1) :]


def _cuts_ids(options: argparse.Namespace, out: TextIO) -> bool:
    """Whether node ids are cut to fit: only on a terminal, unless ``--full``. Piped or
    redirected, an id stays whole, to be found by grep and pasted back into pytest."""
    return out.isatty() and not options.full


def _baseline_value(rows: Sequence[SummaryRow], metric: str) -> float | None:
    """The metric's median over the baseline runs before the newest, as the plugin pools
    them."""
    before = baseline_rows(rows, before=rows[-1].run)
    chosen = [value for row in before if (value := row.metric(metric)) is not None]
    return median(chosen) if chosen else None


def _show(
    history: History, pattern: str, metric: str, out: TextIO, *, width: int, cut: bool
) -> int:
    """The table: node ids cut to fit ``width`` columns if ``cut``, else whole, and a
    sparkline of as many runs as fit. The header's words are never cut: below 78 columns
    the table is wider than ``width``."""
    found = _series(history, pattern)
    several = len({saved.machine for saved in found}) > 1
    labels = [_label(saved, several) for saved in found]
    longest = max(len(saved.rows) for saved in found)
    room = width - NUMBER_COLUMNS  # for the name and the sparkline
    spark_width = max(1, min(SPARK_RUNS, longest, room // 3, room - SHORTEST_NAME))
    if cut:
        name_width = max(SHORTEST_NAME, room - max(spark_width, len("recent")))
        labels = [_cut(label, name_width) for label in labels]
    else:
        name_width = max(len("test"), *(len(label) for label in labels))
    out.write(
        f"{'test':<{name_width}} {'latest':>9} {'baseline':>9} {'change':>8} {'runs':>5} "
        f"{'rounds':>6} {'stopped':<8} recent\n"
    )
    for saved, label in zip(found, labels, strict=True):
        rows = saved.rows
        values = rows.metric(metric)
        latest = values[-1] if values else None
        baseline = _baseline_value(rows, metric) if rows else None
        change = "-"
        if latest is not None and baseline:
            change = f"{(latest / baseline - 1) * 100:+.1f}%"
        shown_latest = "-" if latest is None else format_metric(metric, latest)
        shown_baseline = "-" if baseline is None else format_metric(metric, baseline)
        rounds, stopped = (rows[-1].rounds, rows[-1].stopped or "-") if rows else ("-", "-")
        line = (
            f"{label:<{name_width}} "
            f"{shown_latest:>9} {shown_baseline:>9} {change:>8} {len(rows):>5} "
            f"{rounds:>6} {stopped:<8} {sparkline(values[-spark_width:])}"
        )
        out.write(line.rstrip() + "\n")
    return 0


def _run_text(runs: Mapping[str, Mapping[str, Any]], run_id: str) -> str:
    run = runs.get(run_id, {})
    commit = (run.get("commit") or "unknown")[:12]
    return f"run {run_id} ({run.get('time') or 'time unknown'}, commit {commit})"


def _trend(history: History, pattern: str, metric: str, cut: bool, out: TextIO) -> int:
    found = _series(history, pattern)
    several = len({saved.machine for saved in found}) > 1
    runs = history.runs
    reported = 0
    counts = []  # the runs each test had, to say what was looked at
    for saved in found:
        window = saved.rows[-TREND_RUNS:]
        measured = [
            (run, value)
            for run, value in zip(window.runs(), window.metric(metric), strict=True)
            if value is not None
        ]
        recent = [run for run, _ in measured]
        values = [value for _, value in measured]
        counts.append(len(values))
        label = _label(saved, several)
        if cut:
            label = _cut(label, TREND_LABEL_WIDTH)
        change = find_change(values)
        if isinstance(change, Step):
            run_id = str(recent[change.index])
            if change.clean:
                slower = "slower" if change.change > 0 else "faster"
                evidence = f"every run since {slower} than every run before"
            else:
                evidence = f"p={change.p_value:.1g}"
            out.write(
                f"{label}: step {change.change * 100:+.1f}% in {metric} "
                f"({format_metric(metric, change.before)} -> "
                f"{format_metric(metric, change.after)}) from {_run_text(runs, run_id)}, "
                f"{evidence}\n"
            )
            reported += 1
        elif isinstance(change, Creep):
            out.write(
                f"{label}: creep {change.relative * 100:+.2f}% a run in {metric} "
                f"({format_metric(metric, abs(change.slope))} a run) over the last "
                f"{len(values)} runs, since {_run_text(runs, str(recent[0]))}, "
                f"p={change.p_value:.1g}\n"
            )
            reported += 1
    if not reported:
        fewest, most = min(counts), max(counts)
        looked_at = format_count(most, "run") if fewest == most else f"{fewest} to {most} runs"
        out.write(
            f"no step or creep in {metric} over the last {looked_at} "
            f"of {format_count(len(found), 'test')}\n"
        )
    return 0


def _check(history: History, settings: Settings, out: TextIO) -> int:
    if not history.runs:
        raise UsageError(f"{history.path}: the history has no runs")
    newest = max(history.runs, key=int)
    regressed: list[str] = []
    checked = 0
    for saved in history.matching():
        if not saved.rows or str(saved.rows[-1].run) != newest:
            continue
        checked += 1
        if saved.rows[-1].status == "rejected":
            regressed.append(f"{saved.nodeid}: regressed when it was saved (run {newest})")
            continue
        finding = _recheck(history, saved, settings)
        if finding:
            regressed.append(f"{saved.nodeid}: {finding}")
    for line in regressed:
        out.write(line + "\n")
    out.write(
        f"run {newest}: {format_count(checked, 'test')} checked, {len(regressed)} regressed\n"
    )
    return 1 if regressed else 0


def _recheck(history: History, saved: SavedRuns, settings: Settings) -> str | None:
    """The plugin's regression checks of a test's newest saved run against the accepted
    runs before it (at equal machine speed); a description of what regressed, or None."""
    row = saved.rows[-1]
    history.check_runs(saved, [row])
    samples = saved.samples(row.run)
    baseline = history.baseline(saved.nodeid, saved.machine, before=row.run)
    if not samples.get("wall") or baseline is None:
        return None
    budget = _budget(settings, saved.nodeid)
    measurement = Measurement(
        wall=tuple(samples["wall"]),
        cpu=(row.metric("cpu") or 0.0,),
        memory=tuple(samples.get("memory", [])),
        ops=row.ops,
        reference=row.reference,
    )
    checks = check_regressions(
        measurement,
        baseline,
        budget.regression,
        throughput=budget.limits_metric("throughput"),
    )
    return "; ".join(describe_regression(check) for check in checks if check.regressed) or None


def _prune(path: Path, keep: int, out: TextIO) -> int:
    if not path.is_file():
        raise UsageError(f"{path}: no such history file")
    try:
        with locked(path):
            history = History.load(path)
            before = len(history.runs)
            history.prune(keep)
            history.save()
    except HistoryError as error:
        raise UsageError(str(error)) from None
    dropped = before - len(history.runs)
    out.write(f"{path}: kept the newest {keep} runs per test; {dropped} runs dropped\n")
    return 0


def _run_show(options: argparse.Namespace, path: Path, settings: SettingsOnce, out: TextIO) -> int:
    width = options.width or shutil.get_terminal_size((80, 24)).columns
    cut = _cuts_ids(options, out)
    return _show(_load(path), options.pattern, options.metric, out, width=width, cut=cut)


def _run_trend(
    options: argparse.Namespace, path: Path, settings: SettingsOnce, out: TextIO
) -> int:
    return _trend(_load(path), options.pattern, options.metric, _cuts_ids(options, out), out)


def _run_check(
    options: argparse.Namespace, path: Path, settings: SettingsOnce, out: TextIO
) -> int:
    return _check(_load(path), settings(), out)


def _run_html(options: argparse.Namespace, path: Path, settings: SettingsOnce, out: TextIO) -> int:
    from .html import ReportError, write_report

    def threshold_of(nodeid: str) -> float:
        return _budget(settings(), nodeid).regression["latency"]

    try:
        return write_report(_load(path), Path(options.output), options.pattern, threshold_of, out)
    except ReportError as error:
        raise UsageError(str(error)) from None


def _run_prune(
    options: argparse.Namespace, path: Path, settings: SettingsOnce, out: TextIO
) -> int:
    return _prune(path, options.keep, out)


def _run_import_benchmark(
    options: argparse.Namespace, path: Path, settings: SettingsOnce, out: TextIO
) -> int:
    from .benchmark_import import BenchmarkSaveError, import_benchmark

    try:
        return import_benchmark(path, Path(options.path), settings().keep, out)
    except BenchmarkSaveError as error:
        raise UsageError(str(error)) from None


COMMANDS = {
    "show": _run_show,
    "trend": _run_trend,
    "check": _run_check,
    "html": _run_html,
    "prune": _run_prune,
    "import-benchmark": _run_import_benchmark,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    out = sys.stdout if out is None else out
    try:
        options = _parser().parse_args(argv)
        # read once, and only by the commands that need it (or for the default history)
        settings = functools.cache(
            functools.partial(_settings, getattr(options, "regression", None))
        )
        history = options.history
        path = expand_path(history) if history is not None else settings().history
        # a command reads the history until it ends: a full collection would traverse its
        # millions of lists again and again, and a short command frees the rest at exit
        with collector_paused():
            return COMMANDS[options.command](options, path, settings, out)
    except BrokenPipeError:  # the reader went away (`perfbudget show | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (UsageError, HistoryError, OSError) as error:  # a broken entry is found when read
        sys.stderr.write(f"{PROGRAM}: error: {error}\n")
        return 2
    except KeyboardInterrupt:
        return 130
