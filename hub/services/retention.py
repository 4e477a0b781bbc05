"""Retention and minimisation: purge what the configured rules say, and record each purge.

Rules (settings in [retention] and each feed's retention_days):
- raw-submissions: the raw body of a processed submission, after raw_submission_days;
- feed:<alias>:expired: an indicator whose latest released version's valid_until passed more
  than expired_grace_days ago leaves that feed (every version of it);
- feed:<alias>:age: versions added to the feed more than retention_days ago;
- review-items: decided review items (with the personal data they show), after review_days;
- read-log and audit-trail: their entries, after read_log_days and audit_days;
- console-sessions: console sessions idle longer than console.idle_timeout_minutes (they can
  no longer be used); sign-in-throttles: failed sign-in counts with no failure for
  console.lockout_max_seconds (and no lock-out running).
Each run records, per rule that removed anything, the time, the rule, what kind of record and
how many, and the cut-off; never the content. Removing versions from a feed keeps paging exact:
sequence numbers of what remains do not change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, delete, select, update

from hub.services.context import Hub
from hub.stix.timestamps import format_us, now_us
from hub.storage.accountability import (
    AuditRepository,
    ExpiryRepository,
    FeedReadRepository,
    Purge,
    PurgeRepository,
)
from hub.storage.collections import CollectionRepository
from hub.storage.console import SessionRepository, ThrottleRepository
from hub.storage.objects import ObjectQuery, ObjectRepository
from hub.storage.tables import object_versions, review_items, submission_parts, submissions

log = logging.getLogger(__name__)
DAY_US = 86_400 * 1_000_000
ov = object_versions


@dataclass(frozen=True)
class PurgeResult:
    rule: str
    target: str
    count: int
    cutoff: str


def run(hub: Hub, *, now: int | None = None) -> list[PurgeResult]:
    """Apply every retention rule once; returns what was purged (rules that removed nothing
    are left out)."""
    now = now_us() if now is None else now
    settings = hub.settings.retention
    results: list[PurgeResult] = []

    def record(conn: Connection, rule: str, target: str, count: int, cutoff: int) -> None:
        if count:
            stamp = format_us(cutoff)
            PurgeRepository(conn).add(
                Purge(now, rule, target, count, orjson.dumps({"cutoff": stamp}).decode())
            )
            results.append(PurgeResult(rule, target, count, stamp))

    if settings.raw_submission_days:
        cutoff = now - settings.raw_submission_days * DAY_US
        with hub.db.write() as conn:
            expired = select(submissions.c.id).where(
                submissions.c.state == "done",
                submissions.c.finished_us < cutoff,
                submissions.c.raw_purged_us.is_(None),
            )
            conn.execute(
                delete(submission_parts).where(submission_parts.c.submission_id.in_(expired))
            )
            count = conn.execute(
                update(submissions)
                .where(
                    submissions.c.state == "done",
                    submissions.c.finished_us < cutoff,
                    submissions.c.raw_purged_us.is_(None),
                )
                .values(raw_purged_us=now)
            ).rowcount
            record(conn, "raw-submissions", "submission body", int(count), cutoff)

    with hub.db.read() as conn:
        feeds = [c for c in CollectionRepository(conn).list() if c.kind == "feed"]
    configured = {c.alias: c for c in hub.settings.collections}
    if settings.expired_grace_days >= 0:
        cutoff = now - settings.expired_grace_days * DAY_US
        aliases = {feed.id: feed.alias for feed in feeds}
        while True:
            with hub.db.write() as conn:
                expiries = ExpiryRepository(conn)
                batch = expiries.expired(cutoff, limit=1000)
                if not batch:
                    break
                objects = ObjectRepository(conn)
                removed: dict[str, int] = {}
                for expiry in batch:
                    latest = conn.execute(
                        select(ov.c.version_us).where(
                            ov.c.collection_id == expiry.feed_id,
                            ov.c.object_id == expiry.object_id,
                            ov.c.is_latest.is_(True),
                        )
                    ).scalar()
                    if latest == expiry.version_us:
                        gone = objects.delete(
                            expiry.feed_id,
                            expiry.object_id,
                            ObjectQuery(versions=("all",)),
                            submitted_by=None,
                        )
                        removed[expiry.feed_id] = removed.get(expiry.feed_id, 0) + gone
                        expiries.remove(expiry.feed_id, expiry.object_id)
                    else:  # a later version replaced it (or it is gone): this one is moot
                        expiries.remove_version(expiry.feed_id, expiry.object_id, expiry.version_us)
                for feed_id, count in sorted(removed.items()):
                    alias = aliases.get(feed_id, feed_id)
                    record(conn, f"feed:{alias}:expired", "object version", count, cutoff)

    for feed in feeds:
        days = configured[feed.alias].retention_days if feed.alias in configured else 0
        if not days:
            continue
        cutoff = now - days * DAY_US
        with hub.db.write() as conn:
            count = ObjectRepository(conn).delete_added_before(feed.id, cutoff)
            record(conn, f"feed:{feed.alias}:age", "object version", count, cutoff)

    if settings.review_days:
        cutoff = now - settings.review_days * DAY_US
        with hub.db.write() as conn:
            count = conn.execute(
                delete(review_items).where(
                    review_items.c.state != "pending", review_items.c.decided_us < cutoff
                )
            ).rowcount
            record(conn, "review-items", "decided review item", int(count), cutoff)

    if settings.read_log_days:
        cutoff = now - settings.read_log_days * DAY_US
        with hub.db.write() as conn:
            count = FeedReadRepository(conn).purge_before(cutoff)
            record(conn, "read-log", "feed read", count, cutoff)

    if settings.audit_days:
        cutoff = now - settings.audit_days * DAY_US
        with hub.db.write() as conn:
            count = AuditRepository(conn).purge_before(cutoff)
            record(conn, "audit-trail", "audit event", count, cutoff)

    with hub.db.write() as conn:
        cutoff = now - hub.settings.console.idle_timeout_minutes * 60_000_000
        count = SessionRepository(conn).delete_seen_before(cutoff)
        record(conn, "console-sessions", "console session", count, cutoff)
        cutoff = now - hub.settings.console.lockout_max_seconds * 1_000_000
        count = ThrottleRepository(conn).purge_quiet_since(cutoff, now)
        record(conn, "sign-in-throttles", "failed sign-in count", count, cutoff)

    for result in results:
        log.info("retention %s purged %d %s(s)", result.rule, result.count, result.target)
    return results
