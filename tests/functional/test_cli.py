"""The `hub` command, run as a user would: a real process, real files, real output."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from taxii2client.v21 import Server

from hub.config import load_settings
from hub.services import Hub, heartbeat
from tests.support.postgres import free_port

HUB = [sys.executable, "-m", "hub.cli"]


def run(
    tmp_path: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "HUB_STORAGE_DATA_DIR": str(tmp_path / "var"), **(env or {})}
    full_env.pop("HUB_CONFIG", None)
    result = subprocess.run(
        [*HUB, *args], capture_output=True, text=True, env=full_env, timeout=120, cwd=tmp_path
    )
    if check and result.returncode != 0:
        raise AssertionError(f"hub {' '.join(args)} failed: {result.stderr}")
    return result


def run_json(tmp_path: Path, *args: str) -> Any:
    return json.loads(run(tmp_path, "--json", *args).stdout)


def test_init_creates_everything_and_is_idempotent(tmp_path: Path) -> None:
    report = run_json(tmp_path, "init", "--admin-email", "Ops@Example.org")
    assert sorted(report["collections_created"]) == ["government", "inbox", "members", "public"]
    assert report["admin_email"] == "ops@example.org"
    assert len(report["admin_password"]) >= 20  # generated, shown once
    for path in report["secrets_created"]:
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
    again = run_json(tmp_path, "init", "--admin-email", "ops@example.org")
    assert again["secrets_created"] == []
    assert again["collections_created"] == []
    assert again["admin_password"] is None


def test_members_keys_and_collections(tmp_path: Path) -> None:
    run(tmp_path, "init", "--admin-password", "a strong admin password")
    member = run_json(
        tmp_path,
        "member",
        "add",
        "Acme Bank",
        "--kind",
        "industry",
        "--sector",
        "finance",
        "--consent",
        "government",
    )
    assert (member["kind"], member["sector"], member["consent"], member["status"]) == (
        "industry",
        "finance",
        "government",
        "active",
    )
    issued = run_json(
        tmp_path, "key", "issue", member["id"], "--scope", "read,write", "--expires-days", "30"
    )
    assert issued["secret"].startswith("hks_")
    assert issued["scope"] == "read,write"
    assert issued["expires"] is not None
    listed = run_json(tmp_path, "key", "list", "Acme Bank")
    assert [k["id"] for k in listed] == [issued["id"]]
    assert "secret" not in listed[0]
    assert issued["secret"] not in run(tmp_path, "key", "list", "Acme Bank").stdout
    revoked = run_json(tmp_path, "key", "revoke", issued["id"])
    assert revoked["revoked"] is not None
    suspended = run_json(tmp_path, "member", "suspend", member["id"])
    assert suspended["status"] == "suspended"
    assert run_json(tmp_path, "member", "list", "--status", "suspended")[0]["name"] == "Acme Bank"
    group = run_json(
        tmp_path,
        "collection",
        "add",
        "energy-tg",
        "--title",
        "Energy",
        "--readers",
        "industry:energy,government",
        "--writers",
        "industry:energy",
    )
    assert group["readers"] == ["industry:energy", "government"]
    aliases = [c["alias"] for c in run_json(tmp_path, "collection", "list")]
    assert aliases[-1] == "energy-tg"
    assert "inbox" in aliases


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("member", "add", "X", "--kind", "industry"), "run `hub init` first"),
        (("key", "revoke", "hk_nope"), "run `hub init` first"),
    ],
)
def test_commands_before_init_say_what_to_do(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = run(tmp_path, *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    run(tmp_path, "init", "--admin-password", "a strong admin password")
    result = run(tmp_path, "key", "issue", "nobody", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "hub: no member 'nobody'"
    bad = run(tmp_path, "member", "list", check=False, env={"HUB_SERVER_PORT": "http"})
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "hub: configuration error: server.port (from HUB_SERVER_PORT): "
        "expected an integer, got 'http'"
    )
    config = tmp_path / "bad.toml"
    config.write_text("[storage]\nurl = 5\n")
    from_file = run(tmp_path, "--config", str(config), "member", "list", check=False)
    assert from_file.returncode == 2
    assert "storage.url: expected a string" in from_file.stderr
    assert "Traceback" not in from_file.stderr


def test_duplicate_member_is_refused(tmp_path: Path) -> None:
    run(tmp_path, "init", "--admin-password", "a strong admin password")
    run(tmp_path, "member", "add", "Acme", "--kind", "industry")
    result = run(tmp_path, "member", "add", "Acme", "--kind", "government", check=False)
    assert result.returncode == 1
    assert "already exists" in result.stderr


def test_serve_runs_gunicorn_and_answers_taxii(tmp_path: Path) -> None:
    report = run_json(tmp_path, "init", "--demo", "--admin-password", "a strong admin password")
    keys = json.loads(Path(report["demo_keys_file"]).read_text())
    assert stat.S_IMODE(Path(report["demo_keys_file"]).stat().st_mode) == 0o600
    port = free_port()
    env = {**os.environ, "HUB_STORAGE_DATA_DIR": str(tmp_path / "var")}
    process = subprocess.Popen(
        [*HUB, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/taxii2/", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        server = Server(base + "/taxii2/", user=keys[0]["key_id"], password=keys[0]["secret"])
        assert {c.alias for c in server.default.collections} >= {"inbox", "members", "public"}
        for _ in range(6):
            requests.get(base + "/healthz", headers={"X-Request-Id": "trace-0123456789"}, timeout=5)
        # Two gunicorn workers answer; /metrics adds up both (the multiprocess directory).
        metrics = requests.get(base + "/metrics", timeout=5)
        assert metrics.status_code == 200
        counted = [
            line
            for line in metrics.text.splitlines()
            if line.startswith("hub_http_request_duration_seconds_count")
            and 'endpoint="observability.healthz"' in line
        ]
        assert counted and float(counted[0].rsplit(" ", 1)[1]) == 6
        assert requests.get(base + "/readyz", timeout=5).json()["status"] == "ready"
        # An idle connection stays open past gunicorn's own 2 s keep-alive
        # (server.keepalive_seconds): a pooled client connection is not reset under it.
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() == b'{"status":"ok"}'
            assert connection.sock is not None
            local = connection.sock.getsockname()
            time.sleep(3)
            connection.request("GET", "/healthz")
            assert connection.getresponse().status == 200
            assert connection.sock.getsockname() == local
        finally:
            connection.close()
        # Each gunicorn worker runs a pipeline thread (no Redis), and each records itself.
        alive = re.compile(r"^hub_workers_alive 2\.0$", re.M)
        deadline = time.monotonic() + 30
        while not alive.search(requests.get(base + "/metrics", timeout=5).text):
            assert time.monotonic() < deadline, "two pipeline threads never recorded themselves"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert "gunicorn" in output.lower()
    # Stopping the server stopped the threads cleanly: recorded as stopped, not gone stale.
    hub = Hub.open(load_settings(None, env={"HUB_STORAGE_DATA_DIR": str(tmp_path / "var")}))
    try:
        assert [(v.row.kind, v.state) for v in heartbeat.workers(hub)] == [("web", "stopped")] * 2
    finally:
        hub.close()
    for item in keys:  # secrets never reach the log
        assert item["secret"] not in output
    # Requests are logged as JSON lines carrying the request id.
    access = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and '"hub.access"' in line
    ]
    traced = [entry for entry in access if entry.get("request_id") == "trace-0123456789"]
    assert len(traced) == 6
    assert {entry["path"] for entry in traced} == {"/healthz"}
    assert all(entry["status"] == 200 for entry in traced)
