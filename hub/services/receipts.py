"""Receipts: what became of a member's objects, as the member itself may see it.

Per object of one of its submissions: the state (released, held, withheld, rejected...) and
why, every feed it went to (as which version, under which identity, by which policy version,
with which properties redacted), and how many distinct organisations pulled it there, by kind
and sector (by name only where `transparency.name_subscribers` allows). And how often
government members pulled its objects, by month. The REST API and the console show these same
figures, built here.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from hub.errors import NotFound
from hub.services.context import Hub
from hub.services.release import state_of
from hub.stix.timestamps import TimestampError, format_us, parse_us
from hub.storage.accountability import FeedReadRepository
from hub.storage.collections import CollectionRepository
from hub.storage.membership import MemberRepository
from hub.storage.reports import ReportRepository
from hub.storage.sharing import Receipt, ReceiptRepository, ReviewRepository
from hub.storage.statuses import Detail, StatusRepository
from hub.storage.submissions import SubmissionRepository

# Every state an object of a submission can be in, in the order a summary lists them.
STATES = ("released", "held", "withheld", "rejected", "pending", "duplicate", "stored")
PAGE_LIMIT = 1000


@dataclass
class Pulls:
    """Who pulled one released version, without names unless the policy allows them."""

    organisations: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_sector: dict[str, int] = field(default_factory=dict)
    government_reads: int = 0
    names: list[str] | None = None


@dataclass
class _Loaded:
    """One submission's objects (their status details, sorted by id) and its receipts."""

    details: list[tuple[str, Detail]]  # (success | failure | pending, detail)
    receipts: dict[str, list[Receipt]]  # by object id
    released: set[str]  # objects with a release (or revocation) receipt
    reviews: dict[tuple[str, int], str]
    aliases: dict[str, str]  # feed id -> alias

    def state(self, group: str, detail: Detail) -> tuple[str, str]:
        return _state(group, detail, self.released, self.reviews)

    def states(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for group, detail in self.details:
            counts[self.state(group, detail)[0]] += 1
        return counts


def _load(conn: Connection, member_id: str, submission_id: str) -> _Loaded:
    submission = SubmissionRepository(conn).get(submission_id)
    if submission is None or submission.member_id != member_id:
        raise NotFound(f"no submission {submission_id!r}")  # another's: as if missing
    status = StatusRepository(conn).get(submission.status_id)
    assert status is not None
    details = sorted(
        [
            *(("success", d) for d in status.successes),
            *(("failure", d) for d in status.failures),
            *(("pending", d) for d in status.pendings),
        ],
        key=lambda pair: pair[1].object_id,
    )
    by_object: dict[str, list[Receipt]] = defaultdict(list)
    for receipt in ReceiptRepository(conn).for_submission(submission_id):
        by_object[receipt.object_id].append(receipt)
    released = {
        object_id
        for object_id, found in by_object.items()
        if any(r.kind in ("release", "revocation") for r in found)
    }
    return _Loaded(
        details,
        by_object,
        released,
        _reviews(conn, submission_id, details),
        {c.id: c.alias for c in CollectionRepository(conn).list()},
    )


def _objects(
    conn: Connection, loaded: _Loaded, page: Sequence[tuple[str, Detail]], *, with_names: bool
) -> list[dict[str, Any]]:
    """The objects of one page with their receipts and who pulled each released version."""
    receipts = [r for _, d in page for r in loaded.receipts.get(d.object_id, [])]
    seqs = ReportRepository(conn).feed_seqs(
        [(r.feed_id, r.object_id, r.version_us) for r in receipts]
    )
    pulls = _pulls(conn, seqs, with_names=with_names)
    objects = []
    for group, detail in page:
        state, reason = loaded.state(group, detail)
        entries = [
            _entry(
                receipt,
                loaded.aliases,
                pulls.get((receipt.feed_id, receipt.object_id, receipt.version_us), Pulls()),
                with_names=with_names,
            )
            for receipt in loaded.receipts.get(detail.object_id, [])
        ]
        objects.append(
            {
                "id": detail.object_id,
                "version": detail.version,
                "state": state,
                "reason": reason,
                "outcome": detail.message or "",
                "receipts": entries,
            }
        )
    return objects


def submission_receipts(
    hub: Hub,
    member_id: str,
    submission_id: str,
    *,
    limit: int = PAGE_LIMIT,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the objects of `member_id`'s submission with their receipts, and how many
    objects of the whole submission are in each state. Another member's submission is
    NotFound, as if it did not exist."""
    with hub.db.read() as conn:
        loaded = _load(conn, member_id, submission_id)
        page = loaded.details[offset : offset + limit]
        objects = _objects(
            conn, loaded, page, with_names=hub.settings.transparency.name_subscribers
        )
    return {
        "submission": submission_id,
        "total": len(loaded.details),
        "offset": offset,
        "more": offset + limit < len(loaded.details),
        "states": loaded.states(),
        "objects": objects,
    }


def _entry(
    receipt: Receipt, aliases: dict[str, str], seen: Pulls, *, with_names: bool
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "feed": aliases.get(receipt.feed_id, receipt.feed_id),
        "kind": receipt.kind,
        "version": format_us(receipt.version_us),
        "identity": receipt.identity_id,
        "named": receipt.named,
        "tlp": receipt.tlp,
        "policy_version": receipt.policy_version,
        "released": format_us(receipt.released_us),
        "redactions": orjson.loads(receipt.redactions) if receipt.redactions else [],
        "pulled_by": {
            "organisations": seen.organisations,
            "by_kind": seen.by_kind,
            "by_sector": seen.by_sector,
        },
        "government_reads": seen.government_reads,
    }
    if with_names:
        entry["pulled_by"]["names"] = seen.names or []
    return entry


def _reviews(
    conn: Connection, submission_id: str, details: Sequence[tuple[str, Detail]]
) -> dict[tuple[str, int], str]:
    """The review state of each held object (only asked when something was held)."""
    if not any(state_of(d.message)[0] == "held" for _, d in details):
        return {}
    return ReviewRepository(conn).states_for_submission(submission_id)


def _state(
    group: str, detail: Detail, released: set[str], reviews: dict[tuple[str, int], str]
) -> tuple[str, str]:
    """What became of one object, and why: from its status detail, and for what was held,
    from the review's decision and the receipts it left."""
    if group == "failure":
        return "rejected", detail.message or "not valid"
    if group == "pending":
        return "pending", "not processed yet"
    state, reason = state_of(detail.message)
    if state != "held":
        return state, reason
    decision = reviews.get((detail.object_id, _version_us(detail.version)))
    if decision == "pending":
        return "held", reason
    if detail.object_id in released:
        return "released", "approved at review"
    if decision == "rejected":
        return "rejected", "rejected at review"
    # Approved but released to no feed, or decided and the item since purged by retention.
    return "withheld", "decided at review; released to no feed"


def _version_us(version: str | None) -> int:
    try:
        return parse_us(version)
    except TimestampError:
        return 0


def _contains(spans: list[list[int]], seq: int) -> bool:
    index = bisect_right(spans, [seq, float("inf")]) - 1
    return index >= 0 and spans[index][0] <= seq <= spans[index][1]


def _pulls(
    conn: Connection, seqs: dict[tuple[str, str, int], int], *, with_names: bool
) -> dict[tuple[str, str, int], Pulls]:
    by_feed: dict[str, list[tuple[int, tuple[str, str, int]]]] = defaultdict(list)
    for key, seq in seqs.items():
        by_feed[key[0]].append((seq, key))
    names = {m.id: m.name for m in MemberRepository(conn).list()} if with_names else {}
    result: dict[tuple[str, str, int], Pulls] = {}
    for feed_id, entries in by_feed.items():
        low = min(seq for seq, _ in entries)
        high = max(seq for seq, _ in entries)
        reads = FeedReadRepository(conn).covering(feed_id, low, high)
        parsed = [(read, orjson.loads(read.seqs)) for read in reads]
        for seq, key in entries:
            orgs: dict[str, tuple[str, str]] = {}
            government = 0
            for read, spans in parsed:
                if _contains(spans, seq):
                    orgs[read.member_id] = (read.member_kind, read.member_sector or "unknown")
                    if read.member_kind == "government":
                        government += 1
            pulls = Pulls(len(orgs), government_reads=government)
            for kind, sector in orgs.values():
                pulls.by_kind[kind] = pulls.by_kind.get(kind, 0) + 1
                pulls.by_sector[sector] = pulls.by_sector.get(sector, 0) + 1
            if with_names:
                pulls.names = sorted(names.get(member, member) for member in orgs)
            result[key] = pulls
    return result


# --- as CSV ------------------------------------------------------------------------------------

RECEIPT_COLUMNS = (
    "object_id",
    "object_version",
    "state",
    "reason",
    "feed",
    "receipt",
    "released",
    "feed_version",
    "tlp",
    "appears_as",
    "identity",
    "policy_version",
    "redactions",
    "organisations",
    "by_kind",
    "by_sector",
    "government_reads",
)
NAMES_COLUMN = "subscribers"


def receipt_columns(hub: Hub) -> tuple[str, ...]:
    """The export's columns: the subscribers' names only where the policy allows them."""
    named = hub.settings.transparency.name_subscribers
    return (*RECEIPT_COLUMNS, NAMES_COLUMN) if named else RECEIPT_COLUMNS


def receipt_rows(hub: Hub, member_id: str, submission_id: str) -> list[dict[str, Any]]:
    """Every object of the submission as export rows: one per receipt, or one for an object
    that went nowhere. The submission is read once; who pulled what, a page at a time."""
    rows: list[dict[str, Any]] = []
    with hub.db.read() as conn:
        loaded = _load(conn, member_id, submission_id)
        for start in range(0, len(loaded.details), PAGE_LIMIT):
            page = loaded.details[start : start + PAGE_LIMIT]
            objects = _objects(
                conn, loaded, page, with_names=hub.settings.transparency.name_subscribers
            )
            for obj in objects:
                first = {
                    "object_id": obj["id"],
                    "object_version": obj["version"],
                    "state": obj["state"],
                    "reason": obj["reason"],
                }
                rows += [{**first, **_receipt_cells(r)} for r in obj["receipts"]] or [first]
    return rows


def _receipt_cells(receipt: dict[str, Any]) -> dict[str, Any]:
    pulled = receipt["pulled_by"]
    cells = {
        "feed": receipt["feed"],
        "receipt": receipt["kind"],
        "released": receipt["released"],
        "feed_version": receipt["version"],
        "tlp": receipt["tlp"],
        "appears_as": "its own name" if receipt["named"] else "a pseudonym",
        "identity": receipt["identity"],
        "policy_version": receipt["policy_version"],
        "redactions": "; ".join(f"{r['detector']} in {r['path']}" for r in receipt["redactions"]),
        "organisations": pulled["organisations"],
        "by_kind": counts_text(pulled["by_kind"]),
        "by_sector": counts_text(pulled["by_sector"]),
        "government_reads": receipt["government_reads"],
    }
    if "names" in pulled:
        cells[NAMES_COLUMN] = "; ".join(pulled["names"])
    return cells


def counts_text(counts: dict[str, int]) -> str:
    """{"energy": 1, "finance": 2} as "energy 1; finance 2"."""
    return "; ".join(f"{name} {count}" for name, count in sorted(counts.items()))


# --- government access -------------------------------------------------------------------------

GOVERNMENT_ACCESS_COLUMNS = ("month", "objects")


def government_access_summary(hub: Hub, member_id: str) -> dict[str, Any]:
    """For a submitter: how often government members pulled its released objects, in total
    and by month (counts only)."""
    with hub.db.read() as conn:
        released = [
            r
            for r in ReceiptRepository(conn).for_member(member_id)
            if r.kind in ("release", "revocation")
        ]
        seqs = ReportRepository(conn).feed_seqs(
            [(r.feed_id, r.object_id, r.version_us) for r in released]
        )
        by_feed: dict[str, list[int]] = defaultdict(list)
        for (feed_id, _, _), seq in seqs.items():
            by_feed[feed_id].append(seq)
        months: dict[str, int] = defaultdict(int)
        organisations: set[str] = set()
        objects = 0
        for feed_id, feed_seqs in by_feed.items():
            ordered = sorted(feed_seqs)
            reads = FeedReadRepository(conn).covering(feed_id, ordered[0], ordered[-1])
            for read in reads:
                if read.member_kind != "government":
                    continue
                spans = orjson.loads(read.seqs)
                hits = sum(1 for seq in ordered if _contains(spans, seq))
                if hits:
                    objects += hits
                    organisations.add(read.member_id)
                    months[format_us(read.read_us)[:7]] += hits
    return {
        "objects_pulled_by_government": objects,
        "government_organisations": len(organisations),
        "by_month": dict(sorted(months.items())),
    }


def government_access_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"month": month, "objects": n} for month, n in summary["by_month"].items()]
