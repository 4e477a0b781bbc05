"""A connector's durable state: one SQLite file per connector in `<data_dir>/connectors/`.

A connector is a client of the hub, so its cursor is kept beside it, not in the hub's database.
The file holds:

- `meta`: the cursor and what the connector is bound to (its source and target), as JSON values;
- `outbox`: batches fetched and not yet delivered. A batch is staged in the same transaction
  that moves the cursor past what it holds, and removed in the transaction that records its
  delivery, so a process killed at any point leaves every fetched object either in the outbox
  or delivered, never neither and never both;
- `versions`: the (object id, version) pairs delivered, so a version met again is not sent
  again;
- `items`: per source item (a file, a MISP event) what was imported, for the directory kind;
- `followups`: deliveries whose status the target had not finished when it answered;
- `rejected`: what the target refused outright or could never take (too large), kept whole;
- `counters` and `runs`: what `hub connector status` shows, and what a metrics exporter reads.

Every write is a transaction (WAL journal, synchronous FULL). One process runs a connector at a
time: `lock()` takes an exclusive lock on `<name>.lock` for the life of the run.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hub.stix.timestamps import format_us, now_us

SCHEMA_VERSION = 1
COUNTERS = ("fetched", "submitted", "succeeded", "failed", "skipped")
RUNS_KEPT = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started_us INTEGER NOT NULL, finished_us INTEGER,
    outcome TEXT NOT NULL, fetched INTEGER NOT NULL DEFAULT 0,
    submitted INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0, error TEXT);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY, source TEXT NOT NULL, content_type TEXT NOT NULL,
    params TEXT NOT NULL, body BLOB NOT NULL, items INTEGER NOT NULL,
    versions TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, staged_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    object_id TEXT NOT NULL, version TEXT NOT NULL, delivered_us INTEGER NOT NULL,
    PRIMARY KEY (object_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
    item TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, error TEXT,
    updated_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS followups (
    status_id TEXT PRIMARY KEY, items INTEGER NOT NULL, recorded_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, ref TEXT NOT NULL, reason TEXT NOT NULL,
    body BLOB, recorded_us INTEGER NOT NULL);
"""


class StateError(Exception):
    """The state file cannot be used: locked by another process, unreadable, or foreign."""


@dataclass(frozen=True)
class Staged:
    """One batch in the outbox, as it will be sent."""

    seq: int
    source: str  # where it came from, for logs and rejects (a page, a file, a MISP event)
    content_type: str
    params: dict[str, str]
    body: bytes
    items: int
    versions: list[tuple[str, str]]
    attempts: int


@dataclass(frozen=True)
class Batch:
    """A batch to stage: its body and what it holds."""

    source: str
    content_type: str
    body: bytes
    items: int
    params: dict[str, str]
    versions: list[tuple[str, str]]


def state_dir(data_dir: Path) -> Path:
    return data_dir / "connectors"


class StateStore:
    """The state file of one connector. Use `open()` for a run, `read_only()` to look."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    @classmethod
    def open(cls, path: Path) -> StateStore:
        """Open (creating it if needed) the state file for writing."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the state file {path}: {exc}") from None
        store = cls(path, conn)
        version = store.get("schema")
        if version is None:
            store.put("schema", SCHEMA_VERSION)
        elif version != SCHEMA_VERSION:
            raise StateError(f"{path} is state of schema {version}, not {SCHEMA_VERSION}")
        return store

    @classmethod
    def read_only(cls, path: Path) -> StateStore | None:
        """The state file opened for reading, or None when the connector never ran."""
        if not path.exists():
            return None
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as exc:
            raise StateError(f"cannot read the state file {path}: {exc}") from None
        return cls(path, conn)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is on disk when the block ends, or none of it."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- meta: the cursor and the binding ---------------------------------------------------

    def get(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else orjson.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        """Set a meta value (inside the caller's transaction, or in one of its own)."""
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, orjson.dumps(value).decode()),
        )

    def bind(self, binding: dict[str, str]) -> None:
        """Check that this state belongs to the source and target configured now.

        A cursor is only meaningful for the collection it was taken on: a connector pointed
        elsewhere must not skip objects because of another collection's cursor.
        """
        saved = self.get("binding")
        if saved is None:
            with self.transaction():
                self.put("binding", binding)
            return
        changed = sorted(k for k in binding.keys() | saved.keys() if saved.get(k) != binding.get(k))
        if changed:
            raise StateError(
                f"the state in {self.path} was kept for another {', '.join(changed)} "
                f"({', '.join(f'{k}={saved.get(k)!r}' for k in changed)}); move the file "
                "away to start this connector afresh"
            )

    # --- counters and runs ------------------------------------------------------------------

    def count(self, **deltas: int) -> None:
        """Add to counters, inside the caller's transaction."""
        for name, delta in deltas.items():
            if delta:
                self.conn.execute(
                    "INSERT INTO counters (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                    (name, delta),
                )
        run_id = self.get("current_run")
        if run_id is not None:
            self.conn.execute(
                "UPDATE runs SET fetched = fetched + ?, submitted = submitted + ?, "
                "failed = failed + ? WHERE id = ?",
                (
                    deltas.get("fetched", 0),
                    deltas.get("submitted", 0),
                    deltas.get("failed", 0),
                    run_id,
                ),
            )

    def counters(self) -> dict[str, int]:
        values = dict.fromkeys(COUNTERS, 0)
        values.update(self.conn.execute("SELECT name, value FROM counters").fetchall())
        return values

    def start_run(self) -> int:
        with self.transaction():
            # A run still "running" in the file ended with its process (we hold the lock now).
            self.conn.execute("UPDATE runs SET outcome = 'interrupted' WHERE outcome = 'running'")
            cursor = self.conn.execute(
                "INSERT INTO runs (started_us, outcome) VALUES (?, 'running')", (now_us(),)
            )
            run_id = int(cursor.lastrowid or 0)
            self.put("current_run", run_id)
            self.conn.execute("DELETE FROM runs WHERE id <= ?", (run_id - RUNS_KEPT,))
        return run_id

    def finish_run(self, run_id: int, outcome: str, error: str | None) -> dict[str, Any]:
        with self.transaction():
            self.conn.execute(
                "UPDATE runs SET finished_us = ?, outcome = ?, error = ? WHERE id = ?",
                (now_us(), outcome, error, run_id),
            )
            self.put("current_run", None)
            if error is not None:
                self.put("last_error", {"at": format_us(now_us()), "error": error})
        return self.runs(1)[0]

    def runs(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, started_us, finished_us, outcome, fetched, submitted, failed, error "
            "FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            {
                "id": r[0],
                "started": format_us(r[1]),
                "finished": format_us(r[2]) if r[2] is not None else None,
                "outcome": r[3],
                "fetched": r[4],
                "submitted": r[5],
                "failed": r[6],
                "error": r[7],
            }
            for r in rows
        ]

    # --- outbox -----------------------------------------------------------------------------

    def stage(self, batches: Iterable[Batch]) -> int:
        """Put batches in the outbox (inside the caller's transaction); the objects they hold."""
        staged = 0
        for batch in batches:
            self.conn.execute(
                "INSERT INTO outbox (source, content_type, params, body, items, versions, "
                "staged_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    batch.source,
                    batch.content_type,
                    orjson.dumps(batch.params).decode(),
                    batch.body,
                    batch.items,
                    orjson.dumps(batch.versions).decode(),
                    now_us(),
                ),
            )
            staged += batch.items
        return staged

    def outbox(self) -> list[Staged]:
        rows = self.conn.execute(
            "SELECT seq, source, content_type, params, body, items, versions, attempts "
            "FROM outbox ORDER BY seq"
        ).fetchall()
        return [
            Staged(
                seq=r[0],
                source=r[1],
                content_type=r[2],
                params=orjson.loads(r[3]),
                body=bytes(r[4]),
                items=r[5],
                versions=[(v[0], v[1]) for v in orjson.loads(r[6])],
                attempts=r[7],
            )
            for r in rows
        ]

    def outbox_size(self) -> tuple[int, int]:
        """(batches, objects) waiting in the outbox."""
        batches, items = self.conn.execute(
            "SELECT count(*), coalesce(sum(items), 0) FROM outbox"
        ).fetchone()
        return int(batches), int(items)

    def attempt(self, seq: int) -> None:
        """Record that a batch is about to be sent (before the request leaves)."""
        with self.transaction():
            self.conn.execute("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", (seq,))

    def unstage(self, seq: int) -> None:
        """Remove a delivered batch, inside the caller's transaction."""
        self.conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    # --- versions delivered -----------------------------------------------------------------

    def delivered(self, versions: Iterable[tuple[str, str]]) -> None:
        """Record versions as delivered, inside the caller's transaction."""
        stamp = now_us()
        self.conn.executemany(
            "INSERT OR IGNORE INTO versions (object_id, version, delivered_us) VALUES (?, ?, ?)",
            [(object_id, version, stamp) for object_id, version in versions],
        )

    def known(self, versions: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of `versions` delivered before."""
        found: set[tuple[str, str]] = set()
        for object_id, version in versions:
            row = self.conn.execute(
                "SELECT 1 FROM versions WHERE object_id = ? AND version = ?",
                (object_id, version),
            ).fetchone()
            if row is not None:
                found.add((object_id, version))
        return found

    # --- items (files, MISP events) ---------------------------------------------------------

    def item(self, name: str) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT fingerprint, state, error, updated_us FROM items WHERE item = ?", (name,)
        ).fetchone()
        if row is None:
            return None
        return {"fingerprint": row[0], "state": row[1], "error": row[2], "updated_us": row[3]}

    def set_item(self, name: str, fingerprint: str, state: str, error: str | None = None) -> None:
        """Record what became of a source item, inside the caller's transaction."""
        self.conn.execute(
            "INSERT INTO items (item, fingerprint, state, error, updated_us) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (item) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, state = excluded.state, "
            "error = excluded.error, updated_us = excluded.updated_us",
            (name, fingerprint, state, error, now_us()),
        )

    def item_states(self) -> dict[str, int]:
        return dict(
            self.conn.execute("SELECT state, count(*) FROM items GROUP BY state").fetchall()
        )

    def failed_items(self, limit: int = 20) -> list[dict[str, str]]:
        rows = self.conn.execute(
            "SELECT item, error FROM items WHERE state = 'failed' ORDER BY updated_us DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [{"item": r[0], "error": r[1]} for r in rows]

    # --- followups and rejects --------------------------------------------------------------

    def follow_up(self, status_id: str, items: int) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO followups (status_id, items, recorded_us) VALUES (?, ?, ?)",
            (status_id, items, now_us()),
        )

    def followups(self) -> list[tuple[str, int]]:
        rows = self.conn.execute("SELECT status_id, items FROM followups ORDER BY recorded_us")
        return [(r[0], r[1]) for r in rows.fetchall()]

    def followed(self, status_id: str) -> None:
        self.conn.execute("DELETE FROM followups WHERE status_id = ?", (status_id,))

    def reject(self, source: str, ref: str, reason: str, body: bytes | None) -> None:
        """Keep what could not be delivered, inside the caller's transaction."""
        self.conn.execute(
            "INSERT INTO rejected (source, ref, reason, body, recorded_us) VALUES (?, ?, ?, ?, ?)",
            (source, ref, reason, body, now_us()),
        )

    def rejects(self, limit: int = 20) -> tuple[int, list[dict[str, str]]]:
        total = int(self.conn.execute("SELECT count(*) FROM rejected").fetchone()[0])
        rows = self.conn.execute(
            "SELECT source, ref, reason, recorded_us FROM rejected ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return total, [
            {"source": r[0], "ref": r[1], "reason": r[2], "recorded": format_us(r[3])} for r in rows
        ]


class RunLock:
    """An exclusive lock on `<name>.lock`, held while a process runs the connector."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = self.holder()
            raise StateError(
                f"the connector is already running (process {holder or '?'} holds {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def holder(self) -> int | None:
        """The process id of the running connector, or None when it is not running."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.read(fd, 32).decode(errors="replace").strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
