"""Feed-read benchmark: TAXII 2.1 `GET objects/` page latency as a collection grows.

One collection is grown from 1,000 to 10,000 to 100,000 STIX 2.1 objects (and to 1,000,000 with
`--million`); at each size the hub, served by gunicorn as in production, answers pages of 100
and 1,000 objects:

- first page: `?limit=L`
- added_after: `?limit=L&added_after=T`, T the date_added of the object in the middle
- match[type]: `?limit=L&match[type]=indicator` (90% of the objects are indicators)
- deep page: `?limit=L&next=TOKEN`, the token reached by following `next` to the middle

Every variant is warmed up and then timed over `--samples` requests on a keep-alive session;
the median and 95th percentile are reported, with the number of objects each page returned.

The OASIS reference server, medallion 3.0.0 with its memory backend, is measured in the same
run, from its own virtualenv (`bench/.venv-medallion`, created on first use from
`bench/medallion-requirements.txt`). It gets the same objects through the initial data file of
its memory backend, and a time budget: `--medallion-budget` seconds of requests per size, shared
among the variants (each gets at least one request), and `--medallion-timeout` seconds per
request. A request that runs past the timeout is abandoned, reported as timed out, and medallion
is restarted (it would go on computing the abandoned answer). When that happens before any
request at a size has completed, medallion is given up: the rest of that size and the larger
sizes are reported as "not measured (over budget)".

Run from the repository root with the hub's virtualenv:

    .venv/bin/python bench/feed_read.py                      # 1k, 10k, 100k; hub and medallion
    .venv/bin/python bench/feed_read.py --million --hub-only  # adds 1M, hub alone
    .venv/bin/python bench/feed_read.py --postgres            # also the hub on PostgreSQL

The hub is loaded through its ingest service (submissions of 1,000 objects, validated and
stored as a TAXII POST would be, without HTTP). The markdown report is printed and written to
`bench/results/feed_read-<date>[-<flags>].md`, with the raw samples beside it as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import requests

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
MEDALLION_VENV = BENCH_DIR / ".venv-medallion"
MEDALLION_REQUIREMENTS = BENCH_DIR / "medallion-requirements.txt"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
MILLION = 1_000_000
LIMITS = (100, 1_000)
LOAD_BATCH = 1_000  # objects per submission: the most the hub processes inline
HUB_TIMEOUT_S = 60.0  # a hub request that takes longer is a failure, not a data point
TARGET_MS = 25.0  # the issue's target for the median of a 1,000-object page
MIN_P95_SAMPLES = 5  # fewer timed requests than this: no p95 is shown

FIRST = "first page"
ADDED_AFTER = "added_after (middle)"
MATCH_TYPE = "match[type]=indicator"
DEEP = "deep page via next (middle)"
VARIANTS = (FIRST, ADDED_AFTER, MATCH_TYPE, DEEP)

HUB = "hub"
HUB_PG = "hub (PostgreSQL)"
MEDALLION = "medallion"

OVER_BUDGET = "not measured (over budget)"
ONE_PAGE = "n/a (one page only)"


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the report."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --- the objects -------------------------------------------------------------------------------

_CREATED_BASE = datetime(2026, 1, 1, tzinfo=UTC)
_IDENTITY_REF = "identity--6b0a1f4e-3c3a-4b8e-9a1d-2f0c5e7d9b11"
_TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
_PHASES = ("initial-access", "execution", "command-and-control", "exfiltration")
_LABELS = ("phishing", "botnet", "ransomware", "credential-theft", "scanning")
_FAMILIES = ("Trickster", "Emotet", "QakBot", "IcedID", "Dridex", "AgentTesla")
_SECTORS = ("financial-services", "energy", "healthcare", "telecommunications")


def _uuid(kind: str, index: int) -> str:
    digest = hashlib.blake2b(f"{kind}:{index}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def make_object(index: int) -> dict[str, Any]:
    """Object number `index` of the benchmark collection; the same index gives the same object.

    Nine in ten are indicators of about 850 bytes (ipv4, domain and file-hash patterns); the
    tenth is a malware or an identity object, so that `match[type]` has something to skip.
    """
    created = _stamp(_CREATED_BASE + timedelta(seconds=index))
    if index % 10 == 9:
        if index % 20 == 9:
            family = _FAMILIES[index % len(_FAMILIES)]
            return {
                "type": "malware",
                "spec_version": "2.1",
                "id": f"malware--{_uuid('malware', index)}",
                "created_by_ref": _IDENTITY_REF,
                "created": created,
                "modified": created,
                "name": f"{family} variant {index}",
                "description": f"Loader of the {family} family observed in campaign {index}.",
                "is_family": False,
                "malware_types": ["trojan", "remote-access-trojan"],
                "object_marking_refs": [_TLP_GREEN],
            }
        return {
            "type": "identity",
            "spec_version": "2.1",
            "id": f"identity--{_uuid('identity', index)}",
            "created": created,
            "modified": created,
            "name": f"Reporting organisation {index}",
            "identity_class": "organization",
            "sectors": [_SECTORS[index % len(_SECTORS)]],
            "object_marking_refs": [_TLP_GREEN],
        }
    digest = hashlib.sha256(index.to_bytes(8, "big")).hexdigest()
    shape = index % 3
    if shape == 0:
        value = f"203.0.{(index >> 8) % 256}.{index % 256}"
        pattern = f"[ipv4-addr:value = '{value}']"
        name = f"Malicious IPv4 address {value}"
    elif shape == 1:
        value = f"{digest[:12]}.bad-{index % 97}.example.com"
        pattern = f"[domain-name:value = '{value}']"
        name = f"Malicious domain {value}"
    else:
        value = digest
        pattern = f"[file:hashes.'SHA-256' = '{value}']"
        name = f"Malicious file {value[:16]}"
    label = _LABELS[index % len(_LABELS)]
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{_uuid('indicator', index)}",
        "created_by_ref": _IDENTITY_REF,
        "created": created,
        "modified": created,
        "name": name,
        "description": (
            f"Seen by a member in a {label} campaign, {index % 50 + 1} times this period."
        ),
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": created,
        "labels": [label, "bench"],
        "confidence": 60 + index % 40,
        "kill_chain_phases": [
            {"kill_chain_name": "mitre-attack", "phase_name": _PHASES[index % len(_PHASES)]}
        ],
        "external_references": [{"source_name": "bench", "external_id": f"BENCH-{index:07d}"}],
        "object_marking_refs": [_TLP_GREEN],
    }


def make_objects(start: int, stop: int) -> list[dict[str, Any]]:
    return [make_object(i) for i in range(start, stop)]


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Result:
    """The timings of one request variant on one server at one collection size."""

    samples_ms: list[float] = field(default_factory=list)
    # the same requests, up to the response headers (requests' `elapsed`): the server's share
    headers_ms: list[float] = field(default_factory=list)
    returned: int | None = None  # objects in the (last) page
    note: str = ""  # why there are no samples
    timed_out: bool = False  # the last request ran past the client's timeout (medallion only)

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples_ms) if self.samples_ms else None

    @property
    def headers_median(self) -> float | None:
        return statistics.median(self.headers_ms) if self.headers_ms else None

    @property
    def p95(self) -> float | None:
        if not self.samples_ms:
            return None
        if len(self.samples_ms) == 1:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=20, method="inclusive")[-1]


class TimedOut(Exception):
    """A medallion request ran past the client's timeout; `partial` holds what was timed."""

    def __init__(self, message: str, partial: Result) -> None:
        super().__init__(message)
        self.partial = partial


@dataclass
class Client:
    """A keep-alive TAXII client for one collection's objects endpoint."""

    objects_url: str
    auth: tuple[str, str]
    timeout_s: float
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.auth = self.auth
        self.session.headers["Accept"] = TAXII

    def get(self, params: dict[str, str]) -> tuple[float, requests.Response]:
        """One GET, timed from sending the request to having read the whole body."""
        started = time.perf_counter()
        response = self.session.get(self.objects_url, params=params, timeout=self.timeout_s)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(
                f"GET {response.url} answered {response.status_code}: {response.text[:300]}"
            )
        return elapsed_ms, response

    def close(self) -> None:
        self.session.close()


def page_objects(response: requests.Response) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = orjson.loads(response.content).get("objects", [])
    return objects


def next_token(response: requests.Response) -> str | None:
    body = orjson.loads(response.content)
    token = body.get("next") if body.get("more") else None
    return str(token) if token is not None else None


def check_page(variant: str, params: dict[str, str], response: requests.Response) -> int:
    """Cheap checks that a page is what the variant asked for; returns its number of objects."""
    objects = page_objects(response)
    if not objects:
        raise RuntimeError(f"{response.url}: an empty page where objects were expected")
    if variant == MATCH_TYPE and any(obj["type"] != "indicator" for obj in objects):
        raise RuntimeError(f"{response.url}: match[type]=indicator returned other types")
    first_added = response.headers.get("X-TAXII-Date-Added-First", "")
    if variant == ADDED_AFTER and not first_added > params["added_after"]:
        raise RuntimeError(f"{response.url}: a page starting at {first_added!r}")
    return len(objects)


def time_requests(
    client: Client, params: dict[str, str], variant: str, samples: int, warmup: int
) -> Result:
    """Warm up, then time `samples` identical requests."""
    for _ in range(warmup):
        client.get(params)
    result = Result()
    for _ in range(samples):
        elapsed_ms, response = client.get(params)
        result.samples_ms.append(elapsed_ms)
        result.headers_ms.append(response.elapsed.total_seconds() * 1000)
    result.returned = check_page(variant, params, response)
    return result


@dataclass
class Walk:
    """Where following `next` to the middle of the collection got us."""

    token: str  # the `next` token pointing just after the middle object
    added_after: str  # date_added of the middle object
    pages: int
    page_size: int
    seconds: float


def walk_to_middle(client: Client, size: int) -> Walk:
    """Follow `next` from the first page until `size // 2` objects have been read."""
    middle = size // 2
    page_size = math.gcd(middle, 1_000)
    params = {"limit": str(page_size)}
    token: str | None = None
    last_added = ""
    pages = middle // page_size
    started = time.perf_counter()
    for _ in range(pages):
        query = dict(params, next=token) if token else params
        _, response = client.get(query)
        token = next_token(response)
        last_added = response.headers.get("X-TAXII-Date-Added-Last", "")
        if token is None or not last_added:
            raise RuntimeError(f"{response.url}: no next token or date-added header mid-walk")
    assert token is not None
    return Walk(token, last_added, pages, page_size, time.perf_counter() - started)


def measure_hub(
    client: Client, size: int, samples: int, warmup: int
) -> tuple[dict[tuple[int, str], Result], Walk]:
    """Every (limit, variant) pair on one hub server at one size."""
    walk = walk_to_middle(client, size)
    results: dict[tuple[int, str], Result] = {}
    for limit in LIMITS:
        base = {"limit": str(limit)}
        variants = {
            FIRST: base,
            ADDED_AFTER: dict(base, added_after=walk.added_after),
            MATCH_TYPE: dict(base, **{"match[type]": "indicator"}),
            DEEP: dict(base, next=walk.token),
        }
        for variant, params in variants.items():
            results[limit, variant] = time_requests(client, params, variant, samples, warmup)
    return results, walk


def measure_medallion(
    client: Client,
    size: int,
    added_after: str,
    samples: int,
    budget_s: float,
    restart: Callable[[], None],
) -> tuple[dict[tuple[int, str], Result], list[str], bool]:
    """Every (limit, variant) pair on medallion, within a time budget for the size.

    Each variant gets an equal share of what is left of the budget, and always one timed
    request; more while they fit in its share, up to `samples`. Medallion's `next` is a
    server-side session that hands each page out once, so the deep variant times the pages that
    follow a first request (which is not timed itself). A request that runs past the client's
    timeout ends its variant and medallion is restarted (`restart`: it would go on computing the
    abandoned answer). If no request at this size had completed before the timeout, the size is
    given up. Returns the results, a line per timeout, and whether the size was given up.
    """
    deadline = time.monotonic() + budget_s
    todo = [(limit, variant) for limit in LIMITS for variant in VARIANTS]
    results: dict[tuple[int, str], Result] = {}
    timeouts: list[str] = []
    for position, (limit, variant) in enumerate(todo):
        if variant == DEEP and size <= limit:
            results[limit, variant] = Result(note=ONE_PAGE)
            continue
        share = max(0.0, deadline - time.monotonic()) / (len(todo) - position)
        log(f"  medallion limit={limit} {variant}: {share:.0f} s share of the budget")
        try:
            results[limit, variant] = _medallion_variant(
                client, limit, variant, added_after, samples, time.monotonic() + share
            )
        except TimedOut as exc:
            results[limit, variant] = exc.partial
            timeouts.append(str(exc))
            if not any(r.samples_ms for r in results.values()):
                log(f"  medallion: {exc}, before any request completed: giving up")
                return results, timeouts, True
            log(f"  medallion: {exc}; restarting it")
            restart()
    return results, timeouts, False


def _medallion_variant(
    client: Client, limit: int, variant: str, added_after: str, samples: int, until: float
) -> Result:
    base = {"limit": str(limit)}
    params = {
        FIRST: base,
        ADDED_AFTER: dict(base, added_after=added_after),
        MATCH_TYPE: dict(base, **{"match[type]": "indicator"}),
        DEEP: base,
    }[variant]
    result = Result()
    token: str | None = None
    while len(result.samples_ms) < samples:
        deep_next = variant == DEEP and token is not None
        query = dict(params, next=token) if deep_next and token else params
        try:
            elapsed_ms, response = client.get(query)
        except requests.exceptions.Timeout:
            result.timed_out = True
            result.note = f"> {client.timeout_s:.0f} s (timed out)"
            raise TimedOut(
                f"limit={limit} {variant}: a request ran past {client.timeout_s:.0f} s",
                result,
            ) from None
        if variant == DEEP and not deep_next:
            token = next_token(response)  # a first page opens the paging session; not timed
            if token is None:
                return Result(note=ONE_PAGE)
            continue
        result.samples_ms.append(elapsed_ms)
        result.headers_ms.append(response.elapsed.total_seconds() * 1000)
        result.returned = check_page(variant, query, response)
        if variant == DEEP:
            token = next_token(response)
        if time.monotonic() + elapsed_ms / 1000 > until:
            break  # another request would not fit in this variant's share
    return result


def params_text(params: dict[str, str]) -> str:
    return "&".join(f"{k}={v if k != 'next' else '…'}" for k, v in params.items())


# --- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process in its own process group, stopped with the whole group."""

    def __init__(self, name: str, command: list[str], log_path: Path, ready_url: str) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.ready_url = ready_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, auth: tuple[str, str], timeout_s: float = 120.0) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(
                    self.ready_url, auth=auth, headers={"Accept": TAXII}, timeout=5
                )
                if answer.status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.process = None


@dataclass
class LoadStep:
    server: str
    size: int
    added: int
    seconds: float


def _toml_string(text: str) -> str:
    """A TOML basic string (a JSON string is one, for the characters paths and URLs use)."""
    return orjson.dumps(text).decode()


class HubTarget:
    """One hub (data dir, database, API key, collection) loaded in-process, served by gunicorn."""

    def __init__(self, label: str, root: Path, storage_url: str) -> None:
        from hub.config import load_settings, replace
        from hub.services import Hub, membership, setup
        from hub.services.collections import add_collection

        self.label = label
        self.root = root
        root.mkdir(parents=True)
        storage = {"data_dir": str(root / "var"), "url": storage_url}
        self.settings = replace(load_settings(None, env={}), storage=storage)
        self.hub = Hub.open(self.settings)
        setup.init(self.hub, admin_password="bench-password-" + uuid.uuid4().hex)
        member = membership.add_member(self.hub, "Bench Org", "industry", sector="finance")
        issued = membership.issue_key(self.hub, member.id, "read,write", label="bench")
        self.auth = (issued.key.id, issued.secret)
        self.principal = membership.authenticate(self.hub, issued.key.id, issued.secret)
        collection = add_collection(
            self.hub, "bench", "Bench", readers=["industry"], writers=["industry"]
        )
        self.collection_id = collection.id
        self.port = free_port()
        config = root / "hub.toml"
        config.write_text(
            "[server]\n"
            'host = "127.0.0.1"\n'
            f"port = {self.port}\n"
            "workers = 1\n"
            "[storage]\n"
            f"data_dir = {_toml_string(str(root / 'var'))}\n"
            f"url = {_toml_string(storage_url)}\n",
            encoding="utf-8",
        )
        hub_command = str(Path(sys.executable).with_name("hub"))
        base = f"http://127.0.0.1:{self.port}/taxii2/"
        self.server = Server(
            label,
            [hub_command, "--config", str(config), "serve", "--workers", "1"],
            root / "server.log",
            base,
        )
        self.objects_url = f"{base}hub/collections/{self.collection_id}/objects/"

    def load(self, start: int, stop: int) -> float:
        """Submit objects number start..stop-1 through the hub's ingest service (what a POST does,
        without HTTP: a durable submission, validation, storage); return the seconds taken."""
        from hub.services.ingest import submit
        from hub.services.objects import get_status
        from hub.services.pipeline import process

        seconds = 0.0
        for first in range(start, stop, LOAD_BATCH):
            batch = make_objects(first, min(stop, first + LOAD_BATCH))
            body = orjson.dumps({"objects": batch})
            started = time.perf_counter()
            submission, status = submit(
                self.hub, self.principal, self.collection_id, body, TAXII, channel="taxii"
            )
            if status.status == "pending":  # queued rather than processed inline: do it now
                process(self.hub, submission.id)
                status = get_status(self.hub, self.principal, status.id)
            seconds += time.perf_counter() - started
            if status.success_count != len(batch):
                raise RuntimeError(
                    f"{self.label}: {status.success_count} of {len(batch)} objects stored; "
                    f"failures: {status.failures[:3]}"
                )
        return seconds

    def close(self) -> None:
        self.server.stop()
        self.hub.close()


class MedallionTarget:
    """medallion 3.0.0 with its memory backend, restarted at each size from a data file."""

    API_ROOT = "bench"
    COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
    USER = ("bench", "bench-password")

    def __init__(self, root: Path, venv: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.venv = venv
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.objects_url = f"{self.base}{self.API_ROOT}/collections/{self.COLLECTION_ID}/objects/"
        self.server: Server | None = None

    def date_added(self, index: int) -> str:
        """The date_added written for object number `index` (one millisecond apart)."""
        moment = datetime(2026, 6, 1, tzinfo=UTC) + timedelta(milliseconds=index)
        return f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z"

    def write_data(self, size: int) -> Path:
        """The memory backend's initial data file holding objects 0..size-1 and their manifest."""
        path = self.root / "data.json"
        with path.open("wb") as out:
            out.write(b'{"/discovery":')
            out.write(
                orjson.dumps(
                    {
                        "title": "medallion (bench)",
                        "description": "medallion memory backend for bench/feed_read.py",
                        "default": f"{self.base}{self.API_ROOT}/",
                        "api_roots": [f"{self.base}{self.API_ROOT}/"],
                    }
                )
            )
            out.write(f',"{self.API_ROOT}":{{"information":'.encode())
            out.write(
                orjson.dumps(
                    {
                        "title": "bench",
                        "description": "bench API root",
                        "versions": [TAXII],
                        "max_content_length": 100 * 1024 * 1024,
                    }
                )
            )
            out.write(b',"status":[],"collections":[')
            collection = {
                "id": self.COLLECTION_ID,
                "title": "Bench",
                "description": "",
                "can_read": True,
                "can_write": True,
                "media_types": [STIX],
            }
            out.write(orjson.dumps(collection)[:-1] + b',"objects":[')
            out.write(b",".join(orjson.dumps(make_object(i)) for i in range(size)))
            out.write(b'],"manifest":[')
            out.write(
                b",".join(
                    orjson.dumps(
                        {
                            "id": obj["id"],
                            "date_added": self.date_added(i),
                            "version": obj["modified"],
                            "media_type": STIX,
                        }
                    )
                    for i, obj in enumerate(map(make_object, range(size)))
                )
            )
            out.write(b"]}]}}")
        return path

    def start(self, size: int) -> float:
        """Write the data for `size` objects and start medallion on it; return the seconds."""
        started = time.perf_counter()
        data = self.write_data(size)
        config = self.root / "config.json"
        backend = {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(data),
            "session_timeout": 3600,  # keep `next` sessions alive through a slow run
        }
        config.write_bytes(
            orjson.dumps(
                {
                    "backend": backend,
                    "users": {self.USER[0]: self.USER[1]},
                    "taxii": {"max_page_size": 1000},
                }
            )
        )
        command = [
            str(self.venv / "bin" / "medallion"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "WARN",
            str(config),
        ]
        self.server = Server(MEDALLION, command, self.root / "server.log", f"{self.base}taxii2/")
        self.server.start(self.USER)
        return time.perf_counter() - started

    def restart(self) -> None:
        """Stop medallion (and the request it is still computing) and start it on the same data."""
        assert self.server is not None
        self.server.stop()
        self.server.start(self.USER)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def ensure_medallion_venv(venv: Path) -> str:
    """Create medallion's own virtualenv on first use; return medallion's version."""
    executable = venv / "bin" / "medallion"
    if not executable.exists():
        log(f"creating {venv} and installing {MEDALLION_REQUIREMENTS.name} (first run only)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-r", str(MEDALLION_REQUIREMENTS)],
            check=True,
        )
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import medallion; print(medallion.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return version


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema in `url`'s database, dropped afterwards; yields a URL that uses it."""
    import psycopg

    name = f"bench_feed_read_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{url}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


class CpuWatch:
    """How much CPU other processes took while we measured: the noise on a shared machine.

    Busy time of the whole machine (/proc/stat) minus that of this process and of the server's
    process group, over the wall time, in cores. Linux only; None elsewhere.
    """

    def __init__(self, server_pgid: int) -> None:
        self.server_pgid = server_pgid
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start = self._sample()

    @staticmethod
    def _busy() -> int:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
        return user + nice + system + irq + softirq + steal

    def _own(self) -> int:
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int(stat.parent.name)
                fields = stat.read_text().rsplit(")", 1)[1].split()
                # after the command: state ppid pgrp session ... utime(12) stime(13)
                if pid == os.getpid() or int(fields[2]) == self.server_pgid:
                    total += int(fields[11]) + int(fields[12])
        return total

    def _sample(self) -> tuple[float, int, int] | None:
        try:
            return time.monotonic(), self._busy(), self._own()
        except (OSError, ValueError):
            return None

    def others_cores(self) -> float | None:
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        others = (end[1] - self.start[1]) - (end[2] - self.start[2])
        return max(0.0, others / self.tick / (end[0] - self.start[0]))


# --- the report --------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything one run measured, and what it needs to say how."""

    command: str
    started: str
    machine: dict[str, str]
    sizes: list[int]
    servers: list[str]
    samples: int
    warmup: int
    results: dict[tuple[str, int, int, str], Result] = field(default_factory=dict)
    loads: list[LoadStep] = field(default_factory=list)
    walks: dict[tuple[str, int], Walk] = field(default_factory=dict)
    medallion_notes: list[str] = field(default_factory=list)
    # CPU (in cores) that other processes used while a hub was measured, per (server, size)
    others_cpu: dict[tuple[str, int], float | None] = field(default_factory=dict)


def machine_info(medallion_version: str | None) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    from importlib.metadata import version

    info = {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "hub": version("sharing-hub"),
        "gunicorn": version("gunicorn"),
        "flask": version("flask"),
    }
    if medallion_version:
        info["medallion"] = medallion_version
    return info


def _ms(value: float | None) -> str:
    return "—" if value is None else (f"{value:.1f}" if value < 100 else f"{value:,.0f}")


def _size(n: int) -> str:
    if n >= MILLION and n % MILLION == 0:
        return f"{n // MILLION}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def results_table(run: Run) -> str:
    hubs = [s for s in run.servers if s != MEDALLION]
    with_medallion = MEDALLION in run.servers
    header = ["objects stored", "limit", "request"]
    for server in hubs:
        header += [f"{server} median ms", f"{server} p95 ms", "to headers ms", "returned"]
    if with_medallion:
        header += ["medallion median ms", "medallion p95 ms", "returned (n)", "medallion / hub"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for size in run.sizes:
        for limit in LIMITS:
            for variant in VARIANTS:
                cells = [_size(size), str(limit), variant]
                for server in hubs:
                    r = run.results.get((server, size, limit, variant), Result(note="—"))
                    cells += [
                        _ms(r.median),
                        _ms(r.p95),
                        _ms(r.headers_median),
                        str(r.returned or r.note),
                    ]
                if with_medallion:
                    m = run.results.get((MEDALLION, size, limit, variant), Result(note="—"))
                    h = run.results.get((HUB, size, limit, variant), Result())
                    if m.samples_ms:
                        ratio = f"{m.median / h.median:,.0f}x" if m.median and h.median else "—"
                        count = f"{len(m.samples_ms)}" + (", 1 timed out" if m.timed_out else "")
                        p95 = _ms(m.p95) if len(m.samples_ms) >= MIN_P95_SAMPLES else "—"
                        cells += [_ms(m.median), p95, f"{m.returned} ({count})", ratio]
                    else:
                        cells += [m.note, "", "", ""]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def target_summary(run: Run) -> str:
    """Does the hub serve a 1,000-object page in ≤ 25 ms median, flat over the sizes?

    Only full pages count (at 1k objects, the added_after and deep variants start in the middle
    and return 500); match[type] pages hold indicators only, 900 at 1k objects.
    """
    lines = []
    for server in (s for s in run.servers if s != MEDALLION):
        for variant in VARIANTS:
            found = [
                (size, run.results[key])
                for size in run.sizes
                if (key := (server, size, 1_000, variant)) in run.results
            ]
            full = [r.median for _, r in found if r.median is not None and (r.returned or 0) >= 900]
            if not full:
                continue
            verdict = "meets" if max(full) <= TARGET_MS else "misses"
            series = ", ".join(
                f"{_size(size)}: {_ms(r.median)} ms"
                + ("" if (r.returned or 0) >= 900 else f" ({r.returned} objects, not counted)")
                for size, r in found
            )
            lines.append(
                f"- {server}, limit 1000, {variant}: {series} — {verdict} the {TARGET_MS:.0f} ms "
                f"target; largest/smallest full-page median {max(full) / min(full):.1f}x"
            )
    return "\n".join(lines)


def load_table(run: Run) -> str:
    lines = [
        "| server | grown to | objects added | seconds | objects/s |",
        "|---|---|---|---|---|",
    ]
    for step in run.loads:
        rate = f"{step.added / step.seconds:,.0f}" if step.seconds else "—"
        lines.append(
            f"| {step.server} | {_size(step.size)} | {step.added:,} | {step.seconds:.1f} | {rate} |"
        )
    return "\n".join(lines)


def walk_lines(run: Run) -> str:
    return "\n".join(
        f"- {server} at {_size(size)}: {w.pages} pages of {w.page_size} followed via `next` to "
        f"the middle in {w.seconds:.2f} s ({w.seconds / w.pages * 1000:.1f} ms a page)"
        for (server, size), w in run.walks.items()
    )


def render_report(run: Run) -> str:
    machine = ", ".join(f"{k} {v}" for k, v in run.machine.items())
    parts = [
        f"# feed_read — {run.started}",
        "",
        f"Command: `{run.command}`",
        "",
        f"Machine: {machine}",
        "",
        "CPU used by other processes on the machine while each hub was measured (noise; a "
        "size is measured again, up to a few times, when this is high, and the quietest attempt "
        "is kept): "
        + "; ".join(
            f"{server} at {_size(size)}: {'?' if cores is None else f'{cores:.2f}'} cores"
            for (server, size), cores in run.others_cpu.items()
        )
        + (
            " (for the PostgreSQL hub, PostgreSQL's own work counts here)"
            if HUB_PG in run.servers
            else ""
        )
        + ".",
        "",
        f"Each hub variant: {run.warmup} warm-up requests, then {run.samples} timed requests on "
        "one keep-alive `requests.Session` (time from sending the request to having read the "
        "whole body). `to headers ms` is the median time to the response headers (requests' "
        "`Response.elapsed`): the hub builds the whole page before answering, so that is its "
        "share; the rest is the transfer and the client reading the body. The hub runs under "
        "gunicorn with 1 worker (gthread), SQLite in WAL mode unless marked PostgreSQL. "
        "medallion runs its own server (`medallion` command, Werkzeug) with the memory backend; "
        "`returned (n)` gives objects per page and the number of timed requests that fit in its "
        f"budget (no p95 under {MIN_P95_SAMPLES}).",
        "",
        results_table(run),
        "",
        "Target (1,000-object page ≤ 25 ms median, flat from the smallest to the largest size):",
        "",
        target_summary(run),
        "",
        "Loading (hub: `hub.services.ingest.submit`, submissions of "
        f"{LOAD_BATCH:,} objects validated and stored as a POST would be, without HTTP; "
        "medallion: writing its data file and starting it):",
        "",
        load_table(run),
        "",
        "Following `next` to the middle of the collection (to get the deep-page token):",
        "",
        walk_lines(run),
    ]
    if run.medallion_notes:
        parts += ["", "medallion:", "", *(f"- {note}" for note in run.medallion_notes)]
    return "\n".join(parts) + "\n"


def raw_results(run: Run) -> dict[str, Any]:
    return {
        "command": run.command,
        "started": run.started,
        "machine": run.machine,
        "results": [
            {
                "server": server,
                "size": size,
                "limit": limit,
                "variant": variant,
                "returned": r.returned,
                "note": r.note,
                "median_ms": r.median,
                "p95_ms": r.p95,
                "headers_median_ms": r.headers_median,
                "samples_ms": [round(s, 3) for s in r.samples_ms],
                "headers_ms": [round(s, 3) for s in r.headers_ms],
            }
            for (server, size, limit, variant), r in run.results.items()
        ],
        "loads": [asdict(step) for step in run.loads],
        "walks": [
            {"server": server, "size": size, **asdict(w)} for (server, size), w in run.walks.items()
        ],
        "medallion_notes": run.medallion_notes,
        "others_cpu_cores": [
            {"server": server, "size": size, "cores": cores}
            for (server, size), cores in run.others_cpu.items()
        ],
    }


# --- the run -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="TAXII GET page latency of the hub (and medallion) as a collection grows."
    )
    parser.add_argument("--million", action="store_true", help="Also grow to 1,000,000 objects.")
    parser.add_argument("--hub-only", action="store_true", help="Do not run medallion.")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=POSTGRES_URL,
        default=None,
        metavar="URL",
        help=f"Also measure the hub on PostgreSQL (default URL {POSTGRES_URL}).",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=None,
        help="Comma-separated sizes instead of 1000,10000,100000 (for quick checks).",
    )
    parser.add_argument("--samples", type=int, default=30, help="Timed requests per variant.")
    parser.add_argument("--warmup", type=int, default=5, help="Untimed requests per variant.")
    parser.add_argument(
        "--medallion-timeout",
        type=float,
        default=20.0,
        help="Seconds one medallion request may take before medallion is stopped (20).",
    )
    parser.add_argument(
        "--medallion-budget",
        type=float,
        default=300.0,
        help="Seconds of medallion requests at each size (300); each variant gets one request "
        "even when it is spent.",
    )
    parser.add_argument(
        "--max-noise",
        type=float,
        default=0.2,
        help="Cores other processes may use while a hub is measured before it is measured "
        "again (0.2).",
    )
    parser.add_argument(
        "--noise-retries",
        type=int,
        default=3,
        help="Extra attempts at a size when the machine was busy; the quietest is kept (3).",
    )
    parser.add_argument("--medallion-venv", type=Path, default=MEDALLION_VENV)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--keep-data", action="store_true", help="Keep the temporary data directory."
    )
    return parser.parse_args(argv)


def sizes_of(args: argparse.Namespace) -> list[int]:
    sizes = list(args.sizes or DEFAULT_SIZES)
    if args.million and MILLION not in sizes:
        sizes.append(MILLION)
    return sorted(sizes)


def report_name(args: argparse.Namespace, day: str) -> str:
    tags = [
        tag
        for tag, on in (
            ("million", args.million),
            ("hub-only", args.hub_only),
            ("postgres", args.postgres),
            ("sizes-" + "-".join(map(str, args.sizes or [])), args.sizes),
        )
        if on
    ]
    return "-".join(["feed_read", day, *tags])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_of(args)
    medallion_version = None if args.hub_only else ensure_medallion_venv(args.medallion_venv)
    servers = [HUB] + ([HUB_PG] if args.postgres else []) + ([] if args.hub_only else [MEDALLION])
    shown_args = sys.argv[1:] if argv is None else argv
    run = Run(
        command=" ".join([".venv/bin/python", "bench/feed_read.py", *shown_args]),
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine_info(medallion_version),
        sizes=sizes,
        servers=servers,
        samples=args.samples,
        warmup=args.warmup,
    )
    workdir = Path(tempfile.mkdtemp(prefix="feed-read-"))
    log(f"sizes {sizes}; servers {servers}; data in {workdir}")
    with contextlib.ExitStack() as stack:
        if not args.keep_data:
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        hubs = [HubTarget(HUB, workdir / "hub-sqlite", "")]
        if args.postgres:
            url = stack.enter_context(postgres_schema(args.postgres))
            hubs.append(HubTarget(HUB_PG, workdir / "hub-postgres", url))
        for target in hubs:
            stack.callback(target.close)
            target.server.start(target.auth)
        medallion = None
        if not args.hub_only:
            medallion = MedallionTarget(workdir / "medallion", args.medallion_venv)
            stack.callback(medallion.stop)
        grow(run, args, hubs, medallion)
    report = render_report(run)
    print(report)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    name = report_name(args, datetime.now(UTC).strftime("%Y-%m-%d"))
    (args.results_dir / f"{name}.md").write_text(report, encoding="utf-8")
    (args.results_dir / f"{name}.json").write_bytes(
        orjson.dumps(raw_results(run), option=orjson.OPT_INDENT_2)
    )
    log(f"written {args.results_dir / name}.md and .json")
    return 0


def grow(
    run: Run, args: argparse.Namespace, hubs: list[HubTarget], medallion: MedallionTarget | None
) -> None:
    """Grow the collection size by size, measuring every server at each size."""
    loaded = 0
    medallion_given_up = False  # once a size times out on its first request
    for size in run.sizes:
        for target in hubs:
            log(f"{target.label}: loading objects {loaded:,}..{size - 1:,}")
            seconds = target.load(loaded, size)
            run.loads.append(LoadStep(target.label, size, size - loaded, seconds))
        loaded = size
        for target in hubs:
            results, walk, cores = measure_hub_quietly(target, size, args)
            run.others_cpu[target.label, size] = cores
            run.walks[target.label, size] = walk
            for (limit, variant), result in results.items():
                run.results[target.label, size, limit, variant] = result
        if medallion is None:
            continue
        if medallion_given_up:
            for limit in LIMITS:
                for variant in VARIANTS:
                    run.results[MEDALLION, size, limit, variant] = Result(note=OVER_BUDGET)
        else:
            medallion_given_up = measure_medallion_at(run, args, medallion, size)


def measure_hub_quietly(
    target: HubTarget, size: int, args: argparse.Namespace
) -> tuple[dict[tuple[int, str], Result], Walk, float | None]:
    """Measure a hub at one size; measure again (up to --noise-retries times) while other
    processes took more than --max-noise cores meanwhile, and keep the quietest attempt."""
    assert target.server.process is not None
    best: tuple[dict[tuple[int, str], Result], Walk, float | None] | None = None
    for attempt in range(1 + args.noise_retries):
        log(f"{target.label}: measuring at {size:,} objects (attempt {attempt + 1})")
        client = Client(target.objects_url, target.auth, HUB_TIMEOUT_S)
        watch = CpuWatch(target.server.process.pid)
        try:
            results, walk = measure_hub(client, size, args.samples, args.warmup)
        finally:
            client.close()
        cores = watch.others_cores()
        log(f"{target.label}: other processes used {cores or 0:.2f} cores meanwhile")
        if best is None or (cores or 0.0) < (best[2] or 0.0):
            best = (results, walk, cores)
        if cores is None or cores <= args.max_noise:
            break
    assert best is not None
    return best


def measure_medallion_at(
    run: Run, args: argparse.Namespace, medallion: MedallionTarget, size: int
) -> bool:
    """Measure medallion at one size; True if it was given up (larger sizes are not tried)."""
    log(f"medallion: writing {size:,} objects and starting")
    seconds = medallion.start(size)
    run.loads.append(LoadStep(MEDALLION, size, size, seconds))
    added_after = medallion.date_added(size // 2 - 1)
    client = Client(medallion.objects_url, MedallionTarget.USER, args.medallion_timeout)
    try:
        results, timeouts, given_up = measure_medallion(
            client,
            size,
            added_after,
            args.samples,
            args.medallion_budget,
            restart=medallion.restart,
        )
    finally:
        client.close()
        medallion.stop()
    for limit in LIMITS:
        for variant in VARIANTS:
            run.results[MEDALLION, size, limit, variant] = results.get(
                (limit, variant), Result(note=OVER_BUDGET)
            )
    for line in timeouts:
        run.medallion_notes.append(f"at {size:,} objects: {line}")
    if given_up:
        run.medallion_notes.append(
            f"at {size:,} objects: given up, as no request had completed before that timeout; "
            "medallion was not measured at larger sizes"
        )
    return given_up


if __name__ == "__main__":
    sys.exit(main())
