from __future__ import annotations

import pytest

from hub.auth.principal import Principal, can_read, can_write, matches


def principal(
    kind: str = "industry", sector: str | None = "finance", scopes: str = "read,write"
) -> Principal:
    return Principal("m1", "Acme", kind, sector, "hk_1", frozenset(scopes.split(",")))


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (["*"], True),
        (["industry"], True),
        (["government"], False),
        (["industry:finance"], True),
        (["industry:energy"], False),
        (["government:finance"], False),
        (["sector:finance"], True),
        (["sector:energy"], False),
        ([], False),
    ],
)
def test_reader_entries(entries: list[str], expected: bool) -> None:
    assert matches(principal(), entries) is expected


def test_member_without_sector_matches_no_sector_entry() -> None:
    assert not matches(principal(sector=None), ["sector:finance", "industry:finance"])


def test_scope_limits_what_a_key_may_do() -> None:
    read_only = principal(scopes="read")
    assert can_read(read_only, ["industry"])
    assert not can_write(read_only, ["industry"])
    write_only = principal(scopes="write")
    assert can_write(write_only, ["industry"])
    assert not can_read(write_only, ["industry"])
