"""What a proposed policy would do differently: each of the newest inbox objects decided and
rendered under the policy in force and under the proposal, nothing stored. The console shows
it before a change is made."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.services.context import Hub
from hub.services.release import Item, Releaser, releaser_for
from hub.sharing.decide import Decision
from hub.sharing.pii import Detectors
from hub.sharing.policy import Policy
from hub.stix.objects import ObjectError, version_key
from hub.storage.collections import CollectionRepository
from hub.storage.reports import ReportRepository

# How many of the newest inbox objects a proposed change is tried on.
EFFECT_SAMPLE = 1000
OUTCOMES = ("release", "hold", "reject", "withhold")
_EXAMPLES = 5


@dataclass
class FeedEffect:
    alias: str
    newly: int = 0  # objects the change would release here that are not released now
    no_longer: int = 0  # objects released here now that the change would keep out
    changed: int = 0  # released here either way, but as a different object (redactions, ...)
    examples: list[str] = field(default_factory=list)  # ids of objects either way


@dataclass
class Effects:
    examined: int = 0
    feeds: list[FeedEffect] = field(default_factory=list)
    # Outcome -> (objects with it now, objects with it after the change).
    outcomes: dict[str, tuple[int, int]] = field(default_factory=dict)
    moved: list[str] = field(default_factory=list)  # ids of objects whose outcome changes

    @property
    def outcome_changes(self) -> bool:
        return any(now != then for now, then in self.outcomes.values())


def effects(hub: Hub, old: Policy, new: Policy) -> Effects:
    """Try `new` against `old` on the newest objects of the inbox."""
    with hub.db.read() as conn:
        inbox = [c.id for c in CollectionRepository(conn).list() if c.kind == "inbox"]
        rows = ReportRepository(conn).search_versions(
            collection_ids=inbox, latest_only=True, limit=EFFECT_SAMPLE
        )
    by_member: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.submitted_by:
            by_member.setdefault(row.submitted_by, []).append(orjson.loads(row.body))
    result = Effects(feeds=[FeedEffect(f.alias) for f in new.feeds])
    per_feed = {effect.alias: effect for effect in result.feeds}
    counts = {outcome: [0, 0] for outcome in OUTCOMES}
    detectors = Detectors(new.internal_domains)
    for member_id, objects in by_member.items():
        before = releaser_for(hub, member_id=member_id, submission_id=None, objects=objects)
        after = dataclasses.replace(before, policy=new, detectors=detectors)
        for obj in objects:
            was, will = before.decide(obj), after.decide(obj)
            result.examined += 1
            counts[was.outcome][0] += 1
            counts[will.outcome][1] += 1
            object_id = str(obj.get("id"))
            if was.outcome != will.outcome and len(result.moved) < _EXAMPLES:
                result.moved.append(object_id)
            _compare(per_feed, object_id, _rendered(before, obj, was), _rendered(after, obj, will))
    result.outcomes = {outcome: (now, then) for outcome, (now, then) in counts.items()}
    return result


def _rendered(releaser: Releaser, obj: Mapping[str, Any], decision: Decision) -> dict[str, Any]:
    """Each feed's version of the object under this releaser's policy (none if not released)."""
    if decision.outcome != "release":
        return {}
    try:
        key = version_key(obj)
    except ObjectError:  # pragma: no cover - what the inbox holds was validated
        return {}
    return releaser.render(Item(obj, key, decision))


def _compare(
    per_feed: dict[str, FeedEffect], object_id: str, was: dict[str, Any], will: dict[str, Any]
) -> None:
    for alias in set(was) | set(will):
        effect = per_feed.get(alias)
        if effect is None:
            continue
        if alias not in was:
            effect.newly += 1
        elif alias not in will:
            effect.no_longer += 1
        elif was[alias] != will[alias]:
            effect.changed += 1
        else:
            continue
        if len(effect.examples) < _EXAMPLES:
            effect.examples.append(object_id)
