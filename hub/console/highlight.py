"""The properties of a held object, with what the personal-data detectors found marked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Segment:
    text: str
    detector: str | None = None  # set for a matched part


@dataclass(frozen=True)
class Property:
    path: str
    segments: tuple[Segment, ...]
    hit: bool


def _leaves(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(f"{path}.{key}" if path else str(key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(f"{path}[{index}]", item)
    else:
        yield path, value


def _segments(text: str, hits: Sequence[Mapping[str, Any]]) -> tuple[Segment, ...]:
    spans = sorted(
        (int(h["start"]), int(h["end"]), str(h["detector"]))
        for h in hits
        if isinstance(h.get("start"), int) and isinstance(h.get("end"), int)
    )
    result: list[Segment] = []
    position = 0
    for start, end, detector in spans:
        start, end = max(start, position), min(end, len(text))
        if start >= end:
            continue
        if start > position:
            result.append(Segment(text[position:start]))
        result.append(Segment(text[start:end], detector))
        position = end
    if position < len(text):
        result.append(Segment(text[position:]))
    return tuple(result)


def properties(body: Mapping[str, Any], hits: Sequence[Mapping[str, Any]]) -> list[Property]:
    """Every leaf property of the object, its matched parts marked with their detector. A hit
    without a position (a whole property or the object itself) marks the whole value."""
    by_path: dict[str, list[Mapping[str, Any]]] = {}
    for hit in hits:
        by_path.setdefault(str(hit.get("path") or ""), []).append(hit)
    result = []
    for path, value in _leaves("", body):
        text = value if isinstance(value, str) else orjson.dumps(value).decode("utf-8")
        found = [
            h for p, hs in by_path.items() if p == path or p.startswith(path + ".") for h in hs
        ]
        # A hit on a container (e.g. an x_ object) marks each of its leaves.
        found += [h for p, hs in by_path.items() if p and path.startswith(p + ".") for h in hs]
        positioned = [h for h in found if isinstance(h.get("start"), int) and h.get("path") == path]
        if positioned and isinstance(value, str):
            segments = _segments(text, positioned)
        elif found:
            segments = (Segment(text, str(found[0]["detector"])),)
        else:
            segments = (Segment(text),)
        result.append(Property(path, segments, bool(found)))
    return result


def whole_object_hits(hits: Sequence[Mapping[str, Any]]) -> list[str]:
    """Detectors whose hit is the object itself (an account observable, say)."""
    return sorted({str(h["detector"]) for h in hits if not h.get("path")})
