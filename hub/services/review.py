"""The review queue: objects the sharing rules held for a person to approve, edit or reject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from hub.errors import Conflict, NotFound, Unprocessable
from hub.services.accountability import audit
from hub.services.context import Hub
from hub.services.release import Item, releaser_for, summary
from hub.stix.timestamps import now_us
from hub.storage.sharing import ReviewItem, ReviewRepository


class ReviewError(Conflict):
    """The item was already decided."""


class EditInvalid(Unprocessable):
    """A reviewer's edit that is not a valid version of the held object."""


@dataclass(frozen=True)
class ReviewOutcome:
    item: ReviewItem
    message: str  # what the decision did, e.g. "released to government, members"


def list_items(hub: Hub, state: str | None = "pending", limit: int = 100) -> list[ReviewItem]:
    with hub.db.read() as conn:
        return ReviewRepository(conn).list(state, limit)


def get_item(hub: Hub, item_id: str) -> ReviewItem:
    with hub.db.read() as conn:
        item = ReviewRepository(conn).get(item_id)
    if item is None:
        raise NotFound(f"no review item {item_id!r}")
    return item


def approve(
    hub: Hub,
    item_id: str,
    reviewer: str,
    *,
    edited: dict[str, Any] | None = None,
    note: str | None = None,
) -> ReviewOutcome:
    """Release a held object (as submitted, or as the reviewer edited it) to the feeds the
    current policy allows. What the detectors would hold is released as approved; what they
    redact is still redacted."""
    item = get_item(hub, item_id)
    if item.state != "pending":
        raise ReviewError(f"review item {item_id} was already {item.state}")
    body: dict[str, Any] = edited if edited is not None else orjson.loads(item.body)
    key, problems = hub.validator.check(body, now_us())
    if edited is not None:
        if key is not None and (key.object_id, key.version_us) != (item.object_id, item.version_us):
            problems = [*problems, "id and modified must stay those of the held object"]
        if problems or key is None:
            raise EditInvalid("; ".join(problems) or "the edited object is not valid")
    assert key is not None
    releaser = releaser_for(
        hub, member_id=item.member_id, submission_id=item.submission_id, objects=[body]
    )
    decision = releaser.decide(body, approved=True)
    with hub.db.write() as conn:
        repo = ReviewRepository(conn)
        current = repo.get_for_update(item_id)
        if current is None or current.state != "pending":
            raise ReviewError(f"review item {item_id} was already decided")
        if decision.outcome == "release":
            releaser.release(conn, [Item(body, key, decision)])
        audit(
            hub,
            "review.approve",
            actor=reviewer,
            actor_kind=_actor_kind(reviewer),
            member_id=item.member_id,
            target=item.object_id,
            detail={"item": item_id, "edited": edited is not None, "outcome": summary(decision)},
            conn=conn,
        )
        repo.decide(
            item_id,
            state="approved",
            decided_by=reviewer,
            decided_us=now_us(),
            note=note,
            edited_body=orjson.dumps(edited).decode("utf-8") if edited is not None else None,
        )
        decided = repo.get(item_id)
    assert decided is not None
    return ReviewOutcome(decided, summary(decision))


def _actor_kind(reviewer: str) -> str:
    return "cli" if reviewer == "cli" or reviewer.startswith("cli:") else "user"


def reject(hub: Hub, item_id: str, reviewer: str, *, note: str | None = None) -> ReviewOutcome:
    """Keep a held object out of every feed for good."""
    with hub.db.write() as conn:
        repo = ReviewRepository(conn)
        current = repo.get_for_update(item_id)
        if current is None:
            raise NotFound(f"no review item {item_id!r}")
        if current.state != "pending":
            raise ReviewError(f"review item {item_id} was already {current.state}")
        audit(
            hub,
            "review.reject",
            actor=reviewer,
            actor_kind=_actor_kind(reviewer),
            member_id=current.member_id,
            target=current.object_id,
            detail={"item": item_id},
            conn=conn,
        )
        repo.decide(
            item_id,
            state="rejected",
            decided_by=reviewer,
            decided_us=now_us(),
            note=note,
            edited_body=None,
        )
        decided = repo.get(item_id)
    assert decided is not None
    return ReviewOutcome(decided, "rejected: released to no feed")
