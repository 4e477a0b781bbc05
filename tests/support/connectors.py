"""Running connectors as real processes, medallion as a real TAXII server, and a proxy that
sees (and can hold) what a connector sends."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import select

from hub.storage import tables
from tests.support.hubs import LiveServer, World, make_hub, make_world

TAXII = "application/taxii+json;version=2.1"
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-encoding",
    "content-length",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_secret(path: Path, value: str) -> Path:
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_config(path: Path, connectors: dict[str, dict[str, Any]], **sections: Any) -> Path:
    """A hub config file with [storage] data_dir beside it and the connectors given."""
    lines = ["[storage]", 'data_dir = "var"', "[observability]", 'log_format = "json"']
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
    for name, table in connectors.items():
        lines.append(f"[connectors.{name}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def hub_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "hub.cli", "--config", str(config), *args]


def run_connector(config: Path, name: str, *extra: str, env: dict[str, str] | None = None) -> Any:
    """`hub --json connector run NAME --once` in its own process; (exit code, JSON, stderr)."""
    result = subprocess.run(
        hub_command(config, "--json", "connector", "run", name, "--once", *extra),
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **(env or {})},
    )
    data = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result.returncode, data, result.stderr


def start_connector(config: Path, name: str, log: Path) -> subprocess.Popen[bytes]:
    """`hub connector run NAME --once` in the background, its logs to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            hub_command(config, "connector", "run", name, "--once"),
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    """kill -9, as a crash would."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def connector_status(config: Path, name: str) -> dict[str, Any]:
    result = subprocess.run(
        hub_command(config, "--json", "connector", "status", name),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# --- medallion ------------------------------------------------------------------------------

MEDALLION_ROOT = "trustgroup1"
MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
MEDALLION_USER = ("connector", "medallion secret for tests")


class Medallion:
    """medallion 3 (the OASIS TAXII 2.1 reference server) with its memory backend, in its own
    process on a loopback port."""

    def __init__(self, workdir: Path, objects: list[dict[str, Any]] | None = None) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_root = f"{self.url}/{MEDALLION_ROOT}/"
        data = workdir / "data.json"
        data.write_text(json.dumps(_medallion_data(self.api_root, objects or [])))
        config = workdir / "config.json"
        config.write_text(
            json.dumps(
                {
                    "backend": {
                        "module": "medallion.backends.memory_backend",
                        "module_class": "MemoryBackend",
                        "filename": str(data),
                    },
                    "users": {MEDALLION_USER[0]: MEDALLION_USER[1]},
                    "taxii": {"max_page_size": 100},
                }
            )
        )
        executable = Path(sys.executable).parent / "medallion"
        self.log = (workdir / "medallion.log").open("wb")
        self.process = subprocess.Popen(
            [str(executable), "--host", "127.0.0.1", "--port", str(self.port), str(config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        for _ in range(300):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"medallion exited: {(self.workdir / 'medallion.log').read_text()}"
                )
            try:
                requests.get(
                    f"{self.url}/taxii2/", auth=MEDALLION_USER, timeout=2, headers={"Accept": TAXII}
                )
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("medallion did not start")

    def objects(self) -> list[dict[str, Any]]:
        """Every version of every object in the collection (medallion pages by `next`)."""
        url = f"{self.api_root}collections/{MEDALLION_COLLECTION}/objects/"
        found: list[dict[str, Any]] = []
        params: dict[str, str] = {"match[version]": "all", "limit": "100"}
        while True:
            response = requests.get(
                url, params=params, auth=MEDALLION_USER, timeout=30, headers={"Accept": TAXII}
            )
            response.raise_for_status()
            page = response.json()
            found += page.get("objects", [])
            if not page.get("more"):
                return found
            params = {"match[version]": "all", "limit": "100", "next": page["next"]}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def _medallion_data(api_root: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    manifest = [
        {
            "id": o["id"],
            "date_added": f"2026-01-01T00:00:{index // 1000:02d}.{index % 1000:03d}000Z",
            "version": o.get("modified", o.get("created")),
            "media_type": "application/stix+json;version=2.1",
        }
        for index, o in enumerate(objects)
    ]
    return {
        "/discovery": {
            "title": "medallion for connector tests",
            "default": api_root,
            "api_roots": [api_root],
        },
        MEDALLION_ROOT: {
            "information": {
                "title": "trust group 1",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 9765625,
            },
            "status": [],
            "collections": [
                {
                    "id": MEDALLION_COLLECTION,
                    "title": "Indicators",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }
            ],
        },
    }


# --- a proxy that watches -------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    body: bytes


@dataclass
class Proxy:
    """An HTTP proxy on loopback in front of `target`. It records every request; it can answer
    some with a status of its own (`refuse`), or forward one and then never answer it (`hold`:
    the server did the work, the client never hears of it) until the test kills the client."""

    target: str
    seen: list[Seen] = field(default_factory=list)
    hold: Callable[[Seen], bool] | None = None
    refuse: Callable[[Seen], tuple[int, dict[str, str]] | None] | None = None
    held: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        proxy = self
        session = requests.Session()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(self.command, self.path, body)
                proxy.seen.append(seen)
                refusal = proxy.refuse(seen) if proxy.refuse else None
                if refusal is not None:
                    status, headers = refusal
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = session.request(
                    self.command,
                    proxy.target + self.path,
                    data=body or None,
                    headers=headers,
                    timeout=120,
                )
                if proxy.hold is not None and proxy.hold(seen):
                    proxy.held.set()
                    proxy.released.wait(600)  # no answer: the client is killed meanwhile
                    self.close_connection = True
                    return
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_HEADERS:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posted(self, pattern: str) -> list[Seen]:
        return [s for s in self.seen if s.method == "POST" and re.search(pattern, s.path)]

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


# --- a hub on loopback, seen from outside ---------------------------------------------------


@dataclass
class LiveHub:
    """A hub with the demo world (acme, northwind, cert, a finance trust group), served."""

    world: World
    server: LiveServer

    def post(self, collection: str, objects: list[dict[str, Any]]) -> None:
        """POST objects over TAXII as acme (processed before the answer: they are small)."""
        response = requests.post(
            f"{self.server.collection_url(self.world.collection_ids[collection])}objects/",
            json={"objects": objects},
            headers={"Content-Type": TAXII, "Accept": TAXII},
            auth=self.world.acme.basic,
            timeout=60,
        )
        assert response.status_code == 202, response.text

    def stored(self, collection: str) -> Counter[tuple[str, str]]:
        """(id, version in microseconds) → how many times the collection stores it."""
        rows = tables.object_versions
        with self.world.hub.db.read() as conn:
            found = conn.execute(
                select(rows.c.object_id, rows.c.version_us).where(
                    rows.c.collection_id == self.world.collection_ids[collection]
                )
            ).all()
        return Counter((r[0], str(r[1])) for r in found)

    def submitted_objects(self) -> tuple[int, int]:
        """(submissions, objects in them) made by acme, the connectors' member."""
        subs, statuses = tables.submissions, tables.statuses
        with self.world.hub.db.read() as conn:
            totals = conn.execute(
                select(statuses.c.total_count)
                .select_from(subs.join(statuses, subs.c.status_id == statuses.c.id))
                .where(subs.c.member_id == self.world.acme.member.id)
            ).all()
        return len(totals), sum(t[0] for t in totals)

    def close(self) -> None:
        self.server.stop()
        self.world.hub.close()


def start_hub(data_dir: Path) -> LiveHub:
    hub = make_hub(data_dir)
    return LiveHub(make_world(hub), LiveServer(hub))


def live_hub(data_dir: Path) -> Iterator[LiveHub]:
    """A LiveHub for a fixture: closed when the test ends."""
    instance = start_hub(data_dir)
    yield instance
    instance.close()


def crash_then_run(config: Path, name: str, proxy: Proxy, log: Path) -> tuple[int, Any, str]:
    """Start the connector, SIGKILL it once `proxy` holds the request it was told to hold,
    then run it to the end again: (exit code, JSON report, stderr) of the second run."""
    process = start_connector(config, name, log)
    assert proxy.held.wait(120), log.read_text()
    kill(process)
    proxy.hold = None
    code, report, stderr = run_connector(config, name)
    return code, report, stderr
