"""The database engine: SQLite with WAL and immediate write transactions, or PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool, QueuePool

_WRITE = "hub_write"


class Database:
    """One engine and the two kinds of transaction the repositories use."""

    def __init__(self, url: str, *, pool_size: int = 5, echo: bool = False) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # Pooled: closing the last connection to a WAL database checkpoints it, which made
            # every transaction pay for a checkpoint when connections were not kept open.
            memory = parsed.database in (None, "", ":memory:")
            self.engine: Engine = create_engine(
                parsed,
                echo=echo,
                hide_parameters=True,  # errors and logs never carry a key digest or a body
                poolclass=NullPool if memory else QueuePool,
                **({} if memory else {"pool_size": pool_size, "max_overflow": pool_size}),
            )
            _configure_sqlite(self.engine)
        else:
            self.engine = create_engine(
                parsed,
                echo=echo,
                hide_parameters=True,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
            )
        self.url = parsed
        self._shared: ContextVar[_SharedReads | None] = ContextVar("hub_reads", default=None)
        self._growth_lock = threading.Lock()
        self._written = 0
        self._analyze_at = 1000

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on SQLite WAL and PostgreSQL); inside
        `shared_reads()`, the block's shared one."""
        shared = self._shared.get()
        if shared is not None:
            with shared.transaction() as conn:
                yield conn
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Let every read() in this block (in this thread or task) use one connection and one
        transaction, until a write() ends that transaction so later reads see what it wrote.

        A feed request authenticates, finds its collection and reads a page: this makes that
        one pool checkout, one BEGIN and one COMMIT rather than three of each. Nothing is
        cached: each read still asks the database.
        """
        shared = _SharedReads(self)
        token = self._shared.set(shared)
        try:
            yield
        finally:
            self._shared.reset(token)
            shared.close()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; SQLite takes its write lock at BEGIN, so writers never deadlock."""
        shared = self._shared.get()
        if shared is not None:
            # Reads after this write must see it: they start a new transaction (and so would
            # a read made inside this block, which saw the database as it was before).
            shared.end_transaction()
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        finally:
            if shared is not None:
                shared.end_transaction()

    def analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics of the hub's tables. Without them (a server
        with autovacuum off, or a table that grew faster than autovacuum looked) the planner
        reads a collection's every row to find a few objects: ingest fell to 420 objects/s."""
        if self.dialect != "postgresql":
            return  # SQLite's planner picks the same plans without statistics
        from hub.storage.tables import metadata

        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql(f"ANALYZE {', '.join(metadata.tables)}")

    def wrote(self, rows: int) -> None:
        """Count rows this process stored; each time the count doubles (from a thousand),
        refresh the statistics, so they follow a store growing from empty."""
        with self._growth_lock:
            self._written += rows
            due = self._written >= self._analyze_at
            if due:
                while self._analyze_at <= self._written:
                    self._analyze_at *= 2
        if due:
            self.analyze()

    def dispose(self) -> None:
        self.engine.dispose()


class _SharedReads:
    """The connection of a `Database.shared_reads()` block, checked out on its first read."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if self._conn is None:
            self._conn = self._db.engine.connect()
        if not self._conn.in_transaction():
            self._conn.begin()
        try:
            yield self._conn
        except BaseException:
            # A failed statement can leave the transaction unusable (PostgreSQL): start again.
            self._conn.rollback()
            raise

    def end_transaction(self) -> None:
        if self._conn is not None and self._conn.in_transaction():
            self._conn.commit()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self.end_transaction()
            finally:
                self._conn.close()
                self._conn = None


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own handling is lazy).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL is durable against a crash of the process (not of the machine):
        # commits append to the WAL without waiting for the disk.
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Copy the WAL into the database every ~40 MB rather than every 4 MB: ingest rewrites
        # the same index pages in chunk after chunk, and each copy ends with an fsync.
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
