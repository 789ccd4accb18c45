"""Run-wide settings from flags, ``[tool.perfbudget]`` and ``perf_*`` ini options.

Precedence: command-line flag > pyproject.toml > ini option > built-in default (a marker
keyword beats all of them, in :mod:`budget`). The plugin gets the ini options from pytest;
the ``perfbudget`` tool finds the files as pytest would (:func:`find_project`).
"""

from __future__ import annotations

import configparser
import dataclasses
import fnmatch
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypeVar

from .budget import (
    DEFAULT_REGRESSION,
    OPTION_KEYWORDS,
    PAIRED_REGRESSION,
    Budget,
    BudgetError,
    Defaults,
    build_budget,
    parse_regression,
)
from .metrics import LIMIT_KEYWORDS
from .units import UnitError, parse_count, parse_duration

__all__ = [
    "INI_KEYS",
    "OVERRIDE",
    "ConfigError",
    "IniOption",
    "Project",
    "Settings",
    "expand_path",
    "find_project",
    "load_settings",
    "read_pyproject",
]

DEFAULT_HISTORY = ".perf/history.json"
#: The settings a ``[tool.perfbudget]`` table, a ``perf_*`` ini option or a flag can give.
INI_KEYS = ("history", "warmup", "max_time", "regression", "keep", "rounds")
DEFAULT_KEEP = 50
TABLE = "[tool.perfbudget]"


class ConfigError(ValueError):
    """An invalid configuration value; the message names the file, the key and the value."""


#: The source of an ini option given with pytest's ``-o``/``--override-ini``.
OVERRIDE = "-o"


@dataclasses.dataclass(frozen=True)
class IniOption:
    """A ``perf_*`` ini option as pytest read it: its raw string and where it came from,
    the configuration file or :data:`OVERRIDE`."""

    value: str
    source: str

    def describe(self, key: str) -> str:
        """``-o perf_max_time`` or ``tox.ini: perf_max_time``, for errors."""
        if self.source == OVERRIDE:
            return f"{OVERRIDE} perf_{key}"
        return f"{self.source}: perf_{key}"


@dataclasses.dataclass(frozen=True)
class BudgetEntry:
    """A ``[[tool.perfbudget.budget]]`` entry: a node id glob and the budget it gives."""

    match: str
    budget: Budget


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything configured for a run."""

    defaults: Defaults = dataclasses.field(default_factory=Defaults)
    history: Path = Path(DEFAULT_HISTORY)
    keep: int = DEFAULT_KEEP
    entries: tuple[BudgetEntry, ...] = ()
    #: ``rounds="auto"`` stops once every verdict is settled (``certain``), or measures
    #: for ``max_time`` (``full``).
    rounds: Literal["certain", "full"] = "certain"

    def budget_for(
        self, nodeid: str, marker_keywords: Mapping[str, object] | None
    ) -> Budget | None:
        """The budget of a test: its marker's, else the last matching entry's, else None.

        An entry matches by glob, or by being the node id itself: ``test_x[en]`` as a glob
        would match only ``test_xe`` and ``test_xn``.
        Raises :class:`BudgetError` when the marker's keywords are invalid.
        """
        if marker_keywords is not None:
            return build_budget(marker_keywords, self.defaults)
        entry = self.entry_for(nodeid)
        return None if entry is None else entry.budget

    def entry_for(self, nodeid: str) -> BudgetEntry | None:
        """The last budget entry that matches ``nodeid`` (see :meth:`budget_for`)."""
        for entry in reversed(self.entries):
            if entry.match == nodeid or fnmatch.fnmatchcase(nodeid, entry.match):
                return entry
        return None


def _read_toml(path: Path) -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib

    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it as TOML: {error}") from None


def _tool_table(document: Mapping[str, object], *keys: str) -> object:
    """``document["tool"][keys[0]]...``, or None where a level is missing."""
    table: object = document.get("tool")
    for key in keys:
        table = table.get(key) if isinstance(table, dict) else None
    return table


def read_pyproject(path: Path) -> Mapping[str, object]:
    """The ``[tool.perfbudget]`` table of a pyproject.toml, empty when it has none."""
    table = _tool_table(_read_toml(path), "perfbudget")
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {TABLE} must be a table, got {table!r}")
    return table


@dataclasses.dataclass(frozen=True)
class Project:
    """Where pytest, run in a directory without arguments, finds its configuration."""

    rootdir: Path
    #: The configuration file pytest reads (pytest.ini, pyproject.toml, tox.ini, setup.cfg).
    inifile: Path | None
    #: The pyproject.toml whose ``[tool.perfbudget]`` applies, if any.
    pyproject: Path | None


#: Where each configuration file keeps pytest's options, in the order pytest looks.
_INI_SECTIONS = (
    ("pytest.ini", "pytest"),
    (".pytest.ini", "pytest"),
    ("pyproject.toml", "tool.pytest.ini_options"),
    ("tox.ini", "pytest"),
    ("setup.cfg", "tool:pytest"),
)


def _pytest_table(pyproject: Mapping[str, object]) -> dict[str, object] | None:
    """pytest's options in a pyproject.toml: ``[tool.pytest.ini_options]``, or since
    pytest 9 ``[tool.pytest]`` itself."""
    table = _tool_table(pyproject, "pytest")
    if not isinstance(table, dict):
        return None
    options = table.get("ini_options", table)
    return options if isinstance(options, dict) else None


def _has_pytest_section(path: Path, section: str) -> bool:
    if path.name.endswith("pytest.ini"):
        return True  # pytest takes it even when it is empty
    if path.suffix == ".toml":
        return _pytest_table(_read_toml(path)) is not None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None
    return parser.has_section(section)


def find_project(directory: Path) -> Project:
    """The configuration pytest finds from ``directory`` with no arguments: the first of
    its configuration files, in this directory or the nearest parent, that has a pytest
    section (its directory is the rootdir); else the nearest pyproject.toml; else
    ``directory`` itself."""
    directory = directory.resolve()
    for folder in (directory, *directory.parents):
        for name, section in _INI_SECTIONS:
            candidate = folder / name
            if candidate.is_file() and _has_pytest_section(candidate, section):
                pyproject = folder / "pyproject.toml"
                return Project(folder, candidate, pyproject if pyproject.is_file() else None)
    for folder in (directory, *directory.parents):
        if (folder / "pyproject.toml").is_file():
            pyproject = folder / "pyproject.toml"
            return Project(folder, pyproject, pyproject)
    return Project(directory, None, None)


def read_ini_options(inifile: Path) -> dict[str, IniOption]:
    """The ``perf_*`` options set in ``inifile``, by setting name, as pytest reads them."""
    section = dict(_INI_SECTIONS)[inifile.name]
    raw: Mapping[str, object]
    if inifile.suffix == ".toml":
        raw = _pytest_table(_read_toml(inifile)) or {}
    else:
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(inifile, encoding="utf-8")
        raw = dict(parser[section]) if parser.has_section(section) else {}
    return {
        key: IniOption(str(raw[f"perf_{key}"]), str(inifile))
        for key in INI_KEYS
        if f"perf_{key}" in raw and str(raw[f"perf_{key}"])
    }


def _warmup(value: object) -> int:
    return parse_count(value, minimum=0, text=True)


def _keep(value: object) -> int:
    return parse_count(value, minimum=1, text=True)


def expand_path(text: str) -> Path:
    """A path as written in config or on the command line, ``~`` and ``$VARS`` expanded
    as pytest does for ``cache_dir`` and ``--junitxml``."""
    return Path(os.path.expandvars(os.path.expanduser(text)))


def _path(value: object) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise UnitError("expected a file path")
    return expand_path(value)


T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class _Layer:
    """The settings one source gives; None where it is silent."""

    history: Path | None = None
    warmup: int | None = None
    max_time: float | None = None
    regression: dict[str, float] | None = None
    keep: int | None = None
    rounds: Literal["certain", "full"] | None = None


def _rounds(value: object) -> Literal["certain", "full"]:
    if value == "certain":
        return "certain"
    if value == "full":
        return "full"
    raise UnitError('expected "certain" (stop once every verdict is settled) or "full"')


def _layer(raw: Mapping[str, object], describe: Callable[[str], str]) -> _Layer:
    """Parse one source's raw values; ``describe(key)`` says where a key came from."""

    def get(key: str, parse: Callable[[object], T]) -> T | None:
        if key not in raw:
            return None
        try:
            return parse(raw[key])
        except UnitError as error:
            raise ConfigError(f"{describe(key)} = {raw[key]!r} is invalid: {error}") from None

    return _Layer(
        history=get("history", _path),
        warmup=get("warmup", _warmup),
        max_time=get("max_time", parse_duration),
        regression=get("regression", parse_regression),
        keep=get("keep", _keep),
        rounds=get("rounds", _rounds),
    )


#: The keys of a ``[[tool.perfbudget.budget]]`` entry.
ENTRY_KEYS = ("match", *LIMIT_KEYWORDS, *OPTION_KEYWORDS)


def _entries(pyproject: Path, raw: object, defaults: Defaults) -> tuple[BudgetEntry, ...]:
    where = f"{pyproject}: [[tool.perfbudget.budget]]"
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be an array of tables, got {raw!r}")
    entries = []
    for number, table in enumerate(raw, start=1):
        if not isinstance(table, dict):
            raise ConfigError(f"{where} entry {number} must be a table, got {table!r}")
        keywords = dict(table)
        for key, value in keywords.items():
            if key not in ENTRY_KEYS:  # before match: a "mach =" typo is named as such
                raise ConfigError(
                    f"{where} entry {number} has unknown key {key} = {value!r} "
                    f"(known: {', '.join(ENTRY_KEYS)})"
                )
        match = keywords.pop("match", None)
        if not isinstance(match, str) or not match:
            raise ConfigError(
                f"{where} entry {number}: match = {match!r} is invalid: expected a node id glob"
            )
        try:
            budget = build_budget(keywords, defaults)
        except BudgetError as error:
            raise ConfigError(f"{where} entry {number} (match = {match!r}): {error}") from None
        entries.append(BudgetEntry(match, budget))
    return tuple(entries)


def _first(*values: T | None, default: T) -> T:
    return next((value for value in values if value is not None), default)


def load_settings(
    *,
    rootdir: Path,
    pyproject: Path | None,
    ini: Mapping[str, IniOption],
    flags: Mapping[str, str],
    paired: bool = False,
) -> Settings:
    """Merge every source into :class:`Settings`; raises :class:`ConfigError`.

    ``ini`` holds the ``perf_*`` ini options that were set and ``flags`` the ``--perf-*``
    values that were given, both by setting name (``max_time``). Relative paths are taken
    from ``rootdir``. A ``paired`` run's regression thresholds default to
    :data:`.PAIRED_REGRESSION`.
    """
    table = dict(read_pyproject(pyproject)) if pyproject is not None else {}
    raw_entries = table.pop("budget", [])
    for key, value in table.items():
        if key not in INI_KEYS:
            known = ", ".join([*INI_KEYS, "budget"])
            raise ConfigError(
                f"{pyproject}: {TABLE} has unknown key {key} = {value!r} (known: {known})"
            )
    from_ini = _layer(
        {key: option.value for key, option in ini.items()},
        lambda key: ini[key].describe(key),
    )
    from_pyproject = _layer(table, lambda key: f"{pyproject}: {TABLE} {key}")
    from_flags = _layer(flags, lambda key: f"--perf-{key.replace('_', '-')}")
    layers = (from_flags, from_pyproject, from_ini)

    regression = dict(PAIRED_REGRESSION if paired else DEFAULT_REGRESSION)
    for layer in reversed(layers):
        regression.update(layer.regression or {})
    defaults = Defaults(
        warmup=_first(*(layer.warmup for layer in layers), default=Defaults.warmup),
        max_time=_first(*(layer.max_time for layer in layers), default=Defaults.max_time),
        regression=regression,
    )
    history = _first(*(layer.history for layer in layers), default=Path(DEFAULT_HISTORY))
    return Settings(
        defaults=defaults,
        history=rootdir / history,
        keep=_first(*(layer.keep for layer in layers), default=DEFAULT_KEEP),
        entries=_entries(pyproject, raw_entries, defaults) if pyproject is not None else (),
        rounds=_first(*(layer.rounds for layer in layers), default="certain"),
    )
