"""The console dashboard's figures: submissions and objects over time, releases by TLP,
submissions by sector, objects per feed, the queue and the workers' health."""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.queue.base import QueueUnavailable
from hub.services import heartbeat
from hub.services.context import Hub
from hub.services.heartbeat import WorkerView
from hub.stix.timestamps import now_us
from hub.storage.collections import CollectionRepository
from hub.storage.reports import DAY_US, ReportRepository
from hub.storage.sharing import ReviewRepository


@dataclass
class Health:
    pending_submissions: int
    oldest_pending_us: int | None
    queue_depth: int | None  # None: the queue did not answer
    review_pending: int
    last_finished_us: int | None
    uses_redis: bool
    # Every worker the database knows of (its heartbeat), the most recently seen first.
    workers: list[WorkerView] = field(default_factory=list)
    # "ok", "slow" (something waits longer than the reclaim period) or "stalled".
    verdict: str = "ok"
    notes: list[str] = field(default_factory=list)  # why the verdict is not ok
    warnings: list[str] = field(default_factory=list)  # worth a look, whatever the verdict

    def count(self, state: str) -> int:
        return sum(1 for w in self.workers if w.state == state)


@dataclass
class Dashboard:
    days: list[int]  # day numbers (since the epoch), oldest first
    submissions_per_day: list[int]
    objects_per_day: list[int]
    releases_by_tlp: dict[str, int]
    submissions_by_sector: dict[str, int]
    objects_per_feed: dict[str, int]
    health: Health


def build(hub: Hub, *, days: int = 30, worker_alive: bool | None = None) -> Dashboard:
    now = now_us()
    today = now // DAY_US
    first = today - days + 1
    since = first * DAY_US
    with hub.db.read() as conn:
        reports = ReportRepository(conn)
        collections = CollectionRepository(conn).list()
        inbox = [c.id for c in collections if c.kind == "inbox"]
        per_day_subs = reports.submissions_per_day(since)
        per_day_objects: dict[int, int] = {}
        for collection_id in inbox:
            for d, n in reports.versions_per_day(collection_id, since).items():
                per_day_objects[d] = per_day_objects.get(d, 0) + n
        by_tlp = reports.releases_by_tlp(since)
        by_sector = reports.submissions_by_sector(since)
        counts = reports.versions_per_collection()
        pending, oldest = reports.pending_submissions()
        last_finished = reports.last_finished_us()
        review_pending = ReviewRepository(conn).count("pending")
    day_numbers = list(range(first, today + 1))
    feeds = {c.alias: counts.get(c.id, 0) for c in collections if c.kind != "inbox"}
    health = _health(hub, now, pending, oldest, review_pending, last_finished, worker_alive)
    return Dashboard(
        day_numbers,
        [per_day_subs.get(d, 0) for d in day_numbers],
        [per_day_objects.get(d, 0) for d in day_numbers],
        dict(sorted(by_tlp.items())),
        dict(sorted(by_sector.items(), key=lambda item: (-item[1], item[0]))),
        feeds,
        health,
    )


def _health(
    hub: Hub,
    now: int,
    pending: int,
    oldest: int | None,
    review_pending: int,
    last_finished: int | None,
    worker_alive: bool | None,
) -> Health:
    uses_redis = bool(hub.settings.queue.redis_url)
    try:
        depth: int | None = hub.queue.depth()
    except QueueUnavailable:
        depth = None
    health = Health(
        pending, oldest, depth, review_pending, last_finished, uses_redis, heartbeat.workers(hub)
    )
    queue = hub.settings.queue
    reclaim_us = queue.reclaim_after_seconds * 1_000_000
    if depth is None:
        health.verdict = "stalled"
        health.notes.append("the queue (Redis) does not answer")
    if worker_alive is False:
        health.verdict = "stalled"
        health.notes.append("the web process's worker thread is not running")
    if uses_redis and not any(
        w.state == "alive" and w.row.kind == "worker" for w in health.workers
    ):
        health.verdict = "stalled"
        health.notes.append(
            f"no hub worker has been heard from in the last {queue.worker_stale_seconds} seconds"
        )
    stale = health.count("stale")
    if stale:
        health.warnings.append(
            f"{stale} worker{'s' if stale > 1 else ''} went silent without stopping (killed, "
            "crashed or hung); what it held is taken over by another after "
            "queue.reclaim_after_seconds"
        )
    if oldest is not None and now - oldest > 2 * reclaim_us:
        if health.verdict == "ok":
            health.verdict = "slow"
        health.notes.append("a submission has waited longer than twice queue.reclaim_after_seconds")
    return health


def feed_readers(hub: Hub, since_us: int) -> dict[str, list[tuple[str, str, int, int]]]:
    with hub.db.read() as conn:
        return ReportRepository(conn).readers_by_feed(since_us)
