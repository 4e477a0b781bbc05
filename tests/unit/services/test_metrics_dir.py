"""The metrics directory `hub serve` prepares: fresh at each start, and one per port."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.config import load_settings, replace
from hub.serve import MULTIPROC_ENV, prepare_metrics_dir


def test_two_servers_on_one_data_directory_keep_their_own_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    base = load_settings(None, env={"HUB_STORAGE_DATA_DIR": str(tmp_path)})
    first = prepare_metrics_dir(replace(base, server={"port": 8080}))
    (first / "counter_123.db").write_bytes(b"worker metrics")
    second = prepare_metrics_dir(replace(base, server={"port": 8081}))
    assert second != first
    assert os.environ[MULTIPROC_ENV] == str(second)
    assert (first / "counter_123.db").read_bytes() == b"worker metrics"
    # A restart on the same port starts from nothing: the dead workers' files go.
    again = prepare_metrics_dir(replace(base, server={"port": 8080}))
    assert again == first
    assert list(again.iterdir()) == []
    assert again.stat().st_mode & 0o777 == 0o700
