"""Run a submission through the pure sharing core the way the pipeline does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.sharing.decide import Decision, decide, submitter_identity_ids
from hub.sharing.pii import Detectors
from hub.sharing.policy import Policy, Submitter
from hub.sharing.pseudonyms import AudienceIdentity, PseudonymKey, pseudonym, real_identity
from hub.sharing.transform import for_audience, sanitise
from hub.stix.markings import definitions_in

REAL_IDENTITY_CREATED_US = 1_700_000_000_000_000


@dataclass
class Outcome:
    obj: dict[str, Any]
    decision: Decision
    released: dict[str, dict[str, Any]]  # feed alias -> the object as that feed receives it
    identities: dict[str, AudienceIdentity]  # feed alias -> who the submitter is there


def share(
    objects: list[dict[str, Any]],
    submitter: Submitter,
    policy: Policy,
    key: PseudonymKey,
    *,
    approved: bool = False,
) -> tuple[Submitter, list[Outcome]]:
    """Decide and transform every object; returns the submitter as the rules saw it."""
    submitter = submitter.with_identities(submitter_identity_ids(objects, submitter))
    definitions = definitions_in(objects)
    detectors = Detectors(policy.internal_domains)
    outcomes = []
    for obj in objects:
        decision = decide(
            obj,
            submitter=submitter,
            policy=policy,
            definitions=definitions,
            detectors=detectors,
            approved=approved,
        )
        released: dict[str, dict[str, Any]] = {}
        identities: dict[str, AudienceIdentity] = {}
        if decision.outcome == "release":
            base = sanitise(obj, decision, policy)
            for verdict in decision.feeds:
                if not verdict.released:
                    continue
                identity = (
                    real_identity(submitter, REAL_IDENTITY_CREATED_US)
                    if verdict.named
                    else pseudonym(key, submitter.member_id, verdict.alias)
                )
                identities[verdict.alias] = identity
                released[verdict.alias] = for_audience(base, submitter, identity)
        outcomes.append(Outcome(obj, decision, released, identities))
    return submitter, outcomes
