"""Releasing a submission's objects from the inbox into the feeds, with receipts and the
review queue.

The decisions are pure (`hub.sharing`); this module loads what they need and stores what they
produce, inside the pipeline's per-chunk transaction, so an object is released exactly when it
is stored in the inbox: never twice, never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, select

from hub.services.context import Hub
from hub.services.sharing import current_policy, detectors_for, pseudonym_key
from hub.sharing.decide import Decision, decide, submitter_identity_ids
from hub.sharing.pii import Detectors
from hub.sharing.policy import Policy, Submitter
from hub.sharing.pseudonyms import (
    AudienceIdentity,
    PseudonymKey,
    member_identity_id,
    pseudonym,
    real_identity,
)
from hub.sharing.transform import AudienceRewriter, Probe, sanitise
from hub.stix.markings import MarkingMeaning, definitions_in, tlp2_definition
from hub.stix.objects import VersionKey, version_key
from hub.stix.timestamps import TimestampError, now_us, parse_us
from hub.storage.accountability import Expiry, ExpiryRepository
from hub.storage.collections import Collection, CollectionRepository
from hub.storage.objects import NewVersion, ObjectQuery, ObjectRepository
from hub.storage.sharing import (
    PolicyRepository,
    Receipt,
    ReceiptRepository,
    ReviewItem,
    ReviewRepository,
)
from hub.storage.tables import members

# --- releasing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One valid object of a chunk, with its version key and its decision."""

    obj: Mapping[str, Any]
    key: VersionKey
    decision: Decision


def summary(decision: Decision) -> str:
    """The one-line outcome the submitter reads in its status resource."""
    if decision.outcome == "release":
        released = [
            f"{v.alias} (named)" if v.named else v.alias for v in decision.feeds if v.released
        ]
        if released:
            return "released to " + ", ".join(released)
        reasons = sorted({v.reason for v in decision.feeds})
        return "not released: " + ("; ".join(reasons) if reasons else "no feed is configured")
    if decision.outcome == "hold":
        return "held for review: " + "; ".join(decision.reasons)
    if decision.outcome == "withhold":
        return "not forwarded: " + "; ".join(decision.reasons)
    return "rejected: " + "; ".join(decision.reasons)


# How a submitter's receipts name each line summary() writes: its first words, and the state.
_SUMMARY_STATES = (
    ("released to ", "released"),
    ("not released: ", "withheld"),
    ("not forwarded: ", "withheld"),
    ("held for review: ", "held"),
    ("rejected: ", "rejected"),
)


def state_of(message: str | None) -> tuple[str, str]:
    """The state (released | withheld | held | rejected, or stored for what was not put to the
    sharing rules) and the reason, of a line summary() wrote in a status resource."""
    if not message:
        return "stored", "kept as sent where it was sent; not put to the sharing rules"
    if message == "already received":
        return "duplicate", "this version was already received: nothing new was released"
    for prefix, state in _SUMMARY_STATES:
        if message.startswith(prefix):
            return state, message if state == "released" else message[len(prefix) :]
    return "stored", message


# id(item) -> feed alias -> (the identity it appears under, its stored version there)
Prepared = dict[int, dict[str, tuple[AudienceIdentity, NewVersion]]]


@dataclass
class Releaser:
    """Releases one submission's objects; built once per submission by `releaser_for`."""

    hub: Hub
    member_id: str
    submission_id: str | None
    policy_version: int
    policy: Policy
    detectors: Detectors
    key: PseudonymKey
    submitter: Submitter
    member_created_us: int
    definitions: dict[str, MarkingMeaning]
    feeds: dict[str, Collection]
    _identities: dict[tuple[str, bool], AudienceIdentity] = field(default_factory=dict)
    _rewriters: dict[tuple[str, str], AudienceRewriter] = field(default_factory=dict)
    _published: set[tuple[str, str]] = field(default_factory=set)

    def decide(self, obj: Mapping[str, Any], *, approved: bool = False) -> Decision:
        return decide(
            obj,
            submitter=self.submitter,
            policy=self.policy,
            definitions=self.definitions,
            detectors=self.detectors,
            approved=approved,
        )

    def identity(self, alias: str, named: bool) -> AudienceIdentity:
        cached = self._identities.get((alias, named))
        if cached is None:
            if named:
                cached = real_identity(self.submitter, self.member_created_us)
            else:
                cached = pseudonym(self.key, self.member_id, alias)
            self._identities[(alias, named)] = cached
        return cached

    def _rewriter(self, identity: AudienceIdentity) -> AudienceRewriter:
        key = (identity.id, identity.name)
        rewriter = self._rewriters.get(key)
        if rewriter is None:
            rewriter = AudienceRewriter(self.submitter, identity)
            self._rewriters[key] = rewriter
        return rewriter

    def prepare(self, items: Sequence[Item]) -> Prepared:
        """Each released item's version for every feed, rendered and serialised ahead of the
        chunk's write transaction, so the transaction (which on SQLite every worker waits for)
        only stores them."""
        released = [item for item in items if item.decision.outcome == "release"]
        if not released:
            return {}
        with self.hub.db.read() as conn:
            previous = self._previous(conn, released)
        return {
            id(item): {
                alias: (identity, _new_version(item.key, out))
                for alias, (identity, out) in self._outputs(item, previous, copy=False).items()
            }
            for item in released
        }

    def release(
        self, conn: Connection, items: Sequence[Item], prepared: Prepared | None = None
    ) -> None:
        """Store the released versions of `items` (objects just stored in the inbox) in their
        feeds, with receipts; queue held ones for review; carry revocations to every feed the
        object reached before. Runs inside the chunk's write transaction; `prepared` is what
        `prepare` rendered for these items beforehand."""
        now = now_us()
        if prepared is None:
            prepared = self.prepare(items)
        per_feed: dict[str, list[NewVersion]] = {}
        made: list[Receipt] = []
        held: list[ReviewItem] = []
        expiring: list[Expiry] = []
        for item in items:
            decision = item.decision
            reached: set[str] = set()
            if decision.outcome == "hold":
                held.append(self._review_item(item, now))
            elif decision.outcome == "release":
                redactions = (
                    orjson.dumps([hit.public() for hit in decision.redact]).decode("utf-8")
                    if decision.redact
                    else None
                )
                for alias, (identity, version) in prepared.get(id(item), {}).items():
                    if alias not in self.feeds:
                        continue
                    feed = self.feeds[alias]
                    versions = per_feed.setdefault(alias, [])
                    self._publish_support(alias, identity, decision.tlp, versions)
                    versions.append(version)
                    made.append(
                        self._receipt(item, feed.id, identity, decision, redactions, "release", now)
                    )
                    reached.add(feed.id)
                expires = _valid_until(item)
                if expires is not None:
                    expiring += [
                        Expiry(feed_id, item.key.object_id, item.key.version_us or 0, expires)
                        for feed_id in sorted(reached)
                    ]
            if item.obj.get("revoked") is True:
                self._carry_revocation(conn, item, reached, per_feed, made, now)
        repo = ObjectRepository(conn)
        # Feeds are locked in one global order (by id), as deletion and retention do, so
        # concurrent transactions never wait on each other in a cycle.
        for alias in sorted(per_feed, key=lambda a: self.feeds[a].id):
            repo.add(self.feeds[alias].id, per_feed[alias], self.member_id)
        ReceiptRepository(conn).add_many(made)
        ReviewRepository(conn).add_many(held)
        ExpiryRepository(conn).add_many(expiring)

    def render(self, item: Item) -> dict[str, dict[str, Any]]:
        """Each feed's version of a released item, by feed alias (nothing is stored)."""
        return {alias: out for alias, (_, out) in self._outputs(item, {}).items()}

    def _outputs(
        self, item: Item, previous: Mapping[tuple[str, str], str], *, copy: bool = True
    ) -> dict[str, tuple[AudienceIdentity, dict[str, Any]]]:
        """Each feed's version of `item`; with `copy=False` they share the values no rule
        changed with `item.obj` (see `sanitise`), for callers that serialise them at once."""
        decision = item.decision
        base = sanitise(item.obj, decision, self.policy, copy=copy)
        outputs: dict[str, tuple[AudienceIdentity, dict[str, Any]]] = {}
        probe: Probe | None = None  # made once, searched by each feed's rewriter
        for verdict in decision.feeds:
            if not verdict.released:
                continue
            identity = self.identity(verdict.alias, verdict.named)
            feed = self.feeds.get(verdict.alias)
            earlier = previous.get((item.key.object_id, feed.id)) if feed else None
            if earlier is not None and earlier != identity.id and not verdict.named:
                # Released before under an older pseudonym key: keep that creator.
                identity = AudienceIdentity(earlier, "a member of this hub", False, {})
            if probe is None:
                probe = Probe(base)
            outputs[verdict.alias] = (identity, self._rewriter(identity).apply(base, probe))
        return outputs

    def _publish_support(
        self, alias: str, identity: AudienceIdentity, tlp: str, versions: list[NewVersion]
    ) -> None:
        """The identity the feed's objects point to, and the TLP marking definition they use,
        published in the feed the first time (the store ignores versions it already holds)."""
        if identity.obj and (alias, identity.id) not in self._published:
            self._published.add((alias, identity.id))
            versions.append(_support_version(identity.obj))
        marking_key = (alias, "tlp:" + tlp)
        if marking_key not in self._published:
            self._published.add(marking_key)
            versions.append(_support_version(tlp2_definition(tlp)))

    def _previous(self, conn: Connection, items: Sequence[Item]) -> dict[tuple[str, str], str]:
        """(object id, feed id) -> the pseudonym an earlier version was released under, when
        the key has been rotated since (epoch 1 has no earlier pseudonyms to honour)."""
        if self.key.epoch <= 1:
            return {}
        found: dict[tuple[str, str], str] = {}
        for receipt in ReceiptRepository(conn).for_objects(i.key.object_id for i in items):
            if receipt.kind == "release" and not receipt.named:
                found.setdefault((receipt.object_id, receipt.feed_id), receipt.identity_id)
        return found

    def _carry_revocation(
        self,
        conn: Connection,
        item: Item,
        reached: set[str],
        per_feed: dict[str, list[NewVersion]],
        made: list[Receipt],
        now: int,
    ) -> None:
        """A revocation reaches every feed an earlier version went to, even where this version
        is not released (held, or marked more strictly): there the last released version is
        republished with `revoked` and this version's `modified`, nothing else."""
        object_id = item.key.object_id
        feed_ids = {
            r.feed_id
            for r in ReceiptRepository(conn).for_objects([object_id])
            if r.kind == "release"
        } - reached
        if not feed_ids or item.key.version_us is None:
            return
        repo = ObjectRepository(conn)
        by_id = {feed.id: alias for alias, feed in self.feeds.items()}
        for feed_id in sorted(feed_ids):
            alias = by_id.get(feed_id)
            if alias is None:
                continue
            body = repo.latest_body(feed_id, object_id)
            if body is None:
                continue
            last = orjson.loads(body)
            last["revoked"] = True
            last["modified"] = item.key.version_text
            per_feed.setdefault(alias, []).append(_new_version(item.key, last))
            made.append(
                Receipt(
                    object_id,
                    item.key.version_us,
                    feed_id,
                    self.member_id,
                    self.submission_id,
                    self.policy_version,
                    item.decision.tlp,
                    str(last.get("created_by_ref", "")),
                    False,
                    None,
                    "revocation",
                    now,
                )
            )

    def _receipt(
        self,
        item: Item,
        feed_id: str,
        identity: AudienceIdentity,
        decision: Decision,
        redactions: str | None,
        kind: str,
        now: int,
    ) -> Receipt:
        return Receipt(
            item.key.object_id,
            item.key.version_us if item.key.version_us is not None else 0,
            feed_id,
            self.member_id,
            self.submission_id,
            self.policy_version,
            decision.tlp,
            identity.id,
            identity.named,
            redactions,
            kind,
            now,
        )

    def _review_item(self, item: Item, now: int) -> ReviewItem:
        decision = item.decision
        return ReviewItem(
            str(uuid.uuid4()),
            "pending",
            self.member_id,
            self.submission_id,
            item.key.object_id,
            item.key.version_us if item.key.version_us is not None else 0,
            item.key.type,
            orjson.dumps(item.obj).decode("utf-8"),
            orjson.dumps(list(decision.reasons)).decode("utf-8"),
            orjson.dumps(
                [
                    {
                        "detector": h.detector,
                        "path": h.path,
                        "text": h.text,
                        "start": h.start,
                        "end": h.end,
                    }
                    for h in decision.hits
                ]
            ).decode("utf-8"),
            self.policy_version,
            now,
            None,
            None,
            None,
            None,
        )


def _valid_until(item: Item) -> int | None:
    """When a released indicator stops being valid (retention drops it after a grace)."""
    value = item.obj.get("valid_until")
    if item.key.type != "indicator" or not isinstance(value, str):
        return None
    try:
        return parse_us(value)
    except TimestampError:
        return None


def _new_version(key: VersionKey, obj: Mapping[str, Any]) -> NewVersion:
    return NewVersion(
        key.object_id,
        key.type,
        key.spec_version,
        key.version_us,
        key.version_text,
        orjson.dumps(obj).decode("utf-8"),
    )


def _support_version(obj: Mapping[str, Any]) -> NewVersion:
    return _new_version(version_key(dict(obj)), obj)


def releaser_for(
    hub: Hub,
    *,
    member_id: str,
    submission_id: str | None,
    objects: Iterable[Any],
    policy_version: int | None = None,
) -> Releaser:
    """Everything needed to release a submission's objects: the submitter (with the identity
    ids that stand for it in this submission), the marking definitions it carries, the
    current policy, the pseudonym key and the feed collections."""
    objects = list(objects)
    with hub.db.read() as conn:
        if policy_version is None:
            version, policy = current_policy(hub, conn)
        else:
            found = PolicyRepository(conn).get(policy_version)
            version, policy = (
                (found.version, Policy.from_document(orjson.loads(found.document)))
                if found
                else current_policy(hub, conn)
            )
        row = conn.execute(
            select(
                members.c.name,
                members.c.kind,
                members.c.sector,
                members.c.consent,
                members.c.aliases,
                members.c.created_us,
            ).where(members.c.id == member_id)
        ).one()
        all_collections = CollectionRepository(conn).list()
    name, kind, sector, consent, aliases, created_us = row
    submitter = Submitter(
        member_id,
        str(name),
        str(kind),
        sector,
        str(consent),
        tuple(orjson.loads(aliases)) if aliases else (),
    )
    submitter = submitter.with_identities(
        {member_identity_id(member_id)} | submitter_identity_ids(objects, submitter)
    )
    feeds = {
        c.alias: c for c in all_collections if c.kind == "feed" and policy.feed(c.alias) is not None
    }
    return Releaser(
        hub,
        member_id,
        submission_id,
        version,
        policy,
        detectors_for(hub, version, policy),
        pseudonym_key(hub),
        submitter,
        int(created_us),
        definitions_in(objects),
        feeds,
    )


def propagate_deletion(
    conn: Connection, member_id: str, object_id: str, versions_us: Sequence[int]
) -> int:
    """Delete from every feed the released versions of an object the submitter deleted from
    the inbox; returns how many feed versions went."""
    receipts = [
        r
        for r in ReceiptRepository(conn).for_objects([object_id])
        if r.kind in ("release", "revocation") and r.version_us in set(versions_us)
    ]
    repo = ObjectRepository(conn)
    removed = 0
    now = now_us()
    done: list[Receipt] = []
    by_feed: dict[str, set[int]] = {}
    for receipt in receipts:
        by_feed.setdefault(receipt.feed_id, set()).add(receipt.version_us)
    for feed_id, feed_versions in sorted(by_feed.items()):
        removed += repo.delete(
            feed_id,
            object_id,
            ObjectQuery(versions=(), version_us=tuple(sorted(feed_versions))),
            submitted_by=None,
        )
    for receipt in receipts:
        done.append(
            Receipt(
                receipt.object_id,
                receipt.version_us,
                receipt.feed_id,
                member_id,
                receipt.submission_id,
                receipt.policy_version,
                receipt.tlp,
                receipt.identity_id,
                receipt.named,
                None,
                "deletion",
                now,
            )
        )
    ReceiptRepository(conn).add_many(done)
    return removed
