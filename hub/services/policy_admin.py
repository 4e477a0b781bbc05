"""Changing the sharing policy from the console: the TLP x audience matrix (which TLP levels
each feed takes, and whether a submitter may be named there), what a change would do to
recent objects before it is made, the versions with who changed what, and rotating the
pseudonym key. Each change is a new policy version (source "console") and an audit event."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.errors import BadRequest, Conflict
from hub.services.context import Hub
from hub.services.release import releaser_for
from hub.services.sharing import current_policy, rotate_pseudonym_key
from hub.services.users import Actor, record
from hub.sharing.policy import FeedPolicy, Policy, PolicyError
from hub.stix.markings import TLP_LEVELS
from hub.stix.timestamps import now_us
from hub.storage.collections import CollectionRepository
from hub.storage.reports import ReportRepository
from hub.storage.sharing import Epoch, EpochRepository, PolicyRepository, PolicyVersion

# How many of the newest inbox objects a proposed change is tried on.
EFFECT_SAMPLE = 1000


@dataclass(frozen=True)
class FeedChange:
    alias: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    identity: tuple[str, str] | None  # (from, to) when it changes


@dataclass
class FeedEffect:
    alias: str
    newly: int = 0  # objects the change would release here that are not released now
    no_longer: int = 0  # objects released here now that the change would keep out
    examples: list[str] = field(default_factory=list)  # ids of objects either way


@dataclass
class Proposal:
    base_version: int
    policy: Policy
    changes: list[FeedChange]
    effects: list[FeedEffect]
    examined: int


def matrix(hub: Hub) -> tuple[int, Policy]:
    return current_policy(hub)


def _proposed(
    current: Policy, tlp: Mapping[str, set[str]], identity: Mapping[str, str]
) -> tuple[Policy, list[FeedChange]]:
    feeds = []
    changes = []
    for feed in current.feeds:
        levels = frozenset(tlp.get(feed.alias, set()))
        mode = identity.get(feed.alias, feed.identity)
        try:
            new = FeedPolicy(feed.alias, levels, mode, feed.government)
        except PolicyError as exc:
            raise BadRequest(str(exc)) from None
        feeds.append(new)
        order = TLP_LEVELS.index
        added = tuple(sorted(new.tlp - feed.tlp, key=order))
        removed = tuple(sorted(feed.tlp - new.tlp, key=order))
        moved = (feed.identity, new.identity) if feed.identity != new.identity else None
        if added or removed or moved:
            changes.append(FeedChange(feed.alias, added, removed, moved))
    unknown = (set(tlp) | set(identity)) - {f.alias for f in current.feeds}
    if unknown:
        raise BadRequest(f"no feed named {sorted(unknown)[0]!r} in the policy")
    return dataclasses.replace(current, feeds=tuple(feeds)), changes


def propose(
    hub: Hub, tlp: Mapping[str, set[str]], identity: Mapping[str, str], *, base_version: int
) -> Proposal:
    """Check a new matrix and work out what it would change for the newest inbox objects;
    nothing is stored."""
    version, current = current_policy(hub)
    if base_version != version:
        raise Conflict(
            f"the policy changed (now version {version}) since the page was loaded: start again"
        )
    policy, changes = _proposed(current, tlp, identity)
    effects = {f.alias: FeedEffect(f.alias) for f in policy.feeds}
    examined = _effects(hub, current, policy, effects) if changes else 0
    return Proposal(version, policy, changes, list(effects.values()), examined)


def _effects(hub: Hub, old: Policy, new: Policy, effects: dict[str, FeedEffect]) -> int:
    with hub.db.read() as conn:
        inbox = [c.id for c in CollectionRepository(conn).list() if c.kind == "inbox"]
        rows = ReportRepository(conn).search_versions(
            collection_ids=inbox, latest_only=True, limit=EFFECT_SAMPLE
        )
    by_member: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.submitted_by:
            by_member.setdefault(row.submitted_by, []).append(orjson.loads(row.body))
    examined = 0
    for member_id, objects in by_member.items():
        before = releaser_for(hub, member_id=member_id, submission_id=None, objects=objects)
        after = dataclasses.replace(before, policy=new)
        for obj in objects:
            was = {v.alias for v in before.decide(obj).feeds if v.released}
            will = {v.alias for v in after.decide(obj).feeds if v.released}
            examined += 1
            for alias in will - was:
                effects[alias].newly += 1
            for alias in was - will:
                effects[alias].no_longer += 1
            for alias in will ^ was:
                if len(effects[alias].examples) < 5:
                    effects[alias].examples.append(str(obj.get("id")))
    return examined


def apply(
    hub: Hub,
    actor: Actor,
    tlp: Mapping[str, set[str]],
    identity: Mapping[str, str],
    *,
    base_version: int,
    note: str,
) -> int:
    """Record the new matrix as a policy version (if nothing changed in between); returns its
    number. It decides what is released from now on; what was released stays."""
    with hub.db.write() as conn:
        repo = PolicyRepository(conn)
        version, current = current_policy(hub, conn)
        if version != base_version:
            raise Conflict(f"the policy changed (now version {version}) meanwhile: start again")
        policy, changes = _proposed(current, tlp, identity)
        if not changes:
            raise BadRequest("nothing would change")
        number = repo.add(
            created_us=now_us(),
            source="console",
            author=actor.email,
            digest=policy.digest(),
            document=orjson.dumps(policy.to_document()).decode("utf-8"),
            note=note.strip() or None,
        )
        detail: dict[str, Any] = {
            "version": number,
            "from_version": version,
            "changes": [
                {
                    "feed": c.alias,
                    "added": list(c.added),
                    "removed": list(c.removed),
                    **({"identity": list(c.identity)} if c.identity else {}),
                }
                for c in changes
            ],
        }
        record(
            hub, actor, "policy.change", target=f"policy version {number}", detail=detail, conn=conn
        )
    return number


@dataclass(frozen=True)
class VersionView:
    version: PolicyVersion
    changes: list[str]  # what differs from the version before, in words


def history(hub: Hub) -> list[VersionView]:
    """Every policy version, newest first, each with what it changed."""
    with hub.db.read() as conn:
        versions = PolicyRepository(conn).history()
    result = []
    previous: dict[str, Any] | None = None
    for version in versions:
        document = orjson.loads(version.document)
        result.append(VersionView(version, describe_changes(previous, document)))
        previous = document
    return list(reversed(result))


def describe_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    if old is None:
        return ["first version"]
    lines = []
    old_feeds = {f["alias"]: f for f in old.get("feeds", [])}
    new_feeds = {f["alias"]: f for f in new.get("feeds", [])}
    for alias in sorted(set(old_feeds) | set(new_feeds)):
        before, after = old_feeds.get(alias), new_feeds.get(alias)
        if before is None:
            assert after is not None
            lines.append(f"feed {alias} added, takes {', '.join(after['tlp']) or 'nothing'}")
            continue
        if after is None:
            lines.append(f"feed {alias} removed")
            continue
        added = [t for t in after["tlp"] if t not in before["tlp"]]
        removed = [t for t in before["tlp"] if t not in after["tlp"]]
        if added:
            lines.append(f"{alias} now takes {', '.join(a.upper() for a in added)}")
        if removed:
            lines.append(f"{alias} no longer takes {', '.join(r.upper() for r in removed)}")
        if before.get("identity") != after.get("identity"):
            lines.append(
                f"{alias}: submitter named {before.get('identity')} → {after.get('identity')}"
            )
    for key in ("default_tlp", "unknown_marking"):
        if old.get(key) != new.get(key):
            lines.append(f"{key}: {old.get(key)} → {new.get(key)}")
    for name, action in sorted(new.get("detectors", {}).items()):
        if old.get("detectors", {}).get(name) != action:
            lines.append(f"detector {name}: {old.get('detectors', {}).get(name)} → {action}")
    if old.get("internal_domains") != new.get("internal_domains"):
        lines.append("internal domains changed")
    if old.get("allowed_properties") != new.get("allowed_properties"):
        lines.append("allowed properties changed")
    return lines or ["no change in substance"]


def epochs(hub: Hub) -> list[Epoch]:
    """Every pseudonym key epoch, newest first; never a key."""
    with hub.db.read() as conn:
        return EpochRepository(conn).all()


def rotate_pseudonyms(hub: Hub, actor: Actor) -> int:
    """A new pseudonym key: new objects get new pseudonyms; the old key is destroyed."""
    epoch = rotate_pseudonym_key(hub)
    record(hub, actor, "keys.rotate-pseudonyms", target=f"epoch {epoch}", detail={"epoch": epoch})
    return epoch
