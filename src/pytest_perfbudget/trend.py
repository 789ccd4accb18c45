"""Trends over a test's history: step changes and slow creep, and sparklines.

As docs/explanation/statistics.md explains: over the last :data:`TREND_RUNS` run medians,
a single-split Mann-Whitney step detector (alpha 0.001, Bonferroni-corrected over the
splits tried, at least :data:`MIN_SIDE` runs a side), or a clean split (sides that do not
overlap, far apart against their spread), finds a persistent shift and the run where it
began; Mann-Kendall with the Theil-Sen slope finds slow creep. Trends are reported, never
failed on. Pure standard library, well under a millisecond a test.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Sequence

from .stats import average_ranks, median

__all__ = [
    "MIN_SIDE",
    "TREND_RUNS",
    "Creep",
    "Step",
    "find_change",
    "find_creep",
    "find_step",
    "sparkline",
    "spreads_apart",
    "spreads_needed",
]

TREND_RUNS = 30
MIN_SIDE = 4
STEP_ALPHA = 0.001
CREEP_ALPHA = 0.001
#: A step, or a creep over the whole window, smaller than this is not worth reporting,
#: however significant (the default regression threshold is 20%).
MIN_RELATIVE_CHANGE = 0.05
#: How many spreads apart the sides of a clean split must be, by the runs on its shorter
#: side: 4, 5, 6, 7, then 8 or more (see :func:`spreads_needed`).
CLEAN_STEP_SPREADS = (22.0, 14.0, 9.0, 8.0, 6.0)
SPARK_BARS = "▁▂▃▄▅▆▇█"


@dataclasses.dataclass(frozen=True)
class Step:
    """A persistent shift: the series' level changes at ``index`` (the first run after).

    ``p_value`` is the rank test's; ``clean`` says the step was found as a clean split when
    the rank test could not reach :data:`STEP_ALPHA`.
    """

    index: int
    before: float
    after: float
    p_value: float
    clean: bool

    @property
    def change(self) -> float:
        """Relative size: +0.25 is 25% higher after than before."""
        return self.after / self.before - 1 if self.before > 0 else math.inf


@dataclasses.dataclass(frozen=True)
class Creep:
    """A monotonic drift: Theil-Sen ``slope`` in units per run, ``relative`` to the median."""

    slope: float
    relative: float
    p_value: float


def find_step(series: Sequence[float]) -> Step | None:
    """The step in ``series``, placed where two levels fit it closest, when a split found it;
    None otherwise (or when it is smaller than :data:`MIN_RELATIVE_CHANGE`).

    A split finds a step when its Mann-Whitney p-value, times the number of splits tried,
    is below :data:`STEP_ALPHA` (:func:`_rank_p_value`), or when it is clean
    (:func:`_has_clean_split`): the rank test cannot reach :data:`STEP_ALPHA` with 8 runs a
    side or fewer, nor for a step in the newest 4 of 30 runs, however large the step.
    """
    count = len(series)
    splits = range(MIN_SIDE, count - MIN_SIDE + 1)
    if not splits:
        return None
    p_value = _rank_p_value(series, splits)
    clean = p_value >= STEP_ALPHA
    if clean and not _has_clean_split(series, splits):
        return None
    index = min(splits, key=lambda split: _two_level_error(series, split))
    step = Step(index, median(series[:index]), median(series[index:]), p_value, clean)
    return step if abs(step.change) >= MIN_RELATIVE_CHANGE else None


def _rank_p_value(series: Sequence[float], splits: range) -> float:
    """The Mann-Whitney p-value of the most significant split, times the splits tried.

    The p-value comes from the exact distribution of U (the normal approximation is far
    too conservative this far in the tail); with ties (run medians are saved to three
    digits) U is rounded towards the center, which keeps it conservative.
    """
    count = len(series)
    ranks, tie_term = average_ranks(series)
    tie_factor = (count + 1) - tie_term / (count * (count - 1))
    if tie_factor <= 0:
        return 1.0  # every value equal
    best_index, best_z, best_u = MIN_SIDE, -1.0, 0.0
    rank_sum = sum(ranks[: MIN_SIDE - 1])
    for index in splits:
        rank_sum += ranks[index - 1]
        first, second = index, count - index
        u = rank_sum - first * (first + 1) / 2
        variance = first * second / 12 * tie_factor
        z = max(0.0, abs(u - first * second / 2) - 0.5) / math.sqrt(variance)
        if z > best_z:
            best_index, best_z, best_u = index, z, u
    one_sided = _exact_u_tail(best_index, count - best_index, best_u)
    return min(1.0, 2 * one_sided * len(splits))


def _has_clean_split(series: Sequence[float], splits: range) -> bool:
    """Whether a split of ``series`` is clean: every run on one side slower than every run
    on the other, and the sides :func:`spreads_needed` spreads apart or more."""
    count = len(series)
    # the extremes of every prefix and suffix: most splits overlap, and are passed over in
    # one comparison
    lows, highs = list(itertools.accumulate(series, min)), list(itertools.accumulate(series, max))
    reversed_series = series[::-1]
    later_lows = list(itertools.accumulate(reversed_series, min))[::-1]
    later_highs = list(itertools.accumulate(reversed_series, max))[::-1]
    for index in splits:
        if highs[index - 1] >= later_lows[index] and lows[index - 1] <= later_highs[index]:
            continue  # the sides overlap
        apart = spreads_apart(series[:index], series[index:])
        if apart >= spreads_needed(index, count - index):
            return True
    return False


def spreads_apart(before: Sequence[float], after: Sequence[float]) -> float:
    """How far apart the medians of two sides are in spreads, the spread being the runs'
    mean distance from their own side's median; infinite when there is no spread."""
    low, high = median(before), median(after)
    spread = sum(abs(value - low) for value in before) + sum(abs(value - high) for value in after)
    spread /= len(before) + len(after)
    return abs(high - low) / spread if spread > 0 else math.inf


def spreads_needed(before: int, after: int) -> float:
    """How many spreads apart the sides of a clean split must be for it to be a step.

    Either bound makes such a split a false step of an unchanged history (lognormal noise)
    about once in a million or less (``benchmarks/bench_trend_simulation.py --calibrate``);
    the smaller is used. The first was fitted to equal sides; the second grows with the
    chance that an unchanged history splits that cleanly at all, 2 / C(before + after,
    before), and is the lower for a few runs after many (the newest 4 of 30: 7, not 22).
    """
    shorter = min(before, after)
    by_side = CLEAN_STEP_SPREADS[min(shorter - MIN_SIDE, len(CLEAN_STEP_SPREADS) - 1)]
    by_chance = 3 * math.pow(1e6 * 2 / math.comb(before + after, before), 0.2)
    return min(by_side, by_chance)


def _two_level_error(series: Sequence[float], index: int) -> float:
    """How far ``series`` lies from its two medians, split at ``index``."""
    before, after = median(series[:index]), median(series[index:])
    return sum(abs(value - before) for value in series[:index]) + sum(
        abs(value - after) for value in series[index:]
    )


@functools.lru_cache(maxsize=256)
def _u_distribution(first: int, second: int) -> tuple[float, ...]:
    """Cumulative probabilities P(U <= u) of the Mann-Whitney U statistic without ties:
    the coefficients of the Gaussian binomial [first + second choose first]."""
    counts = [1]
    for step in range(1, first + 1):  # multiply by (1 - q^(second + step)) / (1 - q^step)
        grown = counts + [0] * (second + step)
        for index in range(len(grown) - 1, second + step - 1, -1):
            grown[index] -= grown[index - second - step]
        for index in range(step, len(grown)):
            grown[index] += grown[index - step]
        counts = grown[: first * second + 1] if step == first else grown
    total = math.comb(first + second, first)
    cumulative, running = [], 0
    for value in counts[: first * second + 1]:
        running += value
        cumulative.append(running / total)
    return tuple(cumulative)


def _exact_u_tail(first: int, second: int, u: float) -> float:
    """P(U <= u) or P(U >= u), whichever tail ``u`` lies in."""
    cumulative = _u_distribution(first, second)
    low = min(u, first * second - u)
    return cumulative[math.ceil(low)]


def find_creep(series: Sequence[float]) -> Creep | None:
    """A Mann-Kendall trend with p < :data:`CREEP_ALPHA` and its Theil-Sen slope; None when
    the series is stationary (or too short: fewer than 2 x :data:`MIN_SIDE` runs)."""
    count = len(series)
    if count < 2 * MIN_SIDE:
        return None
    score = 0
    for index, value in enumerate(series):
        for later in series[index + 1 :]:
            score += (later > value) - (later < value)
    variance = (count * (count - 1) * (2 * count + 5) - _tie_correction(series)) / 18
    if variance <= 0 or score == 0:
        return None
    z = (abs(score) - 1) / math.sqrt(variance)
    p_value = math.erfc(z / math.sqrt(2))
    if p_value >= CREEP_ALPHA:
        return None
    slopes = sorted(
        (series[later] - series[index]) / (later - index)
        for index in range(count)
        for later in range(index + 1, count)
    )
    slope = median(slopes)
    center = median(series)
    relative = slope / center if center > 0 else 0.0
    if abs(relative) * count < MIN_RELATIVE_CHANGE:
        return None
    return Creep(slope, relative, p_value)


def find_change(series: Sequence[float]) -> Step | Creep | None:
    """The step or the creep in ``series``; when both tests fire (a steep creep splits
    well, a step trends), the model that fits closer: two levels or a line."""
    step, creep = find_step(series), find_creep(series)
    if step is None or creep is None:
        return step or creep
    levels = _two_level_error(series, step.index)
    intercept = median([value - creep.slope * index for index, value in enumerate(series)])
    line = sum(abs(value - intercept - creep.slope * index) for index, value in enumerate(series))
    return step if levels <= line else creep


def _tie_correction(series: Sequence[float]) -> int:
    """Mann-Kendall's variance correction for ties: sum of t(t-1)(2t+5) over tied groups."""
    counts: dict[float, int] = {}
    for value in series:
        counts[value] = counts.get(value, 0) + 1
    return sum(tied * (tied - 1) * (2 * tied + 5) for tied in counts.values() if tied > 1)


def sparkline(values: Sequence[float | None]) -> str:
    """One bar per value, scaled between the smallest and the largest; a gap for None."""
    known = [value for value in values if value is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = high - low
    bars = []
    for value in values:
        if value is None:
            bars.append(" ")
        elif span <= 0:
            bars.append(SPARK_BARS[len(SPARK_BARS) // 2])
        else:
            bars.append(SPARK_BARS[round((value - low) / span * (len(SPARK_BARS) - 1))])
    return "".join(bars)
