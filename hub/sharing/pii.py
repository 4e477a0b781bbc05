"""Personal-data detectors: find e-mail addresses, phone numbers, people's names, victims'
accounts, internal addresses and host names, and custom properties in a STIX object.

Each finding is a `Hit` naming the detector, the property path and the matched text (shown to
a reviewer, never stored with a release). What happens to a hit is the policy's business.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from hub.sharing.policy import SCO_TYPES

# Properties that are not free text: identifiers, timestamps, vocabularies, the pattern (the
# indicator itself) and hashes. Keys ending in _ref / _refs are skipped too.
_NOT_TEXT: Final = frozenset(
    {
        "type",
        "spec_version",
        "id",
        "created",
        "modified",
        "pattern",
        "pattern_type",
        "pattern_version",
        "valid_from",
        "valid_until",
        "first_seen",
        "last_seen",
        "first_observed",
        "last_observed",
        "published",
        "start_time",
        "stop_time",
        "lang",
        "identity_class",
        "relationship_type",
        "hashes",
        "object_marking_refs",
        "granular_markings",
        "extension_type",
    }
)

_EMAIL: Final = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])"
)
_PHONE: Final = re.compile(
    r"(?<![\w+/.-])(?:"
    r"(?:\+|00)[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}"
    r"|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}"
    r"|\d{3}[.-]\d{3}[.-]\d{4}"
    r"|0\d{1,4}[ /-]\d{3,4}[ -]?\d{2,6}"
    r")(?![\w/.-]?\d)"
)
_DIGIT: Final = re.compile(r"\d")
# Each pattern starts with a plain character class (so the regex engine can skip ahead to
# candidates) and checks what precedes that first character with a two-character lookbehind.
_IPV4: Final = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
_IPV6_HINT: Final = re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f]")
_IPV6: Final = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")

_INTERNAL_V4: Final = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16")
)
_INTERNAL_V6: Final = tuple(
    ipaddress.ip_network(net) for net in ("fc00::/7", "fe80::/10", "::1/128")
)


@dataclass(frozen=True, slots=True)
class Hit:
    detector: str
    path: str  # the property, e.g. "description" or "external_references[0].description"
    text: str  # what matched (the whole value when start < 0)
    start: int = -1  # span in the string; -1: the whole value (or the whole object)
    end: int = -1

    @property
    def whole(self) -> bool:
        return self.start < 0

    def public(self) -> dict[str, str]:
        """What may be recorded with a release: the kind and the place, not the content."""
        return {"detector": self.detector, "path": self.path}


def is_internal_address(text: str) -> bool:
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        # Dotted quads, the common case, without the cost of ipaddress: the same ranges as
        # _INTERNAL_V4 (a test checks the two agree).
        a, b, c, d = (int(p) for p in parts)
        if max(a, b, c, d) > 255:
            return False
        return (
            a in (10, 127)
            or (a == 172 and 16 <= b <= 31)
            or (a == 192 and b == 168)
            or (a == 169 and b == 254)
        )
    try:
        address = ipaddress.ip_address(_without_leading_zeros(text))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    networks = _INTERNAL_V4 if address.version == 4 else _INTERNAL_V6
    return any(address in network for network in networks)


def _without_leading_zeros(text: str) -> str:
    """192.168.001.010 as 192.168.1.10: people write it, and ipaddress refuses it."""
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        return ".".join(str(int(p)) for p in parts)
    return text


# Strings in which the detectors found nothing, remembered per Detectors: at most this many,
# each at most this long.
_CLEAN_STRINGS: Final = 50_000
_CLEAN_LENGTH: Final = 200


class Detectors:
    """The compiled detectors for one policy's internal domains."""

    def __init__(self, internal_domains: Iterable[str]) -> None:
        self._clean: set[str] = set()
        suffixes = sorted({d.strip(".").lower() for d in internal_domains if d.strip(".")})
        self._hostname = (
            re.compile(
                r"(?<![\w.@-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:"
                + "|".join(re.escape(s) for s in suffixes)
                + r")(?![\w-]|\.[A-Za-z0-9])",
                re.IGNORECASE,
            )
            if suffixes
            else None
        )
        self._suffixes = tuple("." + s for s in suffixes)
        # Cheap test before the full host-name pattern: an internal suffix at a word's end.
        self._suffix_probe = (
            re.compile(
                r"\.(?:" + "|".join(re.escape(s) for s in suffixes) + r")(?![\w-])",
                re.IGNORECASE,
            )
            if suffixes
            else None
        )

    def scan(self, obj: Mapping[str, Any]) -> list[Hit]:
        """Every hit in `obj`, in a stable order (property order, then position)."""
        hits: list[Hit] = []
        obj_type = obj.get("type")
        if obj_type in ("user-account", "email-addr"):
            shown = obj.get("value") or obj.get("user_id") or obj.get("account_login") or ""
            hits.append(Hit("account", "", str(shown)))
        person = obj_type == "identity" and obj.get("identity_class") == "individual"
        if person:
            name = obj.get("name")
            if isinstance(name, str):
                hits.append(Hit("person-name", "name", name))
        if obj_type in ("ipv4-addr", "ipv6-addr"):
            value = obj.get("value")
            if isinstance(value, str) and is_internal_address(value.split("/")[0]):
                hits.append(Hit("internal-address", "value", value))
        if obj_type == "domain-name":
            value = obj.get("value")
            if isinstance(value, str) and value.lower().endswith(self._suffixes):
                hits.append(Hit("internal-hostname", "value", value))
        if obj_type == "url":
            # A URL cannot be cut apart and stay a URL: a hit in it is a hit on the whole.
            value = obj.get("value")
            if isinstance(value, str):
                kinds = {hit.detector for hit in self.scan_text("value", value)}
                hits.extend(Hit(d, "value", value) for d in sorted(kinds))
        sco = obj_type in SCO_TYPES
        segments: list[tuple[str, str]] = []
        clean = self._clean
        for key, value in obj.items():
            if key.startswith("x_"):
                # Scanned below too: where custom properties are allowed, what is in them is not.
                hits.append(Hit("custom-property", key, _shown(value)))
            elif _skipped(key, sco, person):
                continue
            _collect(key, value, segments, clean)
        if segments:
            in_text = self._scan_segments(segments)
            hits.extend(in_text)
            self._remember_clean(segments, in_text)
        return hits

    def _remember_clean(self, segments: list[tuple[str, str]], found: list[Hit]) -> None:
        """Remember the short strings in which nothing was found: labels, vocabularies and
        stock descriptions recur in object after object. A string's hits do not depend on
        the strings scanned with it (see `_scan_segments`), so skipping it later is exact."""
        dirty = {hit.path for hit in found}  # each segment has a path of its own
        clean = self._clean
        if len(clean) >= _CLEAN_STRINGS:
            clean.clear()  # bounded: a stream of unique strings must not grow it for ever
        for path, text in segments:
            if len(text) <= _CLEAN_LENGTH and path not in dirty:
                clean.add(text)

    def scan_text(self, path: str, text: str) -> Iterator[Hit]:
        """Hits inside one free-text string."""
        return iter(self._scan_segments([(path, text)]))

    def _scan_segments(self, segments: list[tuple[str, str]]) -> list[Hit]:
        """Hits in several strings at once: they are joined with NUL (which no detector
        matches, and which bounds words like any separator) so each detector runs once per
        object; positions are mapped back to their string. Order: string, detector, position."""
        joined = "\0".join(text for _, text in segments)
        starts: list[int] = []
        cursor = 0
        for _, text in segments:
            starts.append(cursor)
            cursor += len(text) + 1
        found: list[tuple[int, int, int, str, int, int]] = []

        def add(rank: int, detector: str, begin: int, end: int) -> None:
            index = bisect_right(starts, begin) - 1
            offset = starts[index]
            found.append((index, rank, begin, detector, begin - offset, end - offset))

        if "@" in joined:
            for match in _EMAIL.finditer(joined):
                add(0, "email", *match.span())
        if _DIGIT.search(joined):
            for match in _PHONE.finditer(joined):
                digits = sum(c.isdigit() for c in match.group())
                if 7 <= digits <= 15:
                    add(1, "phone", *match.span())
            if "." in joined:
                for match in _IPV4.finditer(joined):
                    if is_internal_address(match.group()):
                        add(2, "internal-address", *match.span())
        if "::" in joined or _IPV6_HINT.search(joined):
            for match in _IPV6.finditer(joined):
                address, (start, end) = match.group(), match.span()
                if address.endswith(":") and not address.endswith("::"):
                    address, end = address[:-1], end - 1  # "fd00::1: refused": the colon is prose
                if address.count(":") >= 2 and is_internal_address(address):
                    add(3, "internal-address", start, end)
        if (
            self._hostname is not None
            and self._suffix_probe is not None
            and self._suffix_probe.search(joined)
        ):
            for match in self._hostname.finditer(joined):
                add(4, "internal-hostname", *match.span())
        found.sort()
        return [
            Hit(detector, segments[index][0], segments[index][1][start:end], start, end)
            for index, _, _, detector, start, end in found
        ]


def _not_text(key: str) -> bool:
    """A property that is not free text: an identifier, timestamp, vocabulary or reference."""
    return key in _NOT_TEXT or key.endswith(("_ref", "_refs"))


def _skipped(key: str, sco: bool, person: bool) -> bool:
    """Top-level properties that are not free text, or are already a hit as a whole."""
    return _not_text(key) or (sco and key == "value") or (person and key == "name")


def _collect(path: str, value: Any, out: list[tuple[str, str]], clean: set[str]) -> None:
    """Append (path, text) for every string in `value` not known to be clean."""
    if isinstance(value, str):
        if value not in clean:
            out.append((path, value))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                if item not in clean:
                    out.append((f"{path}[{index}]", item))
            else:
                _collect(f"{path}[{index}]", item, out, clean)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not _not_text(key):
                _collect(f"{path}.{key}", item, out, clean)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


REDACTED = "[REDACTED:{}]"


def redact_text(text: str, hits: Iterable[Hit]) -> str:
    """`text` with every span replaced by its marker; overlapping spans are merged (the first
    detector names the merged span)."""
    spans = sorted((hit.start, hit.end, hit.detector) for hit in hits if not hit.whole)
    if not spans:
        return text
    merged: list[list[Any]] = []
    for start, end, detector in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, detector])
    parts: list[str] = []
    cursor = 0
    for start, end, detector in merged:
        parts.append(text[cursor:start])
        parts.append(REDACTED.format(detector))
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)
