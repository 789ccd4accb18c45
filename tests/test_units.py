"""Parsing and formatting of durations, sizes, rates and percentages."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_perfbudget.units import (
    UnitError,
    format_count,
    format_duration,
    format_percentage,
    format_rate,
    format_size,
    parse_duration,
    parse_percentage,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250us", 250e-6),
        ("250µs", 250e-6),
        ("1.5 s", 1.5),
        ("50ms", 0.05),
        ("10ns", 10e-9),
        ("2min", 120.0),
        (".5s", 0.5),
        ("1e-3s", 1e-3),
        ("3", 3.0),
        (0.25, 0.25),
        (2, 2.0),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("64MiB", 64 * 1024**2),
        ("1KiB", 1024),
        ("2GiB", 2 * 1024**3),
        ("1kB", 1000),
        ("1KB", 1000),
        ("1.5 MB", 1.5e6),
        ("3GB", 3e9),
        ("100B", 100),
        (4096, 4096),
    ],
)
def test_parse_size(text: object, size: float) -> None:
    assert parse_size(text) == pytest.approx(size)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("2000/s", 2000),
        ("2k/s", 2000),
        ("1.5M/s", 1.5e6),
        ("120/min", 2.0),
        ("7200/h", 2.0),
        ("2 k / s", 2000),
        (500, 500),
    ],
)
def test_parse_rate(text: object, rate: float) -> None:
    assert parse_rate(text) == pytest.approx(rate)


@pytest.mark.parametrize(("text", "fraction"), [("20%", 0.2), ("150%", 1.5), (0.2, 0.2)])
def test_parse_percentage(text: object, fraction: float) -> None:
    assert parse_percentage(text) == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parse_size, "50ms", "'50ms' is a duration, expected a size"),
        (parse_duration, "64MiB", "'64MiB' is a size, expected a duration"),
        (parse_duration, "20%", "'20%' is a percentage, expected a duration"),
        (parse_size, "2k/s", "'2k/s' is a rate, expected a size"),
        (parse_duration, "-5ms", "expected a positive duration, got '-5ms'"),
        (parse_duration, "0ms", "expected a positive duration, got '0ms'"),
        (parse_duration, 0, "expected a positive duration, got 0"),
        (parse_size, -1, "expected a positive size, got -1"),
        (parse_duration, math.nan, "expected a finite duration, got nan"),
        (parse_duration, "nan", "cannot read 'nan' as a duration"),
        (parse_duration, math.inf, "expected a finite duration, got inf"),
        (parse_duration, "1e999s", "expected a finite duration, got '1e999s'"),
        (parse_duration, True, "expected a duration, got True"),
        (parse_duration, None, "expected a duration, got None"),
        (parse_duration, [1], "expected a duration, got [1]"),
        (parse_duration, "fast", "cannot read 'fast' as a duration"),
        (parse_duration, "5 parsecs", "unknown duration unit 'parsecs' in '5 parsecs'"),
        (parse_size, "5 KIB", "unknown size unit 'KIB'"),
        (parse_rate, "5/fortnight", "unknown period 'fortnight'"),
        (parse_rate, "fast/s", "cannot read 'fast/s' as a rate"),
        (parse_rate, "0/s", "expected a positive rate, got '0/s'"),
        (parse_percentage, "20", "cannot read '20' as a percentage"),
        (parse_percentage, "0%", "expected a positive percentage, got '0%'"),
        (parse_percentage, "-5%", "expected a positive percentage, got '-5%'"),
    ],
)
def test_rejects_with_a_reason(
    parse: Callable[[object], float], value: object, message: str
) -> None:
    with pytest.raises(UnitError, match=re.escape(message)):
        parse(value)


@pytest.mark.parametrize(
    ("formatted", "expected"),
    [
        (format_duration(0.0618), "61.8ms"),
        (format_duration(0.05), "50ms"),
        (format_duration(250e-6), "250us"),
        (format_duration(1.5), "1.5s"),
        (format_duration(0.9996), "1s"),
        (format_duration(7200), "7200s"),
        (format_duration(0), "0ns"),
        (format_size(64 * 1024**2), "64MiB"),
        (format_size(1536), "1.5KiB"),
        (format_size(100), "100B"),
        (format_rate(2000), "2k/s"),
        (format_rate(1.5e6), "1.5M/s"),
        (format_rate(0.5), "0.5/s"),
        (format_percentage(0.406), "40.6%"),
    ],
)
def test_format(formatted: str, expected: str) -> None:
    assert formatted == expected


positive = st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(positive)
def test_duration_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=5e-3)


@given(st.floats(min_value=1, max_value=1e15))
def test_size_round_trip(size: float) -> None:
    assert parse_size(format_size(size)) == pytest.approx(size, rel=5e-3)


@given(st.floats(min_value=1e-3, max_value=1e12))
def test_rate_round_trip(rate: float) -> None:
    assert parse_rate(format_rate(rate)) == pytest.approx(rate, rel=5e-3)


@given(st.floats(min_value=1e-4, max_value=100))
def test_percentage_round_trip(fraction: float) -> None:
    assert parse_percentage(format_percentage(fraction)) == pytest.approx(fraction, rel=5e-3)


@given(st.one_of(st.text(), st.binary(), st.none(), st.lists(st.integers()), st.booleans()))
def test_garbage_raises_only_unit_error(value: object) -> None:
    for parse in (parse_duration, parse_size, parse_rate, parse_percentage):
        try:
            result = parse(value)
        except UnitError:
            continue
        assert isinstance(result, float)
        assert result > 0
        assert math.isfinite(result)


@given(st.text(alphabet=st.characters(blacklist_categories=["Nd"]), min_size=1))
def test_text_without_digits_is_never_a_quantity(text: str) -> None:
    for parse in (parse_duration, parse_size, parse_rate, parse_percentage):
        with pytest.raises(UnitError):
            parse(text)


@pytest.mark.parametrize(("number", "shown"), [(0, "0 tests"), (1, "1 test"), (2, "2 tests")])
def test_a_count_of_a_noun_is_singular_for_one_only(number: int, shown: str) -> None:
    assert format_count(number, "test") == shown
