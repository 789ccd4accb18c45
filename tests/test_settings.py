"""Settings from pyproject.toml, ini options and flags, with their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_perfbudget.budget import Limit
from pytest_perfbudget.settings import (
    ConfigError,
    IniOption,
    Settings,
    find_project,
    load_settings,
    read_ini_options,
)


def write_pyproject(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(body, encoding="utf-8")
    return path


def load(
    tmp_path: Path,
    body: str | None = None,
    ini: dict[str, str] | None = None,
    flags: dict[str, str] | None = None,
) -> Settings:
    return load_settings(
        rootdir=tmp_path,
        pyproject=write_pyproject(tmp_path, body) if body is not None else None,
        ini={key: IniOption(value, "tox.ini") for key, value in (ini or {}).items()},
        flags=flags or {},
    )


def test_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.history == tmp_path / ".perf" / "history.json"
    assert settings.keep == 50
    assert settings.defaults.warmup == 1
    assert settings.defaults.max_time == 1.0
    assert settings.defaults.regression == {"latency": 0.2, "throughput": 0.15, "memory": 0.5}
    assert settings.entries == ()


def test_pyproject_table(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[tool.perfbudget]
history = "perf/h.json"
warmup = 3
max_time = "250ms"
regression = { latency = "10%" }
keep = 20
""",
    )
    assert settings.history == tmp_path / "perf" / "h.json"
    assert (settings.defaults.warmup, settings.defaults.max_time, settings.keep) == (3, 0.25, 20)
    assert settings.defaults.regression == {"latency": 0.1, "throughput": 0.15, "memory": 0.5}


def test_precedence_flag_over_pyproject_over_ini(tmp_path: Path) -> None:
    body = '[tool.perfbudget]\nmax_time = "2s"\nregression = { memory = "80%" }\n'
    ini = {"max_time": "3s", "warmup": "4", "regression": "30%", "keep": "7"}
    settings = load(tmp_path, body, ini=ini, flags={"regression": "5%"})
    assert settings.defaults.max_time == 2.0
    assert settings.defaults.warmup == 4
    assert settings.keep == 7
    assert settings.defaults.regression == dict.fromkeys(("latency", "memory", "throughput"), 0.05)
    without_flag = load(tmp_path, body, ini=ini)
    assert without_flag.defaults.regression == {
        "latency": 0.3,
        "memory": 0.8,
        "throughput": 0.3,
    }


def test_a_history_path_expands_home_and_variables_as_pytest_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PERF_CACHE", str(tmp_path / "cache"))
    from_pyproject = load(tmp_path, '[tool.perfbudget]\nhistory = "$PERF_CACHE/h.json"\n')
    assert from_pyproject.history == tmp_path / "cache" / "h.json"
    from_ini = load(tmp_path, ini={"history": "~/perf/h.json"})
    assert from_ini.history == tmp_path / "home" / "perf" / "h.json"


def test_a_budget_entry_that_is_a_parametrized_node_id_matches_it(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[[tool.perfbudget.budget]]
match = "tests/test_search.py::test_q[en]"
p95 = "50ms"
""",
    )
    assert settings.budget_for("tests/test_search.py::test_q[en]", None) is not None
    assert settings.budget_for("tests/test_search.py::test_q[de]", None) is None
    assert settings.budget_for("tests/test_search.py::test_qe", None) is not None  # a glob too


def test_budget_entries_last_match_wins_and_marker_beats_them(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """
[tool.perfbudget]
warmup = 2

[[tool.perfbudget.budget]]
match = "tests/api/*"
p95 = "50ms"

[[tool.perfbudget.budget]]
match = "tests/api/test_search.py::*"
p95 = "20ms"
level = "warn"
""",
    )
    search = settings.budget_for("tests/api/test_search.py::test_q", None)
    assert search is not None
    assert search.limits == (Limit("p95", 0.02),)
    assert (search.level, search.warmup) == ("warn", 2)
    other = settings.budget_for("tests/api/test_users.py::test_q", None)
    assert other is not None
    assert other.limits == (Limit("p95", 0.05),)
    assert settings.budget_for("tests/unit/test_x.py::test_y", None) is None
    marked = settings.budget_for("tests/api/test_search.py::test_q", {"p99": "1s"})
    assert marked is not None
    assert marked.limits == (Limit("p99", 1.0),)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[tool.perfbudget]\nwarmup = -1\n", "[tool.perfbudget] warmup = -1 is invalid"),
        ("[tool.perfbudget]\nwarmup = 1.5\n", "warmup = 1.5 is invalid: expected a whole number"),
        ('[tool.perfbudget]\nmax_time = "fast"\n', "max_time = 'fast' is invalid: cannot read"),
        ("[tool.perfbudget]\nmax_time = nan\n", "max_time = nan is invalid: expected a finite"),
        ('[tool.perfbudget]\nmax_time = "64MiB"\n', "'64MiB' is a size, expected a duration"),
        ("[tool.perfbudget]\nkeep = 0\n", "keep = 0 is invalid: expected a whole number of at"),
        ('[tool.perfbudget]\nkeep = "many"\n', "keep = 'many' is invalid"),
        ("[tool.perfbudget]\nhistory = 5\n", "history = 5 is invalid: expected a file path"),
        ('[tool.perfbudget]\nregression = "x"\n', "regression = 'x' is invalid"),
        ('[tool.perfbudget]\nregression = { cpu = "5%" }\n', "unknown metric family 'cpu'"),
        ('[tool.perfbudget]\ncolour = "red"\n', "unknown key colour = 'red'"),
        ('[tool]\nperfbudget = "on"\n', "[tool.perfbudget] must be a table"),
        ("[tool.perfbudget]\nbudget = 5\n", "must be an array of tables, got 5"),
        ('[[tool.perfbudget.budget]]\np95 = "5ms"\n', "entry 1: match = None is invalid"),
        (
            '[[tool.perfbudget.budget]]\nmatch = "*"\nmemory = "5ms"\n',
            "entry 1 (match = '*'): invalid memory='5ms': '5ms' is a duration",
        ),
        (
            '[[tool.perfbudget.budget]]\nmatch = "*"\nspeed = "fast"\n',
            "entry 1 has unknown key speed = 'fast' (known: match, latency, p50, ",
        ),
        (
            '[[tool.perfbudget.budget]]\nmach = "tests/*"\np95 = "5ms"\n',
            "entry 1 has unknown key mach = 'tests/*' (known: match, latency, p50, ",
        ),
        ("[tool.perfbudget\n", "cannot read it as TOML"),
    ],
)
def test_bad_pyproject_names_file_key_and_value(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, body)
    assert str(raised.value).startswith(str(tmp_path / "pyproject.toml"))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ({"warmup": "-2"}, "tox.ini: perf_warmup = '-2' is invalid"),
        ({"max_time": "soon"}, "tox.ini: perf_max_time = 'soon' is invalid"),
        ({"regression": "0%"}, "tox.ini: perf_regression = '0%' is invalid"),
        ({"keep": "0"}, "tox.ini: perf_keep = '0' is invalid"),
    ],
)
def test_bad_ini_option_names_file_key_and_value(
    tmp_path: Path, ini: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, ini=ini)


def test_bad_flag_names_flag_and_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--perf-regression = 'x' is invalid"):
        load(tmp_path, flags={"regression": "x"})


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("pytest.ini", "[pytest]\nperf_warmup = 4\n"),
        ("tox.ini", "[tox]\n[pytest]\nperf_warmup = 4\n"),
        ("setup.cfg", "[tool:pytest]\nperf_warmup = 4\n"),
        ("pyproject.toml", "[tool.pytest.ini_options]\nperf_warmup = 4\n"),
        ("pyproject.toml", '[tool.pytest]\nperf_warmup = "4"\n'),
    ],
)
def test_the_project_is_found_as_pytest_finds_its_configuration(
    tmp_path: Path, name: str, body: str
) -> None:
    (tmp_path / name).write_text(body, encoding="utf-8")
    below = tmp_path / "tests" / "unit"
    below.mkdir(parents=True)
    project = find_project(below)
    assert (project.rootdir, project.inifile) == (tmp_path, tmp_path / name)
    assert project.inifile is not None
    options = read_ini_options(project.inifile)
    assert options == {"warmup": IniOption("4", str(tmp_path / name))}


def test_the_first_file_with_a_pytest_section_wins_and_pyproject_is_beside_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py\n")  # no [pytest]: not pytest's
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\nperf_keep = 7\n")
    write_pyproject(tmp_path, '[tool.perfbudget]\nhistory = "h.json"\n')
    project = find_project(tmp_path)
    assert project.inifile == tmp_path / "setup.cfg"
    assert project.pyproject == tmp_path / "pyproject.toml"


def test_without_any_configuration_the_directory_is_the_project(tmp_path: Path) -> None:
    project = find_project(tmp_path)
    assert project.rootdir == tmp_path.resolve()
    assert (project.inifile, project.pyproject) == (None, None)
