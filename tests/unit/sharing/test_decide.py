"""decide(): which feeds receive an object, and why or why not."""

from __future__ import annotations

from typing import Any

import pytest

from hub.sharing.decide import identity_needles, submitter_identity_ids
from hub.sharing.policy import FeedPolicy
from hub.stix.markings import CONSENT_MARKING_IDS, TLP2_MARKING_IDS
from tests.unit.sharing.factories import (
    ACME_ID,
    ALL,
    CREATED,
    TLP1_GREEN,
    TLP1_RED,
    acme,
    decide_one,
    indicator,
    sco,
    sdo,
    sid,
    three_feeds,
)

OPENCTI_AMBER_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
UNKNOWN = "marking-definition--0b6d1a5e-2f5b-4c7a-9d0e-7c1f3a2b4c5d"


def _ais(consent: str, tlp: str = "green", proprietary: str = "false") -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": UNKNOWN,
        "created": CREATED,
        "definition_type": "ais",
        "definition": {"consent": consent, "tlp": tlp, "is_proprietary": proprietary},
    }


def test_amber_strict_never_reaches_a_feed() -> None:
    decision = decide_one(indicator(object_marking_refs=[OPENCTI_AMBER_STRICT]))
    assert decision.tlp == "amber+strict"
    assert decision.released_to == []
    assert all("never released" in v.reason for v in decision.feeds)


def test_red_never_reaches_a_feed_even_as_a_granular_marking() -> None:
    obj = indicator(
        object_marking_refs=[TLP1_GREEN],
        granular_markings=[{"marking_ref": TLP1_RED, "selectors": ["description"]}],
    )
    assert decide_one(obj).released_to == []


def test_red_is_never_released_even_after_approval() -> None:
    decision = decide_one(indicator(object_marking_refs=[TLP2_MARKING_IDS["red"]]), approved=True)
    assert decision.released_to == []


@pytest.mark.parametrize(
    ("level", "feeds"),
    [
        ("clear", ["public", "members", "government"]),
        ("green", ["members", "government"]),
        ("amber", ["members", "government"]),
    ],
)
def test_an_object_goes_to_every_feed_that_takes_its_level(level: str, feeds: list[str]) -> None:
    decision = decide_one(indicator(object_marking_refs=[TLP2_MARKING_IDS[level]]))
    assert (decision.outcome, decision.released_to) == ("release", feeds)
    public = decision.verdict("public")
    assert public is not None
    if "public" not in feeds:
        assert public.reason == f"TLP:{level.upper()}; this feed takes TLP:CLEAR"


def test_an_unmarked_object_takes_the_policy_default() -> None:
    decision = decide_one(indicator(), policy=three_feeds(default_tlp="clear"))
    assert (decision.tlp, decision.tlp_defaulted) == ("clear", True)
    assert decision.released_to == ["public", "members", "government"]
    assert decide_one(indicator()).tlp == "amber"


@pytest.mark.parametrize(
    ("setting", "outcome", "released"),
    [("hold", "hold", []), ("reject", "reject", []), ("red", "release", [])],
)
def test_an_unknown_marking_is_handled_by_policy(
    setting: str, outcome: str, released: list[str]
) -> None:
    obj = indicator(object_marking_refs=[TLP1_GREEN, UNKNOWN])
    decision = decide_one(obj, policy=three_feeds(unknown_marking=setting))
    assert (decision.outcome, decision.released_to) == (outcome, released)
    assert any(UNKNOWN in reason for reason in decision.reasons)
    if setting == "red":
        assert decision.tlp == "red"


def test_approval_releases_an_object_held_for_an_unknown_marking_at_its_known_level() -> None:
    obj = indicator(object_marking_refs=[TLP1_GREEN, UNKNOWN])
    assert decide_one(obj, approved=True).released_to == ["members", "government"]
    rejecting = three_feeds(unknown_marking="reject")
    assert decide_one(obj, policy=rejecting, approved=True).outcome == "reject"


@pytest.mark.parametrize(
    ("consent", "named"),
    [
        ("none", {"public": False, "members": False, "government": False}),
        ("government", {"public": False, "members": False, "government": True}),
        ("everyone", {"public": True, "members": True, "government": True}),
    ],
)
def test_the_member_default_consent_decides_where_it_is_named(
    consent: str, named: dict[str, bool]
) -> None:
    obj = indicator(object_marking_refs=[TLP2_MARKING_IDS["clear"]])
    decision = decide_one(obj, acme(consent))
    assert {v.alias: v.named for v in decision.feeds} == named
    assert decision.consent == consent


def test_a_feed_that_never_names_submitters_pseudonymises_even_with_consent() -> None:
    policy = three_feeds(feeds=(FeedPolicy("government", ALL, "never", government=True),))
    obj = indicator(object_marking_refs=[TLP2_MARKING_IDS["clear"]])
    verdict = decide_one(obj, acme("everyone"), policy).verdict("government")
    assert verdict is not None and verdict.released and not verdict.named


@pytest.mark.parametrize(
    ("default", "marking", "expected"),
    [
        ("none", "everyone", "everyone"),  # the object widens what the member chose
        ("everyone", "none", "none"),
        ("everyone", "government", "government"),
    ],
)
def test_a_consent_marking_overrides_the_member_default(
    default: str, marking: str, expected: str
) -> None:
    obj = indicator(object_marking_refs=[TLP1_GREEN, CONSENT_MARKING_IDS[marking]])
    assert decide_one(obj, acme(default)).consent == expected


@pytest.mark.parametrize(
    ("ais_consent", "proprietary", "expected", "named_in"),
    [
        ("everyone", "false", "everyone", ["members", "government"]),
        ("usg", "false", "government", ["government"]),
        ("none", "false", "none", []),
        ("everyone", "true", "none", []),
    ],
)
def test_ais_consent_maps_usg_to_government_and_proprietary_to_none(
    ais_consent: str, proprietary: str, expected: str, named_in: list[str]
) -> None:
    marking = _ais(ais_consent, "green", proprietary)
    obj = indicator(object_marking_refs=[UNKNOWN])
    decision = decide_one(obj, acme("everyone"), bundle=[marking, obj])
    assert (decision.tlp, decision.consent) == ("green", expected)
    assert [v.alias for v in decision.feeds if v.named and v.released] == named_in


def test_marking_definitions_and_the_submitters_own_identity_are_withheld() -> None:
    own = sdo("identity", 9, name="ACME BANK", identity_class="organization")
    marking = _ais("everyone")
    bundle = [own, marking, indicator(created_by_ref=own["id"])]
    assert decide_one(own, bundle=bundle).outcome == "withhold"
    assert decide_one(marking, bundle=bundle).outcome == "withhold"
    assert decide_one(bundle[2], bundle=bundle).outcome == "release"


def test_another_organisations_identity_is_released() -> None:
    other = sdo("identity", 8, name="Globex", identity_class="organization", object_marking_refs=[])
    assert decide_one(other).outcome == "release"


def test_a_type_without_an_allow_list_is_held_until_approved() -> None:
    custom = sdo("x-acme-ticket", 1, name="ticket")
    held = decide_one(custom)
    assert held.outcome == "hold" and not held.keep_unlisted
    approved = decide_one(custom, approved=True)
    assert approved.outcome == "release" and approved.keep_unlisted


@pytest.mark.parametrize(
    ("action", "outcome", "redacted"),
    [("redact", "release", 1), ("hold", "hold", 0), ("allow", "release", 0)],
)
def test_each_detector_action_does_what_the_policy_says(
    action: str, outcome: str, redacted: int
) -> None:
    obj = indicator(description="mail j.doe@victim.example")
    decision = decide_one(obj, policy=three_feeds(actions={"email": action}))
    assert decision.outcome == outcome
    assert len(decision.redact) == redacted
    assert [h.detector for h in decision.hits] == ["email"]


def test_a_held_hit_is_released_after_approval_without_being_redacted() -> None:
    obj = indicator(description="mail j.doe@victim.example")
    decision = decide_one(obj, policy=three_feeds(actions={"email": "hold"}), approved=True)
    assert (decision.outcome, decision.redact) == ("release", ())


@pytest.mark.parametrize(
    "obj",
    [
        sco("ipv4-addr", "10.1.2.3"),
        sco("domain-name", "fs01.corp"),
        sco("url", "http://fs01.corp/share"),
        sco("email-addr", "jane@victim.example"),
    ],
)
def test_an_observable_that_is_personal_data_cannot_be_redacted_so_is_withheld(
    obj: dict[str, Any],
) -> None:
    policy = three_feeds(actions={"account": "redact"})
    decision = decide_one(obj, policy=policy)
    assert decision.outcome == "withhold"
    assert decide_one(obj, policy=policy, approved=True).outcome == "withhold"


@pytest.mark.parametrize("x_first", [True, False])
def test_an_object_that_must_be_withheld_is_not_held_for_review(x_first: bool) -> None:
    props = {"x_ticket": "T-1", "value": "10.1.2.3"}
    if not x_first:
        props = dict(reversed(props.items()))
    obj = {"type": "ipv4-addr", "spec_version": "2.1", "id": sid("ipv4-addr", 1), **props}
    decision = decide_one(obj, policy=three_feeds(actions={"custom-property": "hold"}))
    assert decision.outcome == "withhold"


def test_a_pattern_naming_the_submitter_is_held_where_it_would_be_pseudonymised() -> None:
    obj = indicator(pattern="[domain-name:value = 'mail.acmebank.example']")
    held = decide_one(obj, acme("none"))
    assert held.outcome == "hold"
    assert held.released_to == []
    assert "the pattern names the submitter" in held.reasons[-1]


def test_a_pattern_naming_the_submitter_is_released_where_every_feed_names_it() -> None:
    obj = indicator(pattern="[domain-name:value = 'mail.acmebank.example']")
    assert decide_one(obj, acme("everyone")).outcome == "release"


def test_submitter_identity_ids_are_its_created_by_refs_and_identities_named_like_it() -> None:
    submitter = acme(identity_ids=frozenset())
    named = sdo("identity", 2, name="  acme-cert ", identity_class="organization")
    other = sdo("identity", 3, name="Globex", identity_class="organization")
    objects = [named, other, indicator(created_by_ref=ACME_ID), "junk"]
    assert submitter_identity_ids(objects, submitter) == {named["id"], ACME_ID}


def test_identity_needles_skip_aliases_too_short_to_rewrite_safely() -> None:
    submitter = acme(aliases=("AB", "acmebank.example"))
    # Longest first, so that a name is replaced before an alias it contains.
    assert identity_needles(submitter) == [ACME_ID, "acmebank.example", "Acme Bank"]


def test_an_object_held_for_personal_data_also_says_its_pattern_names_the_submitter() -> None:
    """A reviewer approving it for the e-mail address must see the other reason too."""
    obj = indicator(
        pattern="[domain-name:value = 'mail.acmebank.example']",
        description="reported by soc@example.org",
    )
    policy = three_feeds(actions={"email": "hold"})
    held = decide_one(obj, acme("none"), policy)
    assert held.outcome == "hold"
    assert any("email" in r for r in held.reasons)
    assert any("the pattern names the submitter" in r for r in held.reasons)
    approved = decide_one(obj, acme("none"), policy, approved=True)
    assert approved.outcome == "release"
    assert any("the pattern names the submitter" in r for r in approved.reasons)
