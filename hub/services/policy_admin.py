"""Changing the sharing policy from the console: a change (the TLP x audience matrix here, the
rest of the rules in `policy_rules`) is proposed, shown with what it would do to recent
objects, then made: a new policy version (source "console") naming its author, and an audit
event. Also the versions with what each changed, and rotating the pseudonym key."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.errors import BadRequest, Conflict
from hub.services.context import Hub
from hub.services.policy_effects import Effects, effects
from hub.services.sharing import current_policy, policy_warnings, rotate_pseudonym_key
from hub.services.users import Actor, record
from hub.sharing.policy import FeedPolicy, Policy, PolicyError
from hub.sharing.versions import describe_changes
from hub.stix.timestamps import now_us
from hub.storage.sharing import Epoch, EpochRepository, PolicyRepository, PolicyVersion


@dataclass
class Proposal:
    base_version: int
    policy: Policy
    changes: list[str]  # what differs from the version in force, in words
    effects: Effects
    # Where the proposed policy would let pseudonyms be linked to members (linkage_warnings).
    warnings: list[str] = field(default_factory=list)


Change = Callable[[Policy], Policy]  # the policy in force -> the one proposed (or BadRequest)


def matrix(hub: Hub) -> tuple[int, Policy]:
    return current_policy(hub)


def _check_base(version: int, base_version: int) -> None:
    if base_version != version:
        raise Conflict(
            f"the policy changed (now version {version}) since the page was loaded: start again"
        )


def propose_change(hub: Hub, change: Change, *, base_version: int) -> Proposal:
    """Check a change to the policy in force and work out what it would do to the newest
    inbox objects; nothing is stored."""
    version, current = current_policy(hub)
    _check_base(version, base_version)
    policy = change(current)
    if policy.digest() == current.digest():
        return Proposal(version, policy, [], Effects())
    changes = describe_changes(current.to_document(), policy.to_document())
    return Proposal(
        version, policy, changes, effects(hub, current, policy), policy_warnings(hub, policy)
    )


def apply_change(hub: Hub, actor: Actor, change: Change, *, base_version: int, note: str) -> int:
    """Record the changed policy as a new version (source "console"), if the policy did not
    change in between, and the change in the audit trail; returns the version's number. It
    decides what is released from now on; what was released stays."""
    with hub.db.write() as conn:
        repo = PolicyRepository(conn)
        version, current = current_policy(hub, conn)
        _check_base(version, base_version)
        policy = change(current)
        if policy.digest() == current.digest():
            raise BadRequest("nothing would change")
        document = policy.to_document()
        number = repo.add(
            created_us=now_us(),
            source="console",
            author=actor.email,
            digest=policy.digest(),
            document=orjson.dumps(document).decode("utf-8"),
            note=note.strip() or None,
        )
        detail: dict[str, Any] = {
            "version": number,
            "from_version": version,
            "changes": describe_changes(current.to_document(), document),
        }
        record(
            hub, actor, "policy.change", target=f"policy version {number}", detail=detail, conn=conn
        )
    return number


def matrix_change(tlp: Mapping[str, set[str]], identity: Mapping[str, str]) -> Change:
    """The TLP x audience matrix as a change: the levels each feed takes, and whether a
    submitter may be named there."""

    def change(current: Policy) -> Policy:
        unknown = (set(tlp) | set(identity)) - {f.alias for f in current.feeds}
        if unknown:
            raise BadRequest(f"no feed named {sorted(unknown)[0]!r} in the policy")
        feeds = []
        for feed in current.feeds:
            mode = identity.get(feed.alias, feed.identity)
            try:
                feeds.append(
                    FeedPolicy(
                        feed.alias, frozenset(tlp.get(feed.alias, ())), mode, feed.government
                    )
                )
            except PolicyError as exc:
                raise BadRequest(str(exc)) from None
        return dataclasses.replace(current, feeds=tuple(feeds))

    return change


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


def epochs(hub: Hub) -> list[Epoch]:
    """Every pseudonym key epoch, newest first; never a key."""
    with hub.db.read() as conn:
        return EpochRepository(conn).all()


def rotate_pseudonyms(hub: Hub, actor: Actor) -> int:
    """A new pseudonym key: new objects get new pseudonyms; the old key is destroyed."""
    epoch = rotate_pseudonym_key(hub)
    record(hub, actor, "keys.rotate-pseudonyms", target=f"epoch {epoch}", detail={"epoch": epoch})
    return epoch
