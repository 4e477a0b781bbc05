from __future__ import annotations

from hub.console.highlight import Segment, properties, whole_object_hits


def test_matched_text_is_marked_with_its_detector() -> None:
    body = {"type": "indicator", "description": "mail jane@x.example or +44 20 7946 0000 now"}
    hits = [
        {
            "detector": "email",
            "path": "description",
            "text": "jane@x.example",
            "start": 5,
            "end": 19,
        },
        {
            "detector": "phone",
            "path": "description",
            "text": "+44 20 7946 0000",
            "start": 23,
            "end": 39,
        },
    ]
    (typ, description) = properties(body, hits)
    assert not typ.hit
    assert description.segments == (
        Segment("mail "),
        Segment("jane@x.example", "email"),
        Segment(" or "),
        Segment("+44 20 7946 0000", "phone"),
        Segment(" now"),
    )


def test_nested_paths_and_hits_without_a_position() -> None:
    body = {
        "external_references": [{"description": "call 555"}],
        "x_victim": {"name": "Jane"},
    }
    hits = [
        {"detector": "phone", "path": "external_references[0].description", "start": 5, "end": 8},
        {"detector": "custom-property", "path": "x_victim"},
    ]
    found = {p.path: p for p in properties(body, hits)}
    assert found["external_references[0].description"].segments[1] == Segment("555", "phone")
    assert found["x_victim.name"].segments == (Segment("Jane", "custom-property"),)


def test_hits_on_the_whole_object() -> None:
    assert whole_object_hits([{"detector": "account", "path": ""}]) == ["account"]
