"""The session's side of the plugin: which tests have budgets, their baselines, and at the
end the results: saved, reported, summarized; across xdist workers.

:class:`PerfSession` is registered as a plugin object for the run (as pytest's junitxml
and stepwise register theirs), so its hooks share its state without a lookup.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
import unittest
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .budget import Budget, BudgetError
from .ci import error_annotation, markdown_table, workspace_path
from .environment import git_revision, machine_description
from .files import write_json_atomic
from .history import History, HistoryError, RunInfo, save_results
from .report import (
    json_report,
    note_lines,
    summary_header,
    summary_rows,
    table_lines,
    traced_notice,
)
from .result import PerfResult
from .runtest import MARKER, BudgetedTestHooks, baseline_key, budget_error_key, budget_key
from .settings import Settings

if TYPE_CHECKING:  # the paired run's modules are imported only when it is one
    from .paired import Against
    from .pairing import Pairing

__all__ = ["PerfSession"]

WORKER_PAYLOAD = "perfbudget_results"
WORKER_NOTICES = "perfbudget_notices"


@dataclasses.dataclass(eq=False)  # a plugin is registered and found by identity
class PerfSession:
    """What one pytest session knows and collects (on the xdist controller and workers)."""

    name = "perfbudget-session"

    config: pytest.Config
    settings: Settings
    warn_only: bool
    #: The history that baselines come from, until they are read after collection; None
    #: under --perf-no-compare.
    history: History | None
    machine: str
    report_path: Path | None
    #: Save this run's results to the history (--perf-save).
    saving: bool = False
    #: Take regressed results into the baseline as its new start (--perf-accept).
    accept: bool = False
    #: Profile every budgeted test (--perf-profile), not only those that fail.
    profile_all: bool = False
    #: Where pyinstrument's HTML pages go (--perf-profile-dir); None when not asked or
    #: not writable.
    profile_dir: Path | None = None
    #: The judged tests' results by node id: a test run twice in one session (pytest's
    #: --keep-duplicates) counts once, by its last run.
    results: dict[str, PerfResult] = dataclasses.field(default_factory=dict)
    #: What fails the run: results lost, history not saved.
    problems: list[str] = dataclasses.field(default_factory=list)
    #: What the user should know but that fails nothing (a profile that was not written).
    notices: list[str] = dataclasses.field(default_factory=list)
    #: In a paired run (--perf-against), what the tests are compared with, and the control
    #: process that runs their counterparts once collection is done.
    against: Against | None = None
    pairing: Pairing | None = None

    def notice(self, text: str) -> None:
        """Say ``text`` at the end of the run, once however often it is noticed."""
        if text not in self.notices:
            self.notices.append(text)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if session.config.pluginmanager.has_plugin("dsession"):
            self.history = None  # the xdist controller runs no test: workers read it

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        budgeted = False
        unmeasured: collections.Counter[str] = collections.Counter()
        for item in items:
            kind = _unmeasured_kind(item) if self.settings.entries else None
            if kind is not None and self.settings.entry_for(item.nodeid) is not None:
                unmeasured[kind] += 1
            if not isinstance(item, pytest.Function):
                continue
            try:
                budget = _budget_of(item, self.settings)
            except BudgetError as error:
                item.stash[budget_error_key] = f"{item.nodeid}: {MARKER} {error}"
                budgeted = True
                continue
            if budget is not None:
                item.stash[budget_key] = budget
                budgeted = True
        if unmeasured:
            self.notice(_unmeasured_notice(unmeasured))
        if self.history is not None:
            _read_baselines(self.history, self.machine, items)
            # A large history is millions of lists: every garbage collection (and the memory
            # probe collects before its calls) would traverse them for the rest of the run.
            self.history = None
        if budgeted and not config.pluginmanager.has_plugin(BudgetedTestHooks.name):
            config.pluginmanager.register(BudgetedTestHooks(self), BudgetedTestHooks.name)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """In a paired run, start the control with the budgeted tests to pair."""
        option = self.config.option
        if self.against is None or option.collectonly or option.setuponly or option.setupplan:
            return
        tests = [
            item.nodeid
            for item in session.items
            if budget_key in item.stash and budget_error_key not in item.stash
        ]
        if not tests:
            return
        from .against import AgainstError, start_pairing
        from .pairing import pinning_cpu

        cpu = pinning_cpu()
        try:
            self.pairing, notices = start_pairing(
                self.against,
                rootdir=self.config.rootpath,
                inifile=self.config.inipath,
                options=_control_options(self.config),
                tests=tests,
                modules=sys.modules,
                cpu=cpu,
            )
        except AgainstError as error:
            raise pytest.UsageError(str(error)) from None
        # however the run ends, and after the report, which the control's exit overlaps
        self.config.add_cleanup(self.pairing.close)
        for notice in notices:
            self.notice(notice)
        if cpu is None:
            self.notice(
                "pytest-perfbudget: this platform cannot pin a process to a CPU, so the "
                "pairs were measured unpinned"
            )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: take a finished worker's results."""
        worker = node.workerinput.get("workerid", "?")
        workeroutput = getattr(node, "workeroutput", None)
        if workeroutput is None:  # it crashed: what it measured is gone with it
            self.problems.append(
                f"pytest-perfbudget: xdist worker {worker} crashed: the results of the tests "
                "it ran are lost"
            )
            return
        payload = workeroutput.get(WORKER_PAYLOAD)
        for notice in workeroutput.get(WORKER_NOTICES, []):
            self.notice(notice)
        if isinstance(payload, list):
            results = map(PerfResult.from_json, payload)
            self.results.update((result.nodeid, result) for result in results)
        elif error is None:
            self.problems.append(
                f"pytest-perfbudget: xdist worker {worker} finished without sending its results"
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = self.config
        if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
            config.workeroutput[WORKER_PAYLOAD] = [  # type: ignore[attr-defined]
                result.to_json() for result in self.results.values()
            ]
            config.workeroutput[WORKER_NOTICES] = self.notices  # type: ignore[attr-defined]
            return
        traced = [result for result in self.results.values() if result.tracer]
        if traced:
            self.notice(traced_notice(traced, saving=self.saving))
        if self.saving and self.problems:
            self.problems.append("--perf-save: the history was not saved: results are missing")
        elif self.saving:
            self._save_history()
        if self.report_path is not None:
            try:
                write_json_atomic(self.report_path, json_report(self.results.values()))
            except OSError as error:
                self.problems.append(f"--perf-report: cannot write {self.report_path}: {error}")
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
        if _in_github_actions() and summary_file and self.results:
            try:
                with open(summary_file, "a", encoding="utf-8") as summary:
                    rows = summary_rows(self.results.values())
                    summary.write(markdown_table(rows, self._header()))
            except OSError as error:
                self.notice(f"GITHUB_STEP_SUMMARY: cannot append to it: {error}")
        if self.problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _header(self, *, rounds: bool = False) -> tuple[str, ...]:
        return summary_header(None if self.against is None else self.against.name, rounds=rounds)

    def _save_history(self) -> None:
        """Save this run's results, but those measured under a tracer; nothing when none is
        left (and a notice when nothing was measured at all)."""
        results = [result.saved() for result in self.results.values() if not result.tracer]
        if not self.results:
            self.notice("--perf-save: no budgeted test was measured, so nothing was saved")
        if not results:
            return
        commit, branch = git_revision(self.config.rootpath)
        run = RunInfo(
            machine=self.machine,
            machine_description=machine_description(),
            time=RunInfo.now_utc(),
            commit=commit,
            branch=branch,
        )
        try:
            save_results(self.settings.history, run, results, self.settings.keep)
        except (OSError, HistoryError) as error:
            self.problems.append(f"--perf-save: the history was not saved: {error}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        results = list(self.results.values())
        if terminalreporter.verbosity < 0:
            results = [result for result in results if result.verdict != "pass"]
        notes = note_lines(self.results.values(), every=terminalreporter.verbosity > 0)
        if results or notes:
            terminalreporter.section("performance budgets")
        if results:
            verbose = terminalreporter.verbosity > 0
            rows = summary_rows(results, rounds=verbose)
            for line in table_lines(rows, self._header(rounds=verbose)):
                terminalreporter.write_line(line)
        for line in notes:
            terminalreporter.write_line(line, yellow=True)
        for problem in self.problems:
            terminalreporter.write_line(problem, red=True)
        for notice in self.notices:
            terminalreporter.write_line(notice, yellow=True)
        if _in_github_actions():
            for result in self.results.values():
                if result.verdict == "fail" and result.file:
                    file = workspace_path(self.config.rootpath, result.file, os.environ)
                    terminalreporter.write_line(error_annotation(result, file, result.line))


#: The items of each kind that a budget entry can match but not measure: what one and
#: several are called, and why they are not measured.
UNMEASURED = {
    "doctest": (
        "doctest",
        "doctests",
        "a doctest's time is mostly doctest's own compiling and checking of its examples, "
        "and pytest's doctest run clears their namespace, so it cannot run again as it was: "
        "budget the code it shows in a test function",
    ),
    "unittest": (
        "unittest.TestCase test",
        "unittest.TestCase tests",
        "pytest runs them through unittest, which calls them once: make them plain test "
        "functions or methods",
    ),
    "other": (
        "item of another plugin",
        "items of other plugins",
        "only a Python test function's call can be measured",
    ),
}


def _unmeasured_kind(item: pytest.Item) -> str | None:
    """The kind of ``item`` (a key of :data:`UNMEASURED`) when a budget entry cannot
    measure it, else None."""
    if any(cls.__name__ == "DoctestItem" for cls in type(item).__mro__):  # pytest's own
        return "doctest"
    if not isinstance(item, pytest.Function):
        return "other"
    if (
        item.cls is not None
        and issubclass(item.cls, unittest.TestCase)
        and item.get_closest_marker(MARKER) is None  # with one, it is an error of the test
    ):
        return "unittest"
    return None


def _unmeasured_notice(counts: collections.Counter[str]) -> str:
    """One line for the end of the run: how many items budget entries matched but could
    not measure, and why."""
    total = sum(counts.values())
    reasons = []
    for kind, count in counts.items():
        one, many, why = UNMEASURED[kind]
        reasons.append(f"{count} {one if count == 1 else many} ({why})")
    return (
        f"pytest-perfbudget: {total} {'item' if total == 1 else 'items'} matched by "
        f"[[tool.perfbudget.budget]] could not be measured and ran as plain tests: "
        f"{'; '.join(reasons)}"
    )


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


def _plugin_args(args: Sequence[str]) -> list[str]:
    """The ``-p NAME`` plugins given on the command line."""
    plugins = []
    for index, arg in enumerate(args):
        if arg == "-p" and index + 1 < len(args):
            plugins.append(args[index + 1])
        elif arg.startswith("-p") and len(arg) > 2:
            plugins.append(arg[2:])
    return plugins


def _control_options(config: pytest.Config) -> list[str]:
    """The options that decide how the control collects and imports the tests as the
    candidate does: plugins, ini overrides, the import mode, warning filters. (It is given
    the files of the tests to pair, the rootdir and the configuration file.)"""
    options: list[str] = []
    for plugin in _plugin_args(config.invocation_params.args):
        options += ["-p", plugin]
    for override in config.getoption("override_ini") or []:
        options += ["-o", override]
    options.append(f"--import-mode={config.getoption('importmode')}")
    for warning in config.getoption("pythonwarnings") or []:
        options += ["-W", warning]
    return options


def _in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"
