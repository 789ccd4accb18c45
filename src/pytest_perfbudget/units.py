"""Parse and format the quantities users write: durations, sizes, rates, percentages.

Every parser returns a number in base units (seconds, bytes, operations per second, a
fraction) and raises :class:`UnitError` for anything it cannot read, never another
exception. Formatters print three significant digits with the largest fitting unit.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "UnitError",
    "format_count",
    "format_duration",
    "format_percentage",
    "format_rate",
    "format_size",
    "parse_count",
    "parse_duration",
    "parse_percentage",
    "parse_rate",
    "parse_size",
]


class UnitError(ValueError):
    """A value that is not a valid quantity of the expected kind."""


DURATION_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
}
SIZE_UNITS: dict[str, float] = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
RATE_MULTIPLIERS: dict[str, float] = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
RATE_PERIODS: dict[str, float] = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}

_NUMBER = r"[+-]?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|[+-]?\.[0-9]+(?:[eE][+-]?[0-9]+)?"
_QUANTITY = re.compile(rf"\s*(?P<number>{_NUMBER})\s*(?P<unit>[^\s0-9.]*)\s*")
_RATE = re.compile(
    rf"\s*(?P<number>{_NUMBER})\s*(?P<multiplier>[kKMG]?)\s*/\s*(?P<period>[a-z]+)\s*"
)

_KIND_OF_UNIT: dict[str, str] = {
    **dict.fromkeys(DURATION_UNITS, "duration"),
    **dict.fromkeys(SIZE_UNITS, "size"),
    "%": "percentage",
}


def _checked_number(number: object, kind: str, written: object) -> float:
    """``number`` as a float; NaN, infinities, non-positives and non-numbers are errors."""
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise UnitError(f"expected a {kind}, got {written!r}")
    if math.isnan(number) or math.isinf(number):
        raise UnitError(f"expected a finite {kind}, got {written!r}")
    if number <= 0:
        raise UnitError(f"expected a positive {kind}, got {written!r}")
    return float(number)


def _split_quantity(text: str, kind: str) -> tuple[float, str]:
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise UnitError(f"cannot read {text!r} as a {kind}")
    return float(match["number"]), match["unit"]


def _kind_of_unit(unit: str) -> str | None:
    if "/" in unit:
        return "rate"
    return _KIND_OF_UNIT.get(unit)


def _parse_with_units(value: object, kind: str, units: dict[str, float], hint: str) -> float:
    if not isinstance(value, str):
        return _checked_number(value, kind, value)
    number, unit = _split_quantity(value, kind)
    if unit and unit not in units:
        other_kind = _kind_of_unit(unit)
        if other_kind is not None:
            raise UnitError(f"{value!r} is a {other_kind}, expected a {kind} ({hint})")
        raise UnitError(f"unknown {kind} unit {unit!r} in {value!r} (use {hint})")
    return _checked_number(number * units.get(unit, 1.0), kind, value)


def parse_duration(value: object) -> float:
    """Seconds from ``"250us"``, ``"1.5 s"``, ``"2min"`` or a number of seconds."""
    return _parse_with_units(value, "duration", DURATION_UNITS, "ns, us, ms, s, min")


def parse_size(value: object) -> float:
    """Bytes from ``"64MiB"``, ``"1.5 GB"`` or a number of bytes."""
    return _parse_with_units(value, "size", SIZE_UNITS, "B, kB, MB, GB, KiB, MiB, GiB")


def parse_rate(value: object) -> float:
    """Operations per second from ``"2000/s"``, ``"2k/s"``, ``"120/min"`` or a number."""
    if not isinstance(value, str):
        return _checked_number(value, "rate", value)
    match = _RATE.fullmatch(value)
    if match is None:
        raise UnitError(f"cannot read {value!r} as a rate (write it like '2000/s' or '2k/s')")
    period = match["period"]
    if period not in RATE_PERIODS:
        raise UnitError(f"unknown period {period!r} in rate {value!r} (use s, min or h)")
    number = float(match["number"]) * RATE_MULTIPLIERS[match["multiplier"]]
    return _checked_number(number / RATE_PERIODS[period], "rate", value)


def parse_count(value: object, *, minimum: int, text: bool = False) -> int:
    """A whole number of at least ``minimum``: an int (a bool is not one), or with ``text``
    a string of digits, as ini options and command-line arguments are written."""
    if text and isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UnitError(f"expected a whole number of at least {minimum}")
    return value


def parse_percentage(value: object) -> float:
    """A fraction from ``"20%"`` or a fraction ``0.2``."""
    if not isinstance(value, str):
        return _checked_number(value, "percentage", value)
    number, unit = _split_quantity(value, "percentage")
    if unit != "%":
        raise UnitError(f"cannot read {value!r} as a percentage (write it like '20%')")
    return _checked_number(number / 100, "percentage", value)


def _three_digits(number: float) -> str:
    """``number`` with three significant digits and no trailing zeros."""
    text = f"{number:.3g}"
    if "e" in text:
        text = f"{number:.0f}"
    return text


def _scaled(value: float, steps: list[tuple[float, str]]) -> str:
    """Format with the largest unit of ``steps`` (ascending) that keeps the number >= 1."""
    factor, unit = steps[0]
    for step_factor, step_unit in steps:
        if abs(value) >= step_factor * 0.9995:
            factor, unit = step_factor, step_unit
    return f"{_three_digits(value / factor)}{unit}"


def format_duration(seconds: float) -> str:
    """``0.0618`` -> ``"61.8ms"``."""
    return _scaled(seconds, [(1e-9, "ns"), (1e-6, "us"), (1e-3, "ms"), (1.0, "s")])


def format_size(size: float) -> str:
    """``67108864`` -> ``"64MiB"``."""
    return _scaled(size, [(1, "B"), (1024, "KiB"), (1024**2, "MiB"), (1024**3, "GiB")])


def format_rate(per_second: float) -> str:
    """``2000`` -> ``"2k/s"``."""
    steps = [(1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "G")]
    if per_second < 1:
        return f"{_three_digits(per_second)}/s"
    return _scaled(per_second, steps) + "/s"


def format_percentage(fraction: float) -> str:
    """``0.2`` -> ``"20%"``."""
    return f"{_three_digits(fraction * 100)}%"


def format_count(number: int, noun: str) -> str:
    """``number`` of ``noun``: "1 test", "2 tests"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
