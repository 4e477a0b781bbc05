"""The deployment of the load-and-fault harness (`bench/load_faults.py`): a private PostgreSQL
and Redis, two `hub serve` and two `hub worker` processes sharing them, the members and their
keys; the faults inflicted on them; the feeds' high-water marks; the client processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import requests

from bench.ingest import (
    BenchError,
    Proc,
    ProcessWatch,
    child_env,
    hub_command,
    log,
    wait_until,
)
from bench.load_faults_check import FeedRule, Member
from tests.support.postgres import PrivatePostgres, free_port, server_bindir
from tests.support.redis_server import PrivateRedis

BENCH_DIR = Path(__file__).resolve().parent
CLIENTS = BENCH_DIR / "load_faults_clients.py"
FAULTS = ("kill-web", "kill-worker", "restart-redis", "restart-postgres")
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
    """PostgreSQL's server binaries, found as the tests find them."""
    found = server_bindir()
    if found is None:
        raise BenchError("PostgreSQL's server binaries are needed: apt-get install postgresql")
    return found


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
            for role, command, procs in (
                ("web", "serve", self.webs),
                ("worker", "worker", self.workers),
            ):
                name = f"{role}-{number}"
                config = str(self.configs[name])
                proc = Proc(
                    name, [hub_command(), "--config", config, command], self.root / f"{name}.log"
                )
                procs.append(proc)
                self._stack.callback(proc.stop)
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
            "start_at": t0 + number / max(1, opts.pushers) * opts.push_pause_s,
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
