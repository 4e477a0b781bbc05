"""Factories for STIX 2.1 objects used in tests."""

from __future__ import annotations

import uuid
from typing import Any

TAXII = "application/taxii+json;version=2.1"


def indicator(
    value: str = "198.51.100.7",
    *,
    object_id: str | None = None,
    created: str = "2026-01-01T00:00:00.000Z",
    modified: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": object_id or f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified or created,
        "name": f"Malicious address {value}",
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": created,
        **extra,
    }


def malware(name: str = "Trickster") -> dict[str, Any]:
    return {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--{uuid.uuid4()}",
        "created": "2026-01-02T00:00:00.000Z",
        "modified": "2026-01-02T00:00:00.000Z",
        "name": name,
        "is_family": True,
    }


def envelope(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"objects": list(objects)}
