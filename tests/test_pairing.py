"""The candidate's conversation with the control, against a stand-in control."""

from __future__ import annotations

from typing import Any

from pytest_perfbudget.channel import Channel
from pytest_perfbudget.paired import Against, PairingData
from pytest_perfbudget.pairing import ControlProcess, Pairing


class StandIn(ControlProcess):
    """A control process that is not there: nothing to wait for or kill."""

    def __init__(self) -> None:
        pass

    def exit_status(self, wait: float = 0.0) -> int | None:
        return 0

    def last_output(self, lines: int = 6) -> str:
        return "the last line"

    def kill(self) -> None:
        pass

    def stop(self, wait: float = 0.0) -> None:
        pass


def pairing() -> tuple[Pairing, Channel]:
    mine, theirs = Channel.pair()
    against = Against("HEAD", "abc", "python", None)
    found = Pairing(against, StandIn(), mine, None, None)
    found.follow(["t.py::a", "t.py::b"])
    return found, Channel(theirs)


def test_tests_are_run_in_order_skipping_those_not_reached() -> None:
    driver, control = pairing()
    assert driver.start_test("t.py::b") is None
    assert control.receive(1) == ["skip", "t.py::a"]
    assert control.receive(1) == ["run", "t.py::b", None]
    assert driver.start_test("t.py::b") == (
        "its counterpart ran already (a test run again is not paired)"
    )
    assert driver.start_test("t.py::new") == "it has no counterpart at HEAD"


def test_a_point_of_another_kind_leaves_the_test_unpaired() -> None:
    driver, control = pairing()
    data = PairingData()
    control.send("ready", "t.py::a", "once")
    assert not driver.await_point("t.py::a", "calls", data)
    assert control.receive(1) == ["end"]
    assert data.unpaired == (
        "its measuring points differ at HEAD (a perf.measure() block there, a repeated call here)"
    )


def test_the_done_of_the_test_answers_a_request_and_is_remembered() -> None:
    driver, control = pairing()
    data = PairingData()
    control.send("done", "t.py::a", "failed", "AssertionError: no")
    reply: Any = driver.request("t.py::a", data, "warmup", 1)
    assert reply is None
    assert data.control_done
    assert data.unpaired == "at HEAD it failed: AssertionError: no"
    driver.finish_test("t.py::a", data)  # nothing more to wait for


def test_a_control_that_is_gone_breaks_the_pairing_with_its_last_words() -> None:
    driver, control = pairing()
    control.close()
    data = PairingData()
    assert not driver.await_point("t.py::a", "calls", data)
    assert driver.broken == ("the control process at HEAD ended (exit status 0): the last line")
    assert data.unpaired == driver.broken
