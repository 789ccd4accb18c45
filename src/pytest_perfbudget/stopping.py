"""When a test has been measured enough: every verdict it gets is settled either way.

A budgeted test is measured in batches, and after each the verdicts are looked at: each
absolute limit, through the confidence bounds of its percentile (distribution-free, from
order statistics), and the regression check against the baseline, through the bounds of
the median. As soon as none of them could turn with more samples, measuring stops; a
borderline test measures until ``max_time``, as before (docs/explanation/stopping.md).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence

from .baseline import Baseline
from .budget import Budget, Limit
from .measure import Measurement
from .metrics import PERCENTILES
from .regression import check_regressions

__all__ = [
    "STOP_CONFIDENCE",
    "Bounds",
    "fewest_to_settle",
    "limit_settled",
    "quantile_bounds",
    "regression_verdict",
    "settled",
]

#: The confidence of the bounds a stop rests on, each side. Looked at after every batch
#: (about 15 looks between 10 and 10,000 calls), so stricter than the 95% one look uses.
STOP_CONFIDENCE = 0.99
#: Up to this many samples the bounds come from the exact binomial distribution.
EXACT_SAMPLES = 200


@dataclasses.dataclass(frozen=True)
class Bounds:
    """Where a percentile (or the mean) lies, at :data:`STOP_CONFIDENCE`: ``low`` and
    ``high``, None where the samples cannot bound it on that side."""

    low: float | None
    high: float | None


def _binomial_cdf(count: int, probability: float) -> list[float]:
    """P(B <= k) for k = 0..count of B ~ Binomial(count, probability), summed in log
    space: (1 - p)^n alone underflows at p = 0.99, n = 200."""
    log_p, log_q = math.log(probability), math.log1p(-probability)
    head = math.lgamma(count + 1)
    cdf, total = [], 0.0
    for k in range(count + 1):
        log_term = head - math.lgamma(k + 1) - math.lgamma(count - k + 1)
        total += math.exp(log_term + k * log_p + (count - k) * log_q)
        cdf.append(total)
    return cdf


@functools.lru_cache(maxsize=256)
def _ranks(count: int, q: float, confidence: float) -> tuple[int | None, int | None]:
    """The 1-based ranks of the order statistics that bound the ``q`` quantile from below
    and above, each with ``confidence``; None where none does. Cached: every test looks
    at the same counts of calls (10, 15, 23...)."""
    tail = 1 - confidence
    if count > EXACT_SAMPLES:
        from statistics import NormalDist  # slow to import, needed for long runs only

        spread = NormalDist().inv_cdf(confidence) * math.sqrt(count * q * (1 - q))
        below = math.floor(count * q - spread)
        above = math.ceil(count * q + spread) + 1
        return (below if below >= 1 else None), (above if above <= count else None)
    cdf = _binomial_cdf(count, q)
    # with B samples below the quantile (B ~ Binomial(count, q)), X_(r) lies below it when
    # B >= r, and above it when B <= r - 1
    ranks = range(1, count + 1)
    low = max((rank for rank in ranks if cdf[rank - 1] <= tail), default=None)
    high = next((rank for rank in ranks if cdf[rank - 1] >= 1 - tail), None)
    return low, high


def quantile_bounds(
    ordered: Sequence[float], percent: float, confidence: float = STOP_CONFIDENCE
) -> Bounds:
    """Distribution-free bounds of the ``percent`` percentile of what ``ordered`` (sorted
    samples) were drawn from."""
    low, high = _ranks(len(ordered), percent / 100, confidence)
    return Bounds(
        None if low is None else ordered[low - 1], None if high is None else ordered[high - 1]
    )


@functools.lru_cache(maxsize=16)
def _fewest_bounding_above(q: float, confidence: float = STOP_CONFIDENCE) -> int:
    """The fewest samples whose largest bounds the ``q`` quantile from above: the chance
    that all n fall under it, q^n, must be at most 1 - ``confidence``."""
    count = max(1, math.floor(math.log(1 - confidence) / math.log(q)))
    # the estimate, checked against the rule (uncached: past 200 samples it may take
    # hundreds of counts that no test looks at)
    while _ranks.__wrapped__(count, q, confidence)[1] is None:
        count += 1
    return count


def fewest_to_settle(budget: Budget) -> int:
    """The fewest samples that can show every limit of ``budget`` kept: a look then
    settles a clear pass as early as the bounds allow (90 calls under a ``p95`` limit),
    where the growing looks would pass over it (80, then 120)."""
    fewest = 0
    for limit in budget.limits:
        if limit.metric in PERCENTILES:
            q = PERCENTILES[limit.metric] / 100
        elif limit.metric in ("cpu", "throughput"):  # each kept through the median's bound
            q = 0.5
        else:  # the mean is bounded from 2, memory once read, max never kept for sure
            continue
        fewest = max(fewest, _fewest_bounding_above(q))
    return fewest


def _mean_bounds(values: Sequence[float], confidence: float = STOP_CONFIDENCE) -> Bounds:
    """The mean's bounds by the central limit theorem (no distribution-free bound of a
    mean exists)."""
    count = len(values)
    mean = sum(values) / count
    spread = math.sqrt(sum((value - mean) ** 2 for value in values) / (count - 1))
    from statistics import NormalDist

    margin = NormalDist().inv_cdf(confidence) * spread / math.sqrt(count)
    return Bounds(mean - margin, mean + margin)


def _bounds(limit: Limit, measurement: Measurement, ordered: Sequence[float]) -> Bounds:
    """Where the limited metric lies."""
    name = limit.metric
    bounds = Bounds(None, None)
    if name in PERCENTILES:
        bounds = quantile_bounds(ordered, PERCENTILES[name])
    elif name == "cpu":
        bounds = quantile_bounds(sorted(measurement.cpu), 50)
    elif name == "throughput":  # ops over the median time: its bounds turn over
        times = quantile_bounds(ordered, 50)
        ops = measurement.ops
        bounds = Bounds(
            None if times.high is None else ops / times.high,
            None if times.low is None or times.low <= 0 else ops / times.low,
        )
    elif name == "mean":
        bounds = _mean_bounds(ordered)
    elif name == "max":  # no bound above the largest sample: only a broken limit is certain
        bounds = Bounds(ordered[-1], None)
    elif name == "memory":  # read on the first calls only: more calls will not change it
        value = max(measurement.memory, default=0.0)
        bounds = Bounds(value, value)
    return bounds


def limit_settled(limit: Limit, measurement: Measurement, ordered: Sequence[float]) -> bool:
    """Whether more samples could not change whether ``limit`` is broken."""
    bounds = _bounds(limit, measurement, ordered)
    if limit.is_minimum:
        return (bounds.low is not None and bounds.low >= limit.bound) or (
            bounds.high is not None and bounds.high < limit.bound
        )
    return (bounds.high is not None and bounds.high <= limit.bound) or (
        bounds.low is not None and bounds.low > limit.bound
    )


#: Whether a measurement would be called regressed: the regression check, as the caller
#: makes it (against the baseline, at equal machine speed).
RegressionVerdict = Callable[[Measurement], bool | None]


#: Outcomes that more samples could still turn into a regression: not significant yet,
#: and the excuses of a change measured past the threshold (the machine ran slower, the
#: test ran this slow before), which rest on readings of the machine's speed that more
#: calls refine (docs/explanation/stopping.md).
_OPEN = frozenset({"not-significant", "too-few-samples", "machine-slower", "seen-before"})


def regression_verdict(
    baseline: Baseline, thresholds: Mapping[str, float], *, throughput: bool
) -> RegressionVerdict:
    """The regression check of a measurement against ``baseline``, as judged: True when a
    metric regressed, False when none did, None while one is not significant yet."""

    def verdict(measurement: Measurement) -> bool | None:
        checks = check_regressions(measurement, baseline, thresholds, throughput=throughput)
        outcomes = {check.outcome for check in checks}
        if "regressed" in outcomes:
            return True
        return None if outcomes & _OPEN else False

    return verdict


def _scaled(measurement: Measurement, factor: float) -> Measurement:
    return dataclasses.replace(
        measurement, wall=tuple(value * factor for value in measurement.wall)
    )


def settled(
    budget: Budget,
    measurement: Measurement,
    regressed: RegressionVerdict | None,
    *,
    memory_done: bool,
) -> bool:
    """Whether every verdict of a test is settled: each limit, and with a baseline the
    regression check, whose outcome must be the same with the median anywhere within its
    bounds (``regressed`` returns None for an outcome more samples could still change, such
    as not significant yet)."""
    if measurement.memory and not memory_done:
        return False
    ordered = sorted(measurement.wall)
    if not all(limit_settled(limit, measurement, ordered) for limit in budget.limits):
        return False
    if regressed is None:
        return True
    middle = ordered[len(ordered) // 2]
    bounds = quantile_bounds(ordered, 50)
    if middle <= 0 or bounds.low is None or bounds.high is None:
        return False
    verdicts = {
        regressed(measurement),
        regressed(_scaled(measurement, bounds.low / middle)),
        regressed(_scaled(measurement, bounds.high / middle)),
    }
    return len(verdicts) == 1 and None not in verdicts
