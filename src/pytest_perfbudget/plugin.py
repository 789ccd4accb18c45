"""The pytest side of pytest-perfbudget: options, the marker, the fixture, hook wiring."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import unittest
from collections.abc import Callable, Generator
from pathlib import Path
from types import CodeType
from typing import Any

import pytest

from . import hookspecs
from .budget import Budget, BudgetError, Judgement, PerfBudgetWarning, judge
from .ci import error_annotation, junit_properties, markdown_table, workspace_path
from .environment import git_revision, machine_description, machine_fingerprint
from .history import (
    Baseline,
    History,
    HistoryError,
    RunInfo,
    SavedResult,
    save_results,
    write_json_atomic,
)
from .integrations import BenchmarkStandIn, benchmark_disabled, benchmark_timings
from .measure import (
    Clock,
    MemoryProbe,
    PerfMeter,
    Sampler,
    default_memory_probe,
    with_external_timings,
)
from .profile import Profile, ProfileError, profile_calls, profile_filename
from .report import (
    Record,
    json_report,
    result_record,
    summary_rows,
    table_lines,
    traced_notice,
)
from .settings import ConfigError, IniOption, Settings, expand_path, load_settings

MARKER = "perf_budget"
INI_KEYS = ("history", "warmup", "max_time", "regression", "keep")
CLOCK = Clock()
WORKER_PAYLOAD = "perfbudget_results"
WORKER_NOTICES = "perfbudget_notices"
PROFILE_SECTION = "perf profile"
BENCHMARK_DISABLED = (
    "pytest-perfbudget: pytest-benchmark is disabled (--benchmark-disable, or under xdist), "
    "so the budgets of tests that use its benchmark fixture were not judged"
)


@dataclasses.dataclass
class PerfSession:
    """What one pytest session knows and collects (on the xdist controller and workers)."""

    settings: Settings
    warn_only: bool
    #: The history that baselines come from, until they are read after collection; None
    #: under --perf-no-compare.
    history: History | None
    machine: str
    report_path: Path | None
    #: Profile every budgeted test (--perf-profile), not only those that fail.
    profile_all: bool = False
    #: Where pyinstrument's HTML pages go (--perf-profile-dir); None when not asked or
    #: not writable.
    profile_dir: Path | None = None
    #: The judged tests' results by node id: a test run twice in one session (pytest's
    #: --keep-duplicates) counts once, by its last run.
    records: dict[str, Record] = dataclasses.field(default_factory=dict)
    #: What fails the run: results lost, history not saved.
    problems: list[str] = dataclasses.field(default_factory=list)
    #: What the user should know but that fails nothing (a profile that was not written).
    notices: list[str] = dataclasses.field(default_factory=list)

    def notice(self, text: str) -> None:
        """Say ``text`` at the end of the run, once however often it is noticed."""
        if text not in self.notices:
            self.notices.append(text)


session_key = pytest.StashKey[PerfSession]()
budget_key = pytest.StashKey[Budget]()
#: Why a test's budget cannot be judged (a bad marker, saved results it cannot use).
budget_error_key = pytest.StashKey[str]()
sampler_key = pytest.StashKey[Sampler]()
baseline_key = pytest.StashKey[Baseline]()
judgement_key = pytest.StashKey[Judgement]()
profile_key = pytest.StashKey["Profile | str"]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perfbudget", "performance budgets (pytest-perfbudget)")
    group.addoption(
        "--perf-disable",
        action="store_true",
        help="run budgeted tests as plain tests: nothing measured, judged or written",
    )
    group.addoption(
        "--perf-history",
        metavar="PATH",
        default=None,
        help="baseline history file (default: .perf/history.json under rootdir)",
    )
    group.addoption(
        "--perf-save",
        action="store_true",
        help="append this run's results to the history (and so to the baseline)",
    )
    group.addoption(
        "--perf-accept",
        action="store_true",
        help="with --perf-save: take regressed results into the baseline as its new start",
    )
    group.addoption(
        "--perf-no-compare",
        action="store_true",
        help="do not compare against the baseline",
    )
    group.addoption(
        "--perf-regression",
        metavar="PCT",
        default=None,
        help="override the regression threshold for every metric, e.g. 10%%",
    )
    group.addoption(
        "--perf-warn-only",
        action="store_true",
        help="report broken budgets and regressions as warnings, never fail on them",
    )
    group.addoption(
        "--perf-profile",
        action="store_true",
        help="profile every budgeted test with pyinstrument, not only the failing ones",
    )
    group.addoption(
        "--perf-profile-dir",
        metavar="DIR",
        default=None,
        help="also write each profile as a pyinstrument HTML page in DIR",
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


def _writable(path: Path) -> bool:
    """Whether a file can be created or replaced at ``path`` (at the file it names, when
    it is a symbolic link: the history and report are written through links)."""
    directory = Path(os.path.realpath(path)).parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory.is_dir() and not path.is_dir() and os.access(directory, os.W_OK)


def _flag_path(config: pytest.Config, value: str) -> Path:
    """A path given on the command line, expanded, relative to the invocation directory."""
    return config.invocation_params.dir / expand_path(value)


def _settings(config: pytest.Config) -> Settings:
    source = str(config.inipath) if config.inipath is not None else "ini"
    ini = {
        key: IniOption(str(config.getini(f"perf_{key}")), source)
        for key in INI_KEYS
        if config.getini(f"perf_{key}")
    }
    flags: dict[str, str] = {}
    history_flag: str | None = config.getoption("perf_history")
    if history_flag is not None:
        flags["history"] = str(_flag_path(config, history_flag))
    regression_flag: str | None = config.getoption("perf_regression")
    if regression_flag is not None:
        flags["regression"] = regression_flag
    try:
        return load_settings(
            rootdir=config.rootpath, pyproject=_pyproject(config), ini=ini, flags=flags
        )
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None


def _machine(config: pytest.Config) -> str:
    label = config.hook.pytest_perfbudget_fingerprint(config=config)
    if label is not None:
        return str(label)
    return machine_fingerprint(machine_description())


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(p95=..., memory=..., throughput=..., ...): performance budget of the "
        "test; see the pytest-perfbudget docs for every keyword.",
    )
    if config.getoption("perf_disable"):
        return
    settings = _settings(config)
    report_flag: str | None = config.getoption("perf_report")
    report_path = None if report_flag is None else _flag_path(config, report_flag)
    if report_path is not None and not _writable(report_path):
        raise pytest.UsageError(f"--perf-report={report_flag}: cannot write a file there")
    saving = bool(config.getoption("perf_save"))
    if config.getoption("perf_accept") and not saving:
        raise pytest.UsageError(
            "--perf-accept takes effect with --perf-save, which saves this run as the new "
            "baseline; alone it would accept nothing"
        )
    if saving and not _writable(settings.history):
        raise pytest.UsageError(f"--perf-save: cannot write the history {settings.history}")
    comparing = not config.getoption("perf_no_compare")
    history = None
    if saving or comparing:
        try:  # read when saving too, so that a broken file stops the run before it starts
            history = History.load(settings.history)
        except HistoryError as error:
            raise pytest.UsageError(str(error)) from None
    session = PerfSession(
        settings=settings,
        warn_only=bool(config.getoption("perf_warn_only")),
        history=history if comparing else None,
        machine=_machine(config),
        report_path=report_path,
        profile_all=bool(config.getoption("perf_profile")),
    )
    profile_dir_flag: str | None = config.getoption("perf_profile_dir")
    if profile_dir_flag is not None:
        profile_dir = _flag_path(config, profile_dir_flag)
        if _writable(profile_dir / "profile.html"):
            session.profile_dir = profile_dir
        else:
            session.notices.append(
                f"--perf-profile-dir={profile_dir_flag}: cannot write there; "
                "no HTML profiles were written"
            )
    config.stash[session_key] = session


def _budget_of(item: pytest.Function, settings: Settings) -> Budget | None:
    """The item's budget, or None; raises :class:`BudgetError` for a bad marker."""
    marker = item.get_closest_marker(MARKER)
    uses_perf = "perf" in item.fixturenames
    if marker is None and not settings.entries and not uses_perf:
        return None
    if item.cls is not None and issubclass(item.cls, unittest.TestCase):
        if marker is not None:
            raise BudgetError(
                "cannot measure a unittest.TestCase test: pytest runs it through unittest, "
                "which calls it once; make it a plain test function or method"
            )
        return None  # a budget entry's glob does not make it one
    if marker is not None and marker.args:
        raise BudgetError(f"takes keyword arguments only, got {marker.args!r}")
    budget = settings.budget_for(item.nodeid, marker.kwargs if marker is not None else None)
    if budget is None and uses_perf:
        return settings.budget_for(item.nodeid, {})
    return budget


def pytest_sessionstart(session: pytest.Session) -> None:
    perf_session = session.config.stash.get(session_key, None)
    if perf_session is not None and session.config.pluginmanager.has_plugin("dsession"):
        perf_session.history = None  # the xdist controller runs no test: workers read it


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = config.stash.get(session_key, None)
    if session is None:
        return
    budgeted = False
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        try:
            budget = _budget_of(item, session.settings)
        except BudgetError as error:
            item.stash[budget_error_key] = f"{item.nodeid}: {MARKER} {error}"
            budgeted = True
            continue
        if budget is not None:
            item.stash[budget_key] = budget
            budgeted = True
    if session.history is not None:
        _read_baselines(session.history, session.machine, items)
        # A large history is millions of lists: every garbage collection (and the memory
        # probe collects before its calls) would traverse them for the rest of the run.
        session.history = None
    if budgeted and not config.pluginmanager.has_plugin(BudgetedTestHooks.name):
        config.pluginmanager.register(BudgetedTestHooks(config, session), BudgetedTestHooks.name)


def _read_baselines(history: History, machine: str, items: list[pytest.Item]) -> None:
    """Stash each budgeted test's baseline, or why its saved results cannot be used (a
    value in them edited by hand, say: an error of that test)."""
    for item in items:
        if budget_key in item.stash:
            try:
                baseline = history.baseline(item.nodeid, machine)
            except HistoryError as error:
                item.stash[budget_error_key] = str(error)
                continue
            if baseline is not None:
                item.stash[baseline_key] = baseline


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

    def __init__(self, config: pytest.Config, session: PerfSession) -> None:
        self._config = config
        self._session = session
        self._memory_probe: MemoryProbe | None = None
        self._accept = bool(config.getoption("perf_accept"))
        #: Each judged test's result until its call report is logged: pytest-rerunfailures
        #: logs an attempt that it runs again with the outcome "rerun", which is no result.
        self._judged: dict[str, tuple[pytest.Item, Record]] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        error = item.stash.get(budget_error_key, None)
        if error is not None:
            pytest.fail(error, pytrace=False)
        if budget_key in item.stash:
            if self._memory_probe is None:
                self._memory_probe = default_memory_probe()
            item.stash[sampler_key] = Sampler(CLOCK, self._memory_probe)

    def _judge(self, item: pytest.Item, sampler: Sampler) -> Judgement | None:
        budget = item.stash[budget_key]
        measurement = sampler.measurement(budget.ops)
        if measurement is None:
            return None
        baseline = item.stash.get(baseline_key, None)
        return judge(item.nodeid, budget, measurement, baseline, warn_only=self._session.warn_only)

    def _judge_benchmark(
        self, item: pytest.Item, sampler: Sampler, fixture: object
    ) -> Judgement | None:
        """Judge pytest-benchmark's own timings, with the memory and CPU share measured
        around its whole run."""
        budget = item.stash[budget_key]
        whole = sampler.measurement(budget.ops)
        timings = benchmark_timings(fixture)
        if whole is None or not timings:
            return None
        measurement = with_external_timings(whole, timings)
        baseline = item.stash.get(baseline_key, None)
        return judge(item.nodeid, budget, measurement, baseline, warn_only=self._session.warn_only)

    def _profile(
        self, item: pytest.Function, call: Callable[[], object], code: CodeType | None
    ) -> Profile | str:
        """The test's profile, or a one-line reason why there is none."""
        want_html = self._session.profile_dir is not None
        try:
            profile = profile_calls(call, code, html=want_html)
        except ProfileError as error:
            return f"no profile: {error}"
        if profile.html is not None and self._session.profile_dir is not None:
            target = self._session.profile_dir / profile_filename(item.nodeid)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(profile.html, encoding="utf-8")
            except OSError as error:
                self._session.notices.append(
                    f"--perf-profile-dir: cannot write {target}: {error}; "
                    "no more HTML profiles are written"
                )
                self._session.profile_dir = None
        return profile

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        """Measure the test call (or let the ``perf`` fixture or pytest-benchmark measure
        inside it), measure once more, pooling the samples, when the result looks like a
        regression, and profile the test once judged when it failed (or when asked to)."""
        sampler = pyfuncitem.stash.get(sampler_key, None)
        if sampler is None:
            return (yield)
        budget = pyfuncitem.stash[budget_key]
        test_function = pyfuncitem.obj
        benchmark = pyfuncitem.funcargs.get("benchmark") if _uses_benchmark(pyfuncitem) else None
        if benchmark is not None and benchmark_disabled(benchmark):
            self._session.notice(BENCHMARK_DISABLED)
            return (yield)  # --benchmark-disable: nothing is timed, so nothing is judged

        def measure(call: Callable[[], object]) -> object:
            if "perf" in pyfuncitem.fixturenames:
                return call()
            return sampler.run(
                call, rounds=budget.rounds, warmup=budget.warmup, max_time=budget.max_time
            )

        def measured_test_function(**kwargs: Any) -> object:
            call = functools.partial(test_function, **kwargs)
            sampler.note_machine_speed()
            if benchmark is not None:
                result = sampler.run(call, rounds=1, warmup=0, max_time=0.0)
                sampler.note_machine_speed()
                judgement = self._judge_benchmark(pyfuncitem, sampler, benchmark)
                kwargs["benchmark"] = BenchmarkStandIn(benchmark)
                call = functools.partial(test_function, **kwargs)
            else:
                result = measure(call)
                sampler.note_machine_speed()
                judgement = self._judge(pyfuncitem, sampler)
                if judgement is not None and judgement.regressed and budget.rounds != 1:
                    result = measure(call)  # confirm: judged again on both measurements
                    sampler.note_machine_speed()
                    judgement = self._judge(pyfuncitem, sampler)
            sampler.stop_recording()
            if judgement is None:
                return result
            pyfuncitem.stash[judgement_key] = judgement
            if judgement.verdict == "fail" or self._session.profile_all:
                code = getattr(inspect.unwrap(test_function), "__code__", None)
                pyfuncitem.stash[profile_key] = self._profile(pyfuncitem, call, code)
            return result

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
        del item.stash[sampler_key]
        judgement = item.stash.get(judgement_key, None)
        profile = item.stash.get(profile_key, None)
        if judgement_key in item.stash:
            del item.stash[judgement_key]
        if profile_key in item.stash:
            del item.stash[profile_key]
        if not report.passed or hasattr(report, "wasxfail"):
            return report
        if judgement is None:
            if not _benchmark_disabled(item):
                report.outcome = "failed"
                report.longrepr = f"{item.nodeid}: {MARKER} {_measured_nothing(item)}"
            return report
        file, line, _ = item.location
        record = result_record(
            judgement, accept=self._accept, file=file, line=None if line is None else line + 1
        )
        self._judged[item.nodeid] = (item, record)
        properties = list(junit_properties(record))
        item.user_properties.extend(properties)  # the teardown report, which junitxml reads
        report.user_properties.extend(properties)
        failures = list(judgement.findings) if judgement.verdict == "fail" else []
        warned = list(judgement.findings) if judgement.verdict == "warn" else []
        failures += [
            f"{PerfBudgetWarning.__name__}: {message}"
            for message in [*warned, *judgement.notes]
            if not _warned(item, message)
        ]
        if failures:
            report.outcome = "failed"
            report.longrepr = "\n".join(failures)
        if profile is not None:
            text = profile if isinstance(profile, str) else profile.report()
            report.sections.append((PROFILE_SECTION, text))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Take a judged test's result when its call is logged, unless it is run again."""
        if report.when != "call":
            return
        outcome: str = report.outcome  # pytest-rerunfailures adds "rerun" to pytest's three
        judged = self._judged.pop(report.nodeid, None)
        if judged is not None and outcome != "rerun":
            item, record = judged
            self._session.records[item.nodeid] = record
            item.ihook.pytest_perfbudget_result(item=item, result=record)


def _warned(item: pytest.Item, message: str) -> bool:
    """Issue ``message`` as a warning of ``item``; False when the warning filters made it
    an error (``-W error``, ``filterwarnings = error``): then it fails the test."""
    try:
        item.warn(PerfBudgetWarning(message))
    except PerfBudgetWarning:
        return False
    return True


def _uses_benchmark(item: pytest.Item) -> bool:
    return "benchmark" in getattr(item, "fixturenames", ())


def _benchmark_disabled(item: pytest.Item) -> bool:
    fixture = getattr(item, "funcargs", {}).get("benchmark")
    return fixture is not None and _uses_benchmark(item) and benchmark_disabled(fixture)


def _measured_nothing(item: pytest.Item) -> str:
    if _uses_benchmark(item):
        return "measured nothing: the test requests benchmark but never called benchmark(...)"
    if "perf" in getattr(item, "fixturenames", ()):
        return (
            "measured nothing: the test requests the perf fixture but never called "
            "perf(...) or entered perf.measure()"
        )
    return "measured nothing: the test function was not called through pytest_pyfunc_call"


def _in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _is_xdist_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist controller: take a finished worker's results."""
    session = node.config.stash.get(session_key, None)
    if session is None:
        return
    worker = node.workerinput.get("workerid", "?")
    workeroutput = getattr(node, "workeroutput", None)
    if workeroutput is None:  # it crashed: what it measured is gone with it
        session.problems.append(
            f"pytest-perfbudget: xdist worker {worker} crashed: the results of the tests "
            "it ran are lost"
        )
        return
    payload = workeroutput.get(WORKER_PAYLOAD)
    for notice in workeroutput.get(WORKER_NOTICES, []):
        session.notice(notice)
    if isinstance(payload, list):
        session.records.update((record["nodeid"], record) for record in payload)
    elif error is None:
        session.problems.append(
            f"pytest-perfbudget: xdist worker {worker} finished without sending its results"
        )


def _save_history(config: pytest.Config, session: PerfSession) -> None:
    """Save this run's results, but those measured under a tracer; nothing when none is
    left."""
    results = [
        SavedResult(
            nodeid=record["nodeid"],
            status=record["status"],
            rounds=record["rounds"],
            ops=record["ops"],
            metrics=record["metrics"],
            wall=record["samples"]["wall"],
            memory=record["samples"]["memory"],
            reference=record["reference"],
            limits=record["limits"],
        )
        for record in session.records.values()
        if not record["tracer"]
    ]
    if not results:
        return
    commit, branch = git_revision(config.rootpath)
    run = RunInfo(
        machine=session.machine,
        machine_description=machine_description(),
        time=RunInfo.now_utc(),
        commit=commit,
        branch=branch,
    )
    try:
        save_results(session.settings.history, run, results, session.settings.keep)
    except (OSError, HistoryError) as error:
        session.problems.append(f"--perf-save: the history was not saved: {error}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    perf_session = config.stash.get(session_key, None)
    if perf_session is None:
        return
    if _is_xdist_worker(config):
        config.workeroutput[WORKER_PAYLOAD] = list(perf_session.records.values())  # type: ignore[attr-defined]
        config.workeroutput[WORKER_NOTICES] = perf_session.notices  # type: ignore[attr-defined]
        return
    traced = [record for record in perf_session.records.values() if record["tracer"]]
    if traced:
        perf_session.notices.append(traced_notice(traced, saving=config.getoption("perf_save")))
    if config.getoption("perf_save") and perf_session.problems:
        perf_session.problems.append("--perf-save: the history was not saved: results are missing")
    elif config.getoption("perf_save"):
        _save_history(config, perf_session)
    if perf_session.report_path is not None:
        try:
            write_json_atomic(perf_session.report_path, json_report(perf_session.records.values()))
        except OSError as error:
            path = perf_session.report_path
            perf_session.problems.append(f"--perf-report: cannot write {path}: {error}")
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if _in_github_actions() and summary_file and perf_session.records:
        try:
            with open(summary_file, "a", encoding="utf-8") as summary:
                summary.write(markdown_table(summary_rows(perf_session.records.values())))
        except OSError as error:
            perf_session.notices.append(f"GITHUB_STEP_SUMMARY: cannot append to it: {error}")
    if perf_session.problems and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    session = config.stash.get(session_key, None)
    if session is None:
        return
    records = list(session.records.values())
    if terminalreporter.verbosity < 0:
        records = [record for record in records if record["verdict"] != "pass"]
    if records:
        terminalreporter.section("performance budgets")
        for line in table_lines(summary_rows(records)):
            terminalreporter.write_line(line)
    for problem in session.problems:
        terminalreporter.write_line(problem, red=True)
    for notice in session.notices:
        terminalreporter.write_line(notice, yellow=True)
    if _in_github_actions():
        for record in session.records.values():
            if record["verdict"] == "fail" and record.get("file"):
                file = workspace_path(config.rootpath, record["file"], os.environ)
                terminalreporter.write_line(error_annotation(record, file, record["line"]))
