"""Factories for the example-based sharing tests: a member, a policy with the three default
feeds, and STIX objects with fixed ids."""

from __future__ import annotations

import uuid
from typing import Any

from hub.sharing.decide import Decision, decide, submitter_identity_ids
from hub.sharing.pii import Detectors
from hub.sharing.policy import DEFAULT_ACTIONS, FeedPolicy, Policy, Submitter
from hub.sharing.pseudonyms import PseudonymKey
from hub.stix.markings import definitions_in

CREATED = "2026-01-01T00:00:00.000Z"
ACME_ID = "identity--a1a1a1a1-0000-4000-8000-000000000001"
KEY = PseudonymKey(epoch=1, secret=b"k" * 32, started_us=1_700_000_000_000_000)
ALL = frozenset({"clear", "green", "amber"})
TLP1_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"


def sid(obj_type: str, n: int) -> str:
    """A fixed, readable id: sid("malware", 1)."""
    return f"{obj_type}--{uuid.UUID(int=n, version=4)}"


def acme(consent: str = "none", **changes: Any) -> Submitter:
    return Submitter(
        member_id="member-acme",
        name=changes.pop("name", "Acme Bank"),
        consent=consent,
        aliases=changes.pop("aliases", ("acmebank.example", "ACME-CERT")),
        sector="finance",
        identity_ids=changes.pop("identity_ids", frozenset({ACME_ID})),
        **changes,
    )


def three_feeds(**changes: Any) -> Policy:
    """The issue's defaults: public takes CLEAR; members and government CLEAR to AMBER."""
    feeds = (
        FeedPolicy("public", frozenset({"clear"})),
        FeedPolicy("members", ALL),
        FeedPolicy("government", ALL, government=True),
    )
    actions = {**DEFAULT_ACTIONS, **changes.pop("actions", {})}
    return Policy(feeds=changes.pop("feeds", feeds), actions=actions, **changes)


def sdo(obj_type: str, n: int = 1, **props: Any) -> dict[str, Any]:
    return {
        "type": obj_type,
        "spec_version": "2.1",
        "id": sid(obj_type, n),
        "created": CREATED,
        "modified": CREATED,
        **props,
    }


def indicator(n: int = 1, **props: Any) -> dict[str, Any]:
    base = {
        "name": "Gate",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": CREATED,
        "created_by_ref": ACME_ID,
    }
    return sdo("indicator", n, **{**base, **props})


def sco(obj_type: str, value: str, n: int = 1, **props: Any) -> dict[str, Any]:
    return {
        "type": obj_type,
        "spec_version": "2.1",
        "id": sid(obj_type, n),
        "value": value,
        **props,
    }


def decide_one(
    obj: dict[str, Any],
    submitter: Submitter | None = None,
    policy: Policy | None = None,
    *,
    bundle: list[dict[str, Any]] | None = None,
    approved: bool = False,
) -> Decision:
    """Decide `obj` as part of `bundle` (default: alone), the way the pipeline does."""
    objects = bundle if bundle is not None else [obj]
    who = submitter or acme()
    who = who.with_identities(submitter_identity_ids(objects, who))
    rules = policy or three_feeds()
    return decide(
        obj,
        submitter=who,
        policy=rules,
        definitions=definitions_in(objects),
        detectors=Detectors(rules.internal_domains),
        approved=approved,
    )
