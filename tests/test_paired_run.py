"""``--perf-against``: paired runs end to end, in git repositories made for each test.

Every verdict here rests on sleeps 10x apart, or on a threshold far above any noise, so no
test depends on this machine being fast or quiet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

SLEEPY = """
import os, time, pytest

DELAY = {delay}

@pytest.mark.perf_budget(p95="10s", warmup=0)
def test_sleepy():
    time.sleep(DELAY)
"""


def git(directory: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=directory, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return completed.stdout.strip()


def commit(pytester: pytest.Pytester, message: str = "change") -> str:
    git(pytester.path, "add", "-A")
    git(pytester.path, "commit", "-q", "-m", message)
    return git(pytester.path, "rev-parse", "HEAD")


@pytest.fixture
def repo(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    """A git repository whose HEAD has a 2 ms test; the working tree is left to each test.
    No worktree of it is left registered after the test."""
    git(pytester.path, "init", "-q")
    pytester.makepyfile(test_sleepy=SLEEPY.format(delay=0.002))
    commit(pytester, "a 2 ms test")
    yield pytester
    assert git(pytester.path, "worktree", "list").count("\n") == 0  # the main one only


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary directory of the test's own for the runs it starts, where a paired run
    makes its worktree and its control's log; empty again after the test."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    yield directory
    assert not list(directory.iterdir())


def processes_in(directory: Path) -> list[int]:
    """The processes whose working directory is in ``directory`` (a control runs in its
    worktree)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(directory) in os.readlink(entry / "cwd"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_slowdown_in_the_working_tree_fails_against_head(repo: pytest.Pytester) -> None:
    sha = git(repo.path, "rev-parse", "HEAD")
    repo.makepyfile(test_sleepy=SLEEPY.format(delay=0.02))  # uncommitted: the candidate
    result = repo.runpytest_subprocess(
        "--perf-against=HEAD", "--perf-report=report.json", "--junitxml=junit.xml"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "perf regression: p50 +*% vs HEAD (2.*ms -> 2*ms, 95% CI +*%..+*%, * pairs)",
            "test *metric*measured*limit*HEAD*change*verdict",
            "test_sleepy.py::test_sleepy*p50*ms*-*ms*+*%*fail",
        ]
    )
    (entry,) = json.loads((repo.path / "report.json").read_text())["tests"]
    assert entry["against"] == {"ref": "HEAD", "sha": sha}
    (check, *_) = entry["regressions"]
    assert (check["metric"], check["outcome"], check["against"]) == ("p50", "regressed", "HEAD")
    assert check["ci_low"] > 0.05  # 10x: surely past +5%
    assert check["pairs"] >= 6
    properties = {
        node.get("name"): node.get("value")
        for node in ET.parse(repo.path / "junit.xml").iter("property")
    }
    assert properties["perf_against"] == "HEAD"
    assert properties["perf_against_sha"] == sha
    assert float(properties["perf_p50_ci_low"] or 0) > 0.05


def test_unchanged_code_passes_and_the_table_names_what_it_was_paired_with(
    repo: pytest.Pytester,
) -> None:
    result = repo.runpytest_subprocess(
        "--perf-against=HEAD", "--perf-regression=100%", "--perf-report=report.json", "-v"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["test *HEAD*change*verdict*rounds", "*::test_sleepy*p50*pass*certain"]
    )
    (entry,) = json.loads((repo.path / "report.json").read_text())["tests"]
    (check, *_) = entry["regressions"]
    assert check["outcome"] == "ok"
    assert check["ci_high"] < 1  # +100% lies far outside
    assert entry["stopped"] == "certain"  # the pairs stopped once that was certain


def test_the_control_runs_the_revisions_code_from_an_import_root(repo: pytest.Pytester) -> None:
    # the code under test lives in src/ (pytest's pythonpath option): the control must
    # import it from the worktree, not the candidate's src
    repo.makeini("[pytest]\npythonpath = src\n")
    (repo.path / "src" / "work").mkdir(parents=True)
    (repo.path / "src" / "work" / "__init__.py").write_text(
        "import time\n\ndef run():\n    time.sleep(0.002)\n"
    )
    repo.makepyfile(
        test_sleepy="""
        import pytest, work

        @pytest.mark.perf_budget(p95="10s", warmup=0)
        def test_work():
            work.run()
        """
    )
    commit(repo, "the code in src/")
    (repo.path / "src" / "work" / "__init__.py").write_text(
        "import time\n\ndef run():\n    time.sleep(0.02)\n"
    )
    result = repo.runpytest_subprocess("--perf-against=HEAD")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["perf regression: p50 +*% vs HEAD (2.*ms -> 2*ms, *"])


def test_a_new_test_or_one_failing_or_skipped_at_the_revision_gets_a_note(
    repo: pytest.Pytester,
) -> None:
    repo.makepyfile(
        test_more="""
        import pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_fails():
            assert False, "broken at the revision"

        @pytest.mark.perf_budget(p95="10s")
        def test_skipped():
            pytest.skip("not there yet")
        """
    )
    commit(repo, "two tests that do not pass")
    repo.makepyfile(
        test_more="""
        import pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_fails():
            pass

        @pytest.mark.perf_budget(p95="10s")
        def test_skipped():
            pass

        @pytest.mark.perf_budget(p95="10s")
        def test_new():
            pass
        """
    )
    result = repo.runpytest_subprocess(
        "--perf-against=HEAD", "--perf-regression=100%", "-W", "error", "-v"
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random(
        [
            "test_more.py::test_fails: perf note: no paired verdict: at HEAD it failed: *",
            "test_more.py::test_skipped: perf note: no paired verdict: at HEAD it was skipped*",
            "test_more.py::test_new: perf note: no paired verdict: it has no counterpart at HEAD",
        ]
    )


PAIRED_KINDS = """
import time, pytest

DELAY = {delay}

def work():
    time.sleep(DELAY)

@pytest.mark.perf_budget(p95="10s")
def test_fixture(perf):
    perf(work)

@pytest.mark.perf_budget(p95="10s")
def test_blocks(perf):
    for _ in range(8):
        with perf.measure():
            work()

@pytest.mark.perf_budget(p95="10s")
def test_benchmark(benchmark):
    benchmark(work)
"""


def test_the_perf_fixture_its_blocks_and_pytest_benchmark_all_pair(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pytest_benchmark")
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)  # pytest-benchmark would turn itself off
    repo.makepyfile(test_kinds=PAIRED_KINDS.format(delay=0.002))
    commit(repo, "three ways of measuring")
    repo.makepyfile(test_kinds=PAIRED_KINDS.format(delay=0.02))
    result = repo.runpytest_subprocess(
        "--perf-against=HEAD", "-k", "kinds", "-W", "error", "--perf-report=report.json"
    )
    result.assert_outcomes(failed=3)
    entries = json.loads((repo.path / "report.json").read_text())["tests"]
    assert {entry["nodeid"]: entry["regressions"][0]["outcome"] for entry in entries} == {
        "test_kinds.py::test_fixture": "regressed",
        "test_kinds.py::test_blocks": "regressed",
        "test_kinds.py::test_benchmark": "regressed",
    }
    blocks = next(entry for entry in entries if entry["nodeid"].endswith("test_blocks"))
    assert blocks["regressions"][0]["pairs"] == 8  # one pair a `with` block


def test_a_control_that_crashes_leaves_notes_and_the_run_finishes(repo: pytest.Pytester) -> None:
    repo.makepyfile(
        test_crash="""
        import os, pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_crash():
            print("the control is going down")
            os._exit(3)

        @pytest.mark.perf_budget(p95="10s")
        def test_after():
            pass
        """
    )
    commit(repo, "a test that ends its process")
    repo.makepyfile(
        test_crash="""
        import pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_crash():
            pass

        @pytest.mark.perf_budget(p95="10s")
        def test_after():
            pass
        """
    )
    result = repo.runpytest_subprocess("--perf-against=HEAD", "--perf-regression=100%", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "test_crash.py::test_crash: perf note: no paired verdict: the control process at "
            "HEAD ended (exit status 3)*",
            "test_crash.py::test_after: perf note: no paired verdict: the control process at "
            "HEAD ended (exit status 3)*",
        ]
    )


def test_a_control_that_hangs_is_stopped_and_named(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.makepyfile(
        test_hang="""
        import time, pytest

        @pytest.mark.perf_budget(p95="10s", warmup=0)
        def test_hang():
            time.sleep(600)
        """
    )
    commit(repo, "a test that never ends")
    repo.makepyfile(test_hang=SLEEPY.format(delay=0.001).replace("test_sleepy", "test_hang"))
    monkeypatch.setenv("PYTEST_PERFBUDGET_CONTROL_TIMEOUT", "3")
    started = time.monotonic()
    result = repo.runpytest_subprocess("--perf-against=HEAD", "-k", "hang", "-v")
    assert time.monotonic() - started < 120
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*test_hang: perf note: no paired verdict: *HEAD sent nothing for 3 s*"]
    )


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="reads processes from /proc")
def test_ctrl_c_leaves_no_worktree_process_or_file(
    repo: pytest.Pytester, private_tmp: Path
) -> None:
    repo.makeconftest(
        """
        import os, pytest

        @pytest.fixture(scope="session", autouse=True)
        def resource():  # a database, say: the control must let it go too
            yield
            with open(os.environ["TORN_DOWN"], "a") as file:
                file.write("torn down\\n")
        """
    )
    repo.makepyfile(
        test_long="""
        import time, pytest

        @pytest.mark.perf_budget(p95="10s", warmup=0, rounds=6000)
        def test_long():  # a minute a side
            time.sleep(0.01)
        """
    )
    commit(repo, "a long test")
    torn_down = repo.path / "torn-down.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--perf-against=HEAD"],
        cwd=repo.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TORN_DOWN": str(torn_down)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not processes_in(private_tmp) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_in(private_tmp), "the paired run never started its control"
    time.sleep(3)  # well into the minute-long test
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert "KeyboardInterrupt" in output
    assert "INTERNALERROR" not in output
    assert not processes_in(private_tmp)
    # both sides tore their session fixtures down
    assert torn_down.read_text().splitlines() == ["torn down", "torn down"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--perf-against=nosuchref"], "*--perf-against=nosuchref: no such git revision in *"),
        (["--perf-against=HEAD", "-n", "2"], "*cannot run under pytest-xdist (-n)*"),
        (["--perf-against=HEAD", "--perf-disable"], "*--perf-disable measures nothing*"),
        (
            ["--perf-against-python=/no/such/python"],
            "*--perf-against-python=/no/such/python: no such interpreter: /no/such/python",
        ),
    ],
)
def test_bad_input_is_a_usage_error_before_any_test_runs(
    repo: pytest.Pytester, args: list[str], message: str
) -> None:
    if "-n" in args:
        pytest.importorskip("xdist")
    result = repo.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_a_bad_control_timeout_is_a_usage_error(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_PERFBUDGET_CONTROL_TIMEOUT", "soon")
    result = repo.runpytest_subprocess("--perf-against=HEAD")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*PYTEST_PERFBUDGET_CONTROL_TIMEOUT='soon': expected a positive number of seconds"]
    )


def test_outside_a_git_repository_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sleepy=SLEEPY.format(delay=0.001))
    result = pytester.runpytest_subprocess("--perf-against=HEAD")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--perf-against: * is not in a git repository*"])


def test_a_shallow_clone_without_the_revision_says_what_to_fetch(
    repo: pytest.Pytester, tmp_path: Path
) -> None:
    first = git(repo.path, "rev-parse", "HEAD")
    repo.makepyfile(test_sleepy=SLEEPY.format(delay=0.003))
    commit(repo, "second")
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth=1", f"file://{repo.path}", str(shallow)], check=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--perf-against={first}"],
        cwd=shallow, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "no such revision in this shallow clone" in result.stderr
    assert "git fetch" in result.stderr


def test_an_interpreter_without_pytest_is_a_usage_error(
    repo: pytest.Pytester, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    python = bare / "bin" / "python"
    result = repo.runpytest_subprocess(f"--perf-against-python={python}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--perf-against-python={python}: {python} has no pytest*"])


def test_another_interpreter_runs_the_same_tree(repo: pytest.Pytester) -> None:
    result = repo.runpytest_subprocess(
        f"--perf-against-python={sys.executable}", "--perf-regression=100%", "-v"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"test *{sys.executable}*change*verdict*"])


def test_the_control_importing_the_code_from_elsewhere_is_a_usage_error(
    repo: pytest.Pytester, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "site"
    (elsewhere / "work").mkdir(parents=True)
    (elsewhere / "work" / "__init__.py").write_text("def run():\n    pass\n")
    # at the revision, the tests import `work` from an installed copy outside the tree
    repo.makeconftest(f"import sys\nsys.path.insert(0, {str(elsewhere)!r})\n")
    repo.makepyfile(
        test_sleepy="""
        import pytest, work

        @pytest.mark.perf_budget(p95="10s")
        def test_work():
            work.run()
        """
    )
    commit(repo, "imports an installed copy")
    (repo.path / "src" / "work").mkdir(parents=True)
    (repo.path / "src" / "work" / "__init__.py").write_text("def run():\n    pass\n")
    repo.makeconftest(
        "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parent / 'src'))\n"
    )
    result = repo.runpytest_subprocess("--perf-against=HEAD")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"*the control imported work from {elsewhere.resolve()}/work/__init__.py (an "
            "installed copy)*pip install -e .*--perf-against-python*"
        ]
    )


def test_a_temporary_directory_behind_a_link_is_followed(
    repo: pytest.Pytester, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = private_tmp / "real"
    real.mkdir()
    link = private_tmp / "link"
    link.symlink_to(real)
    monkeypatch.setenv("TMPDIR", str(link))  # as /var is a link on macOS
    result = repo.runpytest_subprocess("--perf-against=HEAD", "--perf-regression=100%")
    result.assert_outcomes(passed=1)
    link.unlink()
    real.rmdir()


def test_run_from_outside_the_repository(repo: pytest.Pytester, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--perf-against=HEAD",
         "--perf-regression=100%", "-v", str(repo.path / "test_sleepy.py")],
        cwd=outside, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no paired verdict" not in result.stdout
    assert "HEAD" in result.stdout  # the table's column: it was paired


def test_measuring_points_of_another_kind_at_the_revision_leave_the_test_unpaired(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.makepyfile(
        test_kind="""
        import time, pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_kind(perf):
            for _ in range(3):
                with perf.measure():
                    time.sleep(0.001)
        """
    )
    commit(repo, "perf.measure() blocks")
    repo.makepyfile(
        test_kind="""
        import time, pytest

        @pytest.mark.perf_budget(p95="10s")
        def test_kind():
            time.sleep(0.001)
        """
    )
    monkeypatch.setenv("PYTEST_PERFBUDGET_CONTROL_TIMEOUT", "30")
    started = time.monotonic()
    result = repo.runpytest_subprocess("--perf-against=HEAD", "--perf-regression=100%", "-v")
    assert time.monotonic() - started < 30  # no side waited for the other
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "test_kind.py::test_kind: perf note: no paired verdict: its measuring points "
            "differ at HEAD (a perf.measure() block there, a repeated call here)"
        ]
    )
    assert "test_sleepy.py::test_sleepy: perf note" not in result.stdout.str()


def test_perf_in_a_fixture_is_measured_alone_and_the_test_pairs(
    repo: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.makepyfile(
        test_fixture="""
        import time, pytest

        @pytest.fixture
        def warmed(perf):
            perf(time.sleep, 0.001)

        @pytest.mark.perf_budget(p95="10s")
        def test_fixture(warmed, perf):
            perf(time.sleep, 0.001)
        """
    )
    commit(repo, "perf in a fixture")
    monkeypatch.setenv("PYTEST_PERFBUDGET_CONTROL_TIMEOUT", "30")
    started = time.monotonic()
    result = repo.runpytest_subprocess(
        "--perf-against=HEAD", "--perf-regression=100%", "-v", "--perf-report=report.json"
    )
    assert time.monotonic() - started < 30
    result.assert_outcomes(passed=2)
    entries = json.loads((repo.path / "report.json").read_text())["tests"]
    (entry,) = [entry for entry in entries if entry["nodeid"].endswith("test_fixture")]
    assert entry["regressions"][0]["pairs"] >= 6  # the test's own perf() paired


def test_a_file_new_since_the_revision_on_the_command_line(repo: pytest.Pytester) -> None:
    repo.makepyfile(test_new=SLEEPY.format(delay=0.001).replace("test_sleepy", "test_new"))
    result = repo.runpytest_subprocess(
        "test_sleepy.py", "test_new.py", "--perf-against=HEAD", "--perf-regression=100%", "-v"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["test_new.py::test_new: perf note: no paired verdict: it has no counterpart at HEAD"]
    )
    assert "test_sleepy.py::test_sleepy: perf note" not in result.stdout.str()


def test_collect_only_starts_no_control(repo: pytest.Pytester, private_tmp: Path) -> None:
    result = repo.runpytest_subprocess("--perf-against=HEAD", "--collect-only")
    assert result.ret == 0
    assert git(repo.path, "worktree", "list").count("\n") == 0


def test_a_worktree_left_by_a_killed_run_is_removed_by_the_next(
    repo: pytest.Pytester, private_tmp: Path
) -> None:
    stale = private_tmp / "perfbudget-against-killed" / "repo"
    git(
        repo.path, "worktree", "add", "--detach", "--lock",
        "--reason=pytest-perfbudget run 999999999", str(stale), "HEAD",
    )  # fmt: skip
    result = repo.runpytest_subprocess("--perf-against=HEAD", "--perf-regression=100%")
    result.assert_outcomes(passed=1)
    assert not stale.parent.exists()
