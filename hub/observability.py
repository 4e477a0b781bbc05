"""Health, readiness, Prometheus metrics and structured logs.

- `/healthz`: the process answers (liveness). `/readyz`: the database (and Redis, when
  configured) answer too (readiness): 200 or 503 naming what is down.
- `/metrics`: Prometheus text format (prometheus_client). Request latency by endpoint and feed
  reads are counted per process; under gunicorn the workers share a multiprocess directory
  that `hub serve` sets up. Queue depth and lag, ingest outcomes, held objects and the workers
  alive (their heartbeats) are read from the database at scrape time, so they are right
  however many workers and hosts there are.
  Readable from loopback, or with the bearer token in `observability.metrics_token_file`.
- Logs: one JSON object per line (`observability.log_format = "json"`), each with the request
  id (`X-Request-Id` from the client or a proxy when well formed, else generated, and echoed
  in the response). Secrets never reach a log line: the Authorization header is never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from hub.errors import Forbidden
from hub.services import heartbeat
from hub.services.context import Hub
from hub.stix.timestamps import now_us
from hub.storage.tables import review_items, statuses, submissions

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

REQUEST_SECONDS = Histogram(
    "hub_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint, method and status class.",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FEED_READS = Counter(
    "hub_feed_reads_total", "Reads of a feed's objects, by the reader's member kind.", ["kind"]
)
FEED_OBJECTS = Counter(
    "hub_feed_objects_returned_total", "Objects returned by feed reads, by member kind.", ["kind"]
)

bp = Blueprint("observability", __name__)


class DatabaseCollector(Collector):
    """Figures read from the database at scrape time (the same from every process)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Any]:
        with self.hub.db.read() as conn:
            pending, pending_objects, oldest = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(statuses.c.pending_count), 0),
                    func.min(submissions.c.enqueued_us),
                )
                .select_from(submissions.join(statuses, submissions.c.status_id == statuses.c.id))
                .where(submissions.c.state == "pending")
            ).one()
            succeeded, failed = conn.execute(
                select(
                    func.coalesce(func.sum(statuses.c.success_count), 0),
                    func.coalesce(func.sum(statuses.c.failure_count), 0),
                )
            ).one()
            held = conn.execute(
                select(func.count())
                .select_from(review_items)
                .where(review_items.c.state == "pending")
            ).scalar_one()
        yield GaugeMetricFamily(
            "hub_queue_pending_submissions", "Submissions not yet fully processed.", int(pending)
        )
        yield GaugeMetricFamily(
            "hub_queue_pending_objects",
            "Objects waiting in those submissions.",
            int(pending_objects),
        )
        lag = (now_us() - int(oldest)) / 1e6 if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "hub_queue_lag_seconds", "Age of the oldest pending submission.", max(lag, 0.0)
        )
        outcomes = CounterMetricFamily(
            "hub_ingest_objects",
            "Objects processed from submissions, by outcome.",
            labels=["outcome"],
        )
        outcomes.add_metric(["success"], int(succeeded))
        outcomes.add_metric(["failure"], int(failed))
        yield outcomes
        yield GaugeMetricFamily(
            "hub_review_held_objects", "Objects held for review, awaiting a decision.", int(held)
        )
        alive, stale = heartbeat.counts(self.hub)
        yield GaugeMetricFamily(
            "hub_workers_alive",
            "Queue workers (hub worker processes, web pipeline threads) heard from within "
            "queue.worker_stale_seconds.",
            alive,
        )
        yield GaugeMetricFamily(
            "hub_workers_stale",
            "Queue workers silent for longer than that without having stopped (killed or hung).",
            stale,
        )


class ConnectorCollector(Collector):
    """Each configured connector's counters, read from its state file at scrape time (the
    connectors run as their own processes; their state files are on this machine)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Any]:
        from connectors.status import counters

        family = CounterMetricFamily(
            "hub_connector_objects",
            "Objects each connector handled, by outcome (fetched, submitted, succeeded, ...).",
            labels=["connector", "kind", "outcome"],
        )
        for entry in counters(self.hub.settings):
            for outcome, value in sorted(entry["counters"].items()):
                family.add_metric([entry["name"], entry["kind"], outcome], int(value))
        yield family


def _registry(hub: Hub) -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in (REQUEST_SECONDS, FEED_READS, FEED_OBJECTS):
            registry.register(metric)
    registry.register(DatabaseCollector(hub))
    if hub.settings.connectors:
        registry.register(ConnectorCollector(hub))
    return registry


def count_feed_read(kind: str, objects: int) -> None:
    FEED_READS.labels(kind).inc()
    FEED_OBJECTS.labels(kind).inc(objects)


@bp.get("/healthz")
def healthz() -> Response:
    return Response(orjson.dumps({"status": "ok"}), content_type="application/json")


@bp.get("/readyz")
def readyz() -> Response:
    from hub.web import current_hub

    hub = current_hub()
    checks: dict[str, str] = {}
    try:
        with hub.db.read() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; say which kind
        checks["database"] = f"down: {type(exc).__name__}"
    if hub.settings.queue.redis_url:
        try:
            hub.queue.depth()  # a round trip to Redis
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"down: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return Response(
        orjson.dumps(body), status=200 if ready else 503, content_type="application/json"
    )


@bp.get("/metrics")
def metrics() -> Response:
    from hub.web import current_hub

    hub = current_hub()
    _check_metrics_access(hub)
    registry = hub.cache.get("metrics_registry")
    if registry is None:
        registry = hub.cache["metrics_registry"] = _registry(hub)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _check_metrics_access(hub: Hub) -> None:
    token_file = hub.settings.observability.metrics_token_file
    if token_file:
        expected = hub.cache.get("metrics_token")
        if expected is None:
            path = Path(hub.settings.base_dir) / token_file
            expected = hub.cache["metrics_token"] = path.read_text(encoding="utf-8").strip()
        auth = request.authorization
        given = auth.token if auth is not None and auth.type == "bearer" else None
        if given and hmac.compare_digest(given.encode(), expected.encode()):
            return
        raise Forbidden("metrics need the bearer token from observability.metrics_token_file")
    if request.remote_addr not in ("127.0.0.1", "::1"):
        raise Forbidden("metrics are readable from loopback only (or set a metrics token)")


def init_app(app: Flask) -> None:
    """Request ids, latency metrics and the observability endpoints."""
    app.register_blueprint(bp)

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        started = g.get("started")
        if started is not None:
            endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
            elapsed = time.perf_counter() - started
            REQUEST_SECONDS.labels(
                endpoint, request.method, f"{response.status_code // 100}xx"
            ).observe(elapsed)
            principal = g.get("principal")
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,  # never the query string or any header
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "remote": request.remote_addr,
                    "key_id": getattr(principal, "key_id", None),
                },
            )
        return response


# Extra fields a log call may carry (logger.info(..., extra={...})) that JSON lines include.
_FIELDS = (
    "submission_id",
    "member_id",
    "connector",
    # connector events (connectors/engine.py)
    "event",
    "fetched",
    "submitted",
    "succeeded",
    "failed",
    "skipped",
    "cursor",
    "reference",
    "ref",
    "attempt",
    "delay_seconds",
    "error",
    "method",
    "path",
    "status",
    "duration_ms",
    "remote",
    "key_id",
)
access_log = logging.getLogger("hub.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or _current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key in _FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode("utf-8")


def _current_request_id() -> str | None:
    try:
        value = g.get("request_id")
    except RuntimeError:  # outside a request
        return None
    return str(value) if value else None


def configure_logging(log_format: str, level: str) -> None:
    """Root logging for a hub process: JSON lines or plain text, on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
