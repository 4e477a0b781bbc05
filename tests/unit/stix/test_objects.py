from __future__ import annotations

from typing import Any

import pytest

from hub.stix.objects import ObjectError, is_identifier, version_key
from tests.support.stix import indicator


def test_version_is_modified_as_written() -> None:
    obj = indicator(created="2026-01-01T00:00:00Z", modified="2026-01-02T00:00:00.5Z")
    key = version_key(obj)
    assert key.object_id == obj["id"]
    assert key.version_text == "2026-01-02T00:00:00.5Z"
    assert key.version_us is not None


def test_object_without_modified_is_versioned_by_created() -> None:
    marking = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "definition": {"tlp": "green"},
    }
    assert version_key(marking).version_text == "2017-01-20T00:00:00.000Z"


def test_cyber_observable_has_no_version() -> None:
    sco = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "value": "198.51.100.3",
    }
    key = version_key(sco)
    assert key.version_text is None
    assert key.version_us is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "Indicator"}, "'type'"),
        ({"id": "indicator--not-a-uuid"}, "'id'"),
        ({"id": "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}, "'id'"),
        ({"spec_version": "2.0"}, "'spec_version'"),
        # Found by fuzzing: unhashable values raised TypeError (a 500) instead of a failure.
        ({"spec_version": ["2.1"]}, "'spec_version'"),
        ({"spec_version": {"2.1": True}}, "'spec_version'"),
        ({"spec_version": 2.1}, "'spec_version'"),
        ({"created": "yesterday"}, "'created'"),
        ({"modified": "2025-01-01T00:00:00Z"}, "'modified' is earlier than 'created'"),
    ],
)
def test_each_fault_names_the_property(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ObjectError, match=message):
        version_key({**indicator(), **change})


def test_non_object_is_refused() -> None:
    with pytest.raises(ObjectError, match="must be a JSON object"):
        version_key(["not", "an", "object"])


def test_identifier_checks_type_and_uuid() -> None:
    assert is_identifier("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "indicator")
    assert not is_identifier("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "malware")
    assert not is_identifier("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
    assert not is_identifier(None)
