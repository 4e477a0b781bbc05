"""`hub policy preview`: what the current policy would release from a bundle, per feed, and
why the rest would not be released. Nothing is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.services import membership
from hub.services.context import Hub
from hub.services.release import Item, releaser_for
from hub.stix.timestamps import now_us


@dataclass
class FeedPreview:
    alias: str
    named: bool = False
    released: list[dict[str, Any]] = field(default_factory=list)
    not_released: list[dict[str, str]] = field(default_factory=list)  # {id, reason}


@dataclass
class Preview:
    policy_version: int
    member: str
    consent: str
    feeds: list[FeedPreview]
    held: list[dict[str, Any]] = field(default_factory=list)  # {id, reasons, hits}
    withheld: list[dict[str, Any]] = field(default_factory=list)  # {id, reasons}
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {id, reasons}
    invalid: list[dict[str, Any]] = field(default_factory=list)  # {id, problems}


def preview(hub: Hub, member_ref: str, objects: list[Any]) -> Preview:
    """Run the sharing rules on `objects` as if `member_ref` had submitted them."""
    member = membership.find_member(hub, member_ref)
    releaser = releaser_for(hub, member_id=member.id, submission_id=None, objects=objects)
    result = Preview(
        releaser.policy_version,
        member.name,
        member.consent,
        [FeedPreview(feed.alias) for feed in releaser.policy.feeds],
    )
    feeds = {feed.alias: feed for feed in result.feeds}
    now = now_us()
    for position, obj in enumerate(objects):
        key, problems = hub.validator.check(obj, now)
        object_id = obj.get("id") if isinstance(obj, dict) else None
        label = object_id if isinstance(object_id, str) else f"objects[{position}]"
        if problems or key is None:
            result.invalid.append({"id": label, "problems": problems})
            continue
        decision = releaser.decide(obj)
        if decision.outcome == "hold":
            result.held.append(
                {
                    "id": label,
                    "reasons": list(decision.reasons),
                    "hits": [
                        {"detector": h.detector, "path": h.path, "text": h.text}
                        for h in decision.hits
                    ],
                }
            )
        elif decision.outcome == "withhold":
            result.withheld.append({"id": label, "reasons": list(decision.reasons)})
        elif decision.outcome == "reject":
            result.rejected.append({"id": label, "reasons": list(decision.reasons)})
        outputs = releaser.render(Item(obj, key, decision)) if decision.outcome == "release" else {}
        for verdict in decision.feeds:
            feed = feeds[verdict.alias]
            feed.named = feed.named or (verdict.released and verdict.named)
            if verdict.alias in outputs:
                feed.released.append(outputs[verdict.alias])
            else:
                feed.not_released.append({"id": label, "reason": verdict.reason})
    return result
