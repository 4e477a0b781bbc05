"""`hub push` against a real hub on loopback whose size limit forces several batches."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from hub import push as push_module
from hub.cli import main
from hub.services import membership
from hub.storage import tables
from hub.storage.objects import ObjectRepository
from tests.support.hubs import Account, LiveServer, World, make_hub, make_world
from tests.support.stix import TAXII, indicator

LIMIT = 20_000
RED = push_module.TLP_MARKINGS["red"]
AMBER = push_module.TLP_MARKINGS["amber"]
STATEMENT = "marking-definition--0c1d3f6a-5a8c-4a7f-9a7e-1f2e3d4c5b6a"
needs_csv = pytest.mark.skipif(
    importlib.util.find_spec("hub.stix.indicators") is None,
    reason="the hub's CSV conversion (hub/stix/indicators.py) is not there yet",
)


@dataclass
class Target:
    world: World
    server: LiveServer

    def key(self, account: Account | None = None) -> str:
        account = account or self.world.acme
        return f"{account.key_id}:{account.secret}"

    def stored(self, alias: str = "inbox") -> int:
        with self.world.hub.db.read() as conn:
            return ObjectRepository(conn).count(self.world.collection_ids[alias])

    def submissions(self, account: Account | None = None) -> int:
        member_id = (account or self.world.acme).member.id
        stmt = select(func.count()).select_from(tables.submissions)
        with self.world.hub.db.read() as conn:
            return int(
                conn.execute(stmt.where(tables.submissions.c.member_id == member_id)).scalar_one()
            )

    def read(self, collection_id: str) -> list[dict[str, Any]]:
        """Every object of a collection, page by page over TAXII."""
        objects: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        while True:
            response = requests.get(
                f"{self.server.collection_url(collection_id)}objects/",
                params=params,
                headers={"Accept": TAXII},
                auth=self.world.acme.basic,
                timeout=30,
            )
            response.raise_for_status()
            page = response.json()
            objects += page.get("objects", [])
            if not page.get("more"):
                return objects
            params = {"next": page["next"]}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    hub = make_hub(tmp_path / "var", taxii={"max_content_length": LIMIT})
    world = make_world(hub)
    server = LiveServer(hub)
    yield Target(world, server)
    server.stop()
    hub.close()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries happen at once; the delays asked for are recorded."""
    delays: list[float] = []
    monkeypatch.setattr(push_module, "_sleep", delays.append)
    return delays


def run_push(
    target: Target, source: str, *args: str, key: str | None = None, stdin: bytes | None = None
) -> Result:
    """`hub push SOURCE ARGS`; a `--json` in ARGS goes to the hub group, as users write it."""
    env = {"HUB_PUSH_KEY": key or target.key(), "HUB_PUSH_URL": target.server.url}
    group = ["--json"] if "--json" in args else []
    rest = [arg for arg in args if arg != "--json"]
    return CliRunner().invoke(main, [*group, "push", source, *rest], env=env, input=stdin)


def report_of(result: Result) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def write_bundle(path: Path, objects: list[dict[str, Any]]) -> Path:
    bundle = {"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d"}
    path.write_bytes(orjson.dumps({**bundle, "objects": objects}))
    return path


def indicators(count: int) -> list[dict[str, Any]]:
    return [indicator(f"198.51.{n // 250}.{n % 250 + 1}") for n in range(count)]


def test_a_large_bundle_goes_in_batches_and_every_object_is_stored_once(
    target: Target, tmp_path: Path
) -> None:
    source = write_bundle(tmp_path / "big.json", indicators(300))
    result = run_push(target, str(source), "--json", "--wait")
    assert result.exit_code == 0, result.stderr
    report = report_of(result)
    batches = report["batches"]
    assert len(batches) >= 4
    assert all(b["size"] <= LIMIT for b in batches)
    assert sum(b["items"] for b in batches) == 300
    assert report["totals"]["success_count"] == 300
    assert report["totals"]["failure_count"] == 0
    assert target.stored() == 300
    assert target.submissions() == len(batches)
    assert not Path(f"{source}.hub-push.json").exists()


def test_wait_prints_totals_and_the_first_failures(target: Target, tmp_path: Path) -> None:
    bad = indicator("203.0.113.9", pattern="[not a pattern")
    source = write_bundle(tmp_path / "mixed.json", [*indicators(120), bad])
    result = run_push(target, str(source), "--wait")
    assert result.exit_code == 0, result.stderr  # every batch was accepted
    assert "121 objects in" in result.stdout
    assert "120 succeeded, 1 failed, 0 pending" in result.stdout
    assert f"failed: {bad['id']}" in result.stdout


def _interrupt() -> None:
    raise KeyboardInterrupt


def _network_down() -> None:
    raise requests.ConnectionError("[Errno 111] Connection refused")


@pytest.mark.parametrize(
    ("how", "exit_code", "message"),
    [
        ("revoked", 1, "the hub refused the key (401)"),
        ("ctrl-c", 130, "interrupted"),
        ("network", 1, "cannot reach the hub: [Errno 111] Connection refused (tried 3 times)"),
    ],
)
def test_an_interrupted_push_resumes_without_sending_anything_twice(
    target: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    exit_code: int,
    message: str,
) -> None:
    source = write_bundle(tmp_path / "big.json", indicators(300))
    accepted: list[str] = []
    original = requests.Session.send

    def send(session: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        if request.method == "POST" and len(accepted) == 2:
            if how == "ctrl-c":
                _interrupt()
            if how == "network":
                _network_down()
        response = original(session, request, **kw)
        if request.method == "POST" and response.status_code == 202:
            accepted.append(response.json()["id"])
            if how == "revoked" and len(accepted) == 2:
                membership.revoke_key(target.world.hub, target.world.acme.key_id)
        return response

    monkeypatch.setattr(requests.Session, "send", send)
    first = run_push(target, str(source), "--retries", "2")
    assert first.exit_code == exit_code, first.stderr
    assert message in first.stderr
    assert "stopped after 2 of" in first.stdout
    state = json.loads(Path(f"{source}.hub-push.json").read_text())
    assert sorted(state["accepted"].values()) == sorted(accepted)
    assert target.submissions() == 2

    monkeypatch.setattr(requests.Session, "send", original)
    key = target.key()
    if how == "revoked":
        issued = membership.issue_key(target.world.hub, target.world.acme.member.id, "write")
        key = f"{issued.key.id}:{issued.secret}"
    again = run_push(target, str(source), "--json", key=key)
    assert again.exit_code == 0, again.stderr
    assert "resuming: 2 of" in again.stderr
    report = report_of(again)
    assert [b["sent"] for b in report["batches"][:2]] == ["before", "before"]
    assert {b["sent"] for b in report["batches"][2:]} == {"now"}
    assert target.submissions() == len(report["batches"])
    assert target.stored() == 300
    assert not Path(f"{source}.hub-push.json").exists()


def test_transient_failures_are_retried_with_backoff_and_retry_after(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_backoff: list[float]
) -> None:
    source = write_bundle(tmp_path / "big.json", indicators(150))
    failures = ["connection", "busy"]
    original = requests.Session.send

    def send(session: requests.Session, request: requests.PreparedRequest, **kw: Any) -> Any:
        if request.method == "POST" and failures:
            if failures.pop(0) == "connection":
                _network_down()
            busy = requests.Response()
            busy.status_code, busy.reason, busy.request = 503, "Service Unavailable", request
            busy.headers["Retry-After"] = "7"
            busy._content = b'{"title": "Service unavailable", "status": 503}'
            return busy
        return original(session, request, **kw)

    monkeypatch.setattr(requests.Session, "send", send)
    result = run_push(target, str(source))
    assert result.exit_code == 0, result.stderr
    assert no_backoff == [0.5, 7.0]
    assert "trying again in 7.0s" in result.stderr
    assert target.stored() == 150


def test_tlp_marks_objects_without_a_tlp_and_keeps_the_others(
    target: Target, tmp_path: Path
) -> None:
    plain, red, stated = indicators(3)
    red["object_marking_refs"] = [RED]
    stated["object_marking_refs"] = [STATEMENT]
    source = write_bundle(tmp_path / "marked.json", [plain, red, stated])
    result = run_push(target, str(source), "--tlp", "amber", "--collection", "finance-tg")
    assert result.exit_code == 0, result.stderr
    stored = {o["id"]: o for o in target.read(target.world.trust_group_id)}
    assert stored[plain["id"]]["object_marking_refs"] == [AMBER]
    assert stored[red["id"]]["object_marking_refs"] == [RED]
    assert stored[stated["id"]]["object_marking_refs"] == [STATEMENT, AMBER]


@needs_csv
@pytest.mark.parametrize("header", ["type,value,tlp", "type,value"])
def test_a_csv_list_goes_in_batches_with_its_header_and_tlp(
    target: Target, tmp_path: Path, header: str
) -> None:
    rows = [
        f"ipv4,192.0.{n // 200}.{n % 200 + 1}" + ("," if "tlp" in header else "")
        for n in range(400)
    ]
    if "tlp" in header:
        rows[0] += "red"
    rows[200] = "ipv4,300.1.1.1" + ("," if "tlp" in header else "")
    source = tmp_path / "list.csv"
    source.write_text("# exported by our SIEM\n" + header + "\n" + "\n".join(rows) + "\n")
    result = run_push(
        target,
        str(source),
        "--tlp",
        "amber",
        "--collection",
        "finance-tg",
        "--batch-objects",
        "150",
        "--wait",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = report_of(result)
    assert [b["items"] for b in report["batches"]] == [150, 150, 100]
    assert report["totals"]["success_count"] == 399
    assert report["totals"]["failure_count"] == 1
    assert report["failures"][0]["id"] == "line 203"  # the input's line, not the batch's
    stored = target.read(target.world.trust_group_id)
    assert len(stored) == 399
    markings = {o["pattern"]: o["object_marking_refs"] for o in stored}
    assert markings.pop("[ipv4-addr:value = '192.0.0.1']") == [RED if "tlp" in header else AMBER]
    assert all(refs == [AMBER] for refs in markings.values())


def test_a_csv_plan_keeps_the_header_on_every_batch_and_maps_lines() -> None:
    text = "type,value,description\n" + "".join(
        f'ipv4,198.51.100.{n},"seen\ntwice"\n' if n == 3 else f"ipv4,198.51.100.{n},\n"
        for n in range(1, 60)
    )
    params = push_module.PlanParams("csv", 400, 1000, "green")
    plan = push_module.make_plan(text.encode(), params)
    assert len(plan.batches) > 3
    assert plan.items == 59
    for batch in plan.batches:
        assert batch.body.startswith(b"type,value,description,tlp\n")
        assert len(batch.body) <= 400
        assert batch.body.count(b",green\n") == batch.items
    second = plan.batches[1]
    first_row = second.body.decode().splitlines()[1]
    assert second.input_ref("line 2") == f"line {int(first_row.split('.')[-1].split(',')[0]) + 2}"


def test_a_bad_key_stops_with_one_line_and_never_shows_the_secret(
    target: Target, tmp_path: Path
) -> None:
    source = write_bundle(tmp_path / "small.json", indicators(3))
    secret = "hks_not-the-right-secret-at-all"
    for key in (f"{target.world.acme.key_id}:{secret}", secret):
        result = run_push(target, str(source), key=key)
        assert result.exit_code == 1
        assert result.stderr.startswith("hub push: the hub refused the key (401): ")
        assert result.stderr.count("\n") == 1
        assert secret not in result.output
        assert "Traceback" not in result.output
    assert target.submissions() == 0


def test_an_object_over_the_limit_is_reported_and_skipped(target: Target, tmp_path: Path) -> None:
    huge = indicator("203.0.113.1", description="x" * LIMIT)
    source = write_bundle(tmp_path / "huge.json", [*indicators(50), huge])
    result = run_push(target, str(source))
    assert result.exit_code == 3
    assert f"hub push: {huge['id']} alone makes a" in result.stderr
    assert "skipped" in result.stderr
    assert target.stored() == 50


def test_stdin_is_sniffed_and_sent_without_a_state_file(target: Target, tmp_path: Path) -> None:
    body = orjson.dumps({"objects": indicators(200)})
    env = {**os.environ, "HUB_PUSH_KEY": target.key()}
    env.pop("HUB_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--json", "push", "-", "--url", target.server.url],
        input=body,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["state_file"] is None
    assert report["fmt"] == "json"
    assert len(report["batches"]) >= 3
    assert target.stored() == 200
    assert target.world.acme.secret.encode() not in result.stdout + result.stderr
    assert not list(tmp_path.glob("*.hub-push.json"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("input", "the state file is for another input, hub or collection; starting over"),
        ("plan", "the batch plan changed (format, --batch-objects or --tlp); starting over"),
    ],
)
def test_a_state_file_for_another_input_or_plan_starts_over(
    target: Target, tmp_path: Path, change: str, message: str
) -> None:
    source = write_bundle(tmp_path / "big.json", indicators(100))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    state = Path(f"{source}.hub-push.json")
    state.write_text(
        json.dumps(
            {
                "version": 1,
                "input_sha256": "0" * 64 if change == "input" else digest,
                "url": target.server.url,
                "collection": "inbox",
                "plan": {"fmt": "json", "max_bytes": 1000, "max_items": 7, "tlp": None},
                "batches": 9,
                "accepted": {"0": "an-old-submission"},
            }
        )
    )
    result = run_push(target, str(source), "--json")
    assert result.exit_code == 0, result.stderr
    assert message in result.stderr
    assert {b["sent"] for b in report_of(result)["batches"]} == {"now"}
    assert target.stored() == 100
    assert not state.exists()


@needs_csv
def test_a_text_list_goes_in_batches_and_failures_name_input_lines(
    target: Target, tmp_path: Path
) -> None:
    lines = [f"203.0.{n // 200}.{n % 200 + 1}  # seen on the proxy" for n in range(250)]
    lines[180] = "not a value at all"
    source = tmp_path / "list.txt"
    source.write_text("# our blocklist\n\n" + "\n".join(lines) + "\n")
    result = run_push(target, str(source), "--batch-objects", "100", "--wait", "--json")
    assert result.exit_code == 0, result.stderr
    report = report_of(result)
    assert [b["items"] for b in report["batches"]] == [100, 100, 50]
    assert (report["totals"]["success_count"], report["totals"]["failure_count"]) == (249, 1)
    assert report["failures"][0]["id"] == "line 183"
    assert target.stored() == 249


def test_tlp_on_a_plain_text_list_is_refused_before_sending(target: Target, tmp_path: Path) -> None:
    source = tmp_path / "list.txt"
    source.write_text("198.51.100.7\nevil.example.com\n")
    result = run_push(target, str(source), "--tlp", "red")
    assert result.exit_code == 1
    assert "--tlp cannot mark a plain-text list" in result.stderr
    assert target.submissions() == 0
