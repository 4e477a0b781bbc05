from __future__ import annotations

from typing import Any

import pytest
import stix2

from hub.stix.timestamps import parse_us
from hub.stix.validation import ObjectValidator
from tests.support.stix import indicator, malware

NOW = parse_us("2026-06-01T00:00:00Z")


@pytest.fixture(scope="module")
def validator() -> ObjectValidator:
    return ObjectValidator()


def test_valid_objects_pass(validator: ObjectValidator) -> None:
    for obj in (indicator(), malware()):
        assert validator.problems(obj, NOW) == []
        stix2.parse(obj, allow_custom=False)  # the oracle agrees


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"pattern_type": 5}, "property 'pattern_type'"),
        ({"pattern": "[ipv4-addr:value = '1.2.3.4'"}, "property 'pattern': FAIL"),
        ({"created": "2026-01-01T00:00:00Z"}, "property 'created'"),  # not millisecond precision
        (
            {"created": "2027-01-01T00:00:00.000Z", "modified": "2027-01-01T00:00:00.000Z"},
            "in the future",
        ),
        ({"valid_until": "2025-01-01T00:00:00Z"}, "'valid_until' must be later"),
        ({"created_by_ref": "identity--nope"}, "property 'created_by_ref'"),
        ({"object_marking_refs": ["not-an-id"]}, "property 'object_marking_refs"),
        (
            {"x_acme_refs": "identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
            "'x_acme_refs' must be a list",
        ),
        ({"spec_version": "2.0"}, "'spec_version' must be '2.1'"),
    ],
)
def test_each_problem_names_the_property(
    validator: ObjectValidator, change: dict[str, Any], expected: str
) -> None:
    problems = validator.problems({**indicator(), **change}, NOW)
    assert any(expected in p for p in problems), problems


def test_non_stix_pattern_types_are_not_grammar_checked(validator: ObjectValidator) -> None:
    sigma = {**indicator(), "pattern_type": "sigma", "pattern": "title: anything"}
    assert validator.problems(sigma, NOW) == []


def test_custom_object_types_meet_the_core_schema(validator: ObjectValidator) -> None:
    custom = {
        **malware(),
        "type": "x-acme-thing",
        "id": "x-acme-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
    }
    custom.pop("is_family")
    assert validator.problems(custom, NOW) == []
    assert validator.problems({**custom, "created": "soon"}, NOW) != []
