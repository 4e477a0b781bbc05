"""The load-and-fault harness, end to end in a short run: its own PostgreSQL and Redis, two web
processes and two workers, every fault, a clean verdict; then defects planted in the database
must each be caught (`--self-check`)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bench import load_faults
from bench.load_faults_evidence import PLANTS


@pytest.mark.slow
@pytest.mark.postgres
def test_a_short_run_with_every_fault_passes_and_planted_defects_are_caught(
    tmp_path: Path,
) -> None:
    code = load_faults.main(
        ["--self-check", "--duration", "20", "--results-dir", str(tmp_path), "--tag", "test"]
    )
    (report,) = tmp_path.glob("load_faults-*-test.json")
    data = orjson.loads(report.read_bytes())
    assert data["problems"] == []
    assert data["violations"] == []
    assert {f["kind"] for f in data["faults"]} == set(load_faults.FAULTS)
    assert all(f["recovered"] is not None for f in data["faults"])
    assert data["checked"]["objects accepted and valid"] > 0
    assert data["checked"]["poller walks checked against the feed"] > 0
    assert [c["caught"] for c in data["self_check"]] == ["yes"] * len(data["self_check"])
    assert len(data["self_check"]) == len(PLANTS) + 1
    assert code == 0
