"""What `hub connector list` and `hub connector status` show, read without disturbing a run.

`counters(settings)` is the form a metrics exporter reads: per connector, its kind and the
running totals `fetched`, `submitted`, `succeeded`, `failed` and `skipped`.
"""

from __future__ import annotations

from typing import Any

from connectors.runner import hub_url, lock_path, state_path
from connectors.state import RunLock, StateStore
from hub.config import ConnectorSettings, Settings


def describe(settings: Settings, cfg: ConnectorSettings) -> dict[str, Any]:
    """A connector's configuration in brief: where it reads and where it writes. No secret."""
    hub = f"{hub_url(settings, cfg)} {cfg.hub_collection}"
    remote = f"{cfg.url} {cfg.collection}"
    source, target = {
        "taxii-pull": (remote, hub),
        "taxii-push": (hub, remote),
        "directory": (str(settings.path(cfg.path)), hub),
    }[cfg.kind]
    return {
        "name": cfg.name,
        "kind": cfg.kind,
        "enabled": cfg.enabled,
        "source": source,
        "target": target,
        "interval_seconds": cfg.interval_seconds,
        "credentials": sorted(
            f"{name}: {value}"
            for name in (
                "hub_key_file",
                "hub_key_env",
                "password_file",
                "password_env",
                "token_file",
                "token_env",
            )
            if (value := getattr(cfg, name))
        ),
    }


def status(settings: Settings, cfg: ConnectorSettings, runs: int = 5) -> dict[str, Any]:
    """The connector's state: running or not, the last runs, cursor, counters, backlog."""
    result = describe(settings, cfg)
    pid = RunLock(lock_path(settings, cfg.name)).holder()
    result["running"] = pid is not None
    result["pid"] = pid if pid and pid > 0 else None
    store = StateStore.read_only(state_path(settings, cfg.name))
    if store is None:
        result.update(last_run=None, runs=[], cursor=None, counters=None, state_file=None)
        return result
    try:
        history = store.runs(runs)
        batches, objects = store.outbox_size()
        rejected, recent = store.rejects(5)
        result.update(
            state_file=str(store.path),
            last_run=history[0] if history else None,
            runs=history,
            cursor=store.get("cursor"),
            counters=store.counters(),
            outbox={"batches": batches, "objects": objects},
            awaiting_status=len(store.followups()),
            rejected={"total": rejected, "recent": recent},
            last_error=store.get("last_error"),
        )
        if cfg.kind == "directory":
            result["items"] = store.item_states()
            result["failed_items"] = store.failed_items(5)
    finally:
        store.close()
    return result


def counters(settings: Settings) -> list[dict[str, Any]]:
    """Every configured connector's counters (zeros before its first run)."""
    found = []
    for cfg in settings.connectors:
        store = StateStore.read_only(state_path(settings, cfg.name))
        values: dict[str, int] = {}
        if store is not None:
            try:
                values = store.counters()
            finally:
                store.close()
        found.append({"name": cfg.name, "kind": cfg.kind, "counters": values})
    return found


def summary_line(data: dict[str, Any]) -> str:
    """One line for `hub connector status` without --json."""
    head = f"{data['name']} ({data['kind']})"
    if data.get("running"):
        head += f" running (pid {data['pid']})" if data.get("pid") else " running"
    last = data.get("last_run")
    if last is None:
        return f"{head}: never run"
    counts = data.get("counters") or {}
    line = (
        f"{head}: last run {last['started']} {last['outcome']}"
        f"; fetched {counts.get('fetched', 0)}, submitted {counts.get('submitted', 0)}, "
        f"succeeded {counts.get('succeeded', 0)}, failed {counts.get('failed', 0)}, "
        f"skipped {counts.get('skipped', 0)}"
    )
    cursor = data.get("cursor")
    if isinstance(cursor, dict) and cursor.get("added_after"):
        line += f"; cursor {cursor['added_after']}"
    outbox = data.get("outbox") or {}
    if outbox.get("batches"):
        line += f"; {outbox['objects']} objects waiting to be delivered"
    if last.get("error"):
        line += f"\n  error: {last['error']}"
    return line
