from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.stix.timestamps import TimestampError, format_us, parse_us


def test_precision_does_not_change_the_instant() -> None:
    assert parse_us("2016-04-06T20:03:48Z") == parse_us("2016-04-06T20:03:48.000Z")
    assert parse_us("2016-04-06T20:03:48.1Z") == parse_us("2016-04-06T20:03:48.100000Z")


def test_sub_microsecond_digits_are_dropped() -> None:
    assert parse_us("2016-04-06T20:03:48.123456789Z") == parse_us("2016-04-06T20:03:48.123456Z")


@pytest.mark.parametrize(
    "text",
    [
        "2016-04-06 20:03:48Z",
        "2016-04-06T20:03:48",
        "2016-04-06T20:03:48+01:00",
        "2016-13-06T20:03:48Z",
        "2016-02-30T20:03:48Z",
        "2016-04-06T24:00:00Z",
        "2016-04-06T20:60:00Z",
        "",
        "yesterday",
    ],
)
def test_rejects_what_is_not_a_stix_timestamp(text: str) -> None:
    with pytest.raises(TimestampError):
        parse_us(text)


def test_rejects_non_strings() -> None:
    with pytest.raises(TimestampError, match="expected a timestamp string"):
        parse_us(1234)


@given(st.integers(min_value=0, max_value=253_402_300_799_999_999))
def test_format_and_parse_round_trip(micros: int) -> None:
    assert parse_us(format_us(micros)) == micros


def test_a_leap_second_is_accepted() -> None:
    assert parse_us("2016-12-31T23:59:60Z") == parse_us("2016-12-31T23:59:59Z")
