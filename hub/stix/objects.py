"""Structural checks of STIX 2.1 objects and the version key TAXII stores them under.

This is the minimum every stored object must satisfy (identity, version, spec_version). The
full schema and pattern validation is the ingest pipeline's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hub.stix.timestamps import TimestampError, parse_us

_TYPE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){1,248}[a-z0-9]$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ACCEPTED_SPEC_VERSIONS = frozenset({"2.1"})


class ObjectError(ValueError):
    """An object that cannot be stored; the message names the property at fault."""


@dataclass(frozen=True, slots=True)
class VersionKey:
    """What identifies one stored version of one object."""

    object_id: str
    type: str
    spec_version: str
    version_text: str | None  # `modified`, else `created`, as the object spells it
    version_us: int | None  # the same instant as an integer; None for unversioned objects


def is_identifier(value: object, expected_type: str | None = None) -> bool:
    """True if `value` is a STIX identifier `type--uuid` (of `expected_type`, when given)."""
    if not isinstance(value, str) or "--" not in value:
        return False
    obj_type, _, uuid = value.partition("--")
    if expected_type is not None and obj_type != expected_type:
        return False
    return bool(_TYPE.match(obj_type)) and bool(_UUID.match(uuid))


@lru_cache(maxsize=1024)
def _is_type(name: str) -> bool:
    return bool(_TYPE.match(name))


def version_key(obj: Any) -> VersionKey:
    """Check the properties a version is identified by and return its key, or raise ObjectError."""
    if not isinstance(obj, dict):
        raise ObjectError(f"an object must be a JSON object, not {type(obj).__name__}")
    obj_type = obj.get("type")
    if not isinstance(obj_type, str) or not _is_type(obj_type):
        raise ObjectError("property 'type' is missing or not a valid STIX type name")
    obj_id = obj.get("id")
    if not is_identifier(obj_id, obj_type):
        raise ObjectError(f"property 'id' must be an identifier of the form '{obj_type}--<uuid>'")
    assert isinstance(obj_id, str)
    spec_version = obj.get("spec_version")
    # A list or an object there is as wrong as "2.0", and unhashable: test the type first.
    if not isinstance(spec_version, str) or spec_version not in ACCEPTED_SPEC_VERSIONS:
        raise ObjectError(
            f"property 'spec_version' must be '2.1' (got {spec_version!r}); "
            "the hub stores STIX 2.1 only"
        )
    created_us = _timestamp(obj, "created")
    if created_us is not None and obj.get("modified") == obj["created"]:
        modified_us: int | None = created_us  # the first version of most objects
    else:
        modified_us = _timestamp(obj, "modified")
    if created_us is not None and modified_us is not None and modified_us < created_us:
        raise ObjectError("property 'modified' is earlier than 'created'")
    if modified_us is not None:
        return VersionKey(obj_id, obj_type, spec_version, obj["modified"], modified_us)
    if created_us is not None:
        return VersionKey(obj_id, obj_type, spec_version, obj["created"], created_us)
    return VersionKey(obj_id, obj_type, spec_version, None, None)


def _timestamp(obj: dict[str, Any], prop: str) -> int | None:
    if prop not in obj:
        return None
    try:
        return parse_us(obj[prop])
    except TimestampError as exc:
        raise ObjectError(f"property '{prop}': {exc}") from None
