"""Where the sharing rules' cost goes, per object, and what storing a release costs per layout.

Issue 4 allows the sharing rules at most a third of the end-to-end ingest rate: with the rules on,
ingest must run at two thirds or more of its rate into a trust group (rules off). This script
answers where the difference goes, with the hub's own code, and how far a storage layout can
move it. Two sections (`--only` picks them):

- `pipeline`: in this process, on SQLite and PostgreSQL, the same indicators as
  `bench/ingest.py` (`make_indicator`) are submitted in `--submissions` submissions of
  `--objects` each and processed with `pipeline.process`, once into a trust group (rules off)
  and once into the inbox (the rules, to the three default feeds). Timers around the hub's own
  functions give, per object: validation, the decision (`Releaser.decide`), rendering the feeds'
  versions (`Releaser.prepare`), the time inside write transactions (on SQLite every worker
  waits for it: with two workers the rate is bound by it), and inside them the stores into the
  target collection, into the feeds and of the receipts. CPU is this process's; on PostgreSQL
  the machine's busy time is given too (the server's share is not in the process's CPU).
- `layouts`: the floor of storage alone, on SQLite through the driver (no hub code): the write
  transaction per object, in chunks of 1,000 onto `--preload` rows, for one row per object (the
  trust group) beside candidate layouts for a release to two feeds:
  `today` (the hub's schema: the inbox row, a full row per feed, a receipt per feed),
  `slim-feeds` (one shared released body and receipt row, two feed rows without a body),
  `one-release-row` (one row per version holding the released body, the receipt's fields and
  the feeds as a bit mask; the feeds read it through a filter), `one-release-row-no-body`
  (the same without the body: rendered when read) and `unpaged-inbox-one-release-row` (a
  release row, and the inbox in a table of its own without the indexes TAXII paging needs, as
  no member pages the inbox). Every 20th object is TLP:CLEAR and goes to
  the public feed as well. For `today` and `one-release-row`, a 1,000-object page is then read
  from the middle of a dense feed and of the sparse public feed (in `one-release-row` through
  its (tlp, seq) index or its primary key, with the feed's identity put into each body), to
  see what such a layout would cost the readers.

Run from the repository root with the hub's virtualenv (PostgreSQL at 127.0.0.1:5432, database
`test`; a schema per run, dropped at the end):

    .venv/bin/python bench/rules_cost.py                  # both sections, about 3 min
    .venv/bin/python bench/rules_cost.py --only layouts   # the storage floor only

The report is printed and written to `bench/results/rules_cost-<date>[-<tag>].md`, the figures
beside it as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench.ingest import (
    _IDENTITY_REF,
    MEMBER_NAME,
    POSTGRES,
    RESULTS_DIR,
    SQLITE,
    load_average,
    log,
    machine_cpu_seconds,
    machine_info,
    make_indicator,
    stage_hub,
)

TAXII = "application/taxii+json;version=2.1"

# --- the pipeline, timed part by part ----------------------------------------------------------

VALIDATE = "validate (ObjectValidator.check)"
DECIDE = "decide (Releaser.decide)"
RENDER = "render the feeds' versions (Releaser.prepare)"
LOCKED = "inside write transactions (all)"
STORE_TARGET = "  store into the trust group / inbox"
STORE_FEEDS = "  store into the feeds"
RECEIPTS = "  receipts"
PARTS = (VALIDATE, DECIDE, RENDER, LOCKED, STORE_TARGET, STORE_FEEDS, RECEIPTS)
_LOCK_NOTE = {
    SQLITE: "one writer at a time: with two workers, SQLite's rate is bound by them",
    POSTGRES: "each holds its collections' rows locked until it commits",
}


class Timers:
    """Wall time spent in some of the hub's functions, summed by label: each is wrapped for
    the duration of a `with timers.installed():` block and restored after."""

    def __init__(self) -> None:
        self.spent: Counter[str] = Counter()
        self._wraps: list[tuple[Any, str, Callable[..., Any]]] = []

    def wrap(self, owner: Any, name: str, label: Callable[..., str | None] | str) -> None:
        original = getattr(owner, name)
        spent = self.spent

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                which = label(*args, **kwargs) if callable(label) else label
                if which is not None:
                    spent[which] += time.perf_counter() - started

        self._wraps.append((owner, name, original))
        setattr(owner, name, timed)

    def wrap_context(self, owner: Any, name: str, label: str) -> None:
        """The same for a method that returns a context manager: the time inside the block."""
        original = getattr(owner, name)
        spent = self.spent

        @contextlib.contextmanager
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            started = time.perf_counter()
            try:
                with original(*args, **kwargs) as value:
                    yield value
            finally:
                spent[label] += time.perf_counter() - started

        self._wraps.append((owner, name, original))
        setattr(owner, name, timed)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        try:
            yield
        finally:
            for owner, name, original in reversed(self._wraps):
                setattr(owner, name, original)
            self._wraps.clear()


@dataclass
class PipelineRun:
    backend: str
    mode: str  # trust | rules
    objects: int
    wall_us: float  # per object, pipeline.process only
    cpu_us: float  # this process
    machine_us: float  # every process on the machine (PostgreSQL's server included)
    parts_us: dict[str, float] = field(default_factory=dict)
    rounds: int = 1  # the figures are medians over this many runs on fresh hubs


def run_pipeline(backend: str, mode: str, root: Path, opts: argparse.Namespace) -> PipelineRun:
    from hub.auth.principal import Principal
    from hub.services import membership
    from hub.services.collections import add_collection, list_all
    from hub.services.ingest import submit
    from hub.services.pipeline import process
    from hub.services.release import Releaser
    from hub.storage.engine import Database
    from hub.storage.objects import ObjectRepository
    from hub.storage.sharing import ReceiptRepository

    with stage_hub(backend, root / f"{backend}-{mode}") as hub:
        member = membership.add_member(hub, MEMBER_NAME, "industry", sector="finance")
        principal = Principal(
            member.id, member.name, "industry", "finance", "bench", frozenset({"read", "write"})
        )
        if mode == "trust":
            target = add_collection(
                hub, "bench", "Bench", readers=["industry"], writers=["industry"]
            ).id
        else:
            target = {c.alias: c.id for c in list_all(hub)}["inbox"]

        def submitted(salt: str, count: int) -> str:
            objects = [make_indicator(i, salt) for i in range(count)]
            body = orjson.dumps({"objects": objects})
            return submit(hub, principal, target, body, TAXII, channel="taxii")[0].id

        process(hub, submitted(f"warm-{mode}", 2_000))  # compiled schemas, open connections
        ids = [submitted(f"{mode}-{n}", opts.objects) for n in range(opts.submissions)]
        timers = Timers()
        timers.wrap(type(hub.validator), "check", VALIDATE)
        timers.wrap(Releaser, "decide", DECIDE)
        timers.wrap(Releaser, "prepare", RENDER)
        timers.wrap_context(Database, "write", LOCKED)
        timers.wrap(
            ObjectRepository,
            "add",
            lambda _repo, collection_id, *_a, **_k: (
                STORE_TARGET if collection_id == target else STORE_FEEDS
            ),
        )
        timers.wrap(ReceiptRepository, "add_many", RECEIPTS)
        with timers.installed():
            machine = machine_cpu_seconds()
            cpu = time.process_time()
            started = time.perf_counter()
            for submission_id in ids:
                process(hub, submission_id)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu
            machine = machine_cpu_seconds() - machine
        count = opts.objects * opts.submissions
        per = 1e6 / count
        return PipelineRun(
            backend,
            mode,
            count,
            wall * per,
            cpu * per,
            machine * per,
            {part: timers.spent[part] * per for part in PARTS},
        )


def median_run(runs: list[PipelineRun]) -> PipelineRun:
    """Each figure's median over the rounds."""
    first = runs[0]
    return PipelineRun(
        first.backend,
        first.mode,
        first.objects,
        statistics.median(r.wall_us for r in runs),
        statistics.median(r.cpu_us for r in runs),
        statistics.median(r.machine_us for r in runs),
        {part: statistics.median(r.parts_us[part] for r in runs) for part in first.parts_us},
        rounds=len(runs),
    )


# --- the storage floor of candidate layouts ----------------------------------------------------

_CANDIDATES = """
CREATE TABLE release_bodies (
    id INTEGER PRIMARY KEY, object_id TEXT NOT NULL, version_us INTEGER NOT NULL,
    member_id TEXT NOT NULL, submission_id TEXT, policy_version INTEGER NOT NULL,
    tlp TEXT NOT NULL, redactions TEXT, released_us INTEGER NOT NULL, feeds TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX release_bodies_object ON release_bodies (object_id);
CREATE INDEX release_bodies_submission ON release_bodies (submission_id);
CREATE TABLE feed_rows (
    collection_id TEXT NOT NULL, seq INTEGER NOT NULL, object_id TEXT NOT NULL,
    type TEXT NOT NULL, version_us INTEGER NOT NULL, date_added_us INTEGER NOT NULL,
    is_latest BOOLEAN NOT NULL, is_first BOOLEAN NOT NULL, release_id INTEGER NOT NULL,
    identity_id TEXT NOT NULL, PRIMARY KEY (collection_id, seq)) WITHOUT ROWID;
CREATE UNIQUE INDEX feed_rows_version ON feed_rows (collection_id, object_id, version_us);
CREATE INDEX feed_rows_type ON feed_rows (collection_id, type, seq);
CREATE INDEX feed_rows_latest ON feed_rows (collection_id, seq) WHERE is_latest;
CREATE TABLE releases (
    seq INTEGER PRIMARY KEY, object_id TEXT NOT NULL, version_us INTEGER NOT NULL,
    type TEXT NOT NULL, member_id TEXT NOT NULL, submission_id TEXT,
    policy_version INTEGER NOT NULL, tlp TEXT NOT NULL, redactions TEXT,
    released_us INTEGER NOT NULL, feeds INTEGER NOT NULL, latest_feeds INTEGER NOT NULL,
    identities TEXT NOT NULL, body TEXT NOT NULL);
CREATE UNIQUE INDEX releases_version ON releases (object_id, version_us);
CREATE INDEX releases_submission ON releases (submission_id);
CREATE INDEX releases_type ON releases (type, seq);
CREATE INDEX releases_tlp ON releases (tlp, seq);
CREATE TABLE inbox_versions (
    seq INTEGER PRIMARY KEY, object_id TEXT NOT NULL, type TEXT NOT NULL,
    spec_version TEXT NOT NULL, version_us INTEGER NOT NULL, version_text TEXT,
    date_added_us INTEGER NOT NULL, is_latest BOOLEAN NOT NULL, is_first BOOLEAN NOT NULL,
    submitted_by TEXT, body TEXT NOT NULL);
CREATE UNIQUE INDEX inbox_versions_version ON inbox_versions (object_id, version_us);
"""

_OBJECT_VERSION = (
    "INSERT INTO object_versions (collection_id, seq, object_id, type, spec_version, version_us,"
    " version_text, date_added_us, is_latest, is_first, submitted_by, body)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_RECEIPT = (
    "INSERT INTO receipts (object_id, version_us, feed_id, member_id, submission_id,"
    " policy_version, tlp, identity_id, named, redactions, kind, released_us)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_RELEASE_BODY = (
    "INSERT INTO release_bodies (id, object_id, version_us, member_id, submission_id,"
    " policy_version, tlp, redactions, released_us, feeds, body)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_FEED_ROW = "INSERT INTO feed_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_RELEASE = (
    "INSERT INTO releases (seq, object_id, version_us, type, member_id, submission_id,"
    " policy_version, tlp, redactions, released_us, feeds, latest_feeds, identities, body)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INBOX_VERSION = (
    "INSERT INTO inbox_versions (seq, object_id, type, spec_version, version_us, version_text,"
    " date_added_us, is_latest, is_first, submitted_by, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " ?, ?)"
)
LAYOUTS = (
    "trust-group",
    "today",
    "slim-feeds",
    "one-release-row",
    "one-release-row-no-body",
    "unpaged-inbox-one-release-row",
)


def _layout_database(path: Path) -> sqlite3.Connection:
    from sqlalchemy import create_engine

    from hub.storage.tables import metadata

    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=OFF"):
        db.execute(f"PRAGMA {pragma}")  # the hub's settings, but no foreign keys to satisfy
    db.executescript(_CANDIDATES)
    return db


# Every 20th object is TLP:CLEAR and goes to the public feed too (the rest are TLP:GREEN).
_CLEAR_EVERY = 20
# Where a release row's body names the submitter: replaced by each feed's identity when read.
_PLACEHOLDER = "\x01"


@dataclass
class LayoutRun:
    write_us: list[float]  # per object, each timed chunk's write transaction
    # feed -> ms per 1,000-object page read from the middle (median of `--reads`)
    read_ms: dict[str, float] = field(default_factory=dict)


def run_layout(layout: str, root: Path, opts: argparse.Namespace) -> LayoutRun:
    """The write transaction per object of each timed chunk (after `--preload` rows), and for
    two layouts, the time to read a 1,000-object page of a dense and of a sparse feed."""
    db = _layout_database(root / f"layout-{layout}.db")
    inbox, feeds = str(uuid.uuid4()), (str(uuid.uuid4()), str(uuid.uuid4()))
    public = str(uuid.uuid4())
    member, submission = str(uuid.uuid4()), str(uuid.uuid4())
    pseudonym = f"identity--{uuid.uuid4()}"
    chunk, preload = 1_000, opts.preload // 1_000
    timed: list[float] = []
    for number in range(preload + opts.chunks):
        objects = [
            make_indicator(i, "layouts") for i in range(number * chunk, (number + 1) * chunk)
        ]
        bodies = [orjson.dumps(obj).decode("utf-8") for obj in objects]
        first = number * chunk + 1
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        versions = [
            (obj["id"], "indicator", seq * 1_000, seq, body)
            for seq, obj, body in zip(range(first, first + chunk), objects, bodies, strict=True)
        ]
        rows = [
            (
                inbox,
                seq,
                oid,
                kind,
                "2.1",
                v,
                "2026-01-01T00:00:00.000Z",
                seq,
                True,
                True,
                member,
                b,
            )
            for oid, kind, v, seq, b in versions
        ]
        if layout.startswith("unpaged-inbox"):
            # The inbox in a table of its own, without the indexes TAXII pages need: members
            # post to it, and read what was released from the feeds.
            db.executemany(_INBOX_VERSION, [row[1:] for row in rows])
        else:
            db.executemany(_OBJECT_VERSION, rows)
        if layout == "today":
            clear = [row for row in rows if int(row[1]) % _CLEAR_EVERY == 0]
            db.executemany(_OBJECT_VERSION, [(public, *row[1:]) for row in clear])
            for feed in feeds:
                db.executemany(_OBJECT_VERSION, [(feed, *row[1:]) for row in rows])
                db.executemany(
                    _RECEIPT,
                    [
                        (
                            oid,
                            v,
                            feed,
                            member,
                            submission,
                            1,
                            "green",
                            pseudonym,
                            False,
                            None,
                            "release",
                            seq,
                        )
                        for oid, _, v, seq, _ in versions
                    ],
                )
        elif layout == "slim-feeds":
            db.executemany(
                _RELEASE_BODY,
                [
                    (seq, oid, v, member, submission, 1, "green", None, seq, "[1,2]", b)
                    for oid, _, v, seq, b in versions
                ],
            )
            for feed in feeds:
                db.executemany(
                    _FEED_ROW,
                    [
                        (feed, seq, oid, kind, v, seq, True, True, seq, pseudonym)
                        for oid, kind, v, seq, _ in versions
                    ],
                )
        elif layout.endswith(("one-release-row", "one-release-row-no-body")):
            keep_body = not layout.endswith("no-body")
            db.executemany(
                _RELEASE,
                [
                    (
                        seq,
                        oid,
                        v,
                        kind,
                        member,
                        submission,
                        1,
                        "clear" if seq % _CLEAR_EVERY == 0 else "green",
                        None,
                        seq,
                        7 if seq % _CLEAR_EVERY == 0 else 6,  # bit 1: public, 2 and 4: others
                        7 if seq % _CLEAR_EVERY == 0 else 6,
                        f'["{pseudonym}","{pseudonym}"]',
                        b.replace(_IDENTITY_REF, _PLACEHOLDER) if keep_body else "",
                    )
                    for oid, kind, v, seq, b in versions
                ],
            )
        db.execute("COMMIT")
        if number >= preload:
            timed.append((time.perf_counter() - started) * 1e6 / chunk)
    run = LayoutRun(timed)
    total = (preload + opts.chunks) * chunk
    middle = total // 2
    # The rows a page (LIMIT 1001) after `middle` holds, in each layout alike.
    expected = {
        "dense": min(1_001, total - middle),
        "sparse": min(1_001, total // _CLEAR_EVERY - middle // _CLEAR_EVERY),
    }
    if layout == "today":
        page = (
            "SELECT body FROM object_versions WHERE collection_id = ? AND is_latest"
            " AND seq > ? ORDER BY seq LIMIT 1001"
        )
        for name, feed in (("dense", feeds[0]), ("sparse", public)):
            run.read_ms[name] = _read_ms(
                opts.reads,
                expected[name],
                lambda f=feed: b",".join(r[0].encode() for r in db.execute(page, (f, middle))),
            )
    elif layout == "one-release-row":
        # A feed taking most levels is read in seq order, one taking few through (tlp, seq):
        # SQLite would sort every row of the levels of a dense feed to use that index.
        page = (
            "SELECT body FROM releases {} WHERE tlp IN ({}) AND feeds & ? AND latest_feeds & ?"
            " AND seq > ? ORDER BY seq LIMIT 1001"
        )
        for name, index, levels, bit in (
            ("dense", "NOT INDEXED", "'clear', 'green', 'amber'", 2),
            ("sparse", "INDEXED BY releases_tlp", "'clear'", 1),
        ):
            sql = page.format(index, levels)
            run.read_ms[name] = _read_ms(
                opts.reads,
                expected[name],
                lambda sql=sql, bit=bit: b",".join(
                    r[0].replace(_PLACEHOLDER, pseudonym).encode()
                    for r in db.execute(sql, (bit, bit, middle))
                ),
            )
    db.close()
    return run


def _read_ms(reads: int, expected: int, page: Callable[[], bytes]) -> float:
    """Median ms of `reads` calls of `page` (after two not timed), which must give `expected`
    objects, each with its identity in place."""
    for _ in range(2):
        body = page()
    if body.count(b'"type":"indicator"') != expected or _PLACEHOLDER.encode() in body:
        raise RuntimeError(f"a page of the layout benchmark did not hold {expected} objects")
    times = []
    for _ in range(reads):
        started = time.perf_counter()
        page()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


# --- the report ----------------------------------------------------------------------------------


@dataclass
class Results:
    started: str
    command: str
    machine: dict[str, str]
    options: dict[str, Any]
    load_before: str
    pipeline: list[PipelineRun] = field(default_factory=list)
    layouts: dict[str, LayoutRun] = field(default_factory=dict)


def _f(value: float) -> str:
    return f"{value:,.0f}"


def report(results: Results) -> str:
    lines = [
        f"# Cost of the sharing rules, {results.started[:10]}",
        "",
        f"Command (from the repository root): `{results.command}`",
        "",
        f"Started {results.started}. Machine: "
        + ", ".join(f"{k} {v}" for k, v in results.machine.items())
        + f". Load average before: {results.load_before}.",
        f"Options: {', '.join(f'{k}={v}' for k, v in results.options.items())}.",
        "",
    ]
    by = {(run.backend, run.mode): run for run in results.pipeline}
    for backend in (SQLITE, POSTGRES):
        trust, rules = by.get((backend, "trust")), by.get((backend, "rules"))
        if trust is None or rules is None:
            continue
        lines += [
            f"## The pipeline on {backend}, in process (µs per object)",
            "",
            f"Medians over {rules.rounds} runs of each, alternated, each on a fresh hub, of "
            f"{rules.objects:,} objects.",
            "",
            "| part | trust group (rules off) | inbox (rules on) | difference |",
            "|---|---|---|---|",
        ]
        rows = [
            ("wall time of pipeline.process", trust.wall_us, rules.wall_us),
            ("CPU of this process", trust.cpu_us, rules.cpu_us),
            ("CPU of the whole machine", trust.machine_us, rules.machine_us),
        ] + [(part, trust.parts_us[part], rules.parts_us[part]) for part in PARTS]
        for name, off, on in rows:
            lines.append(f"| {name} | {_f(off)} | {_f(on)} | {on - off:+,.0f} |")
        cost_cpu = 1 - trust.machine_us / rules.machine_us
        cost_lock = 1 - trust.parts_us[LOCKED] / rules.parts_us[LOCKED]
        lines += [
            "",
            f"- The rules cost {cost_cpu:.0%} of the rate where CPU bounds it (the whole "
            f"machine's CPU per object), {cost_lock:.0%} where the write transactions do "
            f"({_LOCK_NOTE[backend]}). The target is at most 33%: the rules may add at most "
            f"half of the trust group's figure, {_f(trust.machine_us / 2)} µs of CPU and "
            f"{_f(trust.parts_us[LOCKED] / 2)} µs inside write transactions per object.",
            "",
        ]
    if results.layouts:
        base = statistics.median(results.layouts["trust-group"].write_us)
        lines += [
            "## Storage alone, SQLite through the driver",
            "",
            "Write transactions of chunks of 1,000 objects after "
            f"{results.options['preload']:,} rows, median and min over "
            f"{results.options['chunks']} chunks, µs per object. A release goes to two feeds "
            f"(and every {_CLEAR_EVERY}th object, TLP:CLEAR, to the public feed too). Pages: "
            "ms to read a 1,000-object page from the middle of a dense feed (members) and of "
            f"the sparse public feed, median of {results.options['reads']} reads, the page's "
            "bodies joined as the hub sends them (in `one-release-row`, with the feed's "
            "identity put in each body).",
            "",
            "| layout | write median | write min | x trust group | share of the rate, if "
            "storage were all | page, dense feed | page, sparse feed |",
            "|---|---|---|---|---|---|---|",
        ]
        for layout in LAYOUTS:
            found = results.layouts.get(layout)
            if found is None:
                continue
            median = statistics.median(found.write_us)
            dense, sparse = found.read_ms.get("dense"), found.read_ms.get("sparse")
            lines.append(
                f"| {layout} | {median:.1f} | {min(found.write_us):.1f} | {median / base:.2f} | "
                f"{1 - base / median:.0%} | {'' if dense is None else f'{dense:.1f}'} | "
                f"{'' if sparse is None else f'{sparse:.1f}'} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="pipeline,layouts", help="sections, comma-separated")
    parser.add_argument("--backends", default=f"{SQLITE},{POSTGRES}")
    parser.add_argument("--objects", type=int, default=5_000, help="objects per submission")
    parser.add_argument("--submissions", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode (medians)")
    parser.add_argument("--preload", type=int, default=60_000, help="rows before the timed chunks")
    parser.add_argument("--chunks", type=int, default=30, help="timed chunks of 1,000")
    parser.add_argument("--reads", type=int, default=30, help="timed page reads per feed")
    parser.add_argument("--tag", default="", help="suffix of the report's file name")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where reports go")
    opts = parser.parse_args(argv)
    sections = set(opts.only.split(","))
    results = Results(
        started=datetime.now().isoformat(timespec="seconds"),
        command=".venv/bin/python bench/rules_cost.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        machine=machine_info("working tree", servers=POSTGRES in opts.backends),
        options={
            k: getattr(opts, k)
            for k in ("objects", "submissions", "rounds", "preload", "chunks", "reads", "backends")
        },
        load_before=load_average(),
    )
    with tempfile.TemporaryDirectory(prefix="hub-rules-cost-") as tmp:
        root = Path(tmp)
        if "pipeline" in sections:
            for backend in opts.backends.split(","):
                runs: dict[str, list[PipelineRun]] = {"trust": [], "rules": []}
                for round_ in range(1, opts.rounds + 1):
                    for mode in runs:  # alternated, so that a busy spell hits both alike
                        log(f"pipeline: {backend}, {mode}, round {round_}")
                        runs[mode].append(run_pipeline(backend, mode, root / str(round_), opts))
                results.pipeline += [median_run(found) for found in runs.values()]
        if "layouts" in sections:
            for layout in LAYOUTS:
                log(f"layouts: {layout}")
                results.layouts[layout] = run_layout(layout, root, opts)
    text = report(results)
    print(text)
    stem = f"rules_cost-{results.started[:10]}" + (f"-{opts.tag}" if opts.tag else "")
    opts.results_dir.mkdir(exist_ok=True)
    (opts.results_dir / f"{stem}.md").write_text(text, encoding="utf-8")
    (opts.results_dir / f"{stem}.json").write_bytes(
        orjson.dumps(asdict(results), option=orjson.OPT_INDENT_2)
    )
    log(f"written {opts.results_dir / (stem + '.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
