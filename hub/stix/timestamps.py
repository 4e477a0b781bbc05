"""STIX/TAXII timestamps as integers of microseconds since the epoch, and back.

Storing instants as integers makes them cheap to index and compare, and avoids the trap of
comparing "…48Z" with "…48.000Z" as text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache

_TIMESTAMP = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?Z$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


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
    frac = match.group(3)
    micros = int(frac[:6].ljust(6, "0")) if frac else 0
    return _whole_seconds(value[:19]) * 1_000_000 + micros


@lru_cache(maxsize=8192)
def _whole_seconds(text: str) -> int:
    """Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS` (feeds repeat timestamps: cached)."""
    try:
        day = date.fromisoformat(text[:10])
    except ValueError as exc:
        raise TimestampError(f"{text[:10]!r} is not a valid date: {exc}") from None
    hours, minutes, seconds = int(text[11:13]), int(text[14:16]), int(text[17:19])
    if hours > 23 or minutes > 59 or seconds > 60:
        raise TimestampError(f"{text!r} is not a valid time of day")
    seconds = min(seconds, 59)  # a leap second counts as the last second of its minute
    return (day.toordinal() - _EPOCH_ORDINAL) * 86_400 + hours * 3600 + minutes * 60 + seconds


def format_us(micros: int) -> str:
    """Format microseconds since the epoch as a STIX timestamp with microsecond precision."""
    seconds, micro = divmod(micros, 1_000_000)
    whole = datetime.fromtimestamp(seconds, UTC)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{micro:06d}Z"


def now_us() -> int:
    """The current time in microseconds since the epoch."""
    delta = datetime.now(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
