"""Inserting many rows at once, straight to the driver.

SQLAlchemy's executemany builds a parameter dictionary per row and processes each value; for
the pipeline's hot tables (object versions, receipts) that cost more than the insert itself.
Here rows are plain tuples in a fixed column order: PostgreSQL takes them with one COPY (an
INSERT per row would cost the server an executor start-up each), SQLite with the driver's own
executemany.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import Connection, Table


@lru_cache(maxsize=32)
def _statement(table: Table, columns: tuple[str, ...], dialect: str, paramstyle: str) -> str:
    # Looked up in the table: the names are our own columns, never text from outside.
    names = ", ".join(table.c[name].name for name in columns)
    if dialect == "postgresql":
        return f"COPY {table.name} ({names}) FROM STDIN"
    marker = "?" if paramstyle == "qmark" else "%s"
    return f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([marker] * len(columns))})"  # noqa: S608


def insert_rows(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[object]]
) -> None:
    """Insert `rows` (each in `columns` order) into `table`, inside the caller's transaction."""
    if not rows:
        return
    dialect = conn.dialect.name
    sql = _statement(table, columns, dialect, conn.dialect.paramstyle)
    if dialect == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    conn.exec_driver_sql(sql, [tuple(row) for row in rows])
