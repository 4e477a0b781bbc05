"""Everything the hub checks of one STIX 2.1 object before storing it.

`ObjectValidator.problems(obj, now_us)` returns a list of messages, each naming the property at
fault; an empty list means the object is accepted. The checks, cheapest first:

1. identity and version (hub.stix.objects): type, id, spec_version 2.1, created ≤ modified;
2. the OASIS STIX 2.1 JSON schema of its type (hub.stix.schemas);
3. the pattern grammar for `pattern_type: stix` (hub.stix.patterns, agreeing with stix2-patterns);
4. the hub's own rules: no timestamp in the future beyond a tolerance, `valid_until` after
   `valid_from`, every `*_ref` / `*_refs` property a well-formed identifier.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from hub.stix.objects import ObjectError, VersionKey, is_identifier, version_key
from hub.stix.patterns import PatternChecker
from hub.stix.schemas import SchemaValidator
from hub.stix.timestamps import TimestampError, parse_us

# Clocks differ; a creation time this far ahead of the hub's clock is refused.
DEFAULT_FUTURE_TOLERANCE_US = 24 * 3600 * 1_000_000


class ObjectValidator:
    """Holds the compiled schemas and the pattern cache; build one per process."""

    def __init__(self, *, future_tolerance_us: int = DEFAULT_FUTURE_TOLERANCE_US) -> None:
        self.schemas = SchemaValidator()
        self.patterns = PatternChecker()
        self.future_tolerance_us = future_tolerance_us

    def problems(self, obj: Any, now_us: int) -> list[str]:
        return self.check(obj, now_us)[1]

    def check(self, obj: Any, now_us: int) -> tuple[VersionKey | None, list[str]]:
        """The object's version key and its problems (no key when identity itself is bad)."""
        try:
            key = version_key(obj)
        except ObjectError as exc:
            return None, [str(exc)]
        return key, self._problems(obj, key, now_us)

    def _problems(self, obj: dict[str, Any], key: VersionKey, now_us: int) -> list[str]:
        problems = self.schemas.errors(obj)
        problems += _rule_problems(obj, key, now_us + self.future_tolerance_us)
        pattern = obj.get("pattern")
        if obj.get("pattern_type") == "stix" and isinstance(pattern, str):
            problems += [f"property 'pattern': {e}" for e in self.patterns.errors(pattern)]
        return problems


def _rule_problems(obj: dict[str, Any], key: VersionKey, latest_us: int) -> list[str]:
    problems = []
    # version_key checked created <= modified, so nothing is in the future if the version is not.
    if key.version_us is not None and key.version_us > latest_us:
        for prop in ("created", "modified"):
            if prop in obj and parse_us(obj[prop]) > latest_us:
                problems.append(f"property '{prop}' is in the future")
    if "valid_until" in obj and "valid_from" in obj:
        try:
            if parse_us(obj["valid_until"]) <= parse_us(obj["valid_from"]):
                problems.append("property 'valid_until' must be later than 'valid_from'")
        except TimestampError:
            pass  # the schema already reported the malformed timestamp
    for prop, value in obj.items():
        if "_ref" not in prop:
            continue
        if prop.endswith("_ref") and not _is_reference(value):
            problems.append(f"property '{prop}' must be a STIX identifier")
        elif prop.endswith("_refs") and not (
            isinstance(value, list) and all(_is_reference(v) for v in value)
        ):
            problems.append(f"property '{prop}' must be a list of STIX identifiers")
    return problems


def _is_reference(value: object) -> bool:
    return isinstance(value, str) and _is_known_identifier(value)


@lru_cache(maxsize=4096)
def _is_known_identifier(value: str) -> bool:
    """Objects refer to the same few identities and markings again and again: remember them."""
    return is_identifier(value)
