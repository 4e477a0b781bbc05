"""Who pulled what: the feed read log, the audit trail, and the receipts a submitter sees.

Every read of a feed's objects is recorded (member, key, feed, how many objects, which
sequence numbers, when): that is the government access log, and what lets a submitter see how
many organisations, by kind and sector, pulled each of its objects.
"""

from __future__ import annotations

import csv
import getpass
import io
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, and_, or_, select

from hub.auth.principal import Principal
from hub.errors import NotFound
from hub.services.context import Hub
from hub.stix.timestamps import format_us, now_us
from hub.storage.accountability import AuditEvent, AuditRepository, FeedRead, FeedReadRepository
from hub.storage.collections import CollectionRepository
from hub.storage.sharing import ReceiptRepository
from hub.storage.statuses import StatusRepository
from hub.storage.submissions import SubmissionRepository
from hub.storage.tables import members, object_versions

ov = object_versions


# --- the read log ------------------------------------------------------------------------------


def runs(seqs: Iterable[int]) -> list[list[int]]:
    """Sorted sequence numbers as inclusive runs: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    result: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if result and seq == result[-1][1] + 1:
            result[-1][1] = seq
        else:
            result.append([seq, seq])
    return result


def record_read(hub: Hub, principal: Principal, feed_id: str, seqs: Sequence[int]) -> None:
    """Log one read of a feed's objects (an empty page is a read too)."""
    spans = runs(seqs)
    read = FeedRead(
        now_us(),
        principal.member_id,
        principal.key_id,
        principal.kind,
        principal.sector,
        feed_id,
        len(seqs),
        spans[0][0] if spans else None,
        spans[-1][1] if spans else None,
        orjson.dumps(spans).decode("utf-8"),
    )
    with hub.db.write() as conn:
        FeedReadRepository(conn).add(read)


def _contains(spans: list[list[int]], seq: int) -> bool:
    index = bisect_right(spans, [seq, float("inf")]) - 1
    return index >= 0 and spans[index][0] <= seq <= spans[index][1]


READ_LOG_COLUMNS = (
    "time",
    "member_id",
    "member",
    "kind",
    "sector",
    "key_id",
    "feed",
    "objects",
    "first_seq",
    "last_seq",
)


def read_log(
    hub: Hub,
    *,
    kind: str | None = None,
    member_id: str | None = None,
    feed: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """The read log, oldest first (or newest first), for admins (`hub audit reads`, the
    console)."""
    with hub.db.read() as conn:
        aliases = {c.id: c.alias for c in CollectionRepository(conn).list()}
        feed_id = None
        if feed is not None:
            found = CollectionRepository(conn).find(feed)
            if found is None:
                raise NotFound(f"no collection {feed!r}")
            feed_id = found.id
        names = dict(conn.execute(select(members.c.id, members.c.name)).all())
        reads = FeedReadRepository(conn).search(
            kind=kind,
            member_id=member_id,
            feed_id=feed_id,
            since_us=since_us,
            until_us=until_us,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
    return [
        {
            "time": format_us(r.read_us),
            "member_id": r.member_id,
            "member": names.get(r.member_id, ""),
            "kind": r.member_kind,
            "sector": r.member_sector or "",
            "key_id": r.key_id,
            "feed": aliases.get(r.feed_id, r.feed_id),
            "objects": r.object_count,
            "first_seq": r.first_seq,
            "last_seq": r.last_seq,
        }
        for r in reads
    ]


def as_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV with a header; values that a spreadsheet would run as formulas are quoted
    with a leading apostrophe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- the audit trail ---------------------------------------------------------------------------


def audit(
    hub: Hub,
    action: str,
    *,
    actor: str,
    actor_kind: str,
    member_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    conn: Connection | None = None,
) -> None:
    """Record who did what. Pass `conn` to record it in the same transaction as the act."""
    event = AuditEvent(
        now_us(),
        actor,
        actor_kind,
        member_id,
        action,
        target,
        orjson.dumps(detail).decode("utf-8") if detail else None,
    )
    if conn is not None:
        AuditRepository(conn).add(event)
        return
    with hub.db.write() as own:
        AuditRepository(own).add(event)


def cli_actor() -> str:
    """Who runs a command: `cli:<login>` (`cli` where the login cannot be told)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


AUDIT_COLUMNS = ("time", "actor", "actor_kind", "member_id", "action", "target", "detail")


def audit_trail(
    hub: Hub,
    *,
    action: str | None = None,
    actor: str | None = None,
    member_id: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    with hub.db.read() as conn:
        events = AuditRepository(conn).search(
            action=action,
            actor=actor,
            member_id=member_id,
            since_us=since_us,
            until_us=until_us,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
    return [
        {
            "time": format_us(e.at_us),
            "actor": e.actor,
            "actor_kind": e.actor_kind,
            "member_id": e.member_id,
            "action": e.action,
            "target": e.target,
            "detail": e.detail,
        }
        for e in events
    ]


# --- receipts ----------------------------------------------------------------------------------


@dataclass
class Pulls:
    """Who pulled one released version, without names unless the policy allows them."""

    organisations: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_sector: dict[str, int] = field(default_factory=dict)
    government_reads: int = 0
    names: list[str] | None = None


def submission_receipts(
    hub: Hub, principal: Principal, submission_id: str, *, limit: int = 1000, offset: int = 0
) -> dict[str, Any]:
    """For each object of one of the caller's submissions: its outcome, every feed it was
    released to (as which version, under which identity, by which policy version), and who
    pulled it there (organisations by kind and sector; government reads counted)."""
    name_subscribers = hub.settings.transparency.name_subscribers
    with hub.db.read() as conn:
        submission = SubmissionRepository(conn).get(submission_id)
        if submission is None or submission.member_id != principal.member_id:
            raise NotFound(f"no submission {submission_id!r}")  # another's: as if missing
        status = StatusRepository(conn).get(submission.status_id)
        assert status is not None
        details = sorted(
            [*status.successes, *status.failures, *status.pendings], key=lambda d: d.object_id
        )
        page = details[offset : offset + limit]
        wanted = {d.object_id for d in page}
        receipts = [
            r
            for r in ReceiptRepository(conn).for_submission(submission_id)
            if r.object_id in wanted
        ]
        aliases = {c.id: c.alias for c in CollectionRepository(conn).list()}
        seqs = _feed_seqs(conn, [(r.feed_id, r.object_id, r.version_us) for r in receipts])
        pulls = _pulls(conn, seqs, with_names=name_subscribers)
    by_object: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for receipt in receipts:
        key = (receipt.feed_id, receipt.object_id, receipt.version_us)
        seen = pulls.get(key, Pulls())
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
        if name_subscribers:
            entry["pulled_by"]["names"] = seen.names or []
        by_object[receipt.object_id].append(entry)
    objects = [
        {
            "id": detail.object_id,
            "version": detail.version,
            "outcome": detail.message or "",
            "receipts": by_object.get(detail.object_id, []),
        }
        for detail in page
    ]
    return {
        "submission": submission_id,
        "total": len(details),
        "offset": offset,
        "more": offset + limit < len(details),
        "objects": objects,
    }


def _feed_seqs(
    conn: Connection, keys: Sequence[tuple[str, str, int]]
) -> dict[tuple[str, str, int], int]:
    """The sequence number of each (feed, object, version) still in its feed."""
    found: dict[tuple[str, str, int], int] = {}
    for start in range(0, len(keys), 300):
        part = keys[start : start + 300]
        if not part:
            continue
        rows = conn.execute(
            select(ov.c.collection_id, ov.c.object_id, ov.c.version_us, ov.c.seq).where(
                or_(
                    *(
                        and_(
                            ov.c.collection_id == feed_id,
                            ov.c.object_id == object_id,
                            ov.c.version_us == version_us,
                        )
                        for feed_id, object_id, version_us in part
                    )
                )
            )
        )
        for feed_id, object_id, version_us, seq in rows:
            found[(feed_id, object_id, version_us)] = int(seq)
    return found


def _pulls(
    conn: Connection, seqs: dict[tuple[str, str, int], int], *, with_names: bool
) -> dict[tuple[str, str, int], Pulls]:
    by_feed: dict[str, list[tuple[int, tuple[str, str, int]]]] = defaultdict(list)
    for key, seq in seqs.items():
        by_feed[key[0]].append((seq, key))
    names = dict(conn.execute(select(members.c.id, members.c.name)).all()) if with_names else {}
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


def government_access_summary(hub: Hub, member_id: str) -> dict[str, Any]:
    """For a submitter: how often government members pulled its released objects, in total
    and by month (counts only)."""
    with hub.db.read() as conn:
        receipts = [
            r
            for r in ReceiptRepository(conn).for_member(member_id)
            if r.kind in ("release", "revocation")
        ]
        seqs = _feed_seqs(conn, [(r.feed_id, r.object_id, r.version_us) for r in receipts])
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
