"""The pytest side of pytest-perfbudget: options, the marker, the fixture, hook wiring."""

from __future__ import annotations

import functools
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from .budget import Budget, BudgetError, PerfBudgetWarning, judge
from .measure import Clock, MemoryProbe, PerfMeter, Sampler, default_memory_probe
from .report import (
    Record,
    json_report,
    result_record,
    summary_rows,
    table_lines,
    write_json_atomic,
)
from .settings import ConfigError, IniOption, Settings, load_settings

MARKER = "perf_budget"
INI_KEYS = ("history", "warmup", "max_time", "regression", "keep")
CLOCK = Clock()
WORKER_PAYLOAD = "perfbudget_results"

settings_key = pytest.StashKey[Settings]()
records_key = pytest.StashKey[list[Record]]()
missing_payloads_key = pytest.StashKey[list[str]]()
report_path_key = pytest.StashKey[Path]()
report_error_key = pytest.StashKey[str]()
budget_key = pytest.StashKey[Budget]()
budget_error_key = pytest.StashKey[str]()
sampler_key = pytest.StashKey[Sampler]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfbudget", "performance budgets (pytest-perfbudget)")
    group.addoption(
        "--perf-disable",
        action="store_true",
        help="run budgeted tests as plain tests: nothing measured, judged or written",
    )
    group.addoption(
        "--perf-warn-only",
        action="store_true",
        help="report broken budgets as warnings, never fail on them",
    )
    group.addoption(
        "--perf-report",
        metavar="PATH",
        default=None,
        help="write this run's results as JSON to PATH",
    )
    ini_help = {
        "history": "baseline history file (default .perf/history.json under rootdir)",
        "warmup": "unmeasured calls before measuring a budgeted test (default 1)",
        "max_time": "time for measuring one test with rounds='auto' (default 1s)",
        "regression": "allowed degradation against the baseline, e.g. 20%",
        "keep": "runs kept per test and machine in the history (default 50)",
    }
    for key in INI_KEYS:
        parser.addini(f"perf_{key}", ini_help[key], default="")


def _pyproject(config: pytest.Config) -> Path | None:
    if config.inipath is not None and config.inipath.name == "pyproject.toml":
        return config.inipath
    candidate = config.rootpath / "pyproject.toml"
    return candidate if candidate.is_file() else None


def _report_path(config: pytest.Config) -> Path | None:
    value: str | None = config.getoption("perf_report")
    if value is None:
        return None
    path = config.invocation_params.dir / value
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if path.is_dir() or not os.access(directory, os.W_OK):
        raise pytest.UsageError(f"--perf-report={value}: cannot write a file there")
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(p95=..., memory=..., throughput=..., ...): performance budget of the "
        "test; see the pytest-perfbudget docs for every keyword.",
    )
    source = str(config.inipath) if config.inipath is not None else "ini"
    ini: dict[str, IniOption] = {}
    for key in INI_KEYS:
        value = config.getini(f"perf_{key}")
        if value:
            ini[key] = IniOption(str(value), source)
    try:
        config.stash[settings_key] = load_settings(
            rootdir=config.rootpath, pyproject=_pyproject(config), ini=ini, flags={}
        )
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None
    report_path = _report_path(config)
    if report_path is not None:
        config.stash[report_path_key] = report_path
    config.stash[records_key] = []
    config.stash[missing_payloads_key] = []


def _budget_of(item: pytest.Function, settings: Settings) -> Budget | None:
    """The item's budget, or None; raises :class:`BudgetError` for a bad marker."""
    marker = item.get_closest_marker(MARKER)
    uses_perf = "perf" in item.fixturenames
    if marker is None and not settings.entries and not uses_perf:
        return None
    if marker is not None and marker.args:
        raise BudgetError(f"takes keyword arguments only, got {marker.args!r}")
    budget = settings.budget_for(item.nodeid, marker.kwargs if marker is not None else None)
    if budget is None and uses_perf:
        return settings.budget_for(item.nodeid, {})
    return budget


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("perf_disable"):
        return
    settings = config.stash[settings_key]
    budgeted = False
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        try:
            budget = _budget_of(item, settings)
        except BudgetError as error:
            item.stash[budget_error_key] = f"{item.nodeid}: {MARKER} {error}"
            budgeted = True
            continue
        if budget is not None:
            item.stash[budget_key] = budget
            budgeted = True
    if budgeted and not config.pluginmanager.has_plugin(BudgetedTestHooks.name):
        config.pluginmanager.register(BudgetedTestHooks(config), BudgetedTestHooks.name)


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> PerfMeter:
    """Measure the code a test hands it: ``perf(func, *args)`` or ``with perf.measure():``."""
    sampler = request.node.stash.get(sampler_key, None)
    budget = request.node.stash.get(budget_key, None)
    if sampler is None or budget is None:
        return PerfMeter(None, rounds=1, warmup=0, max_time=0.0)
    return PerfMeter(sampler, rounds=budget.rounds, warmup=budget.warmup, max_time=budget.max_time)


class BudgetedTestHooks:
    """The per-test hooks, registered only once a collected test has a budget.

    A suite without budgets never calls them, so its tests cost nothing extra.
    """

    name = "perfbudget-tests"

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._warn_only = bool(config.getoption("perf_warn_only"))
        self._memory_probe: MemoryProbe | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        error = item.stash.get(budget_error_key, None)
        if error is not None:
            pytest.fail(error, pytrace=False)
        if budget_key in item.stash:
            if self._memory_probe is None:
                self._memory_probe = default_memory_probe()
            item.stash[sampler_key] = Sampler(CLOCK, self._memory_probe)

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        sampler = pyfuncitem.stash.get(sampler_key, None)
        if sampler is None or "perf" in pyfuncitem.fixturenames:
            return (yield)
        budget = pyfuncitem.stash[budget_key]
        test_function = pyfuncitem.obj

        def measured_test_function(**kwargs: Any) -> object:
            return sampler.run(
                functools.partial(test_function, **kwargs),
                rounds=budget.rounds,
                warmup=budget.warmup,
                max_time=budget.max_time,
            )

        pyfuncitem.obj = measured_test_function
        try:
            return (yield)
        finally:
            pyfuncitem.obj = test_function

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when != "call" or sampler_key not in item.stash:
            return report
        sampler = item.stash[sampler_key]
        del item.stash[sampler_key]
        if not report.passed or hasattr(report, "wasxfail"):
            return report
        budget = item.stash[budget_key]
        measurement = sampler.measurement(budget.ops)
        if measurement is None:
            report.outcome = "failed"
            report.longrepr = (
                f"{item.nodeid}: {MARKER} measured nothing: the test requests the perf fixture "
                "but never called perf(...) or entered perf.measure()"
            )
            return report
        judgement = judge(item.nodeid, budget, measurement, warn_only=self._warn_only)
        self._config.stash[records_key].append(result_record(judgement))
        if judgement.verdict == "fail":
            report.outcome = "failed"
            report.longrepr = "\n".join(judgement.findings)
        elif judgement.verdict == "warn":
            for finding in judgement.findings:
                item.warn(PerfBudgetWarning(finding))
        return report


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: take a finished worker's results."""
    config: pytest.Config = node.config
    payload = node.workeroutput.get(WORKER_PAYLOAD)
    if isinstance(payload, list):
        config.stash[records_key].extend(payload)
    elif error is None:
        worker = node.workeroutput.get("workerid", "?")
        config.stash[missing_payloads_key].append(
            f"pytest-perfbudget: xdist worker {worker} finished without sending its results"
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    records = config.stash.get(records_key, None)
    if records is None:
        return
    if _is_xdist_worker(config):
        config.workeroutput[WORKER_PAYLOAD] = records  # type: ignore[attr-defined]
        return
    if config.stash[missing_payloads_key] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    path = config.stash.get(report_path_key, None)
    if path is None:
        return
    try:
        write_json_atomic(path, json_report(records))
    except OSError as error:
        config.stash[report_error_key] = f"--perf-report: cannot write {path}: {error}"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    records = config.stash.get(records_key, [])
    if terminalreporter.verbosity < 0:
        records = [record for record in records if record["verdict"] != "pass"]
    if records:
        terminalreporter.section("performance budgets")
        for line in table_lines(summary_rows(records)):
            terminalreporter.write_line(line)
    problems = config.stash.get(missing_payloads_key, [])
    if report_error_key in config.stash:
        problems = [*problems, config.stash[report_error_key]]
    for problem in problems:
        terminalreporter.write_line(problem, red=True)
