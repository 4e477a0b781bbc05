"""Parsing TAXII 2.1 query parameters into storage queries, with a 400 for each bad value."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hub.errors import BadRequest
from hub.stix.timestamps import TimestampError, parse_us
from hub.storage.objects import ObjectQuery

_SPEC_VERSION = re.compile(r"^\d+\.\d+$")
_KEYWORDS = ("last", "first", "all")


def _list(args: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = args.get(name)
    if raw is None:
        return ()
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    if not values:
        raise BadRequest(f"{name} is empty")
    return values


def _timestamp(name: str, value: str) -> int:
    try:
        return parse_us(value)
    except TimestampError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def object_query(
    args: Mapping[str, str],
    *,
    allow: frozenset[str],
    default_version: str = "last",
) -> ObjectQuery:
    """An ObjectQuery from the filters an endpoint supports (others are ignored, per spec)."""
    ids = _list(args, "match[id]") if "id" in allow else ()
    types = _list(args, "match[type]") if "type" in allow else ()
    spec_versions = _list(args, "match[spec_version]") if "spec_version" in allow else ()
    for value in spec_versions:
        if not _SPEC_VERSION.match(value):
            raise BadRequest(f"match[spec_version]: {value!r} is not a version like 2.1")
    keywords: tuple[str, ...] = (default_version,) if "version" in allow else ("all",)
    version_us: tuple[int, ...] = ()
    if "version" in allow and "match[version]" in args:
        versions = _list(args, "match[version]")
        keywords = tuple(v for v in versions if v in _KEYWORDS)
        version_us = tuple(_timestamp("match[version]", v) for v in versions if v not in _KEYWORDS)
    added_after = None
    if "added_after" in allow and "added_after" in args:
        added_after = _timestamp("added_after", args["added_after"])
    return ObjectQuery(
        ids=ids,
        types=types,
        versions=keywords,
        version_us=version_us,
        spec_versions=spec_versions,
        added_after_us=added_after,
    )


def limit(args: Mapping[str, str], default: int, maximum: int) -> int:
    """The page size asked for, capped at the server's maximum (the spec lets servers do so)."""
    raw = args.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"limit: {raw!r} is not a positive integer") from None
    if value < 1:
        raise BadRequest(f"limit: {raw!r} is not a positive integer")
    return min(value, maximum)
