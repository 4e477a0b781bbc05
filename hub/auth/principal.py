"""The caller of a request and the rules for what it may read and write."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated member acting through one API key."""

    member_id: str
    member_name: str
    kind: str  # industry | government
    sector: str | None
    key_id: str
    scopes: frozenset[str]  # subset of {"read", "write"}


def matches(principal: Principal, entries: Iterable[str]) -> bool:
    """True if the member is named by any reader/writer entry of a collection.

    Entries: '*' (every member), a kind ('industry'), a kind in a sector ('industry:energy'),
    or a sector of any kind ('sector:energy').
    """
    for entry in entries:
        if entry == "*" or entry == principal.kind:
            return True
        scope, _, sector = entry.partition(":")
        if sector and sector == principal.sector and scope in ("sector", principal.kind):
            return True
    return False


def can_read(principal: Principal, readers: Iterable[str]) -> bool:
    return "read" in principal.scopes and matches(principal, readers)


def can_write(principal: Principal, writers: Iterable[str]) -> bool:
    return "write" in principal.scopes and matches(principal, writers)
