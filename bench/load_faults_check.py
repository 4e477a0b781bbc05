"""The verdict of a load-and-fault run: what the clients sent and saw against what the hub holds.

Pure: plain data in (what the pushers sent and were answered, the rows read back from the hub,
what each poller saw), a list of violations out. `bench/load_faults.py` gathers the data; the
unit tests feed this module doctored data and check that every kind of defect is caught.

The expectation is the harness's own, not the hub's: each object's TLP and consent are what
its generator meant them to be, and the feeds' rules are those of the configuration, so a hub
that resolves a marking wrongly fails here rather than agreeing with itself.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")  # least to most restrictive
NEVER_RELEASED = frozenset({"amber+strict", "red"})
SUPPORT_TYPES = frozenset({"identity", "marking-definition"})
# The OASIS TLP 2.0 marking definitions released objects must carry (one, of their level).
TLP2_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# The markings pushers use, with what docs/sharing.md says they mean: TLP 1.0 (built into STIX
# 2.1; WHITE read as CLEAR), OpenCTI's AMBER+STRICT, and the hub's consent markings.
TLP1_IDS = {
    "clear": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
OPENCTI_AMBER_STRICT = "marking-definition--826578e1-40ad-459f-bc73-ede076f81f37"
CONSENT_IDS = {
    "everyone": "marking-definition--99476a26-d711-5518-bd3c-ce41768d3ca2",
    "government": "marking-definition--3e1bac1b-8101-5218-abc4-9f7e80ac5ec8",
    "none": "marking-definition--480f97db-79d7-55ea-9a1d-87dfe40f5ec4",
}
SHOWN = 10  # examples listed per kind of violation


def digest(object_id: str, version_us: int) -> int:
    """A 64-bit name of one version, as pollers record what they saw (compact: pollers see
    hundreds of thousands of objects)."""
    data = hashlib.blake2b(f"{object_id}|{version_us}".encode(), digest_size=8).digest()
    return int.from_bytes(data, "big", signed=True)


# --- the data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedRule:
    """What the configuration says a feed takes."""

    alias: str
    tlp: frozenset[str]
    identity: str  # consent | never
    government: bool  # read by government members only

    def takes(self, tlp: str) -> bool:
        return tlp in self.tlp and tlp not in NEVER_RELEASED

    def names(self, consent: str) -> bool:
        """Whether a submitter with this consent appears under its real identity here."""
        return self.identity == "consent" and (
            consent == "everyone" or (consent == "government" and self.government)
        )


@dataclass(frozen=True)
class Member:
    id: str
    name: str
    real_identity_id: str  # the id the hub publishes a named member under
    own_refs: tuple[str, ...] = ()  # the identity ids the member's own objects use
    aliases: tuple[str, ...] = ()  # other names the sharing rules hide like its name


@dataclass(frozen=True)
class Sent:
    """One object version a pusher sent (possibly in several requests)."""

    object_id: str
    version_us: int
    member_id: str
    tlp: str  # the level its markings mean (the default TLP when it carries none)
    consent: str  # the consent that applies: its consent marking, else the member's default
    valid: bool
    accepted: bool  # some request carrying it was answered 202
    shared: bool = True  # False: never forwarded by design (the submitter's own identity)


@dataclass(frozen=True)
class Row:
    """One stored version, read back from the hub."""

    collection: str  # alias
    object_id: str
    version_us: int
    seq: int
    date_added_us: int
    is_latest: bool
    type: str
    body: Mapping[str, Any] | None = None  # feeds: the object as TAXII serves it


@dataclass(frozen=True)
class Receipt:
    object_id: str
    version_us: int
    feed: str  # alias
    kind: str  # release | revocation | deletion
    named: bool


@dataclass(frozen=True)
class StatusCount:
    """A status resource's counts, as the database holds them."""

    id: str
    status: str
    total: int
    success: int
    failure: int
    pending: int


@dataclass(frozen=True)
class Answered:
    """A request answered 202, with what it carried and its status resource as read at the
    end (None: it could not be read)."""

    status_id: str
    channel: str  # taxii | api
    valid_ids: tuple[str, ...]
    invalid_ids: tuple[str, ...]
    status: Mapping[str, Any] | None


@dataclass(frozen=True)
class Walk:
    """One pass of a poller through a feed: from `added_after` (None: the start), following
    `next` until `more` is false."""

    poller: str
    feed: str
    added_after_us: int | None
    high_water: int | None  # every row with seq <= this was committed before the walk began
    seen: Sequence[int]  # digests, in the order served
    complete: bool  # the walk reached the end (no request given up)
    final: bool = False  # made after the hub had drained


@dataclass
class Evidence:
    """Everything the verdict is drawn from."""

    feeds: Sequence[FeedRule]
    members: Mapping[str, Member]
    sent: Sequence[Sent]
    inbox: Sequence[Row]
    feed_rows: Sequence[Row]
    receipts: Sequence[Receipt]
    statuses: Sequence[StatusCount]
    answered: Sequence[Answered]
    pending_submissions: int
    walks: Sequence[Walk] = ()
    # What TAXII served when each feed was read to the end (match[version]=all), by feed:
    # (object id, version) -> times served. None: not read over TAXII.
    served: Mapping[str, Counter[tuple[str, int]]] | None = None


@dataclass(frozen=True)
class Violation:
    kind: str  # loss | duplicate | extra | policy | identity | status | receipt | poller
    message: str


@dataclass
class Verdict:
    violations: list[Violation] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> Counter[str]:
        return Counter(v.kind for v in self.violations)


# --- the checks --------------------------------------------------------------------------------


class _Findings:
    """Violations by kind, each kind listed with its first few examples."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(self, kind: str, what: str, example: str) -> None:
        self.found[(kind, what)].append(example)

    def violations(self) -> list[Violation]:
        out = []
        for (kind, what), examples in self.found.items():
            shown = "; ".join(examples[:SHOWN])
            more = f" (and {len(examples) - SHOWN} more)" if len(examples) > SHOWN else ""
            out.append(Violation(kind, f"{what}: {len(examples)}: {shown}{more}"))
        return out


def verify(evidence: Evidence) -> Verdict:
    """Every check; the verdict lists each kind of defect found with examples."""
    findings = _Findings()
    verdict = Verdict()
    sent = _merge(evidence.sent)
    members = evidence.members
    rules = {rule.alias: rule for rule in evidence.feeds}
    stored = _check_inbox(evidence.inbox, sent, members, findings)
    released = _check_feeds(evidence.feed_rows, stored, sent, rules, members, findings)
    _check_receipts(evidence.receipts, released, findings)
    _check_statuses(evidence, findings)
    _check_walks(evidence.walks, evidence.feed_rows, findings)
    if evidence.served is not None:
        _check_served(evidence.served, evidence.feed_rows, findings)
    verdict.violations = findings.violations()
    verdict.checked = {
        "objects sent": len(sent),
        "objects accepted and valid": sum(1 for s in sent.values() if s.accepted and s.valid),
        "inbox rows": len(evidence.inbox),
        "feed rows": len(evidence.feed_rows),
        "receipts": len(evidence.receipts),
        "status resources (database)": len(evidence.statuses),
        "status resources read over HTTP": sum(1 for a in evidence.answered if a.status),
        "poller walks": len(evidence.walks),
        "poller walks checked against the feed": sum(
            1 for w in evidence.walks if w.complete and w.high_water is not None
        ),
    }
    return verdict


def _merge(sent: Iterable[Sent]) -> dict[tuple[str, int], Sent]:
    """One entry per version: accepted if any request carrying it was."""
    merged: dict[tuple[str, int], Sent] = {}
    for item in sent:
        key = (item.object_id, item.version_us)
        earlier = merged.get(key)
        if earlier is None or (item.accepted and not earlier.accepted):
            merged[key] = item
    return merged


def _describe(item: Sent, members: Mapping[str, Member]) -> str:
    member = members.get(item.member_id)
    who = member.name if member else item.member_id
    return f"{item.object_id} (from {who}, TLP:{item.tlp.upper()}, consent {item.consent})"


def _check_inbox(
    inbox: Sequence[Row],
    sent: Mapping[tuple[str, int], Sent],
    members: Mapping[str, Member],
    findings: _Findings,
) -> dict[tuple[str, int], Sent]:
    """Every accepted valid version stored once; nothing invalid, nothing unsent. Returns what
    is stored (accepted, or sent in a request whose answer never came)."""
    copies = Counter((row.object_id, row.version_us) for row in inbox)
    sent_ids = {object_id for object_id, _ in sent}
    stored: dict[tuple[str, int], Sent] = {}
    for key, item in sent.items():
        count = copies.get(key, 0)
        if not item.valid:
            if count:
                findings.add("policy", "invalid object stored in the inbox", key[0])
            continue
        if count == 0 and item.accepted:
            findings.add("loss", "accepted object missing from the inbox", _describe(item, members))
        if count > 1:
            findings.add(
                "duplicate", "object stored more than once in the inbox", f"{key[0]} x{count}"
            )
        if count:
            stored[key] = item
    for key in copies:
        if key in sent:
            continue
        if key[0] in sent_ids:  # every object is sent in one version: this is a second copy
            findings.add("duplicate", "object stored again in the inbox as another version", key[0])
        else:
            findings.add("extra", "inbox object nobody sent", f"{key[0]} @{key[1]}")
    return stored


def _check_feeds(
    rows: Sequence[Row],
    stored: Mapping[tuple[str, int], Sent],
    sent: Mapping[tuple[str, int], Sent],
    rules: Mapping[str, FeedRule],
    members: Mapping[str, Member],
    findings: _Findings,
) -> dict[tuple[str, int, str], bool]:
    """Each stored object in exactly the feeds its TLP allows, once, marked with its level,
    under the identity its consent allows. Returns (object, version, feed) -> named, for what
    is released."""
    copies = Counter((row.collection, row.object_id, row.version_us) for row in rows)
    by_object: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_object[row.object_id].add(row.collection)
    released: dict[tuple[str, int, str], bool] = {}
    # The identities each member's objects appear under, per feed: one per feed, never shared.
    creators: dict[tuple[str, str, bool], set[str]] = defaultdict(set)
    for (object_id, version_us), item in stored.items():
        for alias, rule in rules.items():
            count = copies.get((alias, object_id, version_us), 0)
            if item.shared and rule.takes(item.tlp):
                if count == 0:
                    findings.add(
                        "loss",
                        f"object missing from the {alias} feed",
                        _describe(item, members),
                    )
                released[(object_id, version_us, alias)] = rule.names(item.consent)
            elif count:
                level = item.tlp.upper()
                what = (
                    f"object never to be forwarded in the {alias} feed"
                    if not item.shared
                    else f"TLP:{level} object in the {alias} feed (never released)"
                    if item.tlp in NEVER_RELEASED
                    else f"TLP:{level} object in the {alias} feed, which takes "
                    + ", ".join(sorted(rule.tlp))
                )
                findings.add("policy", what, _describe(item, members))
            if count > 1:
                findings.add("duplicate", f"object more than once in the {alias} feed", object_id)
    support: Counter[tuple[str, str, int]] = Counter()
    stored_ids = {object_id for object_id, _ in stored}
    for row in rows:
        rule = rules.get(row.collection)
        if rule is None:
            findings.add("extra", "rows in a collection that is no feed", row.collection)
            continue
        item = stored.get((row.object_id, row.version_us))
        if item is None:
            if row.type in SUPPORT_TYPES and (row.object_id, row.version_us) not in sent:
                support[(row.collection, row.object_id, row.version_us)] += 1
                continue
            if row.object_id in stored_ids:
                findings.add(
                    "duplicate",
                    f"object again in the {row.collection} feed as a version never sent",
                    row.object_id,
                )
            else:
                findings.add(
                    "extra",
                    f"object in the {row.collection} feed that the inbox does not hold",
                    f"{row.object_id} @{row.version_us}",
                )
            continue
        if row.body is None or not item.shared:
            continue
        _check_released_body(row, item, rule, members, findings, creators)
    _check_support(rows, support, creators, rules, members, findings)
    for (member_id, alias, named), ids in creators.items():
        if not named and len(ids) > 1:
            findings.add(
                "identity",
                f"a member's objects appear under several pseudonyms in the {alias} feed",
                f"{_name(members, member_id)}: {', '.join(sorted(ids))}",
            )
    pseudonyms: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for (member_id, alias, named), ids in creators.items():
        if not named:
            for ident in ids:
                pseudonyms[ident].add((member_id, alias))
    for ident, users in pseudonyms.items():
        if len(users) > 1:
            findings.add(
                "identity",
                "one pseudonym used for several members or feeds",
                f"{ident}: {sorted(users)}",
            )
    return released


def _name(members: Mapping[str, Member], member_id: str) -> str:
    member = members.get(member_id)
    return member.name if member else member_id


def _check_released_body(
    row: Row,
    item: Sent,
    rule: FeedRule,
    members: Mapping[str, Member],
    findings: _Findings,
    creators: dict[tuple[str, str, bool], set[str]],
) -> None:
    body = row.body
    assert body is not None
    alias = row.collection
    marks = body.get("object_marking_refs")
    if marks != [TLP2_IDS.get(item.tlp)]:
        findings.add(
            "policy",
            f"released object not marked with exactly its TLP 2.0 level in the {alias} feed",
            f"{row.object_id}: meant TLP:{item.tlp.upper()}, carries {marks}",
        )
    if body.get("granular_markings"):
        findings.add("policy", f"granular markings kept in the {alias} feed", row.object_id)
    member = members.get(item.member_id)
    if member is None:
        return
    named = rule.names(item.consent)
    creator = str(body.get("created_by_ref", ""))
    creators[(member.id, alias, named)].add(creator)
    if named:
        if creator != member.real_identity_id:
            findings.add(
                "identity",
                f"a named submitter's object not created by its identity in the {alias} feed",
                f"{row.object_id}: {creator} (expected {member.real_identity_id})",
            )
        return
    text = orjson.dumps(body).decode().lower()
    leaks = [
        needle
        for needle in (member.name, *member.aliases, member.real_identity_id, *member.own_refs)
        if needle and needle.lower() in text
    ]
    if leaks:
        findings.add(
            "identity",
            f"the submitter named without consent in the {alias} feed",
            f"{row.object_id} (consent {item.consent}) shows {', '.join(leaks)}",
        )


def _check_support(
    rows: Sequence[Row],
    support: Counter[tuple[str, str, int]],
    creators: Mapping[tuple[str, str, bool], set[str]],
    rules: Mapping[str, FeedRule],
    members: Mapping[str, Member],
    findings: _Findings,
) -> None:
    """The identities and TLP marking definitions a feed publishes beside its objects: each
    once, and only those its objects use."""
    used_identities: dict[str, set[str]] = defaultdict(set)
    for (_member, alias, _named), ids in creators.items():
        used_identities[alias] |= ids
    used_levels: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        marks = row.body.get("object_marking_refs") if row.body else None
        if isinstance(marks, list):
            used_levels[row.collection].update(str(m) for m in marks)
    types = {(row.collection, row.object_id, row.version_us): row.type for row in rows}
    for (alias, object_id, version_us), count in support.items():
        if count > 1:
            findings.add(
                "duplicate", f"identity or marking more than once in the {alias} feed", object_id
            )
        kind = types[(alias, object_id, version_us)]
        if kind == "identity" and object_id not in used_identities[alias]:
            findings.add(
                "extra", f"identity in the {alias} feed that no object there points to", object_id
            )
        if kind == "marking-definition":
            level = next((lvl for lvl, ident in TLP2_IDS.items() if ident == object_id), None)
            if level is None or not rules[alias].takes(level):
                findings.add(
                    "policy",
                    f"marking definition in the {alias} feed that it may not carry",
                    f"{object_id} (TLP level {level})",
                )
            elif object_id not in used_levels[alias]:
                findings.add(
                    "extra", f"marking definition in the {alias} feed that nothing uses", object_id
                )
    real = {m.real_identity_id: m for m in members.values()}
    for (alias, object_id, _version), _count in support.items():
        member = real.get(object_id)
        if member is not None and object_id not in used_identities[alias]:
            findings.add(
                "identity",
                f"a member's real identity published in the {alias} feed without consent",
                member.name,
            )


def _check_receipts(
    receipts: Sequence[Receipt],
    released: Mapping[tuple[str, int, str], bool],
    findings: _Findings,
) -> None:
    """One release receipt per object version per feed it went to, naming it as it appears."""
    counts = Counter((r.object_id, r.version_us, r.feed) for r in receipts if r.kind == "release")
    named = {(r.object_id, r.version_us, r.feed): r.named for r in receipts}
    for key, expect_named in released.items():
        count = counts.get(key, 0)
        if count != 1:
            findings.add("receipt", f"release receipts for one object in a feed: {count}", key[0])
        elif named[key] != expect_named:
            findings.add("receipt", "receipt names the submitter wrongly", key[0])
    for key in counts:
        if key not in released:
            findings.add(
                "receipt", f"release receipt for an object not released to {key[2]}", key[0]
            )


def _check_statuses(evidence: Evidence, findings: _Findings) -> None:
    """Every status resource adds up and is complete; each answered request's status lists
    exactly its objects, the valid ones as successes and the invalid ones as failures."""
    if evidence.pending_submissions:
        findings.add(
            "status",
            "submissions still pending after the drain",
            str(evidence.pending_submissions),
        )
    for status in evidence.statuses:
        if status.success + status.failure + status.pending != status.total:
            findings.add(
                "status",
                "status resource whose counts do not add up",
                f"{status.id}: {status.success}+{status.failure}+{status.pending} != "
                f"{status.total}",
            )
        if status.pending or status.status != "complete":
            findings.add(
                "status",
                "status resource not complete after the drain",
                f"{status.id}: {status.status}, {status.pending} pending",
            )
    for answer in evidence.answered:
        status = answer.status
        if status is None:
            findings.add(
                "status", "status resource of an accepted request unreadable", answer.status_id
            )
            continue
        successes = [str(d.get("id")) for d in status.get("successes") or ()]
        failures = [str(d.get("id")) for d in status.get("failures") or ()]
        total = len(answer.valid_ids) + len(answer.invalid_ids)
        problems = []
        if status.get("total_count") != total:
            problems.append(f"total_count {status.get('total_count')} for {total} objects sent")
        if status.get("success_count") != len(successes) or status.get("failure_count") != len(
            failures
        ):
            problems.append("counts differ from the lists")
        if Counter(successes) != Counter(answer.valid_ids):
            problems.append(_difference("successes", successes, answer.valid_ids))
        if Counter(failures) != Counter(answer.invalid_ids):
            problems.append(_difference("failures", failures, answer.invalid_ids))
        if status.get("pending_count") or status.get("status") != "complete":
            problems.append(f"{status.get('status')} with {status.get('pending_count')} pending")
        if problems:
            findings.add(
                "status",
                f"{answer.channel} status resource not what was sent",
                f"{answer.status_id}: {'; '.join(problems)}",
            )


def _difference(what: str, got: Sequence[str], expected: Sequence[str]) -> str:
    extra = Counter(got) - Counter(expected)
    missing = Counter(expected) - Counter(got)
    parts = []
    if missing:
        parts.append(f"missing {sorted(missing)[:3]}")
    if extra:
        parts.append(f"unexpected or repeated {sorted(extra)[:3]}")
    return f"{what} " + ", ".join(parts)


def _check_walks(walks: Sequence[Walk], rows: Sequence[Row], findings: _Findings) -> None:
    """No poller saw a version twice (within a walk or across its walks), or one the feed
    does not hold; each complete walk saw every version committed before it began (after its
    `added_after`); a poller that started from scratch saw, by its final walk, everything."""
    latest: dict[str, list[Row]] = defaultdict(list)
    names: dict[tuple[str, int], Row] = {}  # (feed, digest) -> row
    for row in rows:
        if row.is_latest:
            latest[row.collection].append(row)
        names[(row.collection, digest(row.object_id, row.version_us))] = row
    for feed_rows in latest.values():
        feed_rows.sort(key=lambda row: row.seq)
    added = {feed: [row.date_added_us for row in feed_rows] for feed, feed_rows in latest.items()}
    seqs = {feed: [row.seq for row in feed_rows] for feed, feed_rows in latest.items()}
    by_poller: dict[str, list[Walk]] = defaultdict(list)
    for walk in walks:
        by_poller[walk.poller].append(walk)
    for poller, its_walks in by_poller.items():
        seen_by_poller: Counter[int] = Counter()
        strangers = 0
        for walk in its_walks:
            seen_by_poller.update(walk.seen)
            strangers += sum(1 for seen in walk.seen if (walk.feed, seen) not in names)
            if not walk.complete or walk.high_water is None:
                continue
            # Versions are numbered in date_added order: those after `added_after` and
            # committed before the walk began are one range of the feed.
            feed_rows = latest[walk.feed]
            low = 0
            if walk.added_after_us is not None:
                low = bisect.bisect_right(added[walk.feed], walk.added_after_us)
            high = bisect.bisect_right(seqs[walk.feed], walk.high_water)
            seen = set(walk.seen)
            missed = [
                row
                for row in feed_rows[low:high]
                if digest(row.object_id, row.version_us) not in seen
            ]
            if missed:
                findings.add(
                    "poller",
                    "a walk missed versions committed before it began",
                    f"{poller} in {walk.feed}: {len(missed)}, e.g. {missed[0].object_id} "
                    f"(seq {missed[0].seq} <= {walk.high_water})",
                )
        if strangers:
            findings.add(
                "poller",
                "a poller was served versions its feed does not hold",
                f"{poller}: {strangers}",
            )
        repeated = [d for d, n in seen_by_poller.items() if n > 1]
        if repeated:
            row = names.get((its_walks[0].feed, repeated[0]))
            findings.add(
                "poller",
                "a poller was served the same version twice",
                f"{poller}: {len(repeated)}, e.g. {row.object_id if row else repeated[0]}",
            )
        first, last = its_walks[0], its_walks[-1]
        if first.added_after_us is None and last.final and last.complete:
            everything = {digest(r.object_id, r.version_us) for r in latest[last.feed]}
            never = everything - set(seen_by_poller)
            if never:
                findings.add(
                    "poller",
                    "a poller that paged from the start never saw versions the feed holds",
                    f"{poller} in {last.feed}: {len(never)}",
                )


def _check_served(
    served: Mapping[str, Counter[tuple[str, int]]], rows: Sequence[Row], findings: _Findings
) -> None:
    """Reading a feed to the end over TAXII gives each stored version once, and nothing else."""
    held: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for row in rows:
        held[row.collection].add((row.object_id, row.version_us))
    for feed, counts in served.items():
        for key, count in counts.items():
            if key not in held[feed]:
                findings.add(
                    "extra", f"TAXII served a version the {feed} feed does not hold", key[0]
                )
            elif count > 1:
                findings.add(
                    "duplicate", f"TAXII served a version of the {feed} feed twice", key[0]
                )
        for key in held[feed] - set(counts):
            findings.add("loss", f"TAXII did not serve a version the {feed} feed holds", key[0])
