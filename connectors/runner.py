"""Building a connector from its settings and running it: once, or every interval.

A run: take the connector's lock, deliver what a previous run left staged, collect the
outcome of deliveries still being processed, then read the source from the cursor on. A run
that fails is recorded with its reason; `run_forever` waits longer after each failure in a row
(exponential, with jitter, up to `backoff_max_seconds`) and the usual interval after a success.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol
from urllib.parse import urlsplit

from connectors import credentials
from connectors.engine import Engine
from connectors.remote import TaxiiCollection
from connectors.retry import Backoff, ConnectorError
from connectors.state import RunLock, StateError, StateStore, state_dir
from connectors.targets import HubTarget, Target, TaxiiTarget
from connectors.taxii import TaxiiSource
from hub.config import ConnectorSettings, Settings

log = logging.getLogger("connectors")


class Source(Protocol):
    description: str

    def collect(self, engine: Engine) -> None: ...

    def close(self) -> None: ...


@dataclass
class Connector:
    settings: ConnectorSettings
    source: Source
    target: Target
    binding: dict[str, str]

    def close(self) -> None:
        self.source.close()
        self.target.close()


def hub_url(settings: Settings, connector: ConnectorSettings) -> str:
    """Where the connector reaches the hub: its own hub_url, else the hub's public URL, else
    the address `hub serve` listens on."""
    if connector.hub_url:
        return connector.hub_url.rstrip("/")
    if settings.server.public_url:
        return settings.server.public_url.rstrip("/")
    host = settings.server.host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host  # noqa: S104
    return f"http://{host}:{settings.server.port}"


def state_path(settings: Settings, name: str) -> Path:
    return state_dir(settings.data_dir) / f"{name}.sqlite3"


def lock_path(settings: Settings, name: str) -> Path:
    return state_dir(settings.data_dir) / f"{name}.lock"


def build(settings: Settings, connector: ConnectorSettings) -> Connector:
    """The source and target of a connector, with its secrets read; nothing is contacted."""
    try:
        key = credentials.hub_key(settings, connector)
        remote_auth = credentials.remote_auth(settings, connector)
    except credentials.CredentialError as exc:
        raise ConnectorError(str(exc)) from None
    verify: bool | str = str(settings.path(connector.ca_file)) if connector.ca_file else True
    hub = hub_url(settings, connector)
    timeout = float(connector.timeout_seconds)
    tlp = connector.tlp or None
    if connector.kind == "directory":
        from connectors.directory import DirectorySource

        folder = settings.path(connector.path)
        archive = settings.path(connector.archive_dir) if connector.archive_dir else None
        return Connector(
            connector,
            DirectorySource(folder, archive=archive, tlp=tlp),
            HubTarget(hub, key, connector.name, connector.hub_collection, timeout),
            {
                "kind": connector.kind,
                "path": str(folder),
                "hub": _place(hub, connector.hub_collection),
            },
        )
    remote = TaxiiCollection(
        connector.url, connector.collection, auth=remote_auth, verify=verify, timeout=timeout
    )
    remote_place = _place(connector.url, connector.collection)
    if connector.kind == "taxii-pull":
        source = TaxiiSource(
            remote,
            page_size=connector.page_size,
            types=connector.types,
            start=connector.added_after or None,
            tlp=tlp,
        )
        target: Target = HubTarget(hub, key, connector.name, connector.hub_collection, timeout)
        binding = {
            "kind": connector.kind,
            "source": remote_place,
            "hub": _place(hub, connector.hub_collection),
        }
        return Connector(connector, source, target, binding)
    feed = TaxiiCollection(
        f"{hub}/taxii2/", connector.hub_collection, auth=key.auth(), timeout=timeout
    )
    source = TaxiiSource(
        feed, page_size=connector.page_size, types=connector.types, start=None, tlp=None
    )
    binding = {
        "kind": connector.kind,
        "source": _place(hub, connector.hub_collection),
        "target": remote_place,
    }
    return Connector(connector, source, TaxiiTarget(remote), binding)


def _place(url: str, collection: str) -> str:
    """A URL without its scheme's noise, with the collection: what a cursor is bound to."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or ''}{parts.path.rstrip('/')}#{collection}"


def run_once(settings: Settings, connector: Connector, state: StateStore) -> dict[str, Any]:
    """One run; its record (outcome, counts, error)."""
    cfg = connector.settings
    engine = Engine(
        cfg.name,
        state,
        connector.target,
        retries=cfg.retries,
        backoff=Backoff(cap=float(cfg.backoff_max_seconds)),
        batch_objects=cfg.batch_objects,
        log=log,
    )
    run_id = state.start_run()
    engine.event(logging.INFO, "run_started", f"run {run_id} of {cfg.kind} connector {cfg.name}")
    error: str | None = None
    try:
        engine.flush()
        engine.follow_ups()
        connector.source.collect(engine)
        engine.follow_ups()
    except ConnectorError as exc:
        error = str(exc)
    except StateError as exc:
        error = str(exc)
    record = state.finish_run(run_id, "failed" if error else "ok", error)
    level = logging.ERROR if error else logging.INFO
    engine.event(
        level,
        "run_failed" if error else "run_finished",
        f"run {run_id}: "
        + (error or f"{record['fetched']} fetched, {record['submitted']} delivered"),
        fetched=record["fetched"],
        submitted=record["submitted"],
        failed=record["failed"],
        error=error,
    )
    return record


class Stop(Exception):
    """SIGTERM or SIGINT: stop now (every state change is a transaction, so any point is safe)."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into Stop while a connector runs in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def opened(settings: Settings, name: str) -> Iterator[tuple[Connector, StateStore]]:
    """The connector and its state, locked for this process."""
    cfg = settings.connector(name)
    connector = build(settings, cfg)
    lock = RunLock(lock_path(settings, name))
    lock.acquire()
    try:
        state = StateStore.open(state_path(settings, name))
        try:
            state.bind(connector.binding)
            yield connector, state
        finally:
            state.close()
    finally:
        lock.release()
        connector.close()


def run(settings: Settings, name: str, *, once: bool) -> dict[str, Any]:
    """Run a connector: one run (`once`), or runs every interval until stopped. The record of
    the last run."""
    cfg = settings.connector(name)
    if not cfg.enabled and not once:
        raise ConnectorError(f"connectors.{name}.enabled is false")
    record: dict[str, Any] = {}
    with stop_on_signals(), opened(settings, name) as (connector, state):
        backoff = Backoff(cap=float(cfg.backoff_max_seconds), base=min(cfg.interval_seconds, 60))
        failures = 0
        try:
            while True:
                record = run_once(settings, connector, state)
                if once:
                    return record
                failures = failures + 1 if record["outcome"] == "failed" else 0
                delay = backoff.delay(failures - 1) if failures else float(cfg.interval_seconds)
                log.info(
                    "next run in %.0fs",
                    delay,
                    extra={"connector": name, "event": "waiting", "delay_seconds": round(delay, 1)},
                )
                _wait(delay)
        except Stop as stop:
            log.info("stopped by %s", stop, extra={"connector": name, "event": "stopped"})
            record = record or {"outcome": "stopped"}
    return record


def _wait(seconds: float) -> None:
    """Sleep between runs; a signal (Stop) ends it."""
    threading.Event().wait(seconds)
