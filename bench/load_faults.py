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

This module runs the show and writes the report; `load_faults_cluster.py` starts and breaks
the hub, `load_faults_clients.py` is the client processes, `load_faults_evidence.py` reads
everything back (and plants the self-check's defects), `load_faults_check.py` judges.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.ingest import ProcessWatch, load_average, log, machine_info
from bench.load_faults_check import verify
from bench.load_faults_cluster import (
    BENCH_DIR,
    FAULTS,
    ClientProcess,
    Cluster,
    Fault,
    FaultSchedule,
    HighWater,
    Options,
    client_specs,
    server_versions,
)
from bench.load_faults_evidence import Gathered, collect, drain, gather, self_check

RESULTS_DIR = BENCH_DIR / "results"
FAULT_GRACE_S = 3.0  # errors this soon after a fault was repaired are still the fault's
OUTSIDE = "outside faults"


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
    by_fault: dict[str, int]  # fault kind (or OUTSIDE) -> failed requests that overlapped it

    @property
    def outside_faults(self) -> int:
        return self.by_fault.get(OUTSIDE, 0)


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


def fault_during(started: float, seconds: float, faults: Sequence[Fault]) -> str:
    """The kind of the fault a request overlapped (a fault lasts from its start until
    FAULT_GRACE_S after the service was back, or for good if it never came back); OUTSIDE if
    none."""
    ended = started + seconds
    overlapped = [
        f
        for f in faults
        if f.started <= ended and started <= (f.recovered or float("inf")) + FAULT_GRACE_S
    ]
    # When faults follow each other closely, the one most recently begun when it failed.
    return max(overlapped, key=lambda f: f.started).kind if overlapped else OUTSIDE


def error_counts(requests_log: Sequence[list[Any]], faults: Sequence[Fault]) -> list[ErrorCount]:
    """Failed requests by kind and outcome, and by the fault they overlapped."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for kind, started, seconds, outcome in requests_log:
        if outcome not in ("200", "202"):
            counts[(kind, outcome)][fault_during(started, seconds, faults)] += 1
    return [ErrorCount(k, o, dict(c)) for (k, o), c in sorted(counts.items())]


def unexplained_server_errors(
    server_errors: Sequence[list[Any]], faults: Sequence[Fault], logs: Sequence[Path]
) -> list[str]:
    """Each 5xx answered while no fault was under way, with the cause the web process logged
    for its request id: a bug in the hub, not an effect of the faults."""
    outside = [e for e in server_errors if fault_during(e[1], e[2], faults) == OUTSIDE]
    if not outside:
        return []
    wanted = {e[4]: e for e in outside}
    causes: dict[str, str] = {}
    for path in logs:
        with contextlib.suppress(OSError), path.open("rb") as lines:
            for line in lines:
                if b'"exception"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    entry = orjson.loads(line)
                    if entry.get("request_id") in wanted:
                        trace = [t for t in str(entry["exception"]).splitlines() if t.strip()]
                        causes[entry["request_id"]] = next(
                            (t for t in reversed(trace) if not t.startswith(("(Background", "["))),
                            "?",
                        )
    return [
        f"{kind} answered {outcome} while no fault was under way (X-Request-Id {request_id}): "
        f"{causes.get(request_id, 'no cause in the web logs')}"
        for kind, _started, _seconds, outcome, request_id in outside
    ]


@dataclass
class RunReport:
    command: str
    started: str
    machine: dict[str, str]
    options: dict[str, Any]
    seconds: float = 0.0
    drain_s: float = 0.0
    backlog: int = 0  # submissions pending when the load ended
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
        drained_s, report.backlog = drain(cluster.database_url, opts.drain_timeout_s)
        report.drain_s = round(drained_s, 1)
        drained_flag.touch()
        for client in clients[1:]:
            client.wait(stop_at + opts.give_up_s + opts.drain_timeout_s + 180)
        gathered = gather([client.result() for client in clients])
        report.problems += gathered.errors
        report.seconds = round(pushed - t0, 1)
        figures(report, gathered, opts)
        report.problems += unexplained_server_errors(
            gathered.server_errors, report.faults, [web.log_path for web in cluster.webs]
        )
        log("reading everything back")
        evidence = collect(cluster, gathered, high_water, None)
        verdict = verify(evidence)
        report.checked = verdict.checked
        report.objects["valid objects stored in the inbox"] = len(evidence.inbox) - sum(
            1
            for s in {(s.object_id, s.version_us): s for s in evidence.sent}.values()
            if not s.shared
        )
        stored = report.objects["valid objects stored in the inbox"]
        report.rates["valid objects stored per second, over the load and the drain"] = round(
            stored / (report.seconds + report.drain_s), 1
        )
        report.violations = [asdict(v) for v in verdict.violations]
        if opts.self_check:
            report.self_check = self_check(cluster, gathered, high_water, evidence)


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
        "requests answered 202 per second": round(len(accepted) / seconds, 1),
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
        f"drained the {report.backlog:,} submissions still pending in {report.drain_s:,.1f} s.",
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
        f"{FAULT_GRACE_S:.0f} s after the service was back). Each was retried. A 5xx outside "
        "faults fails the run: it is a bug, named under Verdict with the cause the web process "
        "logged for its X-Request-Id.",
        "",
        "| request | outcome | " + " | ".join(f"during {f}" for f in FAULTS) + f" | {OUTSIDE} |",
        "|---|---|" + "---|" * (len(FAULTS) + 1),
        *(
            f"| {e.kind} | {e.outcome} | "
            + " | ".join(f"{e.by_fault.get(f, 0):,}" for f in (*FAULTS, OUTSIDE))
            + " |"
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
