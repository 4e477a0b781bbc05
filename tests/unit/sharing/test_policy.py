"""The policy value: its defaults, its canonical document and digest, and the errors that name
the setting at fault."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.sharing.policy import (
    DEFAULT_ACTIONS,
    DETECTORS,
    SCO_TYPES,
    FeedPolicy,
    Policy,
    PolicyError,
    Submitter,
    alias_problem,
    default_allowed_properties,
)

ALL = frozenset({"clear", "green", "amber"})


def _feeds() -> tuple[FeedPolicy, ...]:
    return (
        FeedPolicy("public", frozenset({"clear"})),
        FeedPolicy("members", ALL),
        FeedPolicy("government", ALL, government=True),
    )


def test_the_default_policy_holds_unknown_markings_and_defaults_to_amber() -> None:
    policy = Policy()
    assert (policy.default_tlp, policy.unknown_marking) == ("amber", "hold")
    assert dict(policy.actions) == dict(DEFAULT_ACTIONS)
    assert set(policy.actions) == set(DETECTORS)
    assert policy.feed("public") is None


def test_default_actions_are_independent_copies() -> None:
    first, second = Policy(), Policy()
    assert first.actions is not second.actions


def test_the_default_allow_list_keeps_common_properties_per_kind_of_object() -> None:
    allowed = default_allowed_properties()
    assert {"created_by_ref", "object_marking_refs", "external_references"} <= allowed["indicator"]
    assert "pattern" in allowed["indicator"]
    for sco_type in SCO_TYPES:
        assert "created_by_ref" not in allowed[sco_type]
        assert {"id", "type", "spec_version", "object_marking_refs"} <= allowed[sco_type]
    assert "contact_information" not in allowed["identity"]


def test_a_policy_document_round_trips() -> None:
    policy = Policy(
        feeds=_feeds(),
        default_tlp="green",
        unknown_marking="red",
        actions={**DEFAULT_ACTIONS, "phone": "hold", "custom-property": "allow"},
        internal_domains=("lan", "acme.internal"),
    )
    document = policy.to_document()
    again = Policy.from_document(json.loads(json.dumps(document)))
    assert again.to_document() == document
    assert again.digest() == policy.digest()
    assert again.feed("government") == FeedPolicy("government", ALL, government=True)


def test_the_digest_does_not_depend_on_the_order_settings_are_given_in() -> None:
    one = Policy(
        feeds=_feeds(),
        actions=dict(DEFAULT_ACTIONS),
        internal_domains=("corp", "lan"),
    )
    two = Policy(
        feeds=tuple(reversed(_feeds())),
        actions=dict(reversed(list(DEFAULT_ACTIONS.items()))),
        internal_domains=("lan", "corp"),
    )
    assert one.digest() == two.digest()


@pytest.mark.parametrize(
    "change",
    [
        {"default_tlp": "green"},
        {"unknown_marking": "reject"},
        {"actions": {**DEFAULT_ACTIONS, "email": "allow"}},
        {"internal_domains": ("corp",)},
        {"feeds": (FeedPolicy("public", frozenset({"clear", "green"})),)},
        {"feeds": (FeedPolicy("public", frozenset({"clear"}), identity="never"),)},
        {"feeds": (FeedPolicy("public", frozenset({"clear"}), government=True),)},
        {"allowed_properties": {"indicator": frozenset({"pattern"})}},
    ],
)
def test_every_setting_changes_the_digest(change: dict[str, Any]) -> None:
    base: dict[str, Any] = {"feeds": (FeedPolicy("public", frozenset({"clear"})),)}
    assert Policy(**{**base, **change}).digest() != Policy(**base).digest()


def test_the_digest_of_a_reference_policy_never_drifts() -> None:
    # Stored policy versions are found by digest: a change to the canonical document would
    # make every stored policy look new. Change this value only with a migration.
    policy = Policy(
        feeds=_feeds(),
        internal_domains=("corp", "lan"),
        allowed_properties={"indicator": frozenset({"id", "type", "pattern"})},
    )
    assert policy.to_document() == {
        "default_tlp": "amber",
        "unknown_marking": "hold",
        "detectors": {
            "account": "hold",
            "custom-property": "redact",
            "email": "redact",
            "internal-address": "redact",
            "internal-hostname": "redact",
            "person-name": "redact",
            "phone": "redact",
        },
        "internal_domains": ["corp", "lan"],
        "allowed_properties": {"indicator": ["id", "pattern", "type"]},
        "feeds": [
            {
                "alias": "government",
                "tlp": ["clear", "green", "amber"],
                "identity": "consent",
                "government": True,
            },
            {
                "alias": "members",
                "tlp": ["clear", "green", "amber"],
                "identity": "consent",
                "government": False,
            },
            {"alias": "public", "tlp": ["clear"], "identity": "consent", "government": False},
        ],
    }
    assert policy.digest() == "935c6afbc4c755065da08affdaa5b99f49e143e7ca1b6472c43abaa901f1ac61"


def test_a_document_without_detectors_or_allow_list_gets_the_defaults() -> None:
    policy = Policy.from_document({"detectors": {"email": "hold"}})
    assert policy.action("email") == "hold"
    assert policy.action("phone") == DEFAULT_ACTIONS["phone"]
    assert dict(policy.allowed_properties) == default_allowed_properties()
    assert policy.feeds == ()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: FeedPolicy("public", frozenset({"red"})),
            "feed public: TLP:RED is never released",
        ),
        (
            lambda: FeedPolicy("peers", frozenset({"green", "amber+strict"})),
            "feed peers: TLP:AMBER+STRICT is never released",
        ),
        (lambda: FeedPolicy("x", frozenset({"purple"})), "feed x: unknown TLP level 'purple'"),
        (
            lambda: FeedPolicy("x", frozenset({"clear"}), identity="sometimes"),
            "feed x: identity is 'consent' or 'never'",
        ),
        (lambda: Policy(default_tlp="white"), "default_tlp: 'white' is not a TLP level"),
        (lambda: Policy(unknown_marking="ignore"), "unknown_marking: one of hold, reject, red"),
        (
            lambda: Policy(actions={**DEFAULT_ACTIONS, "ssn": "redact"}),
            "detectors: no detector named 'ssn'",
        ),
        (
            lambda: Policy(actions={**DEFAULT_ACTIONS, "email": "drop"}),
            "detectors.email: one of redact, hold, allow",
        ),
        (
            lambda: Policy(actions={k: v for k, v in DEFAULT_ACTIONS.items() if k != "phone"}),
            "detectors.phone: no action given",
        ),
        (
            lambda: Policy(feeds=(FeedPolicy("a", ALL), FeedPolicy("a", ALL))),
            "feeds: an alias appears twice",
        ),
        (lambda: Submitter("m", "Acme", consent="all"), "consent: one of everyone"),
        (lambda: Policy.from_document({"feeds": [{"tlp": ["clear"]}]}), "not a policy document"),
        (
            lambda: Policy.from_document({"feeds": [{"alias": "p", "tlp": ["clear", "red"]}]}),
            "feed p: TLP:RED is never released",
        ),
        (
            lambda: Policy.from_document({"feeds": [{"alias": "p", "tlp": "amber"}]}),
            "feed p: tlp is a list of TLP levels",
        ),
        (
            lambda: Policy.from_document(
                {"feeds": [{"alias": "p", "tlp": ["amber"], "government": "false"}]}
            ),
            "feed p: government is true or false",
        ),
    ],
)
def test_a_bad_policy_is_refused_naming_the_setting_at_fault(make: Any, message: str) -> None:
    with pytest.raises(PolicyError, match="^" + message.replace("+", r"\+")):
        make()


def test_with_identities_adds_ids_and_returns_the_same_submitter_when_nothing_is_new() -> None:
    submitter = Submitter("m1", "Acme", identity_ids=frozenset({"identity--a"}))
    assert submitter.with_identities(["identity--a"]) is submitter
    grown = submitter.with_identities(["identity--a", "identity--b"])
    assert grown.identity_ids == {"identity--a", "identity--b"}
    assert (grown.member_id, grown.name, grown.consent) == ("m1", "Acme", "none")


@pytest.mark.parametrize(
    ("alias", "why"),
    [
        ("AB", "3 to 200 characters"),
        ("1234", "needs a letter"),
        ("--+", "needs a letter"),
        ("lab", "'labels'"),
        ("Pattern", "'pattern"),
        ("chain", "'kill chain"),
        ("SHA-2", "'sha-256'"),
        ("indicator", "'indicator'"),
    ],
)
def test_aliases_that_would_rewrite_numbers_or_stix_names_are_refused(alias: str, why: str) -> None:
    problem = alias_problem(alias)
    assert problem is not None
    assert alias in problem
    assert why in problem


@pytest.mark.parametrize("alias", ["Acme-CERT", "acmebank.example", "ABB", "Contoso", "x9 Labs"])
def test_ordinary_aliases_are_accepted(alias: str) -> None:
    assert alias_problem(alias) is None
