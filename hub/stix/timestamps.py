"""STIX/TAXII timestamps as integers of microseconds since the epoch, and back.

Storing instants as integers makes them cheap to index and compare, and avoids the trap of
comparing "…48Z" with "…48.000Z" as text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?Z$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimestampError(ValueError):
    """A string that is not a STIX 2.1 timestamp (RFC 3339, UTC, ending in Z)."""


def parse_us(value: object) -> int:
    """Parse a STIX timestamp into microseconds since the epoch (sub-µs digits are dropped)."""
    if not isinstance(value, str):
        raise TimestampError(f"expected a timestamp string, got {type(value).__name__}")
    match = _TIMESTAMP.match(value)
    if match is None:
        raise TimestampError(
            f"{value!r} is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z, in UTC)"
        )
    try:
        whole = datetime.fromisoformat(f"{match['date']}T{match['time']}+00:00")
    except ValueError as exc:
        raise TimestampError(f"{value!r} is not a valid date and time: {exc}") from None
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    delta = whole - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + int(frac)


def format_us(micros: int) -> str:
    """Format microseconds since the epoch as a STIX timestamp with microsecond precision."""
    seconds, micro = divmod(micros, 1_000_000)
    whole = datetime.fromtimestamp(seconds, UTC)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{micro:06d}Z"


def now_us() -> int:
    """The current time in microseconds since the epoch."""
    delta = datetime.now(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
