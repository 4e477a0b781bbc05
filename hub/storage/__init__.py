"""Durable storage: SQLAlchemy 2 Core tables, repositories and Alembic migrations.

SQLite (WAL) is the embedded default; PostgreSQL is selected by `storage.url`. Callers reach
storage through the repository classes only; no SQL leaves this package.
"""

from hub.storage.engine import Database

__all__ = ["Database"]
