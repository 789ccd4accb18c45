"""The paired comparison's statistic: candidate against control from alternating blocks.

The candidate (the working tree) and the control (the code at a git revision, or another
interpreter) are measured in alternating blocks of calls on one CPU, one process at a
time. Each pair of neighbouring blocks gives the log of the ratio of their median call
times; the machine's speed, which changes from second to second on a shared machine, is
nearly the same for both blocks of a pair and cancels in the ratio. The estimate is the
Hodges-Lehmann median of the pairs' log ratios, and its confidence interval the exact one
of the Wilcoxon signed-rank test (distribution-free; stdlib only). A regression is declared
only when the whole interval lies past the threshold, and measuring stops as soon as the
verdict is settled (docs/explanation/paired.md).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .measure import Measurement
from .metrics import format_metric, metric
from .regression import MEMORY_NOISE_FLOOR, RegressionCheck, check_regression
from .stats import median

__all__ = [
    "CONFIDENCE",
    "MIN_PAIRS",
    "Against",
    "PairedEstimate",
    "PairingData",
    "is_settled",
    "log_ratios",
    "paired_checks",
    "paired_estimate",
    "paired_notes",
    "verdicts_settled",
]

#: The confidence of the interval a verdict rests on.
CONFIDENCE = 0.95
#: The fewest pairs whose exact 95% interval exists (with 5, the signed-rank test's
#: smallest two-sided p is 1/16).
MIN_PAIRS = 6
#: Measuring stops on a regression only when an interval of this confidence lies past the
#: threshold: the verdict is looked at after every pair, and at 95% each look would add
#: its own chance of a false regression (simulated: 12% instead of 2.5% for a change at
#: the threshold; 2.3-3.3% at 99.5%, with every +10% change still caught).
INTERIM_CONFIDENCE = 0.995
#: Up to this many pairs the interval comes from the exact distribution of the signed-rank
#: statistic; beyond, from its normal approximation (at 50 pairs the same rank at 95%, 4
#: ranks lower, so a little wider, at 99.5%).
EXACT_PAIRS = 50


@dataclasses.dataclass(frozen=True)
class Against:
    """What a paired run compares with: ``name`` as the user wrote it (a revision, or an
    interpreter), the commit it resolved to, and the interpreter that runs the control."""

    name: str
    sha: str | None
    python: str
    toplevel: Path | None


@dataclasses.dataclass(frozen=True)
class PairedEstimate:
    """How many times slower the candidate is than the control: ``ratio`` (1.12 for 12%
    slower) within ``low``..``high`` at :data:`CONFIDENCE`, from ``pairs`` pairs."""

    ratio: float
    low: float
    high: float
    pairs: int


def log_ratios(candidate: Sequence[float], control: Sequence[float]) -> list[float]:
    """Per pair of blocks, log(candidate / control) of their values (block median times,
    or rates); pairs with a value that is not above 0 are left out."""
    return [
        math.log(mine / theirs)
        for mine, theirs in zip(candidate, control, strict=True)
        if mine > 0 and theirs > 0
    ]


@functools.lru_cache(maxsize=128)
def _signed_rank_cdf(pairs: int) -> tuple[float, ...]:
    """P(T <= t) of the Wilcoxon signed-rank statistic T of ``pairs`` pairs without ties,
    for t = 0 .. pairs * (pairs + 1) / 2: how many subsets of 1..pairs sum to t."""
    total = pairs * (pairs + 1) // 2
    counts = [1] + [0] * total
    for rank in range(1, pairs + 1):
        for value in range(total, rank - 1, -1):
            counts[value] += counts[value - rank]
    cumulative: list[float] = []
    running = 0
    for count in counts:
        running += count
        cumulative.append(running / 2**pairs)
    return tuple(cumulative)


def _interval_rank(pairs: int, confidence: float) -> int:
    """The rank (1-based) among the sorted Walsh averages of the interval's lower end (and,
    from the top, of its upper end): the largest ``c`` with P(T <= c - 1) <= (1 -
    confidence) / 2, so that the interval covers with at least ``confidence``; 0 when no
    interval of that confidence exists."""
    if pairs > EXACT_PAIRS:
        from statistics import NormalDist  # slow to import, seldom needed

        z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
        mean = pairs * (pairs + 1) / 4
        spread = math.sqrt(pairs * (pairs + 1) * (2 * pairs + 1) / 24)
        return max(0, math.floor(mean - z * spread + 0.5))
    cdf = _signed_rank_cdf(pairs)
    tail = (1 - confidence) / 2
    rank = 0
    while rank < len(cdf) and cdf[rank] <= tail:
        rank += 1
    return rank


def paired_estimate(
    logs: Sequence[float], confidence: float = CONFIDENCE
) -> PairedEstimate | None:
    """The ratio and its interval from per-pair log ratios; None with fewer than
    :data:`MIN_PAIRS` pairs."""
    count = len(logs)
    if count < MIN_PAIRS:
        return None
    rank = _interval_rank(count, confidence)
    if rank == 0:
        return None
    walsh = sorted(
        (logs[first] + logs[second]) / 2
        for first in range(count)
        for second in range(first, count)
    )
    low, high = walsh[rank - 1], walsh[len(walsh) - rank]
    return PairedEstimate(math.exp(median(walsh)), math.exp(low), math.exp(high), count)


def is_settled(logs: Sequence[float], threshold: float, *, higher_is_worse: bool) -> bool:
    """Whether more pairs would not change the verdict: the 95% interval lies wholly short
    of the threshold, or the :data:`INTERIM_CONFIDENCE` one wholly past it."""
    estimate = paired_estimate(logs)
    if estimate is None:
        return False
    bound = 1 + threshold if higher_is_worse else 1 - threshold
    if estimate.high < bound if higher_is_worse else estimate.low > bound:
        return True
    strict = paired_estimate(logs, INTERIM_CONFIDENCE)
    if strict is None:
        return False
    return strict.low > bound if higher_is_worse else strict.high < bound


def verdicts_settled(
    data: PairingData, thresholds: Mapping[str, float], *, throughput: bool
) -> bool:
    """Whether a test's pairs settle its verdicts: latency's, and throughput's when the
    budget limits it, each against its own threshold."""
    logs = log_ratios(data.candidate_blocks, data.control_blocks)
    if not is_settled(logs, thresholds[metric("p50").family], higher_is_worse=True):
        return False
    rates = [-value for value in logs]  # a rate is the inverse of a time
    family = metric("throughput").family
    return not throughput or is_settled(rates, thresholds[family], higher_is_worse=False)


@dataclasses.dataclass
class PairingData:
    """What the pairs of one test gave: per pair, the median call time of each side's
    block; the control's own samples; and why the test was not paired, when it was not."""

    candidate_blocks: list[float] = dataclasses.field(default_factory=list)
    control_blocks: list[float] = dataclasses.field(default_factory=list)
    control_wall: list[float] = dataclasses.field(default_factory=list)
    control_memory: list[float] = dataclasses.field(default_factory=list)
    #: Why the test has no paired verdict (no counterpart, failing at the revision...).
    unpaired: str | None = None
    #: The control finished its counterpart: no measuring point of it is left to pair.
    control_done: bool = False

    @property
    def pairs(self) -> int:
        return len(self.candidate_blocks)


def _paired_check(
    name: str,
    logs: Sequence[float],
    *,
    current: float,
    control: float,
    threshold: float,
    against: str,
) -> RegressionCheck:
    """One metric's verdict from its per-pair log ratios (candidate over control)."""
    higher_is_worse = not metric(name).is_minimum
    estimate = paired_estimate(logs)
    found = functools.partial(
        RegressionCheck, name, current=current, threshold=threshold, baseline=control,
        against=against,
    )  # fmt: skip
    if estimate is None:
        change = current / control - 1 if control > 0 else 0.0
        return found(outcome="too-few-samples", change=change, pairs=len(logs))
    bound = 1 + threshold if higher_is_worse else 1 - threshold
    past = estimate.low > bound if higher_is_worse else estimate.high < bound
    short = estimate.high < bound if higher_is_worse else estimate.low > bound
    return found(
        outcome="regressed" if past else "ok" if short else "inconclusive",
        change=estimate.ratio - 1,
        ci_low=estimate.low - 1,
        ci_high=estimate.high - 1,
        pairs=estimate.pairs,
    )


def paired_checks(
    data: PairingData,
    measurement: Measurement,
    thresholds: Mapping[str, float],
    *,
    throughput: bool,
    against: str,
) -> tuple[RegressionCheck, ...]:
    """The paired verdicts of a test: latency (p50) from the pairs' block medians,
    throughput too when the budget limits it, and memory on its exact readings."""
    logs = log_ratios(data.candidate_blocks, data.control_blocks)
    current, control = median(measurement.wall), median(data.control_wall)
    checks = [
        _paired_check(
            "p50", logs, current=current, control=control,
            threshold=thresholds[metric("p50").family], against=against,
        )
    ]  # fmt: skip
    if throughput and current > 0 and control > 0:
        checks.append(
            _paired_check(
                "throughput", [-value for value in logs],
                current=measurement.ops / current, control=measurement.ops / control,
                threshold=thresholds[metric("throughput").family], against=against,
            )
        )  # fmt: skip
    if measurement.memory and data.control_memory:
        memory = check_regression(
            "memory",
            measurement.memory,
            data.control_memory,
            thresholds[metric("memory").family],
            min_change=MEMORY_NOISE_FLOOR,
            exact=True,
        )
        checks.append(dataclasses.replace(memory, against=against))
    return tuple(checks)


def paired_notes(checks: Iterable[RegressionCheck]) -> list[str]:
    """What a user should know of paired verdicts that did not fail: a change past the
    threshold that the pairs could not show surely, and too few pairs for any verdict."""
    found = []
    for check in checks:
        if check.pairs is None:
            continue
        if check.outcome == "too-few-samples":
            found.append(
                f"perf note: {check.metric} was paired with {check.against} in "
                f"{check.pairs} pairs, too few for a verdict ({MIN_PAIRS} needed): raise "
                "max_time or rounds"
            )
        elif check.outcome == "inconclusive" and check.change is not None:
            bound = -check.threshold if metric(check.metric).is_minimum else check.threshold
            beyond = check.change < bound if bound < 0 else check.change > bound
            if beyond and check.ci_low is not None and check.ci_high is not None:
                found.append(
                    f"perf note: {check.metric} {check.change * 100:+.1f}% vs "
                    f"{check.against} ({format_metric(check.metric, check.baseline or 0.0)} "
                    f"-> {format_metric(check.metric, check.current)}, 95% CI "
                    f"{check.ci_low * 100:+.1f}%..{check.ci_high * 100:+.1f}%, "
                    f"{check.pairs} pairs): past the {bound * 100:+.3g}% threshold, but not "
                    "surely; raise max_time for more pairs"
                )
    return found
