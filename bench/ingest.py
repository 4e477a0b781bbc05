"""End-to-end ingest benchmark: TAXII POST until every object is visible in its feed.

What is measured, in one run (`--only` picks sections, in this order):

- `stages`: the cost per object of each step of ingest, in-process on `--stage-objects` objects
  (10,000), on SQLite and PostgreSQL: parsing the envelope, the durable record of the submission,
  validation (and its parts), serialising, storing (`ObjectRepository.add`, 1,000 objects per
  transaction, as the pipeline does), the status-detail writes, moving the submission on, then
  the whole of `ingest.submit` + `pipeline.process` for comparison with the sum (twice: the
  second time into a collection holding twice as much), and the costliest SQL statements.
- end-to-end scenarios, each on a fresh hub served by gunicorn exactly as `hub serve` does
  (2 web processes, 4 threads each): `sqlite-inproc`, `sqlite-1w`, `sqlite-2w`, `pg-inproc`,
  `pg-1w`, `pg-2w` (in-process pipeline thread, or 1 or 2 `hub worker` processes on a Redis
  Stream), `pg-1w-no-analyze`, then `sqlite-2w-b1000` and `sqlite-2w-b10000` (other batch
  sizes). PostgreSQL hubs are ANALYZEd by the bench after the warm-up, as autovacuum would do
  (the test server runs with autovacuum off), except in `pg-1w-no-analyze`, where only the
  hub's own ANALYZE runs (after `hub init`, and as each process's stored rows double); a
  PostgreSQL load is
  stopped after `--pg-timeout` seconds (150), reporting what was visible by then. Each POSTs
  `--objects` indicators (100,000) in batches of `--batch` (5,000) from `--clients` (4)
  threads to `POST /taxii2/hub/collections/<id>/objects/` and polls the feed
  (`GET objects/?limit=1000&added_after=<X-TAXII-Date-Added-Last>`, following `next`) until every
  posted id has been seen. The time runs from the first POST to that moment. Then every status
  resource is read back and must be complete with no failure. A warm-up of 4 small submissions
  precedes the timed load (validators compiled, connections open).
- `growth`: successive loads of `--objects` into the same SQLite collection, `--growth-steps`
  times (5: up to 500,000 stored; `--million`: 10, up to 1,000,000), each timed as above.
- `big`: one ~100 MB submission (`--big-objects`, 120,000 indicators) to the member REST API
  (`POST /api/v1/submissions?collection=bench`), SQLite and one `hub worker`; the peak memory of
  every hub process, and where it goes (a child process replays the web and worker code paths
  under tracemalloc).
- `medallion`: the OASIS reference server (medallion 3.0.0, memory backend) in its own
  virtualenv (`bench/.venv-medallion`, made from `bench/medallion-requirements.txt` if missing)
  gets the same batches, one POST at a time, until a POST runs past `--medallion-timeout`
  (30 s) or `--medallion-budget` (180 s) have passed.

Peak memory is each process's VmHWM from /proc (no extra dependency); CPU seconds per process
come from /proc/<pid>/stat over the timed load. With `--profile`, py-spy (`--py-spy`, default the
one on PATH) samples every hub process during each end-to-end load; the hottest functions are
summarised in the report and the collapsed stacks written beside it.

Run from the repository root with the hub's virtualenv; it needs Redis at 127.0.0.1:6379 (only
keys `bench:ingest:<pid>:...` are created, and deleted at the end) and PostgreSQL at
127.0.0.1:5432, database `test` (a schema per scenario, dropped at the end):

    .venv/bin/python bench/ingest.py                          # everything, about 20-25 min
    .venv/bin/python bench/ingest.py --only sqlite-1w,stages  # some sections
    .venv/bin/python bench/ingest.py --only growth --million  # growth up to 1,000,000
    .venv/bin/python bench/ingest.py --only sqlite-1w,pg-1w --profile

The markdown report is printed and written to `bench/results/ingest-<date>[-<tag>].md`, with the
raw measurements beside it as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
REDIS_URL = "redis://127.0.0.1:6379/0"

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
PAGE = 1_000  # objects per feed page while polling for visibility
MIB = 1024 * 1024
TARGET_RATE = 5_000  # objects/s end-to-end, the tracker's target
TARGET_BIG_MB = 500  # peak RSS of any process for a 100 MB submission
WARMUP_BATCHES = 4
WARMUP_SIZE = 50

SQLITE = "sqlite"
POSTGRES = "postgresql"
STAGES = "stages"
GROWTH = "growth"
BIG = "big"
MEDALLION = "medallion"


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the report."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A scenario could not be measured (a server failed, or an answer was wrong)."""


# --- the objects -------------------------------------------------------------------------------

_CREATED_BASE = datetime(2026, 1, 1, tzinfo=UTC)
_IDENTITY_REF = "identity--6b0a1f4e-3c3a-4b8e-9a1d-2f0c5e7d9b11"
# The member that posts. Its name appears in none of the objects, as a member's name rarely
# appears in its indicators (an object that names its submitter is rewritten property by
# property; until 2026-11-28 the member was "Bench", which every object's labels named).
MEMBER_NAME = "Example Member Org"
# First octets of public address blocks (until 2026-11-28 the addresses were in 10.0.0.0/8,
# internal ones, which the personal-data rules redact from a quarter of the objects' names).
_PUBLIC_OCTETS = (23, 45, 62, 77, 91, 104, 141, 185, 193, 212)
_TLP_GREEN = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
_PHASES = ("initial-access", "execution", "command-and-control", "exfiltration")
_LABELS = ("phishing", "botnet", "ransomware", "credential-theft", "scanning")


def make_indicator(index: int, salt: str) -> dict[str, Any]:
    """Indicator number `index` of the set `salt`: about 850 bytes of compact JSON, with an
    ipv4, domain, SHA-256 or MD5 pattern; the same (index, salt) gives the same object."""
    moment = _CREATED_BASE + timedelta(milliseconds=index)
    stamp = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    digest = hashlib.sha256(f"{salt}:{index}".encode()).hexdigest()
    object_uuid = uuid.UUID(bytes=bytes.fromhex(digest[32:]), version=4)
    shape = index % 4
    if shape == 0:
        first = _PUBLIC_OCTETS[index // 65_536 % len(_PUBLIC_OCTETS)]
        value = f"{first}.{(index >> 8) % 256}.{index % 256}.{index % 251}"
        pattern = f"[ipv4-addr:value = '{value}']"
        name = f"Malicious IPv4 address {value}"
    elif shape == 1:
        value = f"{digest[:12]}.bad-{index % 97}.example.com"
        pattern = f"[domain-name:value = '{value}']"
        name = f"Malicious domain {value}"
    elif shape == 2:
        pattern = f"[file:hashes.'SHA-256' = '{digest}']"
        name = f"Malicious file {digest[:16]}"
    else:
        pattern = f"[file:hashes.MD5 = '{digest[:32]}']"
        name = f"Malicious file {digest[:16]} (MD5)"
    label = _LABELS[index % len(_LABELS)]
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{object_uuid}",
        "created_by_ref": _IDENTITY_REF,
        "created": stamp,
        "modified": stamp,
        "name": name,
        "description": f"Seen by a member in a {label} campaign, {index % 50 + 1} times.",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": stamp,
        "labels": [label, "bench"],
        "confidence": 60 + index % 40,
        "kill_chain_phases": [
            {"kill_chain_name": "mitre-attack", "phase_name": _PHASES[index % len(_PHASES)]}
        ],
        "external_references": [{"source_name": "bench", "external_id": f"BENCH-{index:07d}"}],
        "object_marking_refs": [_TLP_GREEN],
    }


@dataclass
class Dataset:
    """Objects start..stop-1 of a set, as TAXII envelopes of `batch` objects each."""

    salt: str
    start: int
    stop: int
    batch: int
    bodies: list[bytes]
    counts: list[int]
    ids: frozenset[str]

    @property
    def objects(self) -> int:
        return self.stop - self.start

    @property
    def size(self) -> int:
        return sum(len(body) for body in self.bodies)


def make_dataset(start: int, stop: int, batch: int, salt: str = "bench") -> Dataset:
    bodies: list[bytes] = []
    counts: list[int] = []
    ids: set[str] = set()
    for first in range(start, stop, batch):
        objects = [make_indicator(i, salt) for i in range(first, min(stop, first + batch))]
        ids.update(obj["id"] for obj in objects)
        bodies.append(orjson.dumps({"objects": objects}))
        counts.append(len(objects))
    return Dataset(salt, start, stop, batch, bodies, counts, frozenset(ids))


# --- processes: memory and CPU from /proc ------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proc_memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of a live process in kB; VmHWM is the peak resident set size."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    if len(values) < 2:
        return None  # a zombie has no memory lines
    return values["VmRSS"], values["VmHWM"]


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / _CLOCK_TICKS  # minus idle and iowait


def own_cpu_seconds() -> float:
    """CPU seconds used by this process (the benchmark's client threads) so far."""
    times = os.times()
    return times.user + times.system


def child_pids(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(set(found))


def postgres_pids() -> list[int]:
    """Every process of the local PostgreSQL server (the shared one: others may use it too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
    return found


@dataclass
class ProcessPeak:
    """One process over a measured interval."""

    role: str
    pid: int
    start_mb: float  # RSS when the interval began
    peak_mb: float  # VmHWM: the highest RSS the process ever had (so far)
    cpu_s: float  # CPU seconds used during the interval


@dataclass
class _Tracked:
    role: str
    pid: int
    rss_kb: int = 0
    peak_kb: int = 0
    start_kb: int = 0
    cpu: float = 0.0
    cpu_start: float = 0.0


class ProcessWatch:
    """Samples the memory of hub processes (and of a gunicorn master's children) on a thread,
    so a process's peak is known even after it has exited."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.interval_s = interval_s
        self._roots: list[tuple[str, int, str | None]] = []
        self._tracked: dict[int, _Tracked] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="process-watch", daemon=True)
        self._machine_start = 0.0
        self._own_start = 0.0

    def add(self, role: str, pid: int, *, children: str | None = None) -> None:
        """Watch `pid` as `role`, and its children as `<children>-1`, `<children>-2`, ..."""
        with self._lock:
            self._roots.append((role, pid, children))
        self.sample()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            for role, pid, children in self._roots:
                self._read(role, pid)
                if children:
                    for child in child_pids(pid):
                        if child not in self._tracked:
                            self._counts[children] += 1
                            self._read(f"{children}-{self._counts[children]}", child)
                        else:
                            self._read(self._tracked[child].role, child)

    def _read(self, role: str, pid: int) -> None:
        tracked = self._tracked.setdefault(pid, _Tracked(role, pid))
        memory = proc_memory_kb(pid)
        cpu = proc_cpu_seconds(pid)
        if memory is not None:
            tracked.rss_kb, hwm = memory
            tracked.peak_kb = max(tracked.peak_kb, hwm)
        if cpu is not None:
            tracked.cpu = cpu

    def mark(self) -> None:
        """Start an interval: CPU is counted from here, and the RSS now is its starting point."""
        self.sample()
        with self._lock:
            for tracked in self._tracked.values():
                tracked.start_kb = tracked.rss_kb
                tracked.cpu_start = tracked.cpu
            self._machine_start = machine_cpu_seconds()
            self._own_start = own_cpu_seconds()

    def other_cpu(self) -> tuple[float, float]:
        """Since mark(): (CPU seconds of the benchmark client, CPU seconds of every process
        that is neither a hub process nor the client: the database, and anyone else's)."""
        self.sample()
        with self._lock:
            ours = sum(t.cpu - t.cpu_start for t in self._tracked.values())
            client = own_cpu_seconds() - self._own_start
            machine = machine_cpu_seconds() - self._machine_start
        return round(client, 1), round(max(0.0, machine - ours - client), 1)

    def snapshot(self) -> list[ProcessPeak]:
        self.sample()
        with self._lock:
            return [
                ProcessPeak(
                    t.role,
                    t.pid,
                    round(t.start_kb / 1024, 1),
                    round(t.peak_kb / 1024, 1),
                    round(t.cpu - t.cpu_start, 2),
                )
                for t in self._tracked.values()
            ]

    def pids(self) -> list[tuple[str, int]]:
        self.sample()
        with self._lock:
            return [(t.role, t.pid) for t in self._tracked.values()]


class Proc:
    """A server process in its own session, stopped with its whole process group."""

    def __init__(self, name: str, command: list[str], log_path: Path) -> None:
        self.name = name
        self.command = command
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                self.command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=child_env(),
            )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.process = None


def child_env() -> dict[str, str]:
    """This environment without HUB_* overrides (the config file decides), unbuffered."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise BenchError(f"{what} did not happen within {timeout_s:.0f} s")


# --- a hub under test ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """Where a collection of a served hub is, and the API key to use."""

    base: str  # http://127.0.0.1:PORT/
    auth: tuple[str, str]
    collection_id: str
    api_root: str = "hub"
    # Where the posted objects become visible, if not in the collection posted to (the inbox
    # releases to feeds by the sharing rules).
    feed_id: str | None = None

    @property
    def objects_url(self) -> str:
        return f"{self.base}taxii2/{self.api_root}/collections/{self.collection_id}/objects/"

    @property
    def feed_url(self) -> str:
        feed = self.feed_id or self.collection_id
        return f"{self.base}taxii2/{self.api_root}/collections/{feed}/objects/"

    def status_url(self, status_id: str) -> str:
        return f"{self.base}taxii2/{self.api_root}/status/{status_id}/"

    @property
    def submissions_url(self) -> str:
        return f"{self.base}api/v1/submissions"


def _toml(value: str | int) -> str:
    return orjson.dumps(value).decode()  # a JSON string or integer is valid TOML


@contextlib.contextmanager
def postgres_schema(label: str) -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards; yields a URL that uses it."""
    import psycopg

    name = f"bench_ingest_{os.getpid()}_{label.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{name}" CASCADE')


class HubDeployment:
    """A fresh hub set up through the `hub` command: config file, `hub init`, a member with a
    read/write key, a trust-group collection; served by `hub serve` (gunicorn) with `workers`
    `hub worker` processes on a private Redis stream, or (workers=0) the in-process pipeline.
    Everything it starts or creates is removed by close(), whatever happened."""

    def __init__(
        self,
        name: str,
        root: Path,
        *,
        backend: str,
        workers: int,
        max_content_length: int = 64 * MIB,
        max_objects: int = 100_000,
        rules: bool = False,
    ) -> None:
        self.name = name
        self.rules = rules
        self.root = root
        self.backend = backend
        self.workers = workers
        self.max_content_length = max_content_length
        self.max_objects = max_objects
        self.stream = f"bench:ingest:{os.getpid()}:{name}:{uuid.uuid4().hex[:8]}"
        self.watch = ProcessWatch()
        self.web: Proc | None = None
        self.hub_workers: list[Proc] = []
        self.endpoint: Endpoint | None = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> HubDeployment:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        self.root.mkdir(parents=True)
        url = ""
        if self.backend == POSTGRES:
            url = self._stack.enter_context(postgres_schema(self.name))
        self.database_url = url
        if self.workers:
            self._stack.callback(self._delete_redis_keys)
        self.config = self.root / "hub.toml"
        port = free_port()
        lines = [
            "[server]",
            'host = "127.0.0.1"',
            f"port = {port}",
            "workers = 2",
            "threads = 4",
            "[storage]",
            f"data_dir = {_toml(str(self.root / 'var'))}",
            f"url = {_toml(url)}",
            "[taxii]",
            f"max_content_length = {self.max_content_length}",
            "[ingest]",
            f"max_objects = {self.max_objects}",
            "inline_max_objects = 0",
        ]
        if self.workers:
            lines += [
                "[queue]",
                f"redis_url = {_toml(REDIS_URL)}",
                f"stream = {_toml(self.stream)}",
            ]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.cli("init", "--admin-password", f"bench-admin-{uuid.uuid4().hex}")
        member = self.cli("member", "add", MEMBER_NAME, "--kind", "industry", "--sector", "finance")
        key = self.cli("key", "issue", member["id"], "--scope", "read,write")
        base = f"http://127.0.0.1:{port}/"
        if self.rules:
            # The inbox: every object goes through the sharing rules to the three default
            # feeds (public, members, government); it is visible once in the members feed.
            ids = {c["alias"]: c["id"] for c in self.cli("collection", "list")}
            self.endpoint = Endpoint(
                base, (key["id"], key["secret"]), ids["inbox"], feed_id=ids["members"]
            )
        else:
            collection = self.cli(
                "collection",
                "add",
                "bench",
                "--title",
                "Bench",
                "--readers",
                "industry",
                "--writers",
                "industry",
            )
            self.endpoint = Endpoint(base, (key["id"], key["secret"]), collection["id"])
        self.watch.start()
        self._stack.callback(self.watch.stop)
        web = Proc("web", [hub_command(), "--config", str(self.config), "serve"], self._log("web"))
        self.web = web
        web.start()
        self._stack.callback(web.stop)
        wait_until(self._answers, 120, f"{self.name}: the web server answering")
        self.watch.add("web master", web.pid, children="web")
        wait_until(lambda: len(child_pids(web.pid)) >= 2, 60, "two gunicorn workers")
        self.watch.sample()
        for number in range(1, self.workers + 1):
            command = [hub_command(), "--config", str(self.config), "worker"]
            proc = Proc(f"hub worker {number}", command, self._log(f"worker-{number}"))
            proc.start()
            self._stack.callback(proc.stop)
            self.hub_workers.append(proc)
            wait_until(_logged(proc, "consuming"), 60, f"{proc.name} starting")
            self.watch.add(proc.name, proc.pid)

    def _log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def cli(self, *args: str) -> Any:
        command = [hub_command(), "--config", str(self.config), "--json", *args]
        done = subprocess.run(command, capture_output=True, text=True, env=child_env())
        if done.returncode != 0:
            raise BenchError(f"`hub {' '.join(args[:2])}` failed: {done.stderr.strip()}")
        return orjson.loads(done.stdout)

    def _answers(self) -> bool:
        assert self.web is not None and self.endpoint is not None
        if not self.web.alive():
            raise BenchError(f"{self.name}: `hub serve` exited; see {self._log('web')}")
        with contextlib.suppress(requests.RequestException):
            answer = requests.get(
                f"{self.endpoint.base}taxii2/",
                auth=self.endpoint.auth,
                headers={"Accept": TAXII},
                timeout=5,
            )
            return answer.status_code == 200
        return False

    def analyze(self) -> None:
        """ANALYZE the hub's tables, as PostgreSQL's autovacuum would (it is off on some
        servers, this test server included: then the planner never has statistics)."""
        import psycopg

        assert self.backend == POSTGRES
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("ANALYZE")

    def check_alive(self) -> None:
        for proc in [self.web, *self.hub_workers]:
            if proc is not None and not proc.alive():
                raise BenchError(f"{self.name}: {proc.name} exited; see {proc.log_path}")

    def _delete_redis_keys(self) -> None:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            client.delete(self.stream, f"{self.stream}:queued")
        finally:
            client.close()


def hub_command() -> str:
    return str(Path(sys.executable).with_name("hub"))


def _logged(proc: Proc, text: str) -> Callable[[], bool]:
    """A check that `proc` has written `text` to its log (and is still running)."""

    def check() -> bool:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited; see {proc.log_path}")
        return text in proc.log_path.read_text(errors="replace")

    return check


# --- the client: POST, then watch the feed -----------------------------------------------------


class Client:
    """One keep-alive session per thread."""

    def __init__(self, auth: tuple[str, str]) -> None:
        self.auth = auth
        self._local = threading.local()

    def session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self.auth
            self._local.session = session
        return session


@dataclass
class Posted:
    status_id: str
    objects: int
    seconds: float
    submission_id: str | None = None


def post_all(
    client: Client,
    url: str,
    bodies: Sequence[bytes],
    counts: Sequence[int],
    *,
    clients: int,
    content_type: str = TAXII,
    timeout_s: float = 600.0,
) -> list[Posted]:
    """POST every body from `clients` threads; each must be answered 202."""

    def one(item: tuple[bytes, int]) -> Posted:
        body, count = item
        accept = TAXII if content_type == TAXII else "application/json"
        started = time.perf_counter()
        answer = client.session().post(
            url,
            data=body,
            headers={"Content-Type": content_type, "Accept": accept},
            timeout=timeout_s,
        )
        seconds = time.perf_counter() - started
        if answer.status_code != 202:
            raise BenchError(f"POST answered {answer.status_code}: {answer.text[:300]}")
        reply = orjson.loads(answer.content)
        if isinstance(reply.get("status"), dict):  # the REST API: a submission with its status
            return Posted(reply["status"]["id"], count, seconds, reply["id"])
        return Posted(reply["id"], count, seconds)

    with ThreadPoolExecutor(clients, thread_name_prefix="post") as pool:
        return list(pool.map(one, zip(bodies, counts, strict=True)))


class FeedWatcher(threading.Thread):
    """Polls a feed with `added_after` (following `next`) until every expected id was seen."""

    def __init__(
        self,
        client: Client,
        endpoint: Endpoint,
        expected: frozenset[str],
        added_after: str | None,
        timeout_s: float,
    ) -> None:
        super().__init__(name="feed-watcher", daemon=True)
        self.client = client
        self.endpoint = endpoint
        self.expected = expected
        self.last_added = added_after
        self.timeout_s = timeout_s
        self.seen: set[str] = set()
        self.started_at = 0.0
        self.done_at: float | None = None
        self.timeline: list[tuple[float, int]] = []
        self.error: BaseException | None = None
        self.pages = 0
        self._cancelled = threading.Event()

    def begin(self, started_at: float) -> None:
        self.started_at = started_at
        self.start()

    def cancel(self) -> None:
        self._cancelled.set()

    def run(self) -> None:
        try:
            self._watch()
        except BaseException as exc:
            self.error = exc

    def _watch(self) -> None:
        session = self.client.session()
        deadline = self.started_at + self.timeout_s
        while len(self.seen) < len(self.expected) and not self._cancelled.is_set():
            if time.perf_counter() > deadline:
                return
            before = len(self.seen)
            params: dict[str, str] = {"limit": str(PAGE)}
            if self.last_added:
                params["added_after"] = self.last_added
            token: str | None = None
            walk_last = self.last_added
            while True:
                answer = session.get(
                    self.endpoint.feed_url,
                    params={**params, "next": token} if token else params,
                    headers={"Accept": TAXII},
                    timeout=120,
                )
                self.pages += 1
                if answer.status_code != 200:
                    raise BenchError(f"GET objects/ answered {answer.status_code}: {answer.text}")
                page = orjson.loads(answer.content)
                for obj in page.get("objects", ()):
                    if obj["id"] in self.expected:
                        self.seen.add(obj["id"])
                walk_last = answer.headers.get("X-TAXII-Date-Added-Last", walk_last)
                if not page.get("more"):
                    break
                token = page["next"]
            self.last_added = walk_last
            now = time.perf_counter()
            self.timeline.append((round(now - self.started_at, 3), len(self.seen)))
            if len(self.seen) >= len(self.expected):
                self.done_at = now
                return
            if len(self.seen) == before:
                time.sleep(0.25)


@dataclass
class StatusCheck:
    statuses: int = 0
    complete: int = 0
    successes: int = 0
    failures: int = 0
    pending: int = 0
    first_failure: str = ""

    @property
    def ok(self) -> bool:
        return self.complete == self.statuses and not self.failures and not self.pending


def check_statuses(client: Client, endpoint: Endpoint, posted: Sequence[Posted]) -> StatusCheck:
    """Read every status resource back: all must be complete, every object a success."""
    check = StatusCheck(statuses=len(posted))
    session = client.session()
    for item in posted:
        answer = session.get(
            endpoint.status_url(item.status_id), headers={"Accept": TAXII}, timeout=120
        )
        if answer.status_code != 200:
            raise BenchError(f"GET status/ answered {answer.status_code}: {answer.text[:300]}")
        status = orjson.loads(answer.content)
        check.complete += status["status"] == "complete"
        check.successes += status["success_count"]
        check.failures += status["failure_count"]
        check.pending += status["pending_count"]
        if status["failures"] and not check.first_failure:
            check.first_failure = str(status["failures"][0])[:300]
    return check


@dataclass
class LoadOutcome:
    objects: int
    post_seconds: float  # first POST sent to last POST answered
    seconds: float | None  # first POST sent to every object seen in the feed; None: timed out
    visible: int
    pages: int
    last_added: str | None
    timeline: list[tuple[float, int]]
    posted: list[Posted]
    elapsed: float  # `seconds`, or the time allowed when not everything became visible

    @property
    def complete(self) -> bool:
        return self.seconds is not None

    @property
    def rate(self) -> float | None:
        """Objects visible per second: the end-to-end rate (over the time allowed, if capped)."""
        return self.visible / self.elapsed if self.elapsed else None

    def half_rates(self) -> tuple[float | None, float | None]:
        """Objects made visible per second in the first and the second half of the load."""
        if not self.timeline:
            return None, None
        middle = self.elapsed / 2
        at_middle = max((n for t, n in self.timeline if t <= middle), default=0)
        first = at_middle / middle if middle else None
        second = (self.visible - at_middle) / (self.elapsed - middle) if middle else None
        return first, second

    def steady_rate(self) -> float | None:
        """Objects per second between 10% and 90% of the objects becoming visible."""
        low, high = self.objects * 0.1, self.objects * 0.9
        first = next(((t, n) for t, n in self.timeline if n >= low), None)
        last = next(((t, n) for t, n in self.timeline if n >= high), None)
        if first is None or last is None or last[0] <= first[0]:
            return None
        return (last[1] - first[1]) / (last[0] - first[0])


def timed_load(
    client: Client,
    endpoint: Endpoint,
    data: Dataset,
    *,
    clients: int,
    added_after: str | None,
    timeout_s: float,
    url: str | None = None,
    content_type: str = TAXII,
    on_posted: Callable[[], None] | None = None,
) -> LoadOutcome:
    """POST a dataset and watch the feed until all of it is visible; time both."""
    watcher = FeedWatcher(client, endpoint, data.ids, added_after, timeout_s)
    started = time.perf_counter()
    watcher.begin(started)
    try:
        posted = post_all(
            client,
            url or endpoint.objects_url,
            data.bodies,
            data.counts,
            clients=clients,
            content_type=content_type,
            timeout_s=timeout_s,
        )
    except BaseException:
        watcher.cancel()
        raise
    post_seconds = time.perf_counter() - started
    if on_posted is not None:
        on_posted()
    watcher.join(max(1.0, started + timeout_s - time.perf_counter()) + 5)
    watcher.cancel()
    if watcher.error is not None:
        raise BenchError(f"watching the feed failed: {watcher.error}") from watcher.error
    seconds = watcher.done_at - started if watcher.done_at is not None else None
    return LoadOutcome(
        data.objects,
        round(post_seconds, 3),
        round(seconds, 3) if seconds is not None else None,
        len(watcher.seen),
        watcher.pages,
        watcher.last_added,
        list(watcher.timeline),
        posted,
        round(seconds if seconds is not None else timeout_s, 3),
    )


def warm_up(client: Client, endpoint: Endpoint, timeout_s: float = 120) -> str | None:
    """A few small submissions, so validators are compiled and connections open; returns the
    feed position after them."""
    data = make_dataset(0, WARMUP_BATCHES * WARMUP_SIZE, WARMUP_SIZE, salt=f"warm-{uuid.uuid4()}")
    outcome = timed_load(client, endpoint, data, clients=2, added_after=None, timeout_s=timeout_s)
    if outcome.seconds is None:
        raise BenchError("the warm-up submissions never became visible")
    return outcome.last_added


# --- profiling with py-spy ---------------------------------------------------------------------


@dataclass
class ProfileSummary:
    role: str
    samples: int
    seconds: float
    rate: int
    inclusive: list[tuple[str, float]]  # hub functions: % of samples with it on the stack
    self_time: list[tuple[str, float]]  # any function: % of samples where it is the leaf

    @property
    def busy(self) -> float:
        """Share of the time the process had a thread running (py-spy drops idle samples)."""
        return self.samples / (self.rate * self.seconds) if self.seconds else 0.0


REPO_ROOT = str(Path(__file__).resolve().parents[1]) + "/"


def _frame_name(frame: str) -> str:
    """`func (path/to/mod.py:123)` -> `to/mod.py:func` (site-packages and repo paths shortened)."""
    func, _, where = frame.rpartition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", REPO_ROOT, "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{func}"


def summarise_profile(role: str, path: Path, seconds: float, rate: int) -> ProfileSummary:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            total += count
            names = [_frame_name(frame) for frame in stack.split(";")]
            leaf[names[-1]] += count
            for name in set(names):
                if name.startswith("hub/"):
                    inclusive[name] += count
    share = 100.0 / total if total else 0.0
    return ProfileSummary(
        role,
        total,
        round(seconds, 1),
        rate,
        [(name, round(n * share, 1)) for name, n in inclusive.most_common(15)],
        [(name, round(n * share, 1)) for name, n in leaf.most_common(12)],
    )


class Profiler:
    """py-spy record (non-blocking, collapsed stacks) on each given process."""

    def __init__(self, py_spy: str, out_dir: Path, label: str, rate: int = 100) -> None:
        self.py_spy = py_spy
        self.out_dir = out_dir
        self.label = label
        self.rate = rate
        self._procs: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
        self._started = 0.0

    def start(self, targets: Sequence[tuple[str, int]]) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._started = time.perf_counter()
        for role, pid in targets:
            out = self.out_dir / f"{self.label}-{role.replace(' ', '-')}.txt"
            command = [
                self.py_spy,
                "record",
                "--nonblocking",
                "--format",
                "raw",
                "-r",
                str(self.rate),
                "-o",
                str(out),
                "--pid",
                str(pid),
            ]
            proc = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env()
            )
            self._procs.append((role, out, proc))

    def stop(self) -> list[ProfileSummary]:
        seconds = time.perf_counter() - self._started
        for _role, _out, proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        summaries = []
        for role, out, proc in self._procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            summaries.append(summarise_profile(role, out, seconds, self.rate))
        self._procs = []
        return summaries


# --- end-to-end scenarios ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    backend: str
    workers: int  # 0: the pipeline runs on a thread of each web process
    batch: int | None = None  # None: --batch
    analyze: bool = True  # PostgreSQL: ANALYZE after the warm-up, as autovacuum would
    # Post to the inbox, so every object goes through the sharing rules to three feeds, and
    # count it visible in the members feed; else a trust group stores objects as they come.
    rules: bool = False

    @property
    def mode(self) -> str:
        if not self.workers:
            return "in-process"
        return f"{self.workers} hub worker{'s' if self.workers > 1 else ''}"


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("sqlite-inproc", SQLITE, 0),
        Scenario("sqlite-1w", SQLITE, 1),
        Scenario("sqlite-2w", SQLITE, 2),
        Scenario("pg-inproc", POSTGRES, 0),
        Scenario("pg-1w", POSTGRES, 1),
        Scenario("pg-2w", POSTGRES, 2),
        Scenario("pg-1w-no-analyze", POSTGRES, 1, analyze=False),
        Scenario("sqlite-2w-b1000", SQLITE, 2, 1_000),
        Scenario("sqlite-2w-b10000", SQLITE, 2, 10_000),
        Scenario("sqlite-2w-rules", SQLITE, 2, rules=True),
        Scenario("pg-2w-rules", POSTGRES, 2, rules=True),
    )
}
SECTIONS = (STAGES, *SCENARIOS, GROWTH, BIG, MEDALLION)


@dataclass
class ScenarioResult:
    name: str
    backend: str
    mode: str
    workers: int
    batch: int
    clients: int
    objects: int
    visible: int
    post_seconds: float
    seconds: float | None  # None: not everything was visible within the time allowed
    elapsed: float
    steady_rate: float | None
    half_rates: tuple[float | None, float | None]
    statuses: StatusCheck | None  # None: not checked (the load did not complete)
    processes: list[ProcessPeak]
    postgres_cpu_s: float | None = None
    load_average: str = ""
    profiles: list[ProfileSummary] = field(default_factory=list)
    storage_note: str = ""
    client_cpu_s: float = 0.0
    other_cpu_s: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.visible / self.elapsed if self.elapsed else None


@dataclass
class Options:
    objects: int
    batch: int
    clients: int
    timeout_s: float
    pg_timeout_s: float
    growth_steps: int
    growth_workers: int
    big_objects: int
    stage_objects: int
    medallion_budget_s: float
    medallion_timeout_s: float
    profile: bool
    py_spy: str | None
    work_dir: Path
    profile_dir: Path


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _postgres_cpu() -> float:
    return sum(proc_cpu_seconds(pid) or 0.0 for pid in postgres_pids())


def run_scenario(scenario: Scenario, data: Dataset, opts: Options) -> ScenarioResult:
    batch = scenario.batch or opts.batch
    if batch != data.batch:
        data = make_dataset(data.start, data.stop, batch, data.salt)
    log(
        f"{scenario.name}: {scenario.backend}, {scenario.mode}, {data.objects} objects in "
        f"batches of {batch}"
    )
    root = opts.work_dir / scenario.name
    with HubDeployment(
        scenario.name,
        root,
        backend=scenario.backend,
        workers=scenario.workers,
        rules=scenario.rules,
    ) as hub:
        assert hub.endpoint is not None
        client = Client(hub.endpoint.auth)
        after = warm_up(client, hub.endpoint)
        if scenario.backend == POSTGRES and scenario.analyze:
            hub.analyze()
        loadavg = load_average()
        hub.watch.mark()
        pg_cpu = _postgres_cpu() if scenario.backend == POSTGRES else None
        profiler = None
        if opts.profile and opts.py_spy:
            profiler = Profiler(opts.py_spy, opts.profile_dir, scenario.name)
            profiler.start([(r, p) for r, p in hub.watch.pids() if r != "web master"])
        timeout_s = opts.pg_timeout_s if scenario.backend == POSTGRES else opts.timeout_s
        try:
            outcome = timed_load(
                client,
                hub.endpoint,
                data,
                clients=opts.clients,
                added_after=after,
                timeout_s=timeout_s,
            )
        finally:
            profiles = profiler.stop() if profiler else []
        processes = hub.watch.snapshot()
        client_cpu, other_cpu = hub.watch.other_cpu()
        if pg_cpu is not None:
            pg_cpu = round(_postgres_cpu() - pg_cpu, 2)
            other_cpu = round(max(0.0, other_cpu - pg_cpu), 1)
        hub.check_alive()
        statuses = None
        if outcome.complete:
            statuses = check_statuses(client, hub.endpoint, outcome.posted)
    result = ScenarioResult(
        name=scenario.name,
        backend=scenario.backend,
        mode=scenario.mode,
        workers=scenario.workers,
        batch=batch,
        clients=opts.clients,
        objects=outcome.objects,
        visible=outcome.visible,
        post_seconds=outcome.post_seconds,
        seconds=outcome.seconds,
        elapsed=outcome.elapsed,
        steady_rate=outcome.steady_rate(),
        half_rates=outcome.half_rates(),
        statuses=statuses,
        processes=processes,
        postgres_cpu_s=pg_cpu,
        load_average=loadavg,
        profiles=profiles,
        client_cpu_s=client_cpu,
        other_cpu_s=other_cpu,
        storage_note=(
            ("" if scenario.analyze else ", never ANALYZEd") if scenario.backend == POSTGRES else ""
        ),
    )
    rate = f"{result.rate:,.0f}/s" if result.rate else "-"
    done = "complete" if outcome.complete else f"{outcome.visible:,} visible when stopped"
    log(f"{scenario.name}: {outcome.elapsed} s, {done} ({rate}); statuses: {statuses}")
    return result


@dataclass
class GrowthStep:
    stored_before: int
    objects: int
    post_seconds: float
    seconds: float | None
    steady_rate: float | None
    statuses_ok: bool
    processes: list[ProcessPeak]
    load_average: str = ""
    other_cpu_s: float = 0.0

    @property
    def rate(self) -> float | None:
        return self.objects / self.seconds if self.seconds else None


@dataclass
class GrowthResult:
    mode: str
    batch: int
    steps: list[GrowthStep] = field(default_factory=list)
    database_mb: float | None = None
    note: str = ""


def run_growth(opts: Options) -> GrowthResult:
    """Successive loads into one SQLite collection, each timed end to end."""
    workers = opts.growth_workers
    scenario = Scenario("growth", SQLITE, workers)
    result = GrowthResult(scenario.mode, opts.batch)
    log(f"growth: SQLite, {scenario.mode}, {opts.growth_steps} loads of {opts.objects}")
    root = opts.work_dir / "growth"
    with HubDeployment("growth", root, backend=SQLITE, workers=workers) as hub:
        assert hub.endpoint is not None
        client = Client(hub.endpoint.auth)
        after = warm_up(client, hub.endpoint)
        stored = WARMUP_BATCHES * WARMUP_SIZE
        for step in range(opts.growth_steps):
            data = make_dataset(step * opts.objects, (step + 1) * opts.objects, opts.batch)
            loadavg = load_average()
            hub.watch.mark()
            outcome = timed_load(
                client,
                hub.endpoint,
                data,
                clients=opts.clients,
                added_after=after,
                timeout_s=opts.timeout_s,
            )
            processes = hub.watch.snapshot()
            _client_cpu, other_cpu = hub.watch.other_cpu()
            hub.check_alive()
            statuses = check_statuses(client, hub.endpoint, outcome.posted)
            result.steps.append(
                GrowthStep(
                    stored_before=stored,
                    objects=outcome.objects,
                    post_seconds=outcome.post_seconds,
                    seconds=outcome.seconds,
                    steady_rate=outcome.steady_rate(),
                    statuses_ok=statuses.ok,
                    processes=processes,
                    load_average=loadavg,
                    other_cpu_s=other_cpu,
                )
            )
            rate = f"{outcome.rate:,.0f}/s" if outcome.rate else "timed out"
            log(f"growth: {stored:,} -> {stored + data.objects:,}: {outcome.seconds} s ({rate})")
            if outcome.seconds is None:
                result.note = f"load {step + 1} did not complete within {opts.timeout_s:.0f} s"
                break
            stored += data.objects
            after = outcome.last_added
        database = root / "var" / "hub.db"
        if database.exists():
            result.database_mb = round(database.stat().st_size / MIB, 1)
    return result


# --- the 100 MB submission ---------------------------------------------------------------------


@dataclass
class BigResult:
    objects: int
    body_mb: float
    answer_seconds: float
    seconds: float | None
    state: str
    success_count: int
    failure_count: int
    processes: list[ProcessPeak]  # peaks once the objects were visible
    processes_after_status: list[ProcessPeak]  # ... and after reading the submission back
    status_read_seconds: float
    probe: dict[str, float]


def run_big(opts: Options) -> BigResult:
    """One ~100 MB submission through the REST API; SQLite and one hub worker."""
    log(f"big: generating {opts.big_objects} objects")
    data = make_dataset(0, opts.big_objects, opts.big_objects, salt="big")
    body_path = opts.work_dir / "big-body.json"
    body_path.write_bytes(data.bodies[0])
    log(f"big: one POST of {data.size / MIB:.1f} MiB to /api/v1/submissions")
    root = opts.work_dir / "big"
    with HubDeployment(
        "big",
        root,
        backend=SQLITE,
        workers=1,
        max_content_length=150 * MIB,
        max_objects=max(200_000, opts.big_objects),
    ) as hub:
        assert hub.endpoint is not None
        client = Client(hub.endpoint.auth)
        after = warm_up(client, hub.endpoint)
        hub.watch.mark()
        outcome = timed_load(
            client,
            hub.endpoint,
            data,
            clients=1,
            added_after=after,
            timeout_s=opts.timeout_s,
            url=f"{hub.endpoint.submissions_url}?collection=bench",
            content_type="application/json",
        )
        processes = hub.watch.snapshot()
        hub.check_alive()
        submission_id = outcome.posted[0].submission_id
        started = time.perf_counter()
        answer = client.session().get(
            f"{hub.endpoint.submissions_url}/{submission_id}", timeout=opts.timeout_s
        )
        status_read = time.perf_counter() - started
        if answer.status_code != 200:
            raise BenchError(f"GET submission answered {answer.status_code}: {answer.text[:300]}")
        submission = orjson.loads(answer.content)
        after_status = hub.watch.snapshot()
    log(f"big: {outcome.seconds} s; replaying the code paths under tracemalloc")
    probe = run_memory_probe(body_path)
    body_path.unlink()
    return BigResult(
        data.objects,
        round(data.size / MIB, 1),
        outcome.posted[0].seconds,
        outcome.seconds,
        submission["state"],
        submission["status"]["success_count"],
        submission["status"]["failure_count"],
        processes,
        after_status,
        round(status_read, 2),
        probe,
    )


def run_memory_probe(body_path: Path) -> dict[str, float]:
    """Replay the web and worker code paths on the body in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--memory-probe", str(body_path)],
        capture_output=True,
        text=True,
        env=child_env(),
    )
    if done.returncode != 0:
        raise BenchError(f"memory probe failed: {done.stderr[-2000:]}")
    probe: dict[str, float] = orjson.loads(done.stdout)
    return probe


def memory_probe(body_path: Path) -> dict[str, float]:
    """What the web process and a hub worker hold for one big body, in MiB: RSS and its peak
    (VmHWM) after each step, and tracemalloc's view of what each step allocates and keeps."""
    import gc
    import tracemalloc
    from itertools import islice

    from hub.config import IngestSettings
    from hub.services import envelope
    from hub.services.ingest import parse_body
    from hub.stix.timestamps import now_us
    from hub.stix.validation import ObjectValidator
    from hub.storage.submissions import PART_SIZE

    def memory() -> tuple[float, float]:
        found = proc_memory_kb(os.getpid())
        assert found is not None
        return round(found[0] / 1024, 1), round(found[1] / 1024, 1)

    def traced() -> tuple[float, float]:
        current, peak = tracemalloc.get_traced_memory()
        return round(current / MIB, 1), round(peak / MIB, 1)

    def read_like_the_hub() -> bytearray:
        """hub.web.read_body: one buffer of Content-Length bytes, filled a MiB at a time."""
        buffer = bytearray(body_path.stat().st_size)
        with body_path.open("rb") as stream, memoryview(buffer) as view:
            got = 0
            while n := stream.readinto(view[got : got + MIB]):
                got += n
        return buffer

    def stored_parts(raw: bytearray) -> Iterator[bytes]:
        """The body as the worker reads it back: a copy of one part at a time."""
        for start in range(0, len(raw), PART_SIZE):
            yield bytes(raw[start : start + PART_SIZE])

    def worker_chunks(raw: bytearray) -> int:
        """What a hub worker does: objects read a chunk at a time, validated, serialised."""
        validator = ObjectValidator()
        now = now_us()
        objects = envelope.objects(stored_parts(raw))
        seen = 0
        while chunk := list(islice(objects, 1_000)):
            bodies = [orjson.dumps(obj).decode() for obj in chunk if validator.check(obj, now)[0]]
            seen += len(bodies)
            del bodies
        return seen

    limits = IngestSettings(max_objects=10_000_000)
    size = body_path.stat().st_size
    out: dict[str, float] = {"rss_start": memory()[0], "body": round(size / MIB, 1)}
    # Pass 1, RSS only (tracemalloc's own bookkeeping would inflate it).
    raw = read_like_the_hub()
    out["rss_after_read"], out["hwm_after_read"] = memory()
    parsed = parse_body(raw, "application/json", received_us=now_us(), limits=limits)
    out["rss_after_parse"], out["hwm_after_parse"] = memory()
    out["objects"] = parsed.count
    out["objects_read"] = worker_chunks(raw)
    out["rss_end"], out["hwm_end"] = memory()
    del parsed, raw
    gc.collect()
    # Pass 2, what each step allocates (tracemalloc).
    tracemalloc.start()
    raw = read_like_the_hub()
    out["read_peak"] = traced()[1]
    tracemalloc.reset_peak()
    parse_body(raw, "application/json", received_us=now_us(), limits=limits)
    kept, out["parse_peak"] = traced()
    out["parse_kept"] = round(kept - out["body"], 1)
    gc.collect()
    tracemalloc.reset_peak()
    worker_chunks(raw)
    out["chunks_peak"] = round(traced()[1] - out["body"], 1)
    tracemalloc.stop()
    return out


# --- stage costs, in-process -------------------------------------------------------------------


ST_LOADS = "(for comparison) orjson.loads of the whole envelope"
ST_PARSE = "web: parse_body (streaming check: syntax, shape, depth, count; nothing kept)"
ST_READ = "worker: the objects read from the body, a chunk at a time"
ST_SHA = "submit: sha256 of the body"
ST_RECORD = "submit: record raw body + pending status (1 transaction)"
ST_VALIDATOR = "(once per process) ObjectValidator() construction, ms"
ST_CHECK = "validate: ObjectValidator.check"
ST_KEY = "  validate part: version_key (identity, timestamps)"
ST_SCHEMA = "  validate part: JSON schema (jsonschema-rs)"
ST_PATTERN = "  validate part: pattern (cached shape + literals)"
ST_RULES = "  validate part: hub rules (_rule_problems)"
ST_DUMPS = "serialise: orjson.dumps(obj).decode()"
ST_STORE = "store: ObjectRepository.add + commit (1,000 per transaction)"
ST_STATUS = "status: record_progress (details + counts) + commit"
ST_READ_STATUS = "(read) the status resource with all its details"
ST_PROGRESS = "progress: lock_progress + advance + commit"
ST_SUBMIT = "whole: ingest.submit (the web process's share)"
ST_PROCESS_FIRST = (
    "whole: pipeline.process (the worker's share), into 1x stored; PostgreSQL never ANALYZEd"
)
ST_PROCESS = "whole: pipeline.process (the worker's share), into 2x stored; PostgreSQL ANALYZEd"
# What the pipeline does per object, and how often.
PIPELINE = {
    ST_PARSE: 1,
    ST_READ: 1,
    ST_SHA: 1,
    ST_RECORD: 1,
    ST_CHECK: 1,
    ST_DUMPS: 1,
    ST_STORE: 1,
    ST_STATUS: 1,
    ST_PROGRESS: 1,
}


@dataclass
class StageCost:
    stage: str
    us: dict[str, float]  # backend -> µs per object
    note: str = ""


def _best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


@contextlib.contextmanager
def stage_hub(backend: str, root: Path) -> Iterator[Any]:
    """An initialised hub in this process (Hub.open + setup.init), queueing every submission."""
    from hub.config import load_settings, replace
    from hub.services import Hub, setup

    with contextlib.ExitStack() as stack:
        url = stack.enter_context(postgres_schema("stages")) if backend == POSTGRES else ""
        settings = replace(
            load_settings(None, env={}),
            storage={"data_dir": str(root / "var"), "url": url},
            ingest={"inline_max_objects": 0},
        )
        hub = Hub.open(settings)
        stack.callback(hub.close)
        setup.init(hub, admin_password=f"bench-admin-{uuid.uuid4().hex}")
        yield hub


def measure_stages(
    backend: str, root: Path, count: int, batch: int
) -> tuple[dict[str, float], dict[str, list[tuple[str, int, float]]]]:
    """µs per object of each ingest step on `count` objects (chunks of 1,000 as the pipeline)."""
    from hub.services import envelope, membership
    from hub.services.collections import add_collection
    from hub.services.ingest import parse_body, submit
    from hub.services.pipeline import process
    from hub.stix.objects import version_key
    from hub.stix.timestamps import format_us, now_us
    from hub.stix.validation import ObjectValidator, _rule_problems
    from hub.storage.objects import NewVersion, ObjectRepository
    from hub.storage.statuses import Detail, Status, StatusRepository
    from hub.storage.submissions import Submission, SubmissionRepository

    us: dict[str, float] = {}
    objects = [make_indicator(i, f"stages-{backend}") for i in range(count)]
    body = orjson.dumps({"objects": objects})
    per = 1e6 / count

    with stage_hub(backend, root) as hub:
        limits = hub.settings.ingest
        received = now_us()
        us[ST_LOADS] = _best_of(5, lambda: orjson.loads(body)) * per
        us[ST_PARSE] = (
            _best_of(5, lambda: parse_body(body, TAXII, received_us=received, limits=limits)) * per
        )
        us[ST_READ] = (
            _best_of(5, lambda: sum(1 for _ in envelope.objects(envelope.blocks_of(body)))) * per
        )
        us[ST_SHA] = _best_of(5, lambda: hashlib.sha256(body).hexdigest()) * per
        started = time.perf_counter()
        validator = ObjectValidator()
        us[ST_VALIDATOR] = (time.perf_counter() - started) * 1e3
        now = now_us()
        for obj in objects[:200]:  # pattern shapes cached, schemas compiled: steady state
            validator.check(obj, now)
        us[ST_CHECK] = _best_of(5, lambda: [validator.check(obj, now) for obj in objects]) * per
        latest = now + validator.future_tolerance_us
        us[ST_KEY] = _best_of(5, lambda: [version_key(obj) for obj in objects]) * per
        us[ST_SCHEMA] = (
            _best_of(5, lambda: [validator.schemas.errors(obj) for obj in objects]) * per
        )
        us[ST_PATTERN] = (
            _best_of(5, lambda: [validator.patterns.errors(obj["pattern"]) for obj in objects])
            * per
        )
        keyed = [(obj, version_key(obj)) for obj in objects]
        us[ST_RULES] = (
            _best_of(5, lambda: [_rule_problems(obj, key, latest) for obj, key in keyed]) * per
        )
        us[ST_DUMPS] = (
            _best_of(5, lambda: [orjson.dumps(obj).decode("utf-8") for obj in objects]) * per
        )

        member = membership.add_member(hub, MEMBER_NAME, "industry", sector="finance")
        issued = membership.issue_key(hub, member.id, "read,write")
        principal = membership.authenticate(hub, issued.key.id, issued.secret)
        collection = add_collection(
            hub, "bench", "Bench", readers=["industry"], writers=["industry"]
        )

        def record(raw: bytes, objects_in_it: int) -> tuple[str, str]:
            """Record a submission and its pending status as ingest.submit does; their ids."""
            status_id, submission_id = str(uuid.uuid4()), str(uuid.uuid4())
            with hub.db.write() as conn:
                StatusRepository(conn).add(
                    Status(
                        id=status_id,
                        collection_id=collection.id,
                        member_id=member.id,
                        status="pending",
                        request_us=received,
                        total_count=objects_in_it,
                        success_count=0,
                        failure_count=0,
                        pending_count=objects_in_it,
                    )
                )
                submission = Submission(
                    id=submission_id,
                    member_id=member.id,
                    collection_id=collection.id,
                    status_id=status_id,
                    channel="taxii",
                    content_type=TAXII,
                    received_us=received,
                    size=len(raw),
                    sha256=hashlib.sha256(raw).hexdigest(),
                    state="pending",
                    processed_count=0,
                    enqueued_us=received,
                    finished_us=None,
                )
                SubmissionRepository(conn).add(submission, raw)
            return status_id, submission_id

        started = time.perf_counter()
        status_id, _submission_id = record(body, count)
        us[ST_RECORD] = (time.perf_counter() - started) * per

        keys = [validator.check(obj, now)[0] for obj in objects]
        news = [
            NewVersion(
                k.object_id,
                k.type,
                k.spec_version,
                k.version_us,
                k.version_text,
                orjson.dumps(obj).decode("utf-8"),
            )
            for k, obj in zip(keys, objects, strict=True)
            if k is not None
        ]
        chunk = hub.settings.ingest.chunk_size
        store = 0.0
        outcomes = []
        for start in range(0, len(news), chunk):
            started = time.perf_counter()
            with hub.db.write() as conn:
                outcomes += ObjectRepository(conn).add(
                    collection.id, news[start : start + chunk], member.id
                )
            store += time.perf_counter() - started
        us[ST_STORE] = store * per
        successes = [
            Detail(k.object_id, k.version_text or format_us(o.date_added_us))
            for k, o in zip(keys, outcomes, strict=True)
            if k is not None
        ]
        details = 0.0
        for start in range(0, len(successes), chunk):
            started = time.perf_counter()
            with hub.db.write() as conn:
                StatusRepository(conn).record_progress(
                    status_id,
                    successes[start : start + chunk],
                    [],
                    complete=start + chunk >= len(successes),
                )
            details += time.perf_counter() - started
        us[ST_STATUS] = details * per
        started = time.perf_counter()
        with hub.db.read() as conn:
            StatusRepository(conn).get(status_id)
        us[ST_READ_STATUS] = (time.perf_counter() - started) * per

        # Moving a submission forward, once per chunk (one POST of `batch` objects, as in the
        # end-to-end runs).
        in_post = min(batch, count)
        _status_id, submission_id = record(orjson.dumps({"objects": objects[:in_post]}), in_post)
        progress = 0.0
        for end in range(chunk, in_post + chunk, chunk):
            started = time.perf_counter()
            with hub.db.write() as conn:
                repo = SubmissionRepository(conn)
                repo.lock_progress(submission_id)
                repo.advance(submission_id, min(end, in_post), done=end >= in_post, now_us=now_us())
            progress += time.perf_counter() - started
        us[ST_PROGRESS] = progress * 1e6 / in_post

        # The real thing on fresh objects: submit (as a POST does), then process (as a worker).
        fresh = orjson.dumps(
            {"objects": [make_indicator(i, f"stages-fresh-{backend}") for i in range(count)]}
        )
        started = time.perf_counter()
        submission, _status = submit(hub, principal, collection.id, fresh, TAXII, channel="taxii")
        us[ST_SUBMIT] = (time.perf_counter() - started) * per
        statements = {}
        with StatementTimer(hub.db.engine) as timer:
            started = time.perf_counter()
            process(hub, submission.id)
            us[ST_PROCESS_FIRST] = (time.perf_counter() - started) * per
        if backend == POSTGRES:
            statements[f"{backend}, never ANALYZEd"] = timer.top(count)
            with hub.db.write() as conn:  # what autovacuum would have done by now
                conn.exec_driver_sql("ANALYZE")
        # Once more, into a collection holding twice as much (ANALYZEd on PostgreSQL).
        fresh = orjson.dumps(
            {"objects": [make_indicator(i, f"stages-more-{backend}") for i in range(count)]}
        )
        submission, _status = submit(hub, principal, collection.id, fresh, TAXII, channel="taxii")
        with StatementTimer(hub.db.engine) as timer:
            started = time.perf_counter()
            process(hub, submission.id)
            us[ST_PROCESS] = (time.perf_counter() - started) * per
        statements[f"{backend}{', ANALYZEd' if backend == POSTGRES else ''}"] = timer.top(count)
    return us, statements


class StatementTimer:
    """Time spent in each SQL statement (by its first words) while the block runs."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.totals: dict[str, list[float]] = {}

    def _before(self, conn: Any, *_args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        spent = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        key = " ".join(statement.split())[:90]
        total = self.totals.setdefault(key, [0.0, 0.0])
        total[0] += 1
        total[1] += spent

    def __enter__(self) -> StatementTimer:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def top(self, objects: int, n: int = 6) -> list[tuple[str, int, float]]:
        """(statement, executions, µs per object) for the `n` costliest statements."""
        ranked = sorted(self.totals.items(), key=lambda item: -item[1][1])[:n]
        return [
            (key, int(count), round(spent * 1e6 / objects, 1)) for key, (count, spent) in ranked
        ]


def run_stages(opts: Options) -> tuple[list[StageCost], dict[str, list[tuple[str, int, float]]]]:
    results: dict[str, dict[str, float]] = {}
    statements = {}
    for backend in (SQLITE, POSTGRES):
        log(f"stages: {backend}, {opts.stage_objects} objects")
        root = opts.work_dir / f"stages-{backend}"
        measured, found = measure_stages(backend, root, opts.stage_objects, opts.batch)
        statements.update(found)
        for stage, value in measured.items():
            results.setdefault(stage, {})[backend] = round(value, 1)
    return [StageCost(stage, values) for stage, values in results.items()], statements


# --- medallion ---------------------------------------------------------------------------------


@dataclass
class MedallionPost:
    number: int
    stored_before: int
    objects: int
    seconds: float
    timed_out: bool = False

    @property
    def rate(self) -> float:
        return self.objects / self.seconds


@dataclass
class MedallionPass:
    """One fresh medallion fed batches of `batch` objects until stopped."""

    batch: int
    posts: list[MedallionPost] = field(default_factory=list)
    stopped: str = ""
    peak_mb: float | None = None
    stored: int = 0


@dataclass
class MedallionResult:
    version: str
    passes: list[MedallionPass] = field(default_factory=list)


def ensure_medallion_venv() -> str:
    """medallion's own virtualenv (made from the pinned requirements if missing); its version."""
    executable = MEDALLION_VENV / "bin" / "medallion"
    if not executable.exists():
        log(f"creating {MEDALLION_VENV} from {MEDALLION_REQUIREMENTS.name}")
        subprocess.run([sys.executable, "-m", "venv", str(MEDALLION_VENV)], check=True)
        subprocess.run(
            [
                str(MEDALLION_VENV / "bin" / "pip"),
                "install",
                "-q",
                "-r",
                str(MEDALLION_REQUIREMENTS),
            ],
            check=True,
        )
    return subprocess.run(
        [
            str(MEDALLION_VENV / "bin" / "python"),
            "-c",
            "import medallion; print(medallion.__version__)",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def run_medallion(data: Dataset, opts: Options) -> MedallionResult:
    """The same batches POSTed to medallion (memory backend), one at a time, within bounds;
    then, if time is left, the same objects again in batches of 1,000 on a fresh medallion
    (a finer view of how its rate falls as the collection grows)."""
    result = MedallionResult(ensure_medallion_venv())
    budget_end = time.perf_counter() + opts.medallion_budget_s
    batches = [data.batch] + ([1_000] if data.batch != 1_000 else [])
    for number, batch in enumerate(batches, 1):
        if time.perf_counter() > budget_end - 10:
            break
        if batch != data.batch:
            data = make_dataset(data.start, data.stop, batch, data.salt)
        root = opts.work_dir / f"medallion-{number}"
        result.passes.append(medallion_pass(data, root, budget_end, opts.medallion_timeout_s))
    return result


def medallion_pass(data: Dataset, root: Path, budget_end: float, timeout_s: float) -> MedallionPass:
    result = MedallionPass(data.batch)
    root.mkdir(parents=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    collection_id = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
    user = ("bench", "bench-password")
    initial = {
        "/discovery": {
            "title": "medallion (bench)",
            "default": f"{base}bench/",
            "api_roots": [f"{base}bench/"],
        },
        "bench": {
            "information": {
                "title": "bench",
                "versions": [TAXII],
                "max_content_length": 200 * MIB,
            },
            "status": [],
            "collections": [
                {
                    "id": collection_id,
                    "title": "Bench",
                    "description": "",
                    "can_read": True,
                    "can_write": True,
                    "media_types": [STIX],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    (root / "data.json").write_bytes(orjson.dumps(initial))
    backend = {
        "module": "medallion.backends.memory_backend",
        "module_class": "MemoryBackend",
        "filename": str(root / "data.json"),
    }
    (root / "config.json").write_bytes(
        orjson.dumps({"backend": backend, "users": {user[0]: user[1]}})
    )
    command = [
        str(MEDALLION_VENV / "bin" / "medallion"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "WARN",
        str(root / "config.json"),
    ]
    server = Proc(MEDALLION, command, root / "server.log")
    server.start()
    try:
        session = requests.Session()
        session.auth = user

        def answers() -> bool:
            if not server.alive():
                raise BenchError(f"medallion exited; see {server.log_path}")
            with contextlib.suppress(requests.RequestException):
                reply = session.get(f"{base}taxii2/", headers={"Accept": TAXII}, timeout=5)
                return reply.status_code == 200
            return False

        wait_until(answers, 60, "medallion answering")
        url = f"{base}bench/collections/{collection_id}/objects/"
        log(f"medallion: POSTing batches of {data.batch}")
        for number, (body, count) in enumerate(zip(data.bodies, data.counts, strict=True), 1):
            if time.perf_counter() > budget_end:
                result.stopped = f"the time budget was spent after {result.stored:,} objects"
                break
            started = time.perf_counter()
            try:
                reply = session.post(
                    url,
                    data=body,
                    headers={"Content-Type": TAXII, "Accept": TAXII},
                    timeout=timeout_s,
                )
            except requests.Timeout:
                result.posts.append(MedallionPost(number, result.stored, count, timeout_s, True))
                result.stopped = (
                    f"POST {number} ({result.stored:,} objects stored) ran past {timeout_s:.0f} s"
                )
                break
            seconds = time.perf_counter() - started
            if reply.status_code != 202:
                result.stopped = f"POST {number} answered {reply.status_code}: {reply.text[:200]}"
                break
            status = orjson.loads(reply.content)
            if status.get("success_count") != count:
                result.stopped = f"POST {number}: {status.get('success_count')} of {count} stored"
                break
            result.posts.append(MedallionPost(number, result.stored, count, round(seconds, 3)))
            result.stored += count
            log(f"medallion: POST {number} ({result.stored:,} stored) {seconds:.2f} s")
        else:
            result.stopped = f"all {result.stored:,} objects stored"
        memory = proc_memory_kb(server.pid)
        if memory is not None:
            result.peak_mb = round(memory[1] / 1024, 1)
    finally:
        server.stop()
    return result


# --- the report --------------------------------------------------------------------------------


@dataclass
class Run:
    command: str
    started: str
    machine: dict[str, str]
    options: dict[str, Any]
    scenarios: list[ScenarioResult] = field(default_factory=list)
    stages: list[StageCost] = field(default_factory=list)
    statements: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    growth: GrowthResult | None = None
    big: BigResult | None = None
    medallion: MedallionResult | None = None
    errors: list[str] = field(default_factory=list)
    finished: str = ""
    minutes: float = 0.0


def machine_info(code: str, *, servers: bool = True) -> dict[str, str]:
    """The machine, and (with `servers`) the versions of the shared PostgreSQL and Redis."""
    import sqlite3

    info = {
        "code": code,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
        "sqlite": sqlite3.sqlite_version,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        total = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory"] = f"{int(total) / 1024 / 1024:.1f} GiB"
    if not servers:
        return info
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(POSTGRES_URL) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = str(row[0]) if row else "?"
    with contextlib.suppress(Exception):
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        info["redis"] = str(client.info("server")["redis_version"])
        client.close()
    return info


def _n(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _processes(processes: Sequence[ProcessPeak], *, cpu: bool = True) -> str:
    """`role peak-MB (CPU s)` for each process: web master, web workers, hub workers."""
    parts = []
    for p in sorted(processes, key=lambda p: (not p.role.startswith("web"), p.role)):
        text = f"{p.role} {p.peak_mb:,.0f}"
        if cpu and p.cpu_s >= 0.05:
            text += f" ({p.cpu_s:,.1f} s CPU)"
        parts.append(text)
    return "; ".join(parts)


def _status_text(check: StatusCheck | None) -> str:
    if check is None:
        return "not read (load incomplete)"
    if check.ok:
        return f"{check.statuses} complete, 0 failures"
    return (
        f"{check.complete}/{check.statuses} complete, {check.failures} failures, "
        f"{check.pending} pending {check.first_failure}"
    )


def scenario_table(run: Run) -> list[str]:
    lines = [
        "| scenario | storage | pipeline | batch | objects visible | POSTs done (s) "
        "| end-to-end (s) | **objects/s** | objects/s 1st half / 2nd half | statuses "
        "| peak RSS MB (CPU s in the load) | client / others CPU s | load avg before |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in run.scenarios:
        procs = _processes(r.processes)
        if r.postgres_cpu_s is not None:
            procs += f"; postgres server {r.postgres_cpu_s:,.1f} s CPU"
        if r.seconds is not None:
            visible, seconds = f"{r.visible:,}", _n(r.seconds, 1)
        else:
            visible = f"{r.visible:,} of {r.objects:,}"
            seconds = f"stopped at {r.elapsed:,.0f}"
        first, second = r.half_rates
        lines.append(
            f"| {r.name} | {r.backend}{r.storage_note} | {r.mode} | {r.batch:,} | {visible} "
            f"| {_n(r.post_seconds, 1)} | {seconds} | **{_n(r.rate)}** "
            f"| {_n(first)} / {_n(second)} | {_status_text(r.statuses)} | {procs} "
            f"| {r.client_cpu_s:,.1f} / {r.other_cpu_s:,.1f} | {r.load_average} |"
        )
    return lines


def cpu_table(run: Run) -> list[str]:
    """CPU µs per object by process role: where the machine's two cores went."""
    lines = [
        "| scenario | web processes µs/object | hub workers µs/object | postgres µs/object "
        "| total server CPU µs/object | wall µs/object x 2 cores |",
        "|---|---|---|---|---|---|",
    ]
    for r in run.scenarios:
        if not r.visible:
            continue
        web = sum(p.cpu_s for p in r.processes if p.role.startswith("web"))
        workers = sum(p.cpu_s for p in r.processes if p.role.startswith("hub worker"))
        pg = r.postgres_cpu_s or 0.0
        per = 1e6 / r.visible
        lines.append(
            f"| {r.name} | {web * per:,.0f} | {workers * per:,.0f} | {pg * per:,.0f} "
            f"| {(web + workers + pg) * per:,.0f} | {r.elapsed * per * 2:,.0f} |"
        )
    return lines


def stage_table(run: Run) -> list[str]:
    lines = ["| stage | SQLite µs/object | PostgreSQL µs/object |", "|---|---|---|"]
    for s in run.stages:
        lines.append(f"| {s.stage} | {_n(s.us.get(SQLITE), 1)} | {_n(s.us.get(POSTGRES), 1)} |")
    costs = {s.stage: s.us for s in run.stages}
    sums = {
        backend: sum(costs.get(stage, {}).get(backend, 0.0) * n for stage, n in PIPELINE.items())
        for backend in (SQLITE, POSTGRES)
    }
    whole = {
        backend: sum(costs.get(stage, {}).get(backend, 0.0) for stage in (ST_SUBMIT, ST_PROCESS))
        for backend in (SQLITE, POSTGRES)
    }
    lines += [
        "| **sum of the stages as the pipeline runs them** (web check + worker read) "
        f"| **{sums[SQLITE]:,.1f}** | **{sums[POSTGRES]:,.1f}** |",
        f"| **whole: submit + process, in-process, one core** | **{whole[SQLITE]:,.1f}** "
        f"| **{whole[POSTGRES]:,.1f}** |",
    ]
    best = {}
    for backend in (SQLITE, POSTGRES):
        rates = [r.rate for r in run.scenarios if r.backend == backend and r.rate]
        if rates:
            best[backend] = 1e6 / max(rates)
    if best:
        lines.append(
            "| **end to end over HTTP, best scenario (wall µs/object, 2 cores)** "
            f"| **{_n(best.get(SQLITE), 1)}** | **{_n(best.get(POSTGRES), 1)}** |"
        )
    return lines


def growth_table(growth: GrowthResult) -> list[str]:
    lines = [
        "| load | stored before | objects | POSTs done (s) | end-to-end (s) | objects/s "
        "| steady objects/s | statuses ok | peak RSS MB so far (CPU s in this load) "
        "| others' CPU s | load avg before |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for number, step in enumerate(growth.steps, 1):
        lines.append(
            f"| {number} | {step.stored_before:,} | {step.objects:,} | {_n(step.post_seconds, 1)} "
            f"| {_n(step.seconds, 1)} | **{_n(step.rate)}** | {_n(step.steady_rate)} "
            f"| {'yes' if step.statuses_ok else 'NO'} | {_processes(step.processes)} "
            f"| {step.other_cpu_s:,.1f} | {step.load_average} |"
        )
    return lines


def big_lines(big: BigResult) -> list[str]:
    worst = max(big.processes + big.processes_after_status, key=lambda p: p.peak_mb)
    p = big.probe
    return [
        f"One POST of {big.objects:,} indicators, {big.body_mb:,.1f} MiB, to "
        "`/api/v1/submissions?collection=bench` (SQLite, 1 hub worker, "
        "`taxii.max_content_length` 150 MiB, `ingest.max_objects` 200,000):",
        "",
        "| answered (s) | end-to-end (s) | objects/s | state | successes | failures "
        "| peak RSS MB once visible | peak RSS MB after GET of the submission |",
        "|---|---|---|---|---|---|---|---|",
        f"| {big.answer_seconds:,.1f} | {_n(big.seconds, 1)} "
        f"| {_n(big.objects / big.seconds if big.seconds else None)} | {big.state} "
        f"| {big.success_count:,} | {big.failure_count:,} | {_processes(big.processes, cpu=False)} "
        f"| {_processes(big.processes_after_status, cpu=False)} |",
        "",
        f"Highest: **{worst.role}, {worst.peak_mb:,.0f} MB** (target: under {TARGET_BIG_MB} MB "
        f"for every process: {'met' if worst.peak_mb < TARGET_BIG_MB else 'NOT met'}). Reading "
        f"the submission back (`GET /api/v1/submissions/<id>`, {big.success_count:,} success "
        f"details) took {big.status_read_seconds:,.1f} s.",
        "",
        "Where it goes: the same code paths replayed on the same body in a fresh interpreter "
        "(`--memory-probe`), MiB; RSS and VmHWM from /proc, the rest from tracemalloc:",
        "",
        "| step | MiB |",
        "|---|---|",
        f"| interpreter with the hub imported: RSS | {p.get('rss_start', 0):,.0f} |",
        f"| the body (bytes) | {p.get('body', 0):,.0f} |",
        "| reading it as the hub does (one buffer of Content-Length bytes): allocation peak "
        f"| {p.get('read_peak', 0):,.0f} |",
        f"| RSS / VmHWM after reading | {p.get('rss_after_read', 0):,.0f} / "
        f"{p.get('hwm_after_read', 0):,.0f} |",
        "| web: parse_body, the streaming check of syntax, shape and depth (objects counted, "
        f"none kept): allocation peak | {p.get('parse_peak', 0):,.0f} |",
        f"| web: what parse_body keeps besides the body | {p.get('parse_kept', 0):,.0f} |",
        f"| RSS / VmHWM after parse_body ({p.get('objects', 0):,.0f} objects) "
        f"| {p.get('rss_after_parse', 0):,.0f} / {p.get('hwm_after_parse', 0):,.0f} |",
        "| worker: the body read back a part at a time, its objects a chunk of 1,000 at a time, "
        "validated and serialised: allocation peak besides the body "
        f"| {p.get('chunks_peak', 0):,.0f} |",
        f"| RSS / VmHWM after all {p.get('objects_read', 0):,.0f} objects "
        f"| {p.get('rss_end', 0):,.0f} / {p.get('hwm_end', 0):,.0f} |",
    ]


def medallion_lines(m: MedallionResult, hub_best: float | None) -> list[str]:
    lines = [
        f"medallion {m.version}, memory backend, its own server (Werkzeug, `medallion` command), "
        "one POST at a time; its objects are visible when the POST returns (it stores "
        "synchronously, without validation). First the same batches as the hub got, then, on a "
        "fresh medallion and while the time budget lasts, the same objects in batches of 1,000.",
        "",
    ]
    for one in m.passes:
        lines += [
            f"Batches of {one.batch:,}:",
            "",
            "| POST | stored before | objects | seconds | objects/s |",
            "|---|---|---|---|---|",
        ]
        for post in one.posts:
            seconds = (
                f"> {post.seconds:,.0f} (timed out)" if post.timed_out else f"{post.seconds:,.2f}"
            )
            rate = "—" if post.timed_out else f"{post.rate:,.0f}"
            lines.append(
                f"| {post.number} | {post.stored_before:,} | {post.objects:,} | {seconds} "
                f"| {rate} |"
            )
        lines += ["", f"Stopped: {one.stopped}. Peak RSS of medallion: {_n(one.peak_mb)} MB."]
        done = [p for p in one.posts if not p.timed_out]
        if done and hub_best:
            total = sum(p.objects for p in done) / sum(p.seconds for p in done)
            lines.append(
                f"Over the {sum(p.objects for p in done):,} objects it stored: {total:,.0f} "
                f"objects/s (the hub's best end-to-end rate above: {hub_best:,.0f}/s)."
            )
        lines.append("")
    return lines


def profile_lines(run: Run) -> list[str]:
    lines: list[str] = []
    for r in run.scenarios:
        for prof in r.profiles:
            lines += [
                f"**{r.name} — {prof.role}**: {prof.samples:,} samples at {prof.rate}/s over "
                f"{prof.seconds:,.0f} s (busy {prof.busy:.0%} of the time)",
                "",
                "| hub function (inclusive) | % of samples | leaf function (self) | % |",
                "|---|---|---|---|",
            ]
            rows = max(len(prof.inclusive), len(prof.self_time))
            for i in range(rows):
                inc = prof.inclusive[i] if i < len(prof.inclusive) else ("", 0.0)
                own = prof.self_time[i] if i < len(prof.self_time) else ("", 0.0)
                lines.append(
                    f"| `{inc[0]}` | {inc[1] if inc[0] else ''} | `{own[0]}` "
                    f"| {own[1] if own[0] else ''} |"
                )
            lines.append("")
    return lines


def targets_lines(run: Run) -> list[str]:
    lines = []
    rates = [(r.rate, r.name) for r in run.scenarios if r.rate]
    if rates:
        best, name = max(rates)
        verdict = "met" if best >= TARGET_RATE else "NOT met"
        lines.append(
            f"- ≥ {TARGET_RATE:,} objects/s end-to-end with validation on: **{verdict}** "
            f"(best: {best:,.0f}/s, {name})."
        )
    if run.growth and run.growth.steps:
        done = [s for s in run.growth.steps if s.rate]
        if len(done) >= 2:
            first, last = done[0], done[-1]
            assert first.rate is not None and last.rate is not None
            lines.append(
                f"- not falling as the store grows: {first.rate:,.0f}/s for load 1 (from "
                f"{first.stored_before:,} stored), {last.rate:,.0f}/s for load {len(done)} (from "
                f"{last.stored_before:,} stored): {last.rate / first.rate - 1:+.0%}."
            )
    if run.big:
        worst = max(run.big.processes + run.big.processes_after_status, key=lambda p: p.peak_mb)
        verdict = "met" if worst.peak_mb < TARGET_BIG_MB else "NOT met"
        lines.append(
            f"- 100 MB submission under {TARGET_BIG_MB} MB peak per process: **{verdict}** "
            f"(highest: {worst.role}, {worst.peak_mb:,.0f} MB)."
        )
    return lines


def render_report(run: Run) -> str:
    machine = ", ".join(f"{k} {v}" for k, v in run.machine.items() if k != "code")
    parts = [
        f"# Ingest benchmark, {run.started[:10]}",
        "",
        f"Command (from the repository root): `{run.command}`",
        "",
        f"Code measured: {run.machine.get('code', '?')}. Started {run.started}, took "
        f"{run.minutes:.1f} min. Machine: {machine}.",
        f"Options: {', '.join(f'{k}={v}' for k, v in run.options.items())}.",
        "",
        "Each hub is served by `hub serve` (gunicorn, 2 web processes, 4 threads each), set "
        "up with the `hub` command; `ingest.inline_max_objects = 0`, so every submission goes "
        "through the queue (a private Redis stream worked by `hub worker` processes, or the web "
        "processes' own pipeline thread in-process). End-to-end: from the first POST to the "
        "moment a client polling "
        f"`GET objects/?limit={PAGE}&added_after=<X-TAXII-Date-Added-Last>` (following "
        "`next`) has seen every posted id. Peak RSS is each process's VmHWM; CPU seconds are "
        "counted over the timed load.",
        "",
    ]
    if run.errors:
        parts += ["## Errors", "", *(f"- {e}" for e in run.errors), ""]
    targets = targets_lines(run)
    if targets:
        parts += ["## Targets", "", *targets, ""]
    if run.scenarios:
        parts += ["## End to end", "", *scenario_table(run), ""]
        parts += ["CPU per object by process (from /proc over the timed load):", ""]
        parts += [*cpu_table(run), ""]
    if run.stages:
        parts += [
            "## Cost per object of each stage (in-process, "
            f"{run.options.get('stage_objects', 0):,} objects)",
            "",
            *stage_table(run),
            "",
            "Costliest SQL statements inside `pipeline.process` (µs per object, from "
            "SQLAlchemy's cursor events):",
            "",
            "| storage | statement | executions | µs/object |",
            "|---|---|---|---|",
            *(
                f"| {backend} | `{statement}` | {count:,} | {spent:,.1f} |"
                for backend, rows in run.statements.items()
                for statement, count, spent in rows
            ),
            "",
        ]
    if run.growth:
        parts += [
            f"## Growth: successive loads into one SQLite collection ({run.growth.mode}, "
            f"batches of {run.growth.batch:,})",
            "",
            *growth_table(run.growth),
            "",
        ]
        if run.growth.database_mb is not None:
            parts += [f"SQLite file at the end: {run.growth.database_mb:,.0f} MiB.", ""]
        if run.growth.note:
            parts += [f"Note: {run.growth.note}", ""]
    if run.big:
        parts += ["## One 100 MB submission", "", *big_lines(run.big), ""]
    if run.medallion:
        best = max((r.rate for r in run.scenarios if r.rate), default=None)
        parts += ["## medallion (OASIS TAXII 2.1 reference server)", ""]
        parts += [*medallion_lines(run.medallion, best), ""]
    profiles = profile_lines(run)
    if profiles:
        parts += ["## Profiles (py-spy, during the timed loads)", "", *profiles]
    return "\n".join(parts) + "\n"


def raw_results(run: Run) -> dict[str, Any]:
    data = asdict(run)
    for scenario, raw in zip(run.scenarios, data["scenarios"], strict=True):
        raw["rate"] = scenario.rate
    return data


# --- main --------------------------------------------------------------------------------------


def use_snapshot(rev: str, work_dir: Path) -> str:
    """Export `hub/` as committed at `rev` into work_dir, and make this process and every
    process it starts import it (the working tree is shared and changes under a long run);
    returns a description of the code measured."""
    repo = str(BENCH_DIR.parent)
    if rev == "worktree":
        return "the working tree"
    commit = subprocess.run(
        ["git", "-C", repo, "rev-parse", "--short", rev], check=True, capture_output=True, text=True
    ).stdout.strip()
    target = work_dir / "code"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", repo, "archive", commit, "hub"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    sys.path.insert(0, str(target))
    inherited = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(target) + (os.pathsep + inherited if inherited else "")
    import hub

    if not Path(hub.__file__).resolve().is_relative_to(target.resolve()):
        raise BenchError(f"hub is imported from {hub.__file__}, not from the snapshot")
    return f"commit {commit} (`git archive {commit} hub`, run from a copy)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="End-to-end ingest throughput and memory of the hub (and medallion).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--only", default="", help=f"comma list of sections to run: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--objects", type=int, default=100_000, help="objects per load")
    parser.add_argument("--batch", type=int, default=5_000, help="objects per POST")
    parser.add_argument("--clients", type=int, default=4, help="concurrent POSTing threads")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per load")
    parser.add_argument(
        "--pg-timeout",
        type=float,
        default=150.0,
        help="seconds allowed per PostgreSQL end-to-end load (what is visible by then is reported)",
    )
    parser.add_argument("--growth-steps", type=int, default=5, help="loads in the growth run")
    parser.add_argument("--growth-workers", type=int, default=2, help="hub workers (growth)")
    parser.add_argument("--million", action="store_true", help="growth up to 1,000,000 objects")
    parser.add_argument("--big-objects", type=int, default=120_000, help="the ~100 MB body")
    parser.add_argument("--stage-objects", type=int, default=10_000, help="objects (stages)")
    parser.add_argument("--medallion-budget", type=float, default=180.0, help="seconds")
    parser.add_argument("--medallion-timeout", type=float, default=30.0, help="seconds per POST")
    parser.add_argument("--profile", action="store_true", help="py-spy the end-to-end loads")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="py-spy executable")
    parser.add_argument(
        "--at",
        default="HEAD",
        help="the commit whose hub/ is measured (exported to a temporary copy), or 'worktree'",
    )
    parser.add_argument("--keep", action="store_true", help="keep the hubs' data directories")
    parser.add_argument("--tag", default="", help="suffix of the result file names")
    parser.add_argument("--memory-probe", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM, and SIGINT even when started in the background (where it is ignored), unwind
    # through every `finally`: servers stopped, schemas dropped, Redis keys deleted.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    if args.memory_probe:
        print(orjson.dumps(memory_probe(args.memory_probe)).decode())
        return 0
    sections = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    if args.million:
        args.growth_steps = max(args.growth_steps, 1_000_000 // args.objects)
    if args.profile and not args.py_spy:
        raise SystemExit("--profile needs py-spy (pip install py-spy, or give --py-spy PATH)")
    tag = args.tag or "-".join(
        ([f"only-{'+'.join(sections)}"] if args.only else [])
        + (["million"] if args.million else [])
        + (["profile"] if args.profile else [])
    )
    stem = f"ingest-{datetime.now():%Y-%m-%d}{'-' + tag if tag else ''}"
    work_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        code = use_snapshot(args.at, work_dir)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    opts = Options(
        args.objects,
        args.batch,
        args.clients,
        args.timeout,
        args.pg_timeout,
        args.growth_steps,
        args.growth_workers,
        args.big_objects,
        args.stage_objects,
        args.medallion_budget,
        args.medallion_timeout,
        args.profile,
        args.py_spy,
        work_dir,
        RESULTS_DIR / f"{stem}-profiles",
    )
    command = " ".join([".venv/bin/python", "bench/ingest.py", *(argv or sys.argv[1:])])
    run = Run(
        command,
        datetime.now().isoformat(timespec="seconds"),
        machine_info(code),
        {k: v for k, v in asdict(opts).items() if k not in ("work_dir", "profile_dir", "py_spy")},
    )
    started = time.perf_counter()
    data: Dataset | None = None

    def dataset() -> Dataset:
        nonlocal data
        if data is None:
            log(f"generating {opts.objects:,} indicators")
            data = make_dataset(0, opts.objects, opts.batch)
            log(f"{data.size / MIB:.1f} MiB, {data.size / data.objects:.0f} bytes per object")
        return data

    try:
        for section in sections:
            try:
                if section == STAGES:
                    run.stages, run.statements = run_stages(opts)
                elif section in SCENARIOS:
                    run.scenarios.append(run_scenario(SCENARIOS[section], dataset(), opts))
                elif section == GROWTH:
                    run.growth = run_growth(opts)
                elif section == BIG:
                    run.big = run_big(opts)
                elif section == MEDALLION:
                    run.medallion = run_medallion(dataset(), opts)
            except Exception as exc:  # report it and go on with the other sections
                log(f"{section}: FAILED:\n{traceback.format_exc()}")
                run.errors.append(f"{section}: {type(exc).__name__}: {exc}")
            except KeyboardInterrupt as exc:  # cleaned up on the way here; report what we have
                log(f"{section}: interrupted ({exc})")
                run.errors.append(f"{section}: interrupted ({exc}); later sections not run")
                break
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
        else:
            log(f"data kept in {work_dir}")
    run.finished = datetime.now().isoformat(timespec="seconds")
    run.minutes = round((time.perf_counter() - started) / 60, 1)
    report = render_report(run)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{stem}.md").write_text(report, encoding="utf-8")
    (RESULTS_DIR / f"{stem}.json").write_bytes(
        orjson.dumps(raw_results(run), option=orjson.OPT_INDENT_2)
    )
    print(report)
    log(f"written {RESULTS_DIR / (stem + '.md')}")
    return 1 if run.errors else 0


if __name__ == "__main__":
    sys.exit(main())
