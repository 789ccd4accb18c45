"""The pytest side of pytest-perfbudget: options, the marker, the ``perf`` fixture, and
the session plugin that does the rest (:mod:`.session`, :mod:`.runtest`)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from . import hookspecs
from .environment import machine_description, machine_fingerprint
from .history import History, HistoryError
from .meter import PerfMeter
from .runtest import MARKER, budget_key, sampler_key
from .session import PerfSession
from .settings import (
    INI_KEYS,
    OVERRIDE,
    ConfigError,
    IniOption,
    Settings,
    expand_path,
    load_settings,
)


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
        "--perf-rounds",
        metavar="MODE",
        default=None,
        help="rounds='auto': 'certain' stops measuring a test once its verdicts are "
        "certain (the default), 'full' measures each test for its max_time",
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
        "--perf-against",
        metavar="REF",
        default=None,
        help="measure each budgeted test against its counterpart at git revision REF "
        "(origin/main, HEAD~1, a tag, a sha), in alternating blocks in this run",
    )
    group.addoption(
        "--perf-against-python",
        metavar="PATH",
        default=None,
        help="the same, the counterpart run by the interpreter PATH (another virtual "
        "environment); with --perf-against, REF's code run by it",
    )
    group.addoption("--perf-control", action="store_true", help=argparse.SUPPRESS)
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
        "rounds": "rounds='auto' stops once every verdict is certain ('certain', the "
        "default) or measures for max_time ('full')",
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


def _ini_source(config: pytest.Config, name: str) -> str:
    """Where pytest took the ini option ``name`` from: ``-o``, else its configuration
    file."""
    overrides: list[str] = config.getoption("override_ini") or []
    if any(override.partition("=")[0].strip() == name for override in overrides):
        return OVERRIDE
    return str(config.inipath) if config.inipath is not None else "ini"


def _settings(config: pytest.Config, *, paired: bool) -> Settings:
    ini = {
        key: IniOption(str(config.getini(f"perf_{key}")), _ini_source(config, f"perf_{key}"))
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
    rounds_flag: str | None = config.getoption("perf_rounds")
    if rounds_flag is not None:
        flags["rounds"] = rounds_flag
    try:
        return load_settings(
            rootdir=config.rootpath,
            pyproject=_pyproject(config),
            ini=ini,
            flags=flags,
            paired=paired,
        )
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None


def _machine(config: pytest.Config) -> str:
    """The key baselines are filed under: the machine (or the label a hook gives), and how
    many xdist workers share it, since workers on the same cores slow each other in ways
    the reference kernel does not see: a baseline saved serially is not one under -n 2."""
    label = config.hook.pytest_perfbudget_fingerprint(config=config)
    key = str(label) if label is not None else machine_fingerprint(machine_description())
    workers = _workers(config)
    return key if workers == 1 else f"{key} x{workers}"


def _workers(config: pytest.Config) -> int:
    """How many xdist workers run the tests at once (1 without xdist)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return int(workerinput.get("workercount", 1))
    if not config.pluginmanager.has_plugin("xdist") or config.getoption("dist", "no") == "no":
        return 1
    return max(1, len(config.getoption("tx", None) or []))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(p95=..., memory=..., throughput=..., ...): performance budget of the "
        "test; see the pytest-perfbudget docs for every keyword.",
    )
    if config.getoption("perf_control"):
        _register_control(config)
        return
    revision: str | None = config.getoption("perf_against")
    python: str | None = config.getoption("perf_against_python")
    paired = revision is not None or python is not None
    if config.getoption("perf_disable"):
        if paired:
            raise pytest.UsageError(
                "--perf-against compares measurements and --perf-disable measures nothing: "
                "give one of them"
            )
        return
    settings = _settings(config, paired=paired)
    against = None
    if paired:
        from .against import AgainstError, resolve_against  # a paired run's only

        if _runs_xdist(config):
            raise pytest.UsageError(
                "--perf-against pairs each test with its counterpart from one process: it "
                "cannot run under pytest-xdist (-n); drop -n for the paired run"
            )
        try:
            paths = [config.invocation_params.dir / arg.partition("::")[0] for arg in config.args]
            against = resolve_against(revision, python, [config.rootpath, *paths])
        except AgainstError as error:
            raise pytest.UsageError(str(error)) from None
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
    comparing = not config.getoption("perf_no_compare") and not paired
    history = None
    if saving or comparing:
        try:  # read when saving too, so that a broken file stops the run before it starts
            history = History.load(settings.history)
        except HistoryError as error:
            raise pytest.UsageError(str(error)) from None
    session = PerfSession(
        config=config,
        settings=settings,
        warn_only=bool(config.getoption("perf_warn_only")),
        history=history if comparing else None,
        machine=_machine(config),
        report_path=report_path,
        saving=saving,
        accept=bool(config.getoption("perf_accept")),
        profile_all=bool(config.getoption("perf_profile")),
        against=against,
    )
    profile_dir_flag: str | None = config.getoption("perf_profile_dir")
    if profile_dir_flag is not None:
        profile_dir = _flag_path(config, profile_dir_flag)
        if _writable(profile_dir / "profile.html"):
            session.profile_dir = profile_dir
        else:
            session.notice(
                f"--perf-profile-dir={profile_dir_flag}: cannot write there; "
                "no HTML profiles were written"
            )
    config.pluginmanager.register(session, PerfSession.name)


def _runs_xdist(config: pytest.Config) -> bool:
    """Whether pytest-xdist distributes this run to workers (or this is one of them)."""
    if hasattr(config, "workerinput"):
        return True
    if not config.pluginmanager.has_plugin("xdist"):
        return False
    workers = config.getoption("numprocesses", None)
    return bool(workers) or config.getoption("dist", "no") != "no"


def _register_control(config: pytest.Config) -> None:
    """This process is the control of a paired run: the candidate drives it."""
    from .channel import FD_VARIABLE, Channel
    from .control import ControlSession

    fd = os.environ.get(FD_VARIABLE)
    if fd is None or not fd.isdigit():
        raise pytest.UsageError("--perf-control is used by --perf-against only")
    config.pluginmanager.register(ControlSession(Channel.inherited(int(fd))), ControlSession.name)


@pytest.fixture
def perf(request: pytest.FixtureRequest) -> PerfMeter:
    """Measure the code a test hands it: ``perf(func, *args)`` or ``with perf.measure():``."""
    sampler = request.node.stash.get(sampler_key, None)
    budget = request.node.stash.get(budget_key, None)
    if sampler is None or budget is None:
        return PerfMeter(None, rounds=1, warmup=0, max_time=0.0)
    return PerfMeter(sampler, rounds=budget.rounds, warmup=budget.warmup, max_time=budget.max_time)
