"""Each budgeted test's run: measure its call (or let ``perf`` or pytest-benchmark measure
inside it), judge it, profile it when it failed, and put the verdict in its own report.

An ``async def`` test is measured on its own event loop: its framework (pytest-asyncio,
anyio, pytest-trio) runs a coroutine function of ours in its place, which awaits it for
the rounds. The steps of measuring a test are written once (:meth:`_steps`), carried out
by a call or an ``await`` each.

:class:`BudgetedTestHooks` is registered only once collection found a budgeted test, so a
suite without budgets never calls these hooks.

Over 450 lines: one budgeted test's run from setup to report, sync and async, is one
sequence of hooks sharing one set of steps, clearer read in one place than split.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Awaitable, Callable, Generator
from types import CodeType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import pytest

from .baseline import Baseline
from .budget import Budget, PerfBudgetWarning
from .ci import junit_properties
from .integrations import (
    BenchmarkStandIn,
    MeasuredBenchmark,
    benchmark_disabled,
    benchmark_timings,
)
from .measure import MEMORY_ROUNDS, Clock, Rounds, Sampler, with_external_timings
from .memory import MemoryProbe, default_memory_probe
from .meter import PerfMeter
from .profile import Profile, ProfileError, profile_calls, profile_filename
from .result import PerfResult, judge
from .steps import run_steps, run_steps_async
from .stopping import fewest_to_settle, regression_verdict, settled

if TYPE_CHECKING:
    from .against import PairedSampler
    from .paired import PairingData
    from .session import PerfSession

__all__ = ["MARKER", "BudgetedTestHooks", "baseline_key", "budget_error_key", "budget_key"]

MARKER = "perf_budget"
CLOCK = Clock()
#: A test saved as a baseline (--perf-save), or compared with one, is measured for at
#: least this many calls before it stops for certainty: a baseline keeps 16 order
#: statistics of a run's calls, and a run compared with it must be as steady
#: (docs/explanation/stopping.md, "What a baseline needs").
BASELINE_ROUNDS = 100
PROFILE_SECTION = "perf profile"
BENCHMARK_DISABLED = (
    "pytest-perfbudget: pytest-benchmark is disabled (--benchmark-disable, or under xdist), "
    "so the budgets of tests that use its benchmark fixture were not judged"
)

budget_key = pytest.StashKey[Budget]()
#: Why a test's budget cannot be judged (a bad marker, saved results it cannot use).
budget_error_key = pytest.StashKey[str]()
baseline_key = pytest.StashKey[Baseline]()
sampler_key = pytest.StashKey[Sampler]()
result_key = pytest.StashKey[PerfResult]()
profile_key = pytest.StashKey["Profile | str"]()
#: Which call of a repeated test failed, for its report.
repeated_call_key = pytest.StashKey[str]()
REPEATED_CALL_SECTION = "perf budget: the test was called repeatedly"
#: An async test, measured by the coroutine function put in its place.
awaited_key = pytest.StashKey[bool]()
ASYNC_NOT_PAIRED = "async tests are not paired yet"


class _Measure(NamedTuple):
    """A step of :meth:`BudgetedTestHooks._steps`: measure the test's calls over rounds.
    The other step, None, calls the test once."""

    rounds: Rounds
    warmup: int
    max_time: float


class BudgetedTestHooks:
    """The per-test hooks, registered only once a collected test has a budget."""

    name = "perfbudget-tests"

    def __init__(self, session: PerfSession) -> None:
        self._session = session
        self._memory_probe: MemoryProbe | None = None
        #: Each judged test's result until its call report is logged: pytest-rerunfailures
        #: logs an attempt that it runs again with the outcome "rerun", which is no result.
        self._judged: dict[str, tuple[pytest.Item, PerfResult]] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        error = item.stash.get(budget_error_key, None)
        if error is not None:
            pytest.fail(error, pytrace=False)
        budget = item.stash.get(budget_key, None)
        if budget is not None:
            if self._memory_probe is None:
                self._memory_probe = default_memory_probe()
            pairing = self._session.pairing
            sampler: Sampler
            if pairing is None or _is_async(item):
                sampler = Sampler(CLOCK, self._memory_probe)
                if self._session.settings.rounds == "certain":
                    self._stop_when_settled(item, sampler, budget)
            else:
                from .against import PairedSampler

                sampler = PairedSampler(
                    CLOCK,
                    self._memory_probe,
                    pairing,
                    item.nodeid,
                    budget.regression,
                    throughput=budget.limits_metric("throughput"),
                )
            sampler.collect_all_first = budget.limits_metric("memory") and _may_read_once(
                item, budget
            )
            item.stash[sampler_key] = sampler

    def _stop_when_settled(self, item: pytest.Item, sampler: Sampler, budget: Budget) -> None:
        """Make ``sampler`` stop once what it measured settles every verdict of the test:
        its limits and, with a baseline, the regression check (not under a tracer, which
        is not compared), looking also at the fewest calls that can. A run that is saved,
        or compared with a baseline, measures :data:`BASELINE_ROUNDS` calls at least."""
        baseline = item.stash.get(baseline_key, None)
        verdict = None
        if baseline is not None and self._session.pairing is None:
            throughput = budget.limits_metric("throughput")
            verdict = regression_verdict(baseline, budget.regression, throughput=throughput)
        least = BASELINE_ROUNDS if self._session.saving or verdict is not None else 0

        def enough() -> bool:
            measurement = sampler.measurement(budget.ops)
            if measurement is None:
                return False
            if measurement.tracer is not None:  # neither compared nor saved: limits only
                return settled(budget, measurement, None, memory_done=sampler.memory_done)
            if sampler.recorded < least:
                return False
            return settled(budget, measurement, verdict, memory_done=sampler.memory_done)

        sampler.enough = enough
        sampler.look_at = max(least, fewest_to_settle(budget))

    def _judge(
        self,
        item: pytest.Item,
        sampler: Sampler,
        benchmark: object = None,
        paired: PairingData | None = None,
    ) -> PerfResult | None:
        """The test's result from what ``sampler`` measured, or None when it measured
        nothing; with pytest-benchmark's ``benchmark`` fixture, judged on its timings, with
        the memory and CPU share measured around its whole run."""
        budget = item.stash[budget_key]
        measurement = sampler.measurement(budget.ops)
        if measurement is not None and benchmark is not None:
            timings = benchmark_timings(benchmark)
            measurement = with_external_timings(measurement, timings) if timings else None
        if measurement is None:
            return None
        file, line, _ = item.location
        pairing = self._session.pairing
        return judge(
            item.nodeid,
            budget,
            measurement,
            item.stash.get(baseline_key, None),
            warn_only=self._session.warn_only,
            accept=self._session.accept,
            file=file,
            line=None if line is None else line + 1,
            paired=paired,
            against=None if pairing is None else pairing.against,
        )

    def _profile(
        self, item: pytest.Function, code: CodeType | None
    ) -> Generator[None, object, Profile | str]:
        """The test's profile, or a one-line reason why there is none; yields for each
        call of the test to profile."""
        profile_dir = self._session.profile_dir
        try:
            profile = yield from profile_calls(
                code, html=profile_dir is not None, awaited=awaited_key in item.stash
            )
        except ProfileError as error:
            return f"no profile: {error}"
        if profile.html is not None and profile_dir is not None:
            target = profile_dir / profile_filename(item.nodeid)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(profile.html, encoding="utf-8")
            except OSError as error:
                self._session.notice(
                    f"--perf-profile-dir: cannot write {target}: {error}; "
                    "no more HTML profiles are written"
                )
                self._session.profile_dir = None
        return profile

    def _benchmark(self, item: pytest.Function) -> tuple[bool, object]:
        """Whether the test is measured, and pytest-benchmark's fixture when it uses it;
        under ``--benchmark-disable`` nothing is timed, so nothing is judged."""
        benchmark = item.funcargs.get("benchmark") if _uses_benchmark(item) else None
        if benchmark is not None and benchmark_disabled(benchmark):
            self._session.notice(BENCHMARK_DISABLED)
            return False, None
        return True, benchmark

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, object, object]:
        """Measure the test call (or let the ``perf`` fixture or pytest-benchmark measure
        inside it), measure once more, pooling the samples, when the result looks like a
        regression, and profile the test once judged when it failed (or when asked to)."""
        sampler = pyfuncitem.stash.get(sampler_key, None)
        if sampler is None or awaited_key in pyfuncitem.stash:
            return (yield)
        measured, benchmark = self._benchmark(pyfuncitem)
        if not measured:
            return (yield)
        test_function = pyfuncitem.obj

        def measured_test_function(**kwargs: Any) -> object:
            call = _counted(pyfuncitem, lambda: test_function(**kwargs))

            def perform(step: _Measure | None) -> object:
                if step is None:
                    return call()
                return sampler.run(
                    call, rounds=step.rounds, warmup=step.warmup, max_time=step.max_time
                )

            steps = self._steps(pyfuncitem, sampler, test_function, kwargs, benchmark)
            return run_steps(steps, perform)

        pyfuncitem.obj = measured_test_function
        try:
            return (yield)
        finally:
            pyfuncitem.obj = test_function

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """An async test: put a coroutine function in its place that awaits it for the
        rounds, before its framework takes it to run on the test's event loop (first:
        pytest-trio takes it in a hook wrapper of its own). When no framework runs it,
        pytest fails it (or skips it) as it would without a budget."""
        sampler = item.stash.get(sampler_key, None)
        if sampler is None or not isinstance(item, pytest.Function) or not _is_async(item):
            return (yield)
        measured, benchmark = self._benchmark(item)
        if not measured:
            return (yield)
        test_function = item.obj

        async def measured_test_function(**kwargs: Any) -> object:
            call = _counted_async(item, lambda: test_function(**kwargs))

            async def perform(step: _Measure | None) -> object:
                if step is None:
                    return await call()
                return await sampler.run_async(
                    call, rounds=step.rounds, warmup=step.warmup, max_time=step.max_time
                )

            steps = self._steps(item, sampler, test_function, kwargs, benchmark)
            return await run_steps_async(steps, perform)

        item.obj = measured_test_function
        item.stash[awaited_key] = True
        try:
            return (yield)
        finally:
            item.obj = test_function

    def _steps(
        self,
        item: pytest.Function,
        sampler: Sampler,
        test_function: Callable[..., object],
        kwargs: dict[str, Any],
        benchmark: object,
    ) -> Generator[_Measure | None, object, object]:
        """A budgeted test's call measured, judged, and profiled when it failed (or when
        asked to): each step yielded, measuring rounds (:class:`_Measure`) or calling the
        test once (None), for the caller to carry out and send back the test's result;
        returns the test's last result. ``kwargs`` are the test's arguments, which the
        calls read."""
        budget = item.stash[budget_key]
        measured = (
            None
            if "perf" in item.fixturenames
            else _Measure(budget.rounds, budget.warmup, budget.max_time)
        )
        alone = self._alone()
        sampler.note_machine_speed()
        if self._session.pairing is not None and awaited_key not in item.stash:
            paired = cast("PairedSampler", sampler)
            result, judged = yield from self._paired_steps(item, paired, kwargs, measured)
        elif benchmark is not None:
            result = yield _Measure(rounds=1, warmup=0, max_time=0.0)
            sampler.note_machine_speed()
            judged = self._judge(item, sampler, benchmark, alone)
        else:
            result = yield measured
            sampler.note_machine_speed()
            judged = self._judge(item, sampler, paired=alone)
            if judged is not None and judged.regressed and budget.rounds != 1:
                # confirm: measured again for max_time, not stopped at the first look
                # (the samples so far settle it already), and judged on both measurements
                sampler.enough = None
                result = yield measured
                sampler.note_machine_speed()
                judged = self._judge(item, sampler, paired=alone)
        sampler.stop_recording()
        if judged is None:
            return result
        item.stash[result_key] = judged
        if judged.verdict == "fail" or self._session.profile_all:
            if benchmark is not None:
                kwargs["benchmark"] = BenchmarkStandIn(benchmark)
            code = getattr(inspect.unwrap(test_function), "__code__", None)
            item.stash[profile_key] = yield from self._profile(item, code)
        return result

    def _alone(self) -> PairingData | None:
        """In a paired run, why a test measured by a plain sampler (an async test) has no
        paired verdict; else None."""
        if self._session.pairing is None:
            return None
        from .paired import PairingData

        return PairingData(unpaired=ASYNC_NOT_PAIRED)

    def _paired_steps(
        self,
        item: pytest.Function,
        sampler: PairedSampler,
        kwargs: dict[str, Any],
        measured: _Measure | None,
    ) -> Generator[_Measure | None, object, tuple[object, PerfResult | None]]:
        """The steps of a test whose measuring points pair with the control's; then wait
        for the control to finish its counterpart. The result and the judged test."""
        sampler.start()
        if "benchmark" in kwargs:
            budget = item.stash[budget_key]
            kwargs["benchmark"] = MeasuredBenchmark(kwargs["benchmark"], sampler, budget)
            measured = None
        try:
            result = yield measured
        except (KeyboardInterrupt, SystemExit):
            sampler.pairing.abandon()  # the run stops now: the control is not waited for
            raise
        finally:
            sampler.finish()
        sampler.note_machine_speed()
        return result, self._judge(item, sampler, paired=sampler.data)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if report.when != "call" or sampler_key not in item.stash:
            return report
        del item.stash[sampler_key]
        judged = item.stash.get(result_key, None)
        profile = item.stash.get(profile_key, None)
        if result_key in item.stash:
            del item.stash[result_key]
        if profile_key in item.stash:
            del item.stash[profile_key]
        repeated = item.stash.get(repeated_call_key, None)
        if repeated is not None:
            del item.stash[repeated_call_key]
            if report.failed and repeated not in str(report.longrepr):
                report.sections.append((REPEATED_CALL_SECTION, repeated))
        unawaited = _unawaited(item)  # closed however the test ended: Python would warn
        if not report.passed or hasattr(report, "wasxfail"):
            return report
        if unawaited:
            report.outcome = "failed"
            report.longrepr = "\n".join(
                f"{item.nodeid}: perf({name}, ...) was never awaited, so nothing of it was "
                f"measured: for a coroutine function perf returns a coroutine that measures "
                f"when awaited: `await perf({name.rpartition('.')[2]}, ...)`"
                for name in unawaited
            )
            return report
        if judged is None:
            if not _benchmark_disabled(item):
                report.outcome = "failed"
                report.longrepr = f"{item.nodeid}: {MARKER} {_measured_nothing(item)}"
            return report
        self._judged[item.nodeid] = (item, judged)
        properties = list(junit_properties(judged))
        item.user_properties.extend(properties)  # the teardown report, which junitxml reads
        report.user_properties.extend(properties)
        failures = list(judged.messages) if judged.verdict == "fail" else []
        warned = list(judged.messages) if judged.verdict == "warn" else []
        # notes ask for no action: they are shown with the summary table, never as
        # warnings, which a warning filter could make fail the test
        failures += [
            f"{PerfBudgetWarning.__name__}: {message}"
            for message in warned
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
            item, result = judged
            self._session.results[item.nodeid] = result
            item.ihook.pytest_perfbudget_result(item=item, result=result.to_json())


def _may_read_once(item: pytest.Item, budget: Budget) -> bool:
    """Whether the test may get too few memory readings to redo one that a full garbage
    collection during its call made suspect: a few rounds asked for, pytest-benchmark's
    one call around its whole run, or ``perf`` measuring as the test decides."""
    few = isinstance(budget.rounds, int) and budget.rounds <= MEMORY_ROUNDS
    return few or _uses_benchmark(item) or "perf" in getattr(item, "fixturenames", ())


def _counted(item: pytest.Item, call: Callable[[], object]) -> Callable[[], object]:
    """``call``, the test function, as the sampler calls it over and over (warmup and
    measured rounds): a call after the first that fails says so, as many tests cannot run
    twice in one setup (a warning issued once per process, a file made in ``tmp_path``,
    state the first call used up) and their failures would not tell. A closure, not an
    object: it runs inside every measured call, and a Python function is the cheapest
    call."""
    calls = 0

    def counted_call() -> object:
        nonlocal calls
        calls += 1
        try:
            return call()
        except (Exception, pytest.fail.Exception) as error:  # not a skip or an exit
            if calls > 1:
                _explain(item, error, _repeated_call_failed(calls))
            raise

    return counted_call


def _counted_async(
    item: pytest.Item, call: Callable[[], Awaitable[object]]
) -> Callable[[], Awaitable[object]]:
    """:func:`_counted` for an async test's calls, each awaited."""
    calls = 0

    async def counted_call() -> object:
        nonlocal calls
        calls += 1
        try:
            return await call()
        except (Exception, pytest.fail.Exception) as error:  # not a skip or an exit
            if calls > 1:
                _explain(item, error, _repeated_call_failed(calls))
            raise

    return counted_call


def _is_async(item: pytest.Item) -> bool:
    """Whether the test function is a coroutine function, which its framework runs (an
    async generator is none: pytest-asyncio marks it xfail)."""
    return inspect.iscoroutinefunction(getattr(item, "obj", None))


def _repeated_call_failed(number: int) -> str:
    """What a failure of call ``number`` of a budgeted test, after the first passed, means
    and how to avoid it."""
    passed = "call 1" if number == 2 else f"calls 1 to {number - 1}"
    return (
        f"pytest-perfbudget: call {number} of this test failed after {passed} passed: a "
        "budgeted test is called repeatedly in one setup (warmup and measured rounds). If it "
        "cannot run twice, measure only the part that can repeat with the perf fixture "
        "(perf(func), or `with perf.measure():`), or call it once: rounds=1 (no warm-up then)."
    )


def _explain(item: pytest.Item, error: BaseException, note: str) -> None:
    """Add ``note`` to the failure: under the exception's line where Python has exception
    notes, and as a section of the test's report where the failure does not show it
    (before Python 3.11, or for ``pytest.fail(..., pytrace=False)``)."""
    if sys.version_info >= (3, 11):
        error.add_note(note)
    item.stash[repeated_call_key] = note


def _warned(item: pytest.Item, message: str) -> bool:
    """Issue ``message`` as a warning of ``item``; False when the warning filters made it
    an error (``-W error``, ``filterwarnings = error``): then it fails the test."""
    try:
        item.warn(PerfBudgetWarning(message))
    except PerfBudgetWarning:
        return False
    return True


def _unawaited(item: pytest.Item) -> list[str]:
    """The functions the test handed ``perf`` whose coroutine it never awaited."""
    meter = getattr(item, "funcargs", {}).get("perf")
    return meter.close_unawaited() if isinstance(meter, PerfMeter) else []


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
