"""Transient failures (429 with Retry-After, 503, a refused connection) are retried with
back-off; lasting ones end the run with their reason; one process runs a connector at a time.
In process, so the waits are recorded instead of slept."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors import retry
from connectors.runner import lock_path, run
from connectors.state import RunLock, StateError
from hub.config import load_settings
from tests.support.connectors import (
    LiveHub,
    Proxy,
    free_port,
    hub_command,
    live_hub,
    write_config,
    write_secret,
)
from tests.support.stix import indicator


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    delays: list[float] = []
    monkeypatch.setattr(retry, "sleep", delays.append)
    return delays


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LiveHub]:
    yield from live_hub(tmp_path / "target")


def folder_config(tmp_path: Path, hub_url: str, hub: LiveHub, **extra: object) -> Path:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    (drop / "bundle.json").write_text(json.dumps({"objects": [indicator("198.51.100.1")]}))
    write_secret(tmp_path / "hub.key", f"{hub.world.acme.key_id}:{hub.world.acme.secret}")
    return write_config(
        tmp_path / "connectors.toml",
        {
            "drop": {
                "kind": "directory",
                "path": "drop",
                "hub_url": hub_url,
                "hub_key_file": "hub.key",
                **extra,
            }
        },
    )


def test_429_and_503_are_waited_out_and_retried(
    tmp_path: Path, target: LiveHub, waits: list[float]
) -> None:
    proxy = Proxy(target.server.url)
    refusals = iter([(429, {"Retry-After": "7"}), (503, {})])

    def refuse(seen: object) -> tuple[int, dict[str, str]] | None:
        if "/api/v1/submissions" in getattr(seen, "path", ""):
            return next(refusals, None)
        return None

    proxy.refuse = refuse
    try:
        settings = load_settings(str(folder_config(tmp_path, proxy.url, target)), env={})
        record = run(settings, "drop", once=True)
    finally:
        proxy.stop()
    assert record["outcome"] == "ok"
    assert record["submitted"] == 1
    assert waits[0] == 7.0  # Retry-After, as asked
    assert 1.0 <= waits[1] <= 2.0  # then exponential back-off with jitter (attempt 2: d = 2 s)
    assert len(proxy.posted("/api/v1/submissions")) == 3
    assert target.submitted_objects() == (1, 1)


def test_a_hub_that_stays_down_fails_the_run_and_keeps_the_batch(
    tmp_path: Path, target: LiveHub, waits: list[float]
) -> None:
    config = folder_config(tmp_path, f"http://127.0.0.1:{free_port()}", target, retries=2)
    settings = load_settings(str(config), env={})
    record = run(settings, "drop", once=True)
    assert record["outcome"] == "failed"
    assert "cannot connect" in record["error"]
    assert len(waits) == 2  # two more attempts, then the run gives up
    status = subprocess.run(
        hub_command(config, "--json", "connector", "status", "drop"),
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(status.stdout)
    assert data["last_run"]["outcome"] == "failed"
    assert data["last_error"]["error"] == record["error"]
    assert target.world.acme.secret not in status.stdout


def test_a_second_process_cannot_run_the_same_connector(tmp_path: Path, target: LiveHub) -> None:
    config = folder_config(tmp_path, target.server.url, target)
    settings = load_settings(str(config), env={})
    lock = RunLock(lock_path(settings, "drop"))
    lock.acquire()
    try:
        with pytest.raises(StateError, match="already running"):
            run(settings, "drop", once=True)
        result = subprocess.run(
            hub_command(config, "connector", "run", "drop", "--once"),
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1
        assert "already running" in result.stderr
    finally:
        lock.release()
    assert run(settings, "drop", once=True)["outcome"] == "ok"


def test_list_and_logs_show_no_secret(tmp_path: Path, target: LiveHub) -> None:
    config = folder_config(tmp_path, target.server.url, target)
    listed = subprocess.run(
        hub_command(config, "--json", "connector", "list"),
        capture_output=True,
        text=True,
        check=True,
    )
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["kind"], row["credentials"]) == (
        "drop",
        "directory",
        ["hub_key_file: hub.key"],
    )
    ran = subprocess.run(
        hub_command(config, "connector", "run", "drop", "--once"), capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    mine = [e for e in events if e.get("connector") == "drop"]
    assert {"run_started", "item_read", "batch_delivered", "run_finished"} <= {
        e["event"] for e in mine
    }
    assert target.world.acme.secret not in ran.stderr + ran.stdout + listed.stdout
