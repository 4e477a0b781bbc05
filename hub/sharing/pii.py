"""Personal-data detectors: find e-mail addresses, phone numbers, people's names, victims'
accounts, internal addresses and host names, and custom properties in a STIX object.

Each finding is a `Hit` naming the detector, the property path and the matched text (shown to
a reviewer, never stored with a release). What happens to a hit is the policy's business.
"""

from __future__ import annotations

import ipaddress
import re
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
_IPV4: Final = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
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


class Detectors:
    """The compiled detectors for one policy's internal domains."""

    def __init__(self, internal_domains: Iterable[str]) -> None:
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
                found = {hit.detector for hit in self.scan_text("value", value)}
                hits.extend(Hit(d, "value", value) for d in sorted(found))
        sco = obj_type in SCO_TYPES
        for key, value in obj.items():
            if key.startswith("x_"):
                # Scanned below too: where custom properties are allowed, what is in them is not.
                hits.append(Hit("custom-property", key, _shown(value)))
            elif _skipped(key, sco, person):
                continue
            for path, text in _strings(key, value):
                hits.extend(self.scan_text(path, text))
        return hits

    def scan_text(self, path: str, text: str) -> Iterator[Hit]:
        """Hits inside one free-text string."""
        if "@" in text:
            for match in _EMAIL.finditer(text):
                yield Hit("email", path, match.group(), match.start(), match.end())
        if any(c.isdigit() for c in text):
            for match in _PHONE.finditer(text):
                digits = sum(c.isdigit() for c in match.group())
                if 7 <= digits <= 15:
                    yield Hit("phone", path, match.group(), match.start(), match.end())
            if "." in text:
                for match in _IPV4.finditer(text):
                    if is_internal_address(match.group()):
                        yield Hit("internal-address", path, match.group(), *match.span())
        if ":" in text:
            for match in _IPV6.finditer(text):
                found, (start, end) = match.group(), match.span()
                if found.endswith(":") and not found.endswith("::"):
                    found, end = found[:-1], end - 1  # "fd00::1: refused": the colon is prose
                if found.count(":") >= 2 and is_internal_address(found):
                    yield Hit("internal-address", path, found, start, end)
        if self._hostname is not None and "." in text:
            for match in self._hostname.finditer(text):
                yield Hit("internal-hostname", path, match.group(), *match.span())


def _skipped(key: str, sco: bool, person: bool) -> bool:
    """Top-level properties that are not free text, or are already a hit as a whole."""
    if key in _NOT_TEXT or key.endswith(("_ref", "_refs")):
        return True
    return (sco and key == "value") or (person and key == "name")


def _strings(path: str, value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(f"{path}[{index}]", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in _NOT_TEXT or key.endswith(("_ref", "_refs")):
                continue
            yield from _strings(f"{path}.{key}", item)


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
