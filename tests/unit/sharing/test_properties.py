"""The sharing guarantees (hub/sharing/README.md), each checked over generated submissions,
members, markings and policies against an oracle written from the specifications."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import stix2
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.sharing.policy import SCO_TYPES
from hub.sharing.pseudonyms import pseudonym
from hub.stix.markings import definitions_in, resolve
from hub.stix.validation import ObjectValidator
from tests.unit.sharing.harness import share
from tests.unit.sharing.strategies import (
    FEED_ALIASES,
    NOW_US,
    PII_FRAGMENTS,
    PROPERTY,
    TLP2,
    Case,
    Marking,
    cases,
    markings,
    most_restrictive,
    narrowest,
    pseudonym_keys,
)

NEVER = ("red", "amber+strict")
# Which detector each planted fragment belongs to (the documentation ranges and public
# addresses among PII_FRAGMENTS belong to none and may travel).
FRAGMENT_DETECTOR = {
    "j.doe@victim.example": "email",
    "+44 20 7946 0958": "phone",
    "(555) 123-4567": "phone",
    "10.20.30.40": "internal-address",
    "192.168.1.15": "internal-address",
    "fd00::1": "internal-address",
    "fileserver.corp": "internal-hostname",
    "dc01.internal": "internal-hostname",
}
assert set(FRAGMENT_DETECTOR) <= set(PII_FRAGMENTS)


@functools.cache
def validator() -> ObjectValidator:
    return ObjectValidator()


def _text(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True)


def _objects(case: Case) -> list[dict[str, Any]]:
    return [o for o in case.objects if o["type"] != "marking-definition"]


@PROPERTY
@given(cases(), pseudonym_keys())
def test_red_and_amber_strict_objects_never_reach_a_feed(case: Case, key: Any) -> None:
    _, outcomes = share(case.objects, case.submitter, case.policy, key)
    for outcome in outcomes:
        for released in outcome.released.values():
            assert released["object_marking_refs"][0] not in (TLP2["red"], TLP2["amber+strict"])
        marked = outcome.obj["id"] in case.markings
        if marked and case.expected_level(outcome.obj["id"]) in NEVER:
            assert outcome.released == {}, outcome.decision


@PROPERTY
@given(cases(), pseudonym_keys())
def test_reviewer_approval_never_releases_red_or_amber_strict(case: Case, key: Any) -> None:
    _, outcomes = share(case.objects, case.submitter, case.policy, key, approved=True)
    for outcome in outcomes:
        applied = case.markings.get(outcome.obj["id"], [])
        known = [m.tlp for m in applied if m.tlp and not m.unknown]
        if any(m.unknown for m in applied) and case.policy.unknown_marking == "red":
            known.append("red")
        if any(level in NEVER for level in known) or (
            not known and case.policy.default_tlp in NEVER
        ):
            assert outcome.released == {}, outcome.decision


@PROPERTY
@given(cases(), pseudonym_keys())
def test_a_feed_receives_only_levels_it_takes_marked_with_that_one_tlp_2_marking(
    case: Case, key: Any
) -> None:
    _, outcomes = share(case.objects, case.submitter, case.policy, key)
    for outcome in outcomes:
        for alias, released in outcome.released.items():
            feed = case.policy.feed(alias)
            assert feed is not None
            level = case.expected_level(outcome.obj["id"])
            assert level is not None
            assert level in feed.tlp
            assert released["object_marking_refs"] == [TLP2[level]]
            assert "granular_markings" not in released


@PROPERTY
@given(cases(), pseudonym_keys())
def test_unheld_objects_go_to_exactly_the_feeds_that_take_their_level(case: Case, key: Any) -> None:
    _, outcomes = share(case.objects, case.submitter, case.policy, key)
    for outcome in outcomes:
        if outcome.obj["id"] not in case.markings or outcome.obj["id"] in case.submitter_ids:
            continue  # marking definitions and the member's own identity are never forwarded
        level = case.expected_level(outcome.obj["id"])
        if level is None:  # an unknown marking: held or rejected, never silently ignored
            assert outcome.decision.outcome in ("hold", "reject", "withhold")
            continue
        assert outcome.decision.tlp == level
        if outcome.decision.outcome == "release":
            takers = {f.alias for f in case.policy.feeds if level in f.tlp and level not in NEVER}
            assert set(outcome.released) == takers


@PROPERTY
@given(cases(), pseudonym_keys())
def test_the_submitter_cannot_be_recognised_in_a_feed_that_may_not_name_it(
    case: Case, key: Any
) -> None:
    submitter, outcomes = share(case.objects, case.submitter, case.policy, key)
    assert case.submitter_ids <= submitter.identity_ids
    needles = {n.lower() for n in (*case.needles, *submitter.identity_ids)}
    for outcome in outcomes:
        for alias, released in outcome.released.items():
            verdict = outcome.decision.verdict(alias)
            feed = case.policy.feed(alias)
            assert verdict is not None and feed is not None
            if verdict.named:
                assert case.may_name(outcome.obj["id"], feed)
                continue
            text = _text(released).lower()
            leaked = sorted(n for n in needles if n in text)
            assert leaked == [], (alias, released)
            if released["type"] not in SCO_TYPES:
                assert released["created_by_ref"] == outcome.identities[alias].id


@PROPERTY
@given(cases(), pseudonym_keys())
def test_the_submitter_is_named_exactly_where_its_consent_allows(case: Case, key: Any) -> None:
    _, outcomes = share(case.objects, case.submitter, case.policy, key)
    for outcome in outcomes:
        if outcome.obj["id"] not in case.markings:
            continue
        for verdict in outcome.decision.feeds:
            feed = case.policy.feed(verdict.alias)
            assert feed is not None
            assert verdict.named == case.may_name(outcome.obj["id"], feed)


@PROPERTY
@given(cases(), pseudonym_keys())
def test_personal_data_reaches_no_feed_unless_its_detector_allows_it(case: Case, key: Any) -> None:
    _, outcomes = share(case.objects, case.submitter, case.policy, key)
    actions = case.policy.actions
    barred = [f for f, d in FRAGMENT_DETECTOR.items() if actions[d] != "allow"]
    for outcome in outcomes:
        for released in outcome.released.values():
            text = _text(released)
            assert [f for f in barred if f in text] == [], released
            person = released["type"] == "identity" and released["identity_class"] == "individual"
            if person and actions["person-name"] != "allow":
                assert released["name"] == "[REDACTED:person-name]"
            if released["type"] in ("email-addr", "user-account"):
                assert actions["account"] == "allow"
            if released["type"] in ("ipv4-addr", "domain-name", "url"):
                value = released["value"]
                if actions["internal-address"] != "allow":
                    assert "10." not in value and "192.168." not in value, released
                if actions["internal-hostname"] != "allow":
                    assert ".corp" not in value, released


@PROPERTY
@given(cases(), pseudonym_keys())
def test_every_released_object_is_valid_stix_2_1(case: Case, key: Any) -> None:
    _, outcomes = share(case.objects, case.submitter, case.policy, key)
    for outcome in outcomes:
        identities = list(outcome.identities.values())
        for released in [*outcome.released.values(), *(i.obj for i in identities)]:
            assert validator().problems(released, NOW_US) == [], released
            parsed = stix2.parse(copy.deepcopy(released), allow_custom=True)
            assert parsed["id"] == released["id"]


@PROPERTY
@given(cases())
def test_generated_submissions_are_valid_stix_2_1(case: Case) -> None:
    """The generator's own check: what the rules start from is valid, so any invalid release
    is the transform's fault."""
    for obj in _objects(case):
        assert validator().problems(obj, NOW_US) == [], obj
        stix2.parse(copy.deepcopy(obj), allow_custom=True)


@PROPERTY
@given(cases(), pseudonym_keys())
def test_the_rules_are_deterministic_and_leave_their_input_alone(case: Case, key: Any) -> None:
    pristine = copy.deepcopy(case.objects)
    submitter, first = share(case.objects, case.submitter, case.policy, key)
    assert case.objects == pristine
    again, second = share(copy.deepcopy(pristine), case.submitter, case.policy, key)
    assert again == submitter
    assert [o.decision for o in first] == [o.decision for o in second]
    assert [o.released for o in first] == [o.released for o in second]
    for outcome in first:  # released objects share no mutable parts with their input
        for released in outcome.released.values():
            for value in released.values():
                if isinstance(value, (dict, list)):
                    assert all(value is not v for v in outcome.obj.values())


@PROPERTY
@given(cases(), pseudonym_keys())
def test_held_rejected_and_withheld_objects_are_released_nowhere(case: Case, key: Any) -> None:
    submitter, outcomes = share(case.objects, case.submitter, case.policy, key)
    for outcome in outcomes:
        decision = outcome.decision
        if outcome.obj["type"] == "marking-definition" or (
            outcome.obj["type"] == "identity" and outcome.obj["id"] in submitter.identity_ids
        ):
            assert decision.outcome == "withhold"
        if decision.outcome != "release":
            assert decision.released_to == []
            assert not any(verdict.released for verdict in decision.feeds)
            assert outcome.released == {}


_MEMBERS = st.uuids(version=4).map(lambda u: f"member-{u}")


@PROPERTY
@given(pseudonym_keys(), _MEMBERS, st.sampled_from(FEED_ALIASES))
def test_a_pseudonym_is_stable_for_a_member_feed_and_key(key: Any, member: str, feed: str) -> None:
    first = pseudonym(key, member, feed)
    assert first == pseudonym(key, member, feed)
    assert not first.named
    assert validator().problems(first.obj, NOW_US) == []


@PROPERTY
@given(
    st.lists(pseudonym_keys(), min_size=2, max_size=3, unique_by=lambda k: k.secret),
    st.lists(_MEMBERS, min_size=2, max_size=3, unique=True),
    st.lists(st.sampled_from(FEED_ALIASES), min_size=2, max_size=3, unique=True),
)
def test_pseudonyms_differ_across_feeds_members_and_keys(
    keys: list[Any], members: list[str], feeds: list[str]
) -> None:
    made = [pseudonym(k, m, f) for k in keys for m in members for f in feeds]
    assert len({p.id for p in made}) == len(made)
    assert len({p.name for p in made}) == len(made)


@settings(PROPERTY, max_examples=3 * PROPERTY.max_examples)
@given(
    st.lists(markings(), min_size=1, max_size=6, unique_by=lambda m: m.ref),
    st.data(),
)
def test_markings_resolve_to_what_the_specifications_say(pool: list[Marking], data: Any) -> None:
    """The oracle for marking resolution alone, with many more examples than the bundles get."""
    objects: list[dict[str, Any]] = []
    for marking in pool:
        objects.extend(dict(d) for d in marking.definitions)
    objects = data.draw(st.permutations(objects))
    chosen = data.draw(st.lists(st.sampled_from(pool), min_size=1, unique_by=lambda m: m.ref))
    granular = data.draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    obj: dict[str, Any] = {
        "object_marking_refs": [m.ref for m, g in zip(chosen, granular, strict=True) if not g],
        "granular_markings": [
            {"marking_ref": m.ref, "selectors": ["name"]}
            for m, g in zip(chosen, granular, strict=True)
            if g
        ],
    }
    resolved = resolve(obj, definitions_in(objects))
    assert set(resolved.unknown) == {m.ref for m in chosen if m.unknown}
    known = [m for m in chosen if not m.unknown]
    assert resolved.tlp == most_restrictive([m.tlp for m in known if m.tlp])
    assert resolved.consent == narrowest([m.consent for m in known if m.consent])
