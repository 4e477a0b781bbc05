"""Small formatting helpers for the console's templates."""

from __future__ import annotations

from datetime import UTC, datetime


def when(micros: int | None) -> str:
    """A time as people read it, in UTC, to the minute ("—" for none)."""
    if micros is None:
        return "—"
    return datetime.fromtimestamp(micros / 1e6, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(micros: int | None) -> str:
    if micros is None:
        return ""
    return datetime.fromtimestamp(micros / 1e6, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day(text: str) -> int | None:
    """A YYYY-MM-DD date from a form as microseconds (its start, UTC); None if blank or bad."""
    text = text.strip()
    if not text:
        return None
    try:
        parsed = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(parsed.timestamp() * 1_000_000)


def page_number(text: str | None) -> int:
    """A page number from the query string (1 when missing or not a positive number)."""
    return max(int(text), 1) if text and text.isdigit() else 1


def ago(micros: int | None, now_us: int) -> str:
    """How long before `now_us` a time was, roughly ("12 s ago", "3 min ago")."""
    if micros is None:
        return "—"
    seconds = max(now_us - micros, 0) // 1_000_000
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
