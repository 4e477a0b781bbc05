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


def test_a_server_error_outside_faults_is_reported_with_its_logged_cause(tmp_path: Path) -> None:
    log = tmp_path / "web-1.log"
    log.write_bytes(
        b"[2026-11-28 12:40:41 +0000] [1531] [INFO] Booting worker\n"
        + orjson.dumps(
            {
                "level": "error",
                "message": "unhandled error on POST /taxii2/hub/collections/x/objects/",
                "request_id": "r2",
                "exception": 'Traceback (most recent call last):\n  File "x.py"\n'
                "sqlalchemy.exc.IntegrityError: duplicate key value\n"
                "[SQL: INSERT INTO pseudonym_epochs ...]\n"
                "(Background on this error at: https://sqlalche.me/e/21/gkpj)",
            }
        )
        + b"\n"
    )
    fault = load_faults.Fault("restart-postgres", "postgresql", 10.0, 100.0, 102.0)
    errors = [
        ["taxii POST", 101.0, 0.5, "500", "r1"],  # during the restart: its effect
        ["taxii POST", 110.0, 0.5, "500", "r2"],  # well after it: a bug
    ]
    found = load_faults.unexplained_server_errors(errors, [fault], [log])
    assert found == [
        "taxii POST answered 500 while no fault was under way (X-Request-Id r2): "
        "sqlalchemy.exc.IntegrityError: duplicate key value"
    ]
