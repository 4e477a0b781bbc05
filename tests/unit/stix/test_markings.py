"""Marking resolution: every form of TLP and consent marking the hub reads, and how several
markings on one object combine."""

from __future__ import annotations

from typing import Any

import pytest

from hub.stix.markings import (
    CONSENT_EXTENSION_ID,
    CONSENT_MARKING_IDS,
    TLP2_EXTENSION_ID,
    TLP2_MARKING_IDS,
    MarkingMeaning,
    Markings,
    consent_definition,
    definitions_in,
    marking_refs,
    more_restrictive,
    narrower_consent,
    read_definition,
    resolve,
    tlp2_definition,
    tlp_word,
)
from hub.stix.validation import ObjectValidator

TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
OPENCTI_AMBER_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
CUSTOM = "marking-definition--0b6d1a5e-2f5b-4c7a-9d0e-7c1f3a2b4c5d"
OTHER = "marking-definition--7d4c5b6a-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
NOW_US = 1_800_000_000_000_000


def _obj(*refs: str, granular: tuple[str, ...] = ()) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "indicator", "id": "indicator--1"}
    if refs:
        obj["object_marking_refs"] = list(refs)
    if granular:
        obj["granular_markings"] = [{"marking_ref": r, "selectors": ["name"]} for r in granular]
    return obj


def _definition(marking_id: str = CUSTOM, **body: Any) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2026-01-01T00:00:00.000Z",
        **body,
    }


def _ais(**definition: Any) -> dict[str, Any]:
    return _definition(definition_type="ais", definition=definition)


@pytest.mark.parametrize(
    ("marking_id", "level"),
    [(TLP1_WHITE, "clear"), (TLP1_GREEN, "green"), (TLP1_AMBER, "amber"), (TLP1_RED, "red")],
)
def test_tlp_1_marking_ids_resolve_without_a_definition(marking_id: str, level: str) -> None:
    assert resolve(_obj(marking_id), {}).tlp == level


@pytest.mark.parametrize("level", ["clear", "green", "amber", "amber+strict", "red"])
def test_tlp_2_marking_ids_resolve_without_a_definition(level: str) -> None:
    assert resolve(_obj(TLP2_MARKING_IDS[level]), {}).tlp == level


def test_opencti_amber_strict_id_resolves_to_amber_strict() -> None:
    assert resolve(_obj(OPENCTI_AMBER_STRICT), {}).tlp == "amber+strict"


@pytest.mark.parametrize("level", ["everyone", "government", "none"])
def test_hub_consent_marking_ids_give_consent_and_no_tlp(level: str) -> None:
    markings = resolve(_obj(CONSENT_MARKING_IDS[level]), {})
    assert (markings.tlp, markings.consent, markings.unknown) == (None, level, ())


@pytest.mark.parametrize("level", ["clear", "green", "amber", "amber+strict", "red"])
def test_the_oasis_tlp_2_definitions_read_as_their_level(level: str) -> None:
    assert read_definition(tlp2_definition(level)) == MarkingMeaning(tlp=level)


@pytest.mark.parametrize(
    ("word", "level"),
    [("clear", "clear"), ("AMBER+STRICT", "amber+strict"), ("TLP:RED", "red"), ("Green", "green")],
)
def test_a_carried_tlp_2_extension_definition_is_read_under_any_id(word: str, level: str) -> None:
    definition = _definition(
        extensions={TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": word}}
    )
    assert resolve(_obj(CUSTOM), definitions_in([definition])).tlp == level


@pytest.mark.parametrize(
    ("word", "level"), [("white", "clear"), ("green", "green"), ("amber", "amber"), ("red", "red")]
)
def test_a_carried_tlp_1_style_definition_is_read_under_any_id(word: str, level: str) -> None:
    definition = _definition(definition_type="tlp", definition={"tlp": word})
    assert resolve(_obj(CUSTOM), definitions_in([definition])).tlp == level


@pytest.mark.parametrize(
    ("consent", "proprietary", "expected"),
    [
        ("everyone", "false", "everyone"),
        ("usg", "false", "government"),
        ("USG", False, "government"),
        ("none", "false", "none"),
        ("everyone", "true", "none"),
        ("usg", True, "none"),
    ],
)
def test_ais_markings_map_consent_and_proprietary_to_hub_consent(
    consent: str, proprietary: object, expected: str
) -> None:
    definition = _ais(consent=consent, tlp="green", is_proprietary=proprietary)
    assert read_definition(definition) == MarkingMeaning(tlp="green", consent=expected)


def test_an_ais_white_marking_is_tlp_clear() -> None:
    assert read_definition(_ais(consent="everyone", tlp="white")) == MarkingMeaning(
        tlp="clear", consent="everyone"
    )


@pytest.mark.parametrize("level", ["everyone", "government", "none"])
def test_the_hub_consent_definition_reads_as_its_level(level: str) -> None:
    assert read_definition(consent_definition(level)) == MarkingMeaning(consent=level)
    carried = _definition(
        extensions={
            CONSENT_EXTENSION_ID: {"extension_type": "property-extension", "consent": level}
        }
    )
    assert resolve(_obj(CUSTOM), definitions_in([carried])).consent == level


def test_a_statement_marking_is_readable_and_says_nothing_about_tlp_or_consent() -> None:
    statement = _definition(definition_type="statement", definition={"statement": "(c) Acme"})
    assert resolve(_obj(CUSTOM), definitions_in([statement])) == Markings(refs=(CUSTOM,))


@pytest.mark.parametrize(
    "definition",
    [
        _definition(definition_type="tlp", definition={"tlp": "purple"}),
        _definition(
            extensions={TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": 3}}
        ),
        _definition(
            extensions={
                TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "blue"}
            }
        ),
        _definition(
            extensions={
                CONSENT_EXTENSION_ID: {"extension_type": "property-extension", "consent": "maybe"}
            }
        ),
        _ais(tlp="green"),  # no consent
        _ais(consent="everyone"),  # no TLP
        _ais(consent="usg", tlp="mauve"),
        _definition(definition_type="acme-classification", definition={"level": "secret"}),
        _definition(definition_type="tlp"),
    ],
)
def test_a_definition_the_hub_cannot_read_leaves_its_marking_unknown(
    definition: dict[str, Any],
) -> None:
    assert read_definition(definition) is None
    assert resolve(_obj(CUSTOM), definitions_in([definition])).unknown == (CUSTOM,)


def test_an_id_without_definition_is_unknown_and_reported_once() -> None:
    markings = resolve(_obj(CUSTOM, TLP1_GREEN, granular=(CUSTOM, OTHER)), {})
    assert markings.unknown == (CUSTOM, OTHER)
    assert markings.tlp == "green"  # the readable markings still count


@pytest.mark.parametrize(
    ("refs", "level"),
    [
        ((TLP1_WHITE, TLP1_GREEN), "green"),
        ((TLP1_GREEN, TLP1_AMBER, TLP2_MARKING_IDS["clear"]), "amber"),
        ((TLP2_MARKING_IDS["amber"], OPENCTI_AMBER_STRICT), "amber+strict"),
        ((TLP2_MARKING_IDS["red"], TLP1_WHITE), "red"),
        ((TLP2_MARKING_IDS["amber+strict"], TLP1_AMBER), "amber+strict"),
    ],
)
def test_the_most_restrictive_tlp_wins(refs: tuple[str, ...], level: str) -> None:
    assert resolve(_obj(*refs), {}).tlp == level
    assert resolve(_obj(*reversed(refs)), {}).tlp == level


def test_a_granular_marking_counts_for_the_whole_object() -> None:
    assert resolve(_obj(TLP1_GREEN, granular=(TLP1_RED,)), {}).tlp == "red"
    assert resolve(_obj(granular=(OPENCTI_AMBER_STRICT,)), {}).tlp == "amber+strict"


def test_the_narrowest_consent_wins() -> None:
    ids = CONSENT_MARKING_IDS
    assert resolve(_obj(ids["everyone"], ids["government"]), {}).consent == "government"
    assert resolve(_obj(ids["everyone"], granular=(ids["none"],)), {}).consent == "none"


def test_a_carried_definition_cannot_loosen_a_well_known_id() -> None:
    claims_white = _definition(TLP1_RED, definition_type="tlp", definition={"tlp": "white"})
    assert resolve(_obj(TLP1_RED), definitions_in([claims_white])).tlp == "red"


def test_a_carried_definition_may_tighten_a_well_known_id() -> None:
    claims_red = _definition(TLP1_WHITE, definition_type="tlp", definition={"tlp": "red"})
    assert resolve(_obj(TLP1_WHITE), definitions_in([claims_red])).tlp == "red"


def test_definitions_handed_to_resolve_cannot_loosen_a_well_known_id() -> None:
    # A caller may keep definitions from earlier submissions; a bad one must not make RED clear.
    assert resolve(_obj(TLP1_RED), {TLP1_RED: MarkingMeaning(tlp="clear")}).tlp == "red"
    strict = OPENCTI_AMBER_STRICT
    assert resolve(_obj(strict), {strict: MarkingMeaning(tlp="green")}).tlp == "amber+strict"


@pytest.mark.parametrize("order", [("red", "white"), ("white", "red")])
def test_an_id_defined_twice_means_its_stricter_definition(order: tuple[str, str]) -> None:
    copies = [_definition(definition_type="tlp", definition={"tlp": word}) for word in order]
    assert resolve(_obj(CUSTOM), definitions_in(copies)).tlp == "red"


@pytest.mark.parametrize("unreadable_first", [True, False])
def test_an_id_with_an_unreadable_definition_stays_unknown(unreadable_first: bool) -> None:
    copies = [
        _definition(definition_type="tlp", definition={"tlp": "white"}),
        _definition(definition_type="tlp", definition={"tlp": "ultraviolet"}),
    ]
    if unreadable_first:
        copies.reverse()
    assert resolve(_obj(CUSTOM), definitions_in(copies)).unknown == (CUSTOM,)


def test_an_unreadable_definition_under_a_well_known_id_keeps_the_known_meaning() -> None:
    garbage = _definition(TLP1_AMBER, definition_type="tlp", definition={"tlp": "ultraviolet"})
    assert resolve(_obj(TLP1_AMBER), definitions_in([garbage])) == Markings(
        tlp="amber", refs=(TLP1_AMBER,)
    )


def test_definitions_in_ignores_everything_but_marking_definitions() -> None:
    indicator = {"type": "indicator", "id": CUSTOM, "definition_type": "tlp"}
    assert definitions_in([indicator, "not an object", {"type": "marking-definition"}]) == {}


def test_an_object_without_markings_has_no_tlp_and_no_consent() -> None:
    assert resolve({"type": "indicator"}, {}) == Markings()


def test_marking_refs_lists_object_level_then_granular_refs_and_skips_junk() -> None:
    obj = {
        "object_marking_refs": [TLP1_GREEN, 7],
        "granular_markings": [{"marking_ref": TLP1_RED}, {"lang": "en"}, "junk"],
    }
    assert marking_refs(obj) == [TLP1_GREEN, TLP1_RED]


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("TLP:WHITE", "clear"),
        ("tlp:clear", "clear"),
        (" Green ", "green"),
        ("TLP: AMBER", "amber"),
        ("amber_strict", "amber+strict"),
        ("TLP:AMBER+STRICT", "amber+strict"),
        ("RED", "red"),
        ("purple", None),
        ("", None),
    ],
)
def test_tlp_word_reads_the_words_tools_use(text: str, level: str | None) -> None:
    assert tlp_word(text) == level


def test_more_restrictive_and_narrower_consent_treat_none_as_absent() -> None:
    assert more_restrictive(None, "green") == "green"
    assert more_restrictive("red", None) == "red"
    assert more_restrictive("amber", "amber+strict") == "amber+strict"
    assert narrower_consent(None, "everyone") == "everyone"
    assert narrower_consent("government", "everyone") == "government"
    assert narrower_consent("none", "government") == "none"


@pytest.mark.parametrize("level", ["clear", "green", "amber", "amber+strict", "red"])
def test_the_published_tlp_2_definitions_are_valid_stix(level: str) -> None:
    assert ObjectValidator().problems(tlp2_definition(level), NOW_US) == []


@pytest.mark.parametrize("level", ["everyone", "government", "none"])
def test_the_published_consent_definitions_are_valid_stix(level: str) -> None:
    assert ObjectValidator().problems(consent_definition(level), NOW_US) == []
