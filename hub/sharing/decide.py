"""decide(): for one object from one submitter, which feeds receive it, and why or why not.

The outcome is one of:
- release: it goes to every feed whose verdict says released (possibly none);
- hold: a person must review it first (personal data, an unknown marking, an unvetted type);
- reject: policy refuses it outright (an unknown marking under `unknown_marking = "reject"`);
- withhold: by design it never goes to a feed (marking definitions, the submitter's own
  identity objects, an object whose personal data cannot be redacted from it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hub.sharing.pii import Detectors, Hit
from hub.sharing.policy import MIN_ALIAS, NEVER_RELEASED, SCO_TYPES, FeedPolicy, Policy, Submitter
from hub.stix.markings import MarkingMeaning, Markings, resolve


@dataclass(frozen=True, slots=True)
class FeedVerdict:
    alias: str
    released: bool
    reason: str
    named: bool = False  # the submitter's real identity appears in this feed


@dataclass(frozen=True)
class Decision:
    object_id: str
    outcome: str  # release | hold | reject | withhold
    tlp: str
    tlp_defaulted: bool
    consent: str
    reasons: tuple[str, ...]
    hits: tuple[Hit, ...]
    feeds: tuple[FeedVerdict, ...]
    # The hits the transform redacts (the rest are allowed, or the reason for a hold).
    redact: tuple[Hit, ...] = ()
    # Keep properties outside the allow-list (a reviewer approved an unvetted type).
    keep_unlisted: bool = False

    @property
    def released_to(self) -> list[str]:
        return [verdict.alias for verdict in self.feeds if verdict.released]

    def verdict(self, alias: str) -> FeedVerdict | None:
        for verdict in self.feeds:
            if verdict.alias == alias:
                return verdict
        return None


def identity_needles(submitter: Submitter) -> list[str]:
    """The strings that identify the submitter: its name, aliases and identity ids."""
    needles = {submitter.name.strip()} | {a.strip() for a in submitter.aliases}
    found = [n for n in needles if len(n) >= MIN_ALIAS]
    return sorted(set(found) | set(submitter.identity_ids), key=lambda n: (-len(n), n))


@lru_cache(maxsize=256)
def submitter_pattern(submitter: Submitter) -> re.Pattern[str] | None:
    """The compiled pattern of `identity_needles(submitter)` (cached: one per submission)."""
    return needle_pattern(identity_needles(submitter))


def needle_pattern(needles: Iterable[str]) -> re.Pattern[str] | None:
    parts = [re.escape(n) for n in needles if n]
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


def submitter_identity_ids(objects: Iterable[Any], submitter: Submitter) -> set[str]:
    """Identity ids that stand for the submitter in a submission: every `created_by_ref` (a
    member publishes as itself; reposted third-party objects are treated the same, which only
    errs towards hiding), and identity objects named like the submitter."""
    names = {n.strip().lower() for n in (submitter.name, *submitter.aliases) if n.strip()}
    found: set[str] = set()
    for obj in objects:
        if not isinstance(obj, Mapping):
            continue
        ref = obj.get("created_by_ref")
        if isinstance(ref, str):
            found.add(ref)
        if obj.get("type") == "identity":
            name = obj.get("name")
            if isinstance(name, str) and name.strip().lower() in names:
                found.add(str(obj.get("id")))
    return found


def decide(
    obj: Mapping[str, Any],
    *,
    submitter: Submitter,
    policy: Policy,
    definitions: Mapping[str, MarkingMeaning],
    detectors: Detectors,
    approved: bool = False,
) -> Decision:
    """Decide one object. `definitions` are the readable marking definitions of the submission;
    `approved` is a reviewer's approval: what would be held is released instead."""
    object_id = str(obj.get("id"))
    obj_type = obj.get("type")
    markings: Markings = resolve(obj, definitions)
    tlp = markings.tlp
    defaulted = tlp is None
    if tlp is None:
        tlp = policy.default_tlp
    consent = markings.consent or submitter.consent
    hits = tuple(detectors.scan(obj))
    reasons: list[str] = []
    outcome = "release"

    if obj_type == "marking-definition":
        outcome = "withhold"
        reasons.append("marking definitions are not forwarded; feeds carry the TLP 2.0 ones")
    elif obj_type == "identity" and object_id in submitter.identity_ids:
        outcome = "withhold"
        reasons.append("the submitter's identity is replaced by its identity in each feed")

    if markings.unknown and outcome == "release":
        listed = ", ".join(markings.unknown)
        if policy.unknown_marking == "red":
            tlp = "red"
            reasons.append(f"unknown marking definition {listed} treated as TLP:RED")
        elif policy.unknown_marking == "reject":
            outcome = "reject"
            reasons.append(f"unknown marking definition {listed}")
        elif not approved:
            outcome = "hold"
            reasons.append(f"unknown marking definition {listed}")

    keep_unlisted = False
    if outcome == "release" and obj_type not in policy.allowed_properties:
        if approved:
            keep_unlisted = True
        else:
            outcome = "hold"
            reasons.append(f"type {obj_type} has no allowed-properties list to vet it by")

    redact: list[Hit] = []
    if outcome in ("release", "hold"):
        for hit in hits:
            action = policy.action(hit.detector)
            if action == "allow":
                continue
            place = hit.path or obj_type
            if action == "hold" and not approved:
                if outcome == "release":  # what cannot be redacted stays withheld
                    outcome = "hold"
                reasons.append(f"{hit.detector} in {place}")
            elif action == "redact":
                if _cannot_redact(hit, obj_type):
                    outcome = "withhold"  # final: no review can release it as it is
                    reasons.append(f"{hit.detector} in {place} cannot be redacted")
                else:
                    redact.append(hit)

    if outcome in ("release", "hold") and _pattern_names(obj, submitter, policy, tlp, consent):
        # Said whether or not the object is held already, so that a reviewer approving it
        # for another reason sees this one too: approving means the name may go out.
        reasons.append("the pattern names the submitter, which cannot be rewritten")
        if not approved:
            outcome = "hold"
    feeds = tuple(_verdict(feed, tlp, consent, outcome, tuple(reasons)) for feed in policy.feeds)
    return Decision(
        object_id,
        outcome,
        tlp,
        defaulted,
        consent,
        tuple(reasons),
        hits,
        feeds,
        tuple(redact),
        keep_unlisted,
    )


def _pattern_names(
    obj: Mapping[str, Any], submitter: Submitter, policy: Policy, tlp: str, consent: str
) -> bool:
    """Does the object's pattern name the submitter, in a feed it would reach pseudonymised?"""
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        return False
    needles = submitter_pattern(submitter)
    if needles is None or not needles.search(pattern):
        return False
    return any(
        (verdict := _verdict(feed, tlp, consent, "release", ())).released and not verdict.named
        for feed in policy.feeds
    )


def _cannot_redact(hit: Hit, obj_type: object) -> bool:
    """A hit that is the object itself (a victim's account, an internal address observable)
    cannot be cut out of it: redacting it means not releasing the object."""
    if hit.detector == "account":
        return True
    return hit.whole and obj_type in SCO_TYPES and hit.path == "value"


@lru_cache(maxsize=4096)
def _verdict(
    feed: FeedPolicy, tlp: str, consent: str, outcome: str, reasons: tuple[str, ...]
) -> FeedVerdict:
    named = feed.identity == "consent" and (
        consent == "everyone" or (consent == "government" and feed.government)
    )
    label = f"TLP:{tlp.upper()}"
    if tlp in NEVER_RELEASED:
        return FeedVerdict(feed.alias, False, f"{label} is never released to a feed", named)
    if tlp not in feed.tlp:
        takes = ", ".join(f"TLP:{t.upper()}" for t in sorted(feed.tlp)) or "nothing"
        return FeedVerdict(feed.alias, False, f"{label}; this feed takes {takes}", named)
    if outcome == "hold":
        return FeedVerdict(feed.alias, False, "held for review: " + "; ".join(reasons), named)
    if outcome == "reject":
        return FeedVerdict(feed.alias, False, "rejected: " + "; ".join(reasons), named)
    if outcome == "withhold":
        return FeedVerdict(feed.alias, False, "not forwarded: " + "; ".join(reasons), named)
    who = "named" if named else "pseudonymised"
    return FeedVerdict(feed.alias, True, f"{label}, submitter {who}", named)
