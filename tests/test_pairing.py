"""The candidate's conversation with the control, against a stand-in control."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from pytest_perfbudget.against import MAX_BLOCK_CALLS, PairedSampler, _block_calls
from pytest_perfbudget.channel import Channel, ChannelTimeout
from pytest_perfbudget.control import ControlSession, ServedSampler
from pytest_perfbudget.paired import MIN_PAIRS, Against, PairingData
from pytest_perfbudget.pairing import ControlProcess, Pairing

from .test_measure import FakeClock, FakeProbe


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
    found.follow(["t.py::a", "t.py::b"], last="t.py::b")
    return found, Channel(theirs)


def test_tests_are_run_in_order_skipping_those_not_reached() -> None:
    driver, control = pairing()
    assert driver.start_test("t.py::b", collect_all_first=True) is None
    assert control.receive(1) == ["skip", "t.py::a"]
    assert control.receive(1) == ["run", "t.py::b", None, True]
    assert driver.start_test("t.py::b", collect_all_first=False) == (
        "its counterpart ran already (a test run again is not paired)"
    )
    assert driver.start_test("t.py::new", collect_all_first=False) == (
        "it has no counterpart at HEAD"
    )


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


def test_the_control_redoes_a_suspect_reading_and_sends_every_reading_it_keeps() -> None:
    # the second call saw a full collection it did not follow: its reading is taken again
    # on the next block's call, after one, and replaces it
    mine, theirs = Channel.pair()
    candidate = Channel(theirs)
    probe = FakeProbe(iter([100, 200, 300]), [False, True, False])
    served = ServedSampler(FakeClock().as_clock(), probe, mine, "t.py::a", None,
                           collect_all_first=False)  # fmt: skip
    for command in (["block", 1], ["block", 1], ["block", 1], ["end"]):
        candidate.send(*command)
    served.run(lambda: None, rounds=1, warmup=0, max_time=0.0)
    assert candidate.receive(1) == ["ready", "t.py::a", "calls"]
    assert [candidate.receive(1)[3] for _ in range(3)] == [[100.0], [100.0, 200.0], [100.0, 300.0]]
    assert probe.collected_all == [False, False, True]


def test_the_control_collects_every_generation_first_when_the_candidate_does() -> None:
    mine, theirs = Channel.pair()
    probe = FakeProbe(iter([100]))
    served = ServedSampler(FakeClock().as_clock(), probe, mine, "t.py::a", None,
                           collect_all_first=True)  # fmt: skip
    candidate = Channel(theirs)
    candidate.send("block", 1)
    candidate.send("end")
    served.run(lambda: None, rounds=1, warmup=0, max_time=0.0)
    assert probe.collected_all == [True]


def test_the_candidate_keeps_the_readings_of_the_control_s_last_block() -> None:
    driver, control = pairing()
    sampler = PairedSampler(FakeClock().as_clock(), None, driver, "t.py::a", {},
                            throughput=False)  # fmt: skip
    control.send("block", [0.001], [0.001], [100.0])
    control.send("block", [0.002], [0.002], [40.0, 300.0])
    assert sampler._control_block(1) == 0.001
    assert sampler._control_block(1) == 0.002
    assert sampler.data.control_memory == [40.0, 300.0]


def test_the_control_is_told_its_run_is_over_once_the_last_budgeted_test_is_done() -> None:
    # so that it ends while the candidate's run ends
    driver, control = pairing()
    for nodeid in ("t.py::a", "t.py::b"):
        assert driver.start_test(nodeid, collect_all_first=False) is None
        assert control.receive(1) == ["run", nodeid, None, False]
        control.send("done", nodeid, "passed", "")
        driver.finish_test(nodeid, PairingData())
        if nodeid == "t.py::a":
            with pytest.raises(ChannelTimeout):  # told nothing yet
                control.receive(0.05)
    assert control.receive(1) == ["finish"]
    assert driver.start_test("t.py::new", collect_all_first=False) == (
        "it has no counterpart at HEAD"
    )


def test_blocks_are_short_until_the_fewest_pairs_left_the_verdict_open() -> None:
    # 3 ms each side while a clear verdict can still settle at the fewest pairs, then 5 ms
    assert [_block_calls(0.001, pairs) for pairs in (1, MIN_PAIRS - 1, MIN_PAIRS, 40)] == [
        3,
        3,
        5,
        5,
    ]
    assert _block_calls(0.050, 1) == 1  # a slow call is a block of its own
    assert _block_calls(1e-9, MIN_PAIRS) == MAX_BLOCK_CALLS


def test_the_control_ends_without_walking_its_objects_at_shutdown() -> None:
    # the candidate waits for it to end; the shutdown's collections walked every object
    mine, _ = Channel.pair()
    assert gc.get_freeze_count() == 0
    try:
        ControlSession(mine).pytest_unconfigure()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        mine.close()


def test_a_control_gone_before_it_collected_is_named_for_every_test() -> None:
    mine, theirs = Channel.pair()
    driver = Pairing(Against("HEAD", "abc", "python", None), StandIn(), mine, None, None)
    Channel(theirs).close()
    driver.fail("ended before it had collected its tests")
    assert driver.broken is not None
    assert driver.start_test("t.py::a", collect_all_first=False) == driver.broken


def test_each_measuring_point_of_a_test_sizes_its_blocks() -> None:
    # a test calling perf(...) twice: the second call's blocks are sized on its own
    # first pair, not left at one call
    driver, control = pairing()
    clock = FakeClock()
    sampler = PairedSampler(clock.as_clock(), None, driver, "t.py::a", {}, throughput=False)
    sampler.start()
    for _ in range(2):
        control.send("ready", "t.py::a", "calls")
        for _ in range(3):
            control.send("block", [0.001], [0.001], [])

    def call() -> None:
        clock.spend(1_000_000)

    for _ in range(2):
        sampler.run(call, rounds=7, warmup=0, max_time=1.0)
    assert control.receive(1)[0] == "run"
    sent = [control.receive(1) for _ in range(8)]
    assert sent == [["block", 1], ["block", 3], ["block", 3], ["end"]] * 2
