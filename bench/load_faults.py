"""Load and fault harness: a scaled-out hub under concurrent pushers and pollers while its
processes and services are killed, then proof that nothing was lost, duplicated or released
against the sharing policy.

On this machine, in a temporary folder removed at the end (also on Ctrl-C or SIGTERM):

- a private PostgreSQL (initdb, a free port) and a private Redis (a free port, no persistence),
  never the shared servers;
- two web processes (`hub serve`, gunicorn with `--web-workers` workers each, on two ports) and
  two `hub worker` processes, sharing them; the default sharing policy (inbox -> public /
  members / government feeds), four industry members in different sectors and with different
  default consents, and two government members. Each process has a data folder of its own, as
  on separate hosts, and they share the three secret files;
- `--pushers` pushers (20) and `--pollers` pollers (50) in client processes of their own
  (`bench/load_faults_clients.py`), for `--duration` seconds (180): pushers send bundles
  (TAXII POST to the inbox and `POST /api/v1/submissions` in turn) mixing TLP levels (TLP 1.0
  and 2.0 ids, RED, AMBER+STRICT, no TLP, two TLPs), consent markings, objects naming their
  submitter, invalid objects and re-sent ones, and send the same body again when a request
  fails; pollers page through the feeds their members may read with taxii2-client
  (`added_after` + `next`), starting at staggered times;
- every `--fault-every` seconds (20), the next fault in turn: `kill-web` (SIGKILL to a `hub
  serve` and its gunicorn workers, then started again), `kill-worker` (SIGKILL, started again),
  `restart-redis` (SIGKILL; it comes back empty) and `restart-postgres` (immediate shutdown,
  then started again: crash recovery).

Then it waits for the hub to drain, lets each poller make a last walk, and checks
(`bench/load_faults_check.py`), from TAXII, the REST API and the database: every accepted
valid object stored in the inbox exactly once, invalid ones nowhere; every status resource
complete and adding up, each answered request's status listing exactly its objects; every
feed holding exactly what the policy releases of what was stored (no RED or AMBER+STRICT, each
object in each feed its TLP allows, once, marked with its level, its submitter named only
where its consent allows) with one receipt each; TAXII serving each feed's versions once; no
poller served a version twice, every walk served everything committed before it began, and a
poller that started from scratch saw everything. It exits 1 on any violation, naming each.

    .venv/bin/python bench/load_faults.py                  # 20 pushers, 50 pollers, 3 minutes
    .venv/bin/python bench/load_faults.py --self-check     # a short run, then defects planted
                                                           # in the database must each be caught

The report (throughput, p50/p99 latency per request kind, the errors clients saw, the faults
and how long each took to recover, CPU per process role, the verdict) is printed and written
to `bench/results/load_faults-<date>[-<tag>].md` with the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson
import requests

from bench.ingest import (
    BenchError,
    Proc,
    ProcessWatch,
    child_env,
    hub_command,
    load_average,
    log,
    machine_info,
    wait_until,
)
from bench.load_faults_check import (
    Answered,
    Evidence,
    FeedRule,
    Member,
    Receipt,
    Row,
    Sent,
    StatusCount,
    Verdict,
    Walk,
    verify,
)
from tests.support.postgres import PrivatePostgres, free_port
from tests.support.redis_server import PrivateRedis

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
CLIENTS = BENCH_DIR / "load_faults_clients.py"
TAXII = "application/taxii+json;version=2.1"
FAULTS = ("kill-web", "kill-worker", "restart-redis", "restart-postgres")
FAULT_GRACE_S = 3.0  # errors this soon after a fault was repaired are still the fault's
DEFAULT_TLP = "amber"

# (name, kind, sector, default consent, aliases)
MEMBERS = (
    ("Acme Bank", "industry", "finance", "none", ()),
    ("Northwind Energy", "industry", "energy", "government", ()),
    ("Globex Telecom", "industry", "telecom", "everyone", ("Globex",)),
    ("Initech Health", "industry", "health", "none", ("Initech",)),
    ("National CERT", "government", "government", "none", ()),
    ("Defence CSIRT", "government", "defence", "none", ()),
)


@dataclass
class Options:
    duration_s: float
    pushers: int
    pollers: int
    fault_every_s: float
    first_fault_s: float
    faults: list[str]
    min_objects: int
    max_objects: int
    push_pause_s: float
    poll_pause_s: float
    give_up_s: float
    drain_timeout_s: float
    reclaim_after_s: int
    inline_max_objects: int
    web_workers: int
    poller_processes: int
    seed: int
    self_check: bool


# --- the deployment ----------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """PostgreSQL's server binaries: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise BenchError("PostgreSQL's server binaries are needed: apt-get install postgresql")
    return Path(candidates[0]).parent


def _toml(value: str | int) -> str:
    return orjson.dumps(value).decode()


@dataclass
class Account:
    member: dict[str, Any]  # MemberSpec fields
    key: tuple[str, str]


class Cluster:
    """PostgreSQL, Redis, two web processes and two workers, set up as an operator would."""

    def __init__(self, root: Path, opts: Options) -> None:
        self.root = root
        self.opts = opts
        self.watch = ProcessWatch(interval_s=0.5)
        self.webs: list[Proc] = []
        self.ports: list[int] = []
        self.workers: list[Proc] = []
        self.configs: dict[str, Path] = {}
        self.collection_ids: dict[str, str] = {}
        self.accounts: dict[str, list[Account]] = {}
        self._stack = contextlib.ExitStack()
        self.postgres: PrivatePostgres | None = None
        self.redis: PrivateRedis | None = None

    # starting and stopping

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._stack.close()

    def _start(self) -> None:
        log("starting a private PostgreSQL and Redis")
        postgres = PrivatePostgres(postgres_bindir())
        self.postgres = postgres
        self._stack.callback(postgres.destroy)
        postgres.start()
        redis = PrivateRedis()
        self.redis = redis
        self._stack.callback(redis.destroy)
        redis.start()
        self.database_url = postgres.url
        self._stack.callback(self.watch.stop)
        self.watch.start()
        self._watch_servers()
        secrets = self.root / "secrets"
        self.ports = [free_port() for _ in range(2)]
        names = ["setup", "web-1", "web-2", "worker-1", "worker-2"]
        for name in names:
            port = self.ports[int(name[-1]) - 1] if name.startswith("web") else 0
            self.configs[name] = self._config(name, secrets, port)
        log("hub init")
        self.cli("init", "--admin-password", f"harness-{uuid.uuid4().hex}")
        self._accounts()
        for number in (1, 2):
            web = Proc(
                f"web-{number}",
                [hub_command(), "--config", str(self.configs[f"web-{number}"]), "serve"],
                self.root / f"web-{number}.log",
            )
            self.webs.append(web)
            self._stack.callback(web.stop)
            worker = Proc(
                f"worker-{number}",
                [hub_command(), "--config", str(self.configs[f"worker-{number}"]), "worker"],
                self.root / f"worker-{number}.log",
            )
            self.workers.append(worker)
            self._stack.callback(worker.stop)
        for index in range(2):
            self.start_web(index)
            self.start_worker(index)

    def _config(self, name: str, secrets: Path, port: int) -> Path:
        opts = self.opts
        lines = [
            "[server]",
            'host = "127.0.0.1"',
            f"port = {port or 8080}",
            f"workers = {opts.web_workers}",
            "threads = 4",
            "[storage]",
            f"data_dir = {_toml(str(self.root / name))}",
            f"url = {_toml(self.database_url)}",
            "[secrets]",
            *(
                f"{secret}_file = {_toml(str(secrets / secret))}"
                for secret in ("session_key", "api_key_pepper", "pseudonym_key")
            ),
            "[ingest]",
            f"inline_max_objects = {opts.inline_max_objects}",
            "[queue]",
            f"redis_url = {_toml(self.redis_url)}",
            f"reclaim_after_seconds = {opts.reclaim_after_s}",
            "[sharing]",
            f"default_tlp = {_toml(DEFAULT_TLP)}",
        ]
        path = self.root / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return self.redis.url

    def cli(self, *args: str) -> Any:
        command = [hub_command(), "--config", str(self.configs["setup"]), "--json", *args]
        done = subprocess.run(command, capture_output=True, text=True, env=child_env())
        if done.returncode != 0:
            raise BenchError(f"`hub {' '.join(args[:2])}` failed: {done.stderr.strip()}")
        return orjson.loads(done.stdout)

    def _accounts(self) -> None:
        """The members, and an API key for each client (one per pusher and per poller, as
        separate systems of a member would have)."""
        from hub.config import load_settings
        from hub.services import Hub, membership
        from hub.services.collections import list_all

        hub = Hub.open(load_settings(str(self.configs["setup"]), env={}))
        try:
            self.collection_ids = {c.alias: c.id for c in list_all(hub)}
            self.members: dict[str, Member] = {}
            self.member_specs: dict[str, dict[str, Any]] = {}
            for name, kind, sector, consent, aliases in MEMBERS:
                member = membership.add_member(
                    hub, name, kind, sector=sector, consent=consent, aliases=aliases
                )
                own_ref = f"identity--{uuid.uuid5(uuid.NAMESPACE_URL, 'harness:' + name)}"
                self.member_specs[member.id] = {
                    "id": member.id,
                    "name": name,
                    "kind": kind,
                    "consent": consent,
                    "own_ref": own_ref,
                }
                self.members[member.id] = Member(
                    member.id, name, real_identity_id(member.id), (own_ref,), tuple(aliases)
                )
            for role, count, scope in (
                ("pusher", self.opts.pushers, "read,write"),
                ("poller", self.opts.pollers, "read"),
            ):
                kinds = ("industry",) if role == "pusher" else ("industry", "government")
                eligible = [m for m in self.member_specs.values() if m["kind"] in kinds]
                accounts = []
                for number in range(count):
                    spec = eligible[number % len(eligible)]
                    issued = membership.issue_key(hub, spec["id"], scope, label=f"{role}-{number}")
                    accounts.append(Account(spec, (issued.key.id, issued.secret)))
                self.accounts[role] = accounts
            self.feed_rules = feed_rules(hub)
        finally:
            hub.close()

    def _watch_servers(self) -> None:
        assert self.postgres is not None and self.redis is not None
        postmaster = self.postgres.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            self.watch.add(
                "postgres", int(postmaster.read_text().split()[0]), children="postgres backend"
            )
        if self.redis.process is not None:
            self.watch.add("redis", self.redis.process.pid)

    # the hub's processes

    def start_web(self, index: int) -> None:
        web = self.webs[index]
        web.start()
        url = f"http://127.0.0.1:{self.ports[index]}/healthz"
        wait_until(lambda: _answers(web, url), 120, f"{web.name} answering")
        self.watch.add(web.name, web.pid, children=f"{web.name} gunicorn worker")

    def start_worker(self, index: int) -> None:
        worker = self.workers[index]
        offset = worker.log_path.stat().st_size if worker.log_path.exists() else 0
        worker.start()
        wait_until(_logged_after(worker, offset, "consuming"), 60, f"{worker.name} starting")
        self.watch.add(worker.name, worker.pid)

    def kill(self, proc: Proc) -> None:
        """SIGKILL to the process and every process of its group, as a host crash would."""
        assert proc.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.process.pid, signal.SIGKILL)
        proc.process.wait(timeout=30)
        proc.process = None

    def dead(self) -> list[str]:
        """Hub processes that exited on their own."""
        return [p.name for p in [*self.webs, *self.workers] if not p.alive()]

    # faults: each returns once the service is back

    def fault(self, kind: str, number: int) -> str:
        """Inflict the fault `kind` (the `number`th of its kind); return what was hit."""
        if kind == "kill-web":
            index = number % len(self.webs)
            self.kill(self.webs[index])
            time.sleep(1.0)
            self.start_web(index)
            return self.webs[index].name
        if kind == "kill-worker":
            index = number % len(self.workers)
            self.kill(self.workers[index])
            self.start_worker(index)
            return self.workers[index].name
        if kind == "restart-redis":
            assert self.redis is not None
            self.redis.stop()
            time.sleep(1.0)
            self.redis.start()
            self._watch_servers()
            return "redis"
        if kind == "restart-postgres":
            assert self.postgres is not None
            self.postgres.stop("immediate")
            time.sleep(1.0)
            self.postgres.start()
            self._watch_servers()
            return "postgresql"
        raise BenchError(f"unknown fault {kind!r}")


def real_identity_id(member_id: str) -> str:
    from hub.sharing.pseudonyms import member_identity_id

    return member_identity_id(member_id)


def feed_rules(hub: Any) -> list[FeedRule]:
    """The feeds as the configuration defines them."""
    return [
        FeedRule(
            c.alias,
            frozenset(c.tlp),
            c.identity,
            bool(c.readers) and all(r.startswith("government") for r in c.readers),
        )
        for c in hub.settings.collections
        if c.kind == "feed"
    ]


def _answers(proc: Proc, url: str) -> bool:
    if not proc.alive():
        raise BenchError(f"{proc.name} exited; see {proc.log_path}")
    with contextlib.suppress(requests.RequestException):
        return requests.get(url, timeout=5).status_code == 200
    return False


def _logged_after(proc: Proc, offset: int, text: str) -> Callable[[], bool]:
    def check() -> bool:
        if not proc.alive():
            raise BenchError(f"{proc.name} exited; see {proc.log_path}")
        with proc.log_path.open("rb") as handle:
            handle.seek(offset)
            return text.encode() in handle.read()

    return check


# --- faults and the high-water marks ------------------------------------------------------------


@dataclass
class Fault:
    kind: str
    target: str
    at_s: float  # since the load began
    started: float  # monotonic
    recovered: float | None = None
    error: str = ""

    @property
    def seconds(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.started


class FaultSchedule(threading.Thread):
    """Inflicts the faults in turn, one every `every` seconds, until `stop_at`."""

    def __init__(
        self,
        cluster: Cluster,
        kinds: Sequence[str],
        t0: float,
        first: float,
        every: float,
        stop_at: float,
    ) -> None:
        super().__init__(name="faults", daemon=True)
        self.cluster = cluster
        self.kinds = list(kinds)
        self.t0 = t0
        self.first = first
        self.every = every
        self.stop_at = stop_at
        self.done: list[Fault] = []
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        counts: Counter[str] = Counter()
        number = 0
        while self.kinds:
            due = self.t0 + self.first + number * self.every
            if due >= self.stop_at or self._cancel.wait(max(0.0, due - time.monotonic())):
                return
            kind = self.kinds[number % len(self.kinds)]
            started = time.monotonic()
            fault = Fault(kind, "", round(started - self.t0, 1), started)
            self.done.append(fault)
            log(f"fault {number + 1}: {kind}")
            try:
                fault.target = self.cluster.fault(kind, counts[kind])
                fault.recovered = time.monotonic()
                log(f"fault {number + 1}: {kind} of {fault.target}, back in {fault.seconds:.1f} s")
            except Exception as exc:  # a service that does not come back ends the run
                fault.error = f"{type(exc).__name__}: {exc}"
                log(f"fault {number + 1}: {kind} FAILED: {fault.error}")
                return
            counts[kind] += 1
            number += 1


class HighWater(threading.Thread):
    """Samples each feed's highest committed sequence number: every version numbered up to it
    was committed before the sample was taken (a feed's versions are numbered under a lock on
    the feed, in commit order), so a walk that starts later must serve all of them."""

    def __init__(self, database_url: str, feed_ids: dict[str, str], every_s: float = 0.25):
        super().__init__(name="high-water", daemon=True)
        self.url = database_url
        self.feeds = {feed_id: alias for alias, feed_id in feed_ids.items()}
        self.every_s = every_s
        self.samples: list[tuple[float, dict[str, int]]] = []  # (taken, alias -> max seq)
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)

    def run(self) -> None:
        import psycopg

        conn: Any = None
        while not self._stopping.wait(self.every_s):
            try:
                if conn is None:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=3)
                rows = conn.execute(
                    "SELECT collection_id, max(seq) FROM object_versions "
                    "WHERE collection_id = ANY(%s) GROUP BY collection_id",
                    (list(self.feeds),),
                ).fetchall()
                marks = dict.fromkeys(self.feeds.values(), 0)
                marks.update({self.feeds[cid]: int(top) for cid, top in rows})
                self.samples.append((time.monotonic(), marks))
            except Exception:  # PostgreSQL is restarting: no sample until it is back
                with contextlib.suppress(Exception):
                    if conn is not None:
                        conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def before(self, moment: float, feed: str) -> int | None:
        """The mark of the last sample completed before `moment`."""
        found = None
        for taken, marks in self.samples:
            if taken > moment:
                break
            found = marks.get(feed)
        return found


# --- the clients -------------------------------------------------------------------------------


@dataclass
class ClientProcess:
    name: str
    spec_path: Path
    out_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, str(CLIENTS), str(self.spec_path), str(self.out_path)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=child_env(),
            )

    def wait(self, until: float) -> None:
        assert self.process is not None
        try:
            self.process.wait(timeout=max(1.0, until - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            raise BenchError(f"{self.name} did not finish in time; see {self.log_path}") from None
        if self.process.returncode != 0:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise BenchError(f"{self.name} exited with {self.process.returncode}: {tail}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = orjson.loads(self.out_path.read_bytes())
        return data


def client_specs(
    cluster: Cluster, opts: Options, t0: float, stop_at: float, drained_flag: Path
) -> dict[str, dict[str, Any]]:
    """One spec for the pushers' process and one for each pollers' process."""
    common = {
        "ports": cluster.ports,
        "inbox_id": cluster.collection_ids["inbox"],
        "stop_at": stop_at,
        "give_up_s": opts.give_up_s,
        "push_pause_s": opts.push_pause_s,
        "poll_pause_s": opts.poll_pause_s,
        "min_objects": opts.min_objects,
        "max_objects": opts.max_objects,
        "default_tlp": DEFAULT_TLP,
        "drained_flag": str(drained_flag),
        "final_by": stop_at + opts.give_up_s + opts.drain_timeout_s + 120,
    }
    run_id = uuid.uuid4().hex[:8]
    pushers = [
        {
            "number": number,
            "member": account.member,
            "auth": list(account.key),
            "salt": f"{run_id}-pusher-{number}",
            "seed": opts.seed * 1000 + number,
        }
        for number, account in enumerate(cluster.accounts["pusher"])
    ]
    pollers = []
    for number, account in enumerate(cluster.accounts["poller"]):
        own = "members" if account.member["kind"] == "industry" else "government"
        feed = "public" if number % 3 == 2 else own
        pollers.append(
            {
                "number": number,
                "auth": list(account.key),
                "feed": feed,
                "feed_id": cluster.collection_ids[feed],
                "page_size": (100, 500, 1000)[number % 3],
                # Staggered over the first half of the run: later ones start from scratch on a
                # feed that is already full, and is being written.
                "start_at": t0 + (number / max(1, opts.pollers)) * opts.duration_s / 2,
            }
        )
    specs = {"pushers": {**common, "pushers": pushers}}
    shares = max(1, opts.poller_processes)
    for part in range(shares):
        specs[f"pollers-{part + 1}"] = {**common, "pollers": pollers[part::shares]}
    return specs


# --- draining and reading back -----------------------------------------------------------------


def pending_submissions(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM submissions WHERE state <> 'done'").fetchone()
    return int(row[0]) if row else 0


def drain(database_url: str, timeout_s: float) -> float:
    """Wait until no submission is pending; returns how long it took."""
    started = time.monotonic()
    last = -1
    while True:
        try:
            left = pending_submissions(database_url)
        except Exception as exc:
            left, note = -1, f" ({type(exc).__name__})"
        else:
            note = ""
        if left == 0:
            return time.monotonic() - started
        if left != last:
            log(f"draining: {left} submissions pending{note}")
            last = left
        if time.monotonic() - started > timeout_s:
            return time.monotonic() - started
        time.sleep(1.0)


def read_rows(database_url: str) -> tuple[list[Row], list[Receipt], list[StatusCount], int]:
    """The stored versions of every collection, the receipts, the status resources and the
    number of pending submissions, straight from the database."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = [
            Row(alias, object_id, int(version), int(seq), int(added), bool(latest), kind)
            for alias, object_id, version, seq, added, latest, kind in conn.execute(
                "SELECT c.alias, v.object_id, v.version_us, v.seq, v.date_added_us, "
                "v.is_latest, v.type FROM object_versions v "
                "JOIN collections c ON c.id = v.collection_id ORDER BY c.alias, v.seq"
            )
        ]
        receipts = [
            Receipt(object_id, int(version), alias, kind, bool(named))
            for object_id, version, alias, kind, named in conn.execute(
                "SELECT r.object_id, r.version_us, c.alias, r.kind, r.named FROM receipts r "
                "JOIN collections c ON c.id = r.feed_id"
            )
        ]
        statuses = [
            StatusCount(*row)
            for row in conn.execute(
                "SELECT id, status, total_count, success_count, failure_count, pending_count "
                "FROM statuses"
            )
        ]
        row = conn.execute("SELECT count(*) FROM submissions WHERE state <> 'done'").fetchone()
    return rows, receipts, statuses, int(row[0]) if row else 0


def read_feed(
    port: int, feed_id: str, auth: tuple[str, str]
) -> tuple[Counter[tuple[str, int]], dict[tuple[str, int], dict[str, Any]]]:
    """Every version of a feed over TAXII (match[version]=all, following next): how often
    each was served, and its body."""
    from hub.stix.timestamps import parse_us

    url = f"http://127.0.0.1:{port}/taxii2/hub/collections/{feed_id}/objects/"
    served: Counter[tuple[str, int]] = Counter()
    bodies: dict[tuple[str, int], dict[str, Any]] = {}
    token = None
    with requests.Session() as session:
        session.auth = auth
        while True:
            params = {"limit": "1000", "match[version]": "all"}
            if token:
                params["next"] = token
            answer = session.get(url, params=params, headers={"Accept": TAXII}, timeout=120)
            if answer.status_code != 200:
                raise BenchError(f"reading the feed answered {answer.status_code}: {answer.text}")
            page = orjson.loads(answer.content)
            for obj in page.get("objects", ()):
                key = (obj["id"], parse_us(obj.get("modified", obj.get("created"))))
                served[key] += 1
                bodies[key] = obj
            if not page.get("more"):
                return served, bodies
            token = page["next"]


def read_statuses(port: int, bundles: Sequence[dict[str, Any]], auth: dict[int, Any]) -> list[Any]:
    """Each accepted request's status resource as its submitter reads it: over TAXII for a
    TAXII POST, from the REST API for a submission."""

    def one(bundle: dict[str, Any]) -> Any:
        key = auth[bundle["pusher"]]
        if bundle["channel"] == "api":
            url = f"http://127.0.0.1:{port}/api/v1/submissions/{bundle['submission_id']}"
            headers = {"Accept": "application/json"}
        else:
            url = f"http://127.0.0.1:{port}/taxii2/hub/status/{bundle['status_id']}/"
            headers = {"Accept": TAXII}
        for attempt in range(5):
            with contextlib.suppress(requests.RequestException):
                answer = requests.get(url, auth=key, headers=headers, timeout=60)
                if answer.status_code == 200:
                    body = orjson.loads(answer.content)
                    return body["status"] if bundle["channel"] == "api" else body
            time.sleep(0.5 * (attempt + 1))
        return None

    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(one, bundles))


@dataclass
class Gathered:
    """What the clients did, merged from their processes."""

    requests: list[list[Any]]
    bundles: list[dict[str, Any]]
    walks: list[dict[str, Any]]
    errors: list[str]
    messages: dict[str, list[str]]  # a few messages of each kind of failed request


def gather(results: Sequence[dict[str, Any]]) -> Gathered:
    out = Gathered([], [], [], [], {})
    for result in results:
        out.requests += result["requests"]
        out.bundles += result["bundles"]
        out.walks += result["walks"]
        out.errors += result["errors"]
        for outcome, messages in result["messages"].items():
            kept = out.messages.setdefault(outcome, [])
            kept += [m for m in messages if m not in kept][: 3 - len(kept)]
    return out


def sent_objects(bundles: Sequence[dict[str, Any]], members: dict[str, Any]) -> list[Sent]:
    from hub.stix.timestamps import parse_us

    sent = []
    for bundle in bundles:
        default = members[bundle["member"]]["consent"]
        accepted = bundle.get("outcome") == "accepted"
        for object_id, version, tlp, consent, valid, shared in bundle["meta"]:
            try:
                version_us = parse_us(version)
            except ValueError:
                version_us = 0
            sent.append(
                Sent(
                    object_id,
                    version_us,
                    bundle["member"],
                    tlp,
                    consent or default,
                    valid,
                    accepted,
                    shared,
                )
            )
    return sent


def collect(
    cluster: Cluster, gathered: Gathered, high_water: HighWater | None, statuses: list[Any] | None
) -> Evidence:
    """The evidence, read back from the hub: the database, every feed over TAXII, each
    accepted request's status resource."""
    rows, receipts, status_rows, pending = read_rows(cluster.database_url)
    feeds = {rule.alias for rule in cluster.feed_rules}
    readers = {
        "government": next(
            a for a in cluster.accounts["poller"] if a.member["kind"] == "government"
        ),
        "members": next(a for a in cluster.accounts["poller"] if a.member["kind"] == "industry"),
    }
    served: dict[str, Counter[tuple[str, int]]] = {}
    bodies: dict[tuple[str, str, int], dict[str, Any]] = {}
    for alias in sorted(feeds):
        account = readers.get(alias, readers["members"])
        port = cluster.ports[len(served) % len(cluster.ports)]
        counts, feed_bodies = read_feed(port, cluster.collection_ids[alias], account.key)
        served[alias] = counts
        bodies.update({(alias, *key): body for key, body in feed_bodies.items()})
    feed_rows = [
        Row(
            r.collection,
            r.object_id,
            r.version_us,
            r.seq,
            r.date_added_us,
            r.is_latest,
            r.type,
            bodies.get((r.collection, r.object_id, r.version_us)),
        )
        for r in rows
        if r.collection in feeds
    ]
    inbox = [r for r in rows if r.collection == "inbox"]
    accepted = [b for b in gathered.bundles if b.get("outcome") == "accepted"]
    if statuses is None:
        keys = {n: tuple(a.key) for n, a in enumerate(cluster.accounts["pusher"])}
        statuses = read_statuses(cluster.ports[0], accepted, keys)
    answered = [
        Answered(
            bundle["status_id"],
            bundle["channel"],
            tuple(m[0] for m in bundle["meta"] if m[4]),
            tuple(m[0] for m in bundle["meta"] if not m[4]),
            status,
        )
        for bundle, status in zip(accepted, statuses, strict=True)
    ]
    return Evidence(
        feeds=cluster.feed_rules,
        members=cluster.members,
        sent=sent_objects(gathered.bundles, cluster.member_specs),
        inbox=inbox,
        feed_rows=feed_rows,
        receipts=receipts,
        statuses=status_rows,
        answered=answered,
        pending_submissions=pending,
        walks=walks_of(gathered.walks, high_water),
        served=served,
    )


def walks_of(raw: Sequence[dict[str, Any]], high_water: HighWater | None) -> list[Walk]:
    from hub.stix.timestamps import parse_us

    walks = []
    for walk in raw:
        seen = array("q")
        seen.frombytes(base64.b64decode(walk["seen"]))
        walks.append(
            Walk(
                walk["poller"],
                walk["feed"],
                parse_us(walk["added_after"]) if walk["added_after"] else None,
                high_water.before(walk["started"], walk["feed"]) if high_water else None,
                seen,
                walk["complete"],
                walk["final"],
            )
        )
    return walks


# --- figures -----------------------------------------------------------------------------------


@dataclass
class KindFigures:
    kind: str
    requests: int
    succeeded: int
    per_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass
class ErrorCount:
    kind: str  # the request kind
    outcome: str  # an HTTP status or a failure kind
    during_faults: int
    outside_faults: int


def percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def request_figures(requests_log: Sequence[list[Any]], seconds: float) -> list[KindFigures]:
    by_kind: dict[str, list[list[Any]]] = defaultdict(list)
    for row in requests_log:
        by_kind[row[0]].append(row)
    figures = []
    for kind, rows in sorted(by_kind.items()):
        good = [row[2] * 1000 for row in rows if row[3] in ("200", "202")]
        figures.append(
            KindFigures(
                kind,
                len(rows),
                len(good),
                round(len(good) / seconds, 1) if seconds else 0.0,
                _round(percentile(good, 0.5)),
                _round(percentile(good, 0.99)),
                _round(max(good) if good else None),
            )
        )
    return figures


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def error_counts(requests_log: Sequence[list[Any]], faults: Sequence[Fault]) -> list[ErrorCount]:
    """Failed requests by kind and outcome, split by whether they overlapped a fault (from its
    start until FAULT_GRACE_S after it was repaired)."""
    windows = [(f.started, (f.recovered or f.started + 600) + FAULT_GRACE_S) for f in faults]
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for kind, started, seconds, outcome in requests_log:
        if outcome in ("200", "202"):
            continue
        ended = started + seconds
        during = any(start <= ended and started <= end for start, end in windows)
        counts[(kind, outcome)][0 if during else 1] += 1
    return [ErrorCount(k, o, d, n) for (k, o), (d, n) in sorted(counts.items())]


@dataclass
class RunReport:
    command: str
    started: str
    machine: dict[str, str]
    options: dict[str, Any]
    seconds: float = 0.0
    drain_s: float = 0.0
    bundles: dict[str, int] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    kinds: list[KindFigures] = field(default_factory=list)
    errors: list[ErrorCount] = field(default_factory=list)
    error_messages: dict[str, list[str]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)
    violations: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the run itself went wrong
    self_check: list[dict[str, str]] = field(default_factory=list)
    finished: str = ""
    minutes: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.violations
            and not self.problems
            and all(c["caught"] == "yes" for c in self.self_check)
        )


def cpu_by_role(watch: ProcessWatch) -> dict[str, float]:
    """CPU seconds since mark() by role (restarted processes summed), and everyone else's."""
    totals: Counter[str] = Counter()
    for peak in watch.snapshot():
        role = peak.role.split(" gunicorn")[0].split(" backend")[0].rstrip("-0123456789")
        totals[role.rstrip("-") or peak.role] += peak.cpu_s
    _own, others = watch.other_cpu()
    totals["harness (this process)"] += _own
    totals["other processes on the machine"] += others
    return {role: round(seconds, 1) for role, seconds in sorted(totals.items())}


# --- planted defects (--self-check) ------------------------------------------------------------


@dataclass
class Plant:
    """A defect put into the hub's database after a clean run, and the kind of violation the
    verdict must then report."""

    name: str
    expect: str
    apply: Callable[[Any, Cluster, Evidence], Callable[[Any], None]]  # returns its undo


def _saved_row(conn: Any, collection_id: str, seq: int) -> dict[str, Any]:
    """Every column of one stored version."""
    cursor = conn.execute(
        "SELECT * FROM object_versions WHERE collection_id = %s AND seq = %s", (collection_id, seq)
    )
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def _insert_row(conn: Any, values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    conn.execute(
        f"INSERT INTO object_versions ({columns}) VALUES ({marks})",  # noqa: S608
        list(values.values()),
    )


def _copy_row(conn: Any, source: tuple[str, int], **changes: Any) -> tuple[str, int]:
    """Insert a copy of the stored version at `source` (collection id, seq), with `changes`,
    after the last version of its collection (`changes` may name another); returns where it
    went."""
    values = _saved_row(conn, *source)
    values.update(changes)
    target = values["collection_id"]
    top = conn.execute(
        "SELECT coalesce(max(seq), 0), coalesce(max(date_added_us), 0) FROM object_versions "
        "WHERE collection_id = %s",
        (target,),
    ).fetchone()
    values.update(seq=top[0] + 1, date_added_us=top[1] + 1, is_latest=True, is_first=True)
    _insert_row(conn, values)
    return target, int(values["seq"])


def _delete_row(where: tuple[str, int]) -> Callable[[Any], None]:
    def undo(conn: Any) -> None:
        conn.execute("DELETE FROM object_versions WHERE collection_id = %s AND seq = %s", where)

    return undo


def _pick(evidence: Evidence, feed: str, **where: Any) -> Row:
    by_key = {(s.object_id, s.version_us): s for s in evidence.sent}
    for row in evidence.feed_rows if feed != "inbox" else evidence.inbox:
        sent = by_key.get((row.object_id, row.version_us))
        if (
            row.collection == feed
            and sent is not None
            and sent.shared
            and all(getattr(sent, k) == v for k, v in where.items())
        ):
            return row
    raise BenchError(f"no object to plant a defect with in {feed} ({where})")


def _plant_duplicate(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "inbox", tlp="green")
    inbox = cluster.collection_ids["inbox"]
    return _delete_row(_copy_row(conn, (inbox, row.seq), version_us=row.version_us + 1))


def _plant_missing(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "members", tlp="green")
    feed = cluster.collection_ids["members"]
    saved = _saved_row(conn, feed, row.seq)
    conn.execute(
        "DELETE FROM object_versions WHERE collection_id = %s AND seq = %s", (feed, row.seq)
    )
    return lambda conn: _insert_row(conn, saved)


def _plant_extra(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    feed = cluster.collection_ids["public"]
    row = _pick(evidence, "public")
    stranger = f"indicator--{uuid.uuid4()}"
    body = conn.execute(
        "SELECT body FROM object_versions WHERE collection_id = %s AND seq = %s", (feed, row.seq)
    ).fetchone()[0]
    return _delete_row(
        _copy_row(
            conn, (feed, row.seq), object_id=stranger, body=body.replace(row.object_id, stranger)
        )
    )


def _plant_red(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "inbox", tlp="red")
    feed = cluster.collection_ids["government"]
    return _delete_row(
        _copy_row(conn, (cluster.collection_ids["inbox"], row.seq), collection_id=feed)
    )


def _plant_named(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    row = _pick(evidence, "members", consent="none")
    feed = cluster.collection_ids["members"]
    member = next(
        m
        for m in evidence.members.values()
        if any(s.member_id == m.id and s.object_id == row.object_id for s in evidence.sent)
    )
    (body,) = conn.execute(
        "SELECT body FROM object_versions WHERE collection_id = %s AND seq = %s", (feed, row.seq)
    ).fetchone()
    doctored = orjson.loads(body)
    doctored["created_by_ref"] = member.real_identity_id
    conn.execute(
        "UPDATE object_versions SET body = %s WHERE collection_id = %s AND seq = %s",
        (orjson.dumps(doctored).decode(), feed, row.seq),
    )

    def undo(conn: Any) -> None:
        conn.execute(
            "UPDATE object_versions SET body = %s WHERE collection_id = %s AND seq = %s",
            (body, feed, row.seq),
        )

    return undo


def _plant_stuck(conn: Any, cluster: Cluster, evidence: Evidence) -> Callable[[Any], None]:
    status = evidence.statuses[0]
    conn.execute(
        "UPDATE statuses SET status = 'pending', pending_count = 1, total_count = total_count + 1 "
        "WHERE id = %s",
        (status.id,),
    )

    def undo(conn: Any) -> None:
        conn.execute(
            "UPDATE statuses SET status = %s, pending_count = %s, total_count = %s WHERE id = %s",
            (status.status, status.pending, status.total, status.id),
        )

    return undo


PLANTS = (
    Plant("an inbox object stored twice (as a second version)", "duplicate", _plant_duplicate),
    Plant("a released object deleted from the members feed", "loss", _plant_missing),
    Plant("an object nobody sent in the public feed", "extra", _plant_extra),
    Plant("a TLP:RED object copied into the government feed", "policy", _plant_red),
    Plant("a pseudonymised object pointing at its submitter", "identity", _plant_named),
    Plant("a status resource left pending", "status", _plant_stuck),
)


def self_check(
    cluster: Cluster, gathered: Gathered, high_water: HighWater, clean: Evidence
) -> list[dict[str, str]]:
    """Plant each defect in turn, read everything back, and see that the verdict names it."""
    import psycopg

    outcomes = []
    for plant in PLANTS:
        with psycopg.connect(cluster.database_url) as conn:
            undo = plant.apply(conn, cluster, clean)
        try:
            statuses = [a.status for a in clean.answered] if plant.expect != "status" else None
            verdict = verify(collect(cluster, gathered, high_water, statuses))
        finally:
            with psycopg.connect(cluster.database_url) as conn:
                undo(conn)
        outcomes.append(_caught(plant.name, plant.expect, verdict))
    # A poller that missed a version: one digest taken out of a checked walk.
    walks = list(clean.walks)
    for index, walk in enumerate(walks):
        # A walk from the start: what it served first was committed before it began.
        if walk.complete and walk.added_after_us is None and walk.high_water and walk.seen:
            walks[index] = Walk(
                walk.poller,
                walk.feed,
                walk.added_after_us,
                walk.high_water,
                walk.seen[1:],
                walk.complete,
                walk.final,
            )
            break
    doctored = Evidence(**{**clean.__dict__, "walks": walks})
    outcomes.append(_caught("a poller's walk that skipped a version", "poller", verify(doctored)))
    return outcomes


def _caught(name: str, expect: str, verdict: Verdict) -> dict[str, str]:
    found = [v for v in verdict.violations if v.kind == expect]
    log(f"self-check: {name}: {'caught' if found else 'NOT CAUGHT'}")
    return {
        "plant": name,
        "expected": expect,
        "caught": "yes" if found else "NO",
        "message": found[0].message if found else "; ".join(v.message for v in verdict.violations),
    }


# --- the run -----------------------------------------------------------------------------------


def run(opts: Options, report: RunReport, root: Path) -> None:
    """Start everything, load it while faults strike, drain, verify; fill in `report`."""
    with contextlib.ExitStack() as stack:
        cluster = Cluster(root, opts)
        cluster.start()
        stack.callback(cluster.close)
        report.machine.update(server_versions(cluster))
        drained_flag = root / "drained"
        t0 = time.monotonic() + 3.0  # the client processes start meanwhile
        stop_at = t0 + opts.duration_s
        clients = []
        for name, spec in client_specs(cluster, opts, t0, stop_at, drained_flag).items():
            spec_path = root / f"{name}.spec.json"
            spec_path.write_bytes(orjson.dumps(spec))
            client = ClientProcess(name, spec_path, root / f"{name}.out.json", root / f"{name}.log")
            client.start()
            stack.callback(client.stop)
            clients.append(client)
            assert client.process is not None
            cluster.watch.add(name, client.process.pid)
        high_water = HighWater(
            cluster.database_url,
            {rule.alias: cluster.collection_ids[rule.alias] for rule in cluster.feed_rules},
        )
        high_water.start()
        stack.callback(high_water.stop)
        schedule = FaultSchedule(
            cluster, opts.faults, t0, opts.first_fault_s, opts.fault_every_s, stop_at
        )
        time.sleep(max(0.0, t0 - time.monotonic()))
        report.machine["load average at the start"] = load_average()
        cluster.watch.mark()
        log(
            f"load: {opts.pushers} pushers, {opts.pollers} pollers for {opts.duration_s:.0f} s; "
            f"faults every {opts.fault_every_s:.0f} s: {', '.join(opts.faults) or 'none'}"
        )
        schedule.start()
        stack.callback(schedule.cancel)
        clients[0].wait(stop_at + opts.give_up_s + 60)
        pushed = time.monotonic()
        report.cpu = cpu_by_role(cluster.watch)
        report.machine["load average at the end of the load"] = load_average()
        schedule.join(300)
        report.faults = schedule.done
        report.problems += [
            f"fault {f.kind} at {f.at_s} s: the service did not come back: {f.error}"
            for f in schedule.done
            if f.error
        ]
        report.problems += [f"{name} exited on its own" for name in cluster.dead()]
        log("pushers done; draining")
        report.drain_s = round(drain(cluster.database_url, opts.drain_timeout_s), 1)
        drained_flag.touch()
        for client in clients[1:]:
            client.wait(stop_at + opts.give_up_s + opts.drain_timeout_s + 180)
        gathered = gather([client.result() for client in clients])
        report.problems += gathered.errors
        report.seconds = round(pushed - t0, 1)
        figures(report, gathered, opts)
        log("reading everything back")
        evidence = collect(cluster, gathered, high_water, None)
        verdict = verify(evidence)
        report.checked = verdict.checked
        report.objects["valid objects stored in the inbox"] = len(evidence.inbox) - sum(
            1
            for s in {(s.object_id, s.version_us): s for s in evidence.sent}.values()
            if not s.shared
        )
        report.rates["valid objects stored per second (over the load)"] = round(
            report.objects["valid objects stored in the inbox"] / report.seconds, 1
        )
        report.violations = [asdict(v) for v in verdict.violations]
        if opts.self_check:
            report.self_check = self_check(cluster, gathered, high_water, evidence)


def server_versions(cluster: Cluster) -> dict[str, str]:
    import psycopg
    import redis

    found = {}
    with contextlib.suppress(Exception), psycopg.connect(cluster.database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        found["postgresql (private)"] = str(row[0]) if row else "?"
    with contextlib.suppress(Exception):
        client = redis.Redis.from_url(cluster.redis_url)
        found["redis (private)"] = str(client.info("server")["redis_version"])
        client.close()
    return found


def figures(report: RunReport, gathered: Gathered, opts: Options) -> None:
    bundles = gathered.bundles
    outcomes = Counter(
        b.get("outcome", "?") if not str(b.get("outcome")).startswith("refused") else "refused"
        for b in bundles
    )
    report.bundles = dict(outcomes)
    report.problems += [
        f"pusher {b['pusher']}'s {b['channel']} request was {b['outcome']}"
        for b in bundles
        if str(b.get("outcome")).startswith("refused")
    ]
    report.bundles["sent again after a failure"] = sum(1 for b in bundles if b["attempts"] > 1)
    accepted = [b for b in bundles if b.get("outcome") == "accepted"]
    report.objects = {
        "objects in accepted requests": sum(len(b["meta"]) for b in accepted),
        "of which invalid": sum(1 for b in accepted for m in b["meta"] if not m[4]),
    }
    seconds = report.seconds
    report.rates = {
        "objects accepted per second": round(
            report.objects["objects in accepted requests"] / seconds, 1
        ),
        "feed pages served per second": round(
            sum(1 for r in gathered.requests if r[0] == "poll GET" and r[3] == "200") / seconds, 1
        ),
        "walks completed per second": round(
            sum(1 for w in gathered.walks if w["complete"]) / seconds, 2
        ),
    }
    report.objects["walks given up (not checked)"] = sum(
        1 for w in gathered.walks if not w["complete"]
    )
    report.kinds = request_figures(gathered.requests, seconds)
    report.errors = error_counts(gathered.requests, report.faults)
    report.error_messages = gathered.messages


# --- the report --------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def render(report: RunReport) -> str:
    machine = ", ".join(f"{k} {v}" for k, v in report.machine.items() if k != "code")
    verdict = "PASS" if report.ok else "FAIL"
    lines = [
        f"# Load and fault harness, {report.started[:10]}: {verdict}",
        "",
        f"Command (from the repository root): `{report.command}`",
        "",
        f"Code: {report.machine.get('code', '?')}. Started {report.started}, took "
        f"{report.minutes:.1f} min. Machine: {machine}.",
        f"Options: {', '.join(f'{k}={v}' for k, v in report.options.items())}.",
        "",
        "Two `hub serve` (gunicorn) and two `hub worker` processes on a private PostgreSQL and "
        "Redis; pushers and pollers in client processes on loopback (see `bench/README.md`).",
        "",
        "## Verdict",
        "",
    ]
    if report.ok:
        lines.append("Nothing lost, duplicated or released against the policy.")
    for problem in report.problems:
        lines.append(f"- **run problem**: {problem}")
    for violation in report.violations:
        lines.append(f"- **{violation['kind']}**: {violation['message']}")
    lines += ["", "Checked: " + ", ".join(f"{k} {v:,}" for k, v in report.checked.items()) + "."]
    if report.self_check:
        lines += [
            "",
            "## Self-check: defects planted after the run",
            "",
            "| planted | expected | caught | what the verdict said |",
            "|---|---|---|---|",
        ]
        for check in report.self_check:
            message = check["message"].replace("|", "\\|")[:300]
            lines.append(
                f"| {check['plant']} | {check['expected']} | {check['caught']} | {message} |"
            )
    lines += [
        "",
        "## Throughput",
        "",
        f"Load {report.seconds:,.0f} s (first request to the last pusher's end); the hub then "
        f"drained in {report.drain_s:,.1f} s.",
        "",
        *(f"- {k}: {v:,}" for k, v in {**report.bundles, **report.objects}.items()),
        *(f"- **{k}: {v:,}**" for k, v in report.rates.items()),
        "",
        "## Latency of successful requests, per kind",
        "",
        "| request | sent | succeeded | succeeded/s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {k.kind} | {k.requests:,} | {k.succeeded:,} | {k.per_s:,.1f} | {_ms(k.p50_ms)} "
            f"| {_ms(k.p99_ms)} | {_ms(k.max_ms)} |"
            for k in report.kinds
        ),
        "",
        "## Errors seen by clients",
        "",
        f"A failed request counts as during a fault if it overlapped one (from the fault to "
        f"{FAULT_GRACE_S:.0f} s after the service was back). Each was retried.",
        "",
        "| request | outcome | during a fault | outside faults |",
        "|---|---|---|---|",
        *(
            f"| {e.kind} | {e.outcome} | {e.during_faults:,} | {e.outside_faults:,} |"
            for e in report.errors
        ),
        "",
        "What the failures said (a few of each):",
        "",
        *(
            f"- {outcome}: " + " / ".join(f"`{m.strip()[:200]}`" for m in messages)
            for outcome, messages in sorted(report.error_messages.items())
        ),
        "",
        "## Faults",
        "",
        "| at s | fault | target | back after s |",
        "|---|---|---|---|",
        *(
            f"| {f.at_s:,.1f} | {f.kind} | {f.target} | "
            f"{_ms(f.seconds) if f.seconds is not None else 'NOT BACK: ' + f.error} |"
            for f in report.faults
        ),
        "",
        "## CPU seconds during the load, by process role",
        "",
        *(f"- {role}: {seconds:,.1f}" for role, seconds in report.cpu.items()),
        "",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Concurrent pushers and pollers against a scaled-out hub while faults "
        "strike; then prove nothing was lost, duplicated or released against policy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (180)")
    parser.add_argument("--pushers", type=int, default=None, help="pushing clients (20)")
    parser.add_argument("--pollers", type=int, default=None, help="polling clients (50)")
    parser.add_argument("--fault-every", type=float, default=None, help="seconds (20)")
    parser.add_argument("--first-fault", type=float, default=None, help="seconds in (15)")
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help="faults inflicted in turn (comma list; '' none)"
    )
    parser.add_argument("--min-objects", type=int, default=5, help="objects per bundle, least")
    parser.add_argument("--max-objects", type=int, default=200, help="objects per bundle, most")
    parser.add_argument("--push-pause", type=float, default=1.0, help="seconds between bundles")
    parser.add_argument("--poll-pause", type=float, default=2.0, help="seconds between walks")
    parser.add_argument(
        "--give-up", type=float, default=120.0, help="seconds a client retries one request"
    )
    parser.add_argument("--drain-timeout", type=float, default=240.0, help="seconds")
    parser.add_argument(
        "--reclaim-after", type=int, default=15, help="queue.reclaim_after_seconds of the hub"
    )
    parser.add_argument(
        "--inline-max-objects",
        type=int,
        default=100,
        help="ingest.inline_max_objects: smaller bundles are processed by the web process",
    )
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per web")
    parser.add_argument("--poller-processes", type=int, default=2, help="client processes")
    parser.add_argument("--seed", type=int, default=1, help="of the generated bundles")
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="a short run (20 s, 4 pushers, 6 pollers, a fault every 4 s unless given), then "
        "defects planted in the database one at a time must each be caught",
    )
    parser.add_argument("--tag", default="", help="suffix of the result file names")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser.parse_args(argv)


def options(args: argparse.Namespace) -> Options:
    short = args.self_check

    def pick(value: Any, normal: Any, brief: Any) -> Any:
        return value if value is not None else (brief if short else normal)

    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise SystemExit(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    return Options(
        duration_s=pick(args.duration, 180.0, 20.0),
        pushers=pick(args.pushers, 20, 4),
        pollers=pick(args.pollers, 50, 6),
        fault_every_s=pick(args.fault_every, 20.0, 4.0),
        first_fault_s=pick(args.first_fault, 15.0, 3.0),
        faults=faults,
        min_objects=args.min_objects,
        max_objects=args.max_objects,
        push_pause_s=args.push_pause,
        poll_pause_s=args.poll_pause,
        give_up_s=args.give_up,
        drain_timeout_s=args.drain_timeout,
        reclaim_after_s=args.reclaim_after,
        inline_max_objects=args.inline_max_objects,
        web_workers=args.web_workers,
        poller_processes=args.poller_processes,
        seed=args.seed,
        self_check=args.self_check,
    )


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the harness; 0 if the verdict is clean (and, with --self-check, every planted
    defect was caught), 1 otherwise."""
    args = parse_args(argv)
    opts = options(args)
    tag = args.tag or ("self-check" if opts.self_check else "")
    stem = f"load_faults-{datetime.now():%Y-%m-%d}{'-' + tag if tag else ''}"
    command = " ".join([".venv/bin/python", "bench/load_faults.py", *(argv or sys.argv[1:])])
    report = RunReport(
        command,
        datetime.now().isoformat(timespec="seconds"),
        machine_info(_code(), servers=False),  # the shared servers are not ours to ask
        asdict(opts),
    )
    root = Path(tempfile.mkdtemp(prefix="hub-load-faults-"))
    started = time.perf_counter()
    try:
        run(opts, report, root)
    except (Exception, KeyboardInterrupt) as exc:
        report.problems.append(f"{type(exc).__name__}: {exc}")
        log(f"the run failed: {type(exc).__name__}: {exc}")
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    report.finished = datetime.now().isoformat(timespec="seconds")
    report.minutes = round((time.perf_counter() - started) / 60, 1)
    text = render(report)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / f"{stem}.md").write_text(text, encoding="utf-8")
    (args.results_dir / f"{stem}.json").write_bytes(
        orjson.dumps(asdict(report), option=orjson.OPT_INDENT_2)
    )
    print(text)
    log(f"written {args.results_dir / (stem + '.md')}: {'PASS' if report.ok else 'FAIL'}")
    return 0 if report.ok else 1


def _code() -> str:
    found = subprocess.run(
        ["git", "-C", str(BENCH_DIR.parent), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return f"commit {found.stdout.strip()}" if found.returncode == 0 else "the working tree"


if __name__ == "__main__":
    # SIGTERM, and SIGINT even when started in the background (where it is ignored), unwind
    # through every `finally`: servers stopped, temporary folders removed.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    sys.exit(main())
