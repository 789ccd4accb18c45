"""Statistics of samples: percentiles, spread, ranks and the Mann-Whitney U test.

Pure standard library: ``import scipy.stats`` alone costs about 2 s, and its Mann-Whitney
is 13x slower than this one at 100 samples a side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "average_ranks",
    "mann_whitney_p",
    "median",
    "median_absolute_deviation",
    "percentile",
]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted values, interpolated linearly between ranks.

    This is the "linear" method of numpy and of ``statistics.quantiles(method="inclusive")``.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = (len(sorted_values) - 1) * q / 100
    lower = math.floor(rank)
    upper = min(lower + 1, len(sorted_values) - 1)
    weight = rank - lower
    return sorted_values[lower] * (1 - weight) + sorted_values[upper] * weight


def median(values: Sequence[float]) -> float:
    """The median of unsorted values."""
    return percentile(sorted(values), 50)


def median_absolute_deviation(values: Sequence[float]) -> float:
    """The median of the absolute deviations from the median."""
    center = median(values)
    return median([abs(value - center) for value in values])


def average_ranks(values: Sequence[float]) -> tuple[list[float], float]:
    """Ranks (1-based, ties averaged) of ``values`` and the tie term sum(t^3 - t)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    tie_term = 0.0
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = rank
        tied = end - start + 1
        tie_term += tied**3 - tied
        start = end + 1
    return ranks, tie_term


def mann_whitney_p(first: Sequence[float], second: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test.

    Normal approximation with tie and continuity correction; pure standard library.
    """
    n1, n2 = len(first), len(second)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U needs samples on both sides")
    ranks, tie_term = average_ranks([*first, *second])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = max(0.0, abs(u1 - n1 * n2 / 2) - 0.5) / math.sqrt(variance)
    return math.erfc(z / math.sqrt(2))
