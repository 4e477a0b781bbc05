"""Submission bodies in parts of their own; status details one row per chunk

The raw body moves out of the submission row, which the pipeline updates after every chunk
(SQLite rewrote the whole body each time), into `submission_parts`, read a part at a time.
Status details become one row per outcome per chunk, holding a JSON list, instead of a row
per object.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:20:00
"""

from itertools import groupby

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PART = 1 << 20  # hub.storage.submissions.PART_SIZE when this was written


def upgrade() -> None:
    bind = op.get_bind()
    parts = op.create_table(
        "submission_parts",
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("part", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("submission_id", "part", name=op.f("pk_submission_parts")),
    )
    submissions = sa.table("submissions", sa.column("id"), sa.column("raw", sa.LargeBinary))
    ids = [row[0] for row in bind.execute(sa.select(submissions.c.id))]
    for submission_id in ids:
        raw = bind.execute(
            sa.select(submissions.c.raw).where(submissions.c.id == submission_id)
        ).scalar_one()
        rows = [
            {"submission_id": submission_id, "part": n, "data": raw[start : start + _PART]}
            for n, start in enumerate(range(0, max(len(raw), 1), _PART))
        ]
        op.bulk_insert(parts, rows)
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.drop_column("raw")
    # The key to submissions only now: SQLite's batch mode rebuilds a table to drop a column,
    # which a table referring to it would prevent.
    with op.batch_alter_table("submission_parts", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_submission_parts_submission_id_submissions"),
            "submissions",
            ["submission_id"],
            ["id"],
        )

    old = sa.table(
        "status_details",
        sa.column("id"),
        sa.column("status_id"),
        sa.column("outcome"),
        sa.column("object_id"),
        sa.column("version"),
        sa.column("message"),
    )
    details = bind.execute(
        sa.select(
            old.c.status_id, old.c.outcome, old.c.object_id, old.c.version, old.c.message
        ).order_by(old.c.id)
    ).all()
    _drop_details()
    grouped = _create_details(sa.Column("details", sa.Text(), nullable=False))
    rows = [
        {
            "status_id": status_id,
            "outcome": outcome,
            "details": orjson.dumps([list(row[2:]) for row in run]).decode(),
        }
        for (status_id, outcome), run in groupby(details, key=lambda row: (row[0], row[1]))
    ]
    if rows:
        op.bulk_insert(grouped, rows)


def downgrade() -> None:
    bind = op.get_bind()
    grouped = sa.table(
        "status_details",
        sa.column("id"),
        sa.column("status_id"),
        sa.column("outcome"),
        sa.column("details"),
    )
    groups = bind.execute(
        sa.select(grouped.c.status_id, grouped.c.outcome, grouped.c.details).order_by(grouped.c.id)
    ).all()
    _drop_details()
    old = _create_details(
        sa.Column("object_id", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
    )
    rows = [
        {
            "status_id": status_id,
            "outcome": outcome,
            "object_id": d[0],
            "version": d[1],
            "message": d[2],
        }
        for status_id, outcome, details in groups
        for d in orjson.loads(details)
    ]
    if rows:
        op.bulk_insert(old, rows)

    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))
    parts = sa.table(
        "submission_parts", sa.column("submission_id"), sa.column("part"), sa.column("data")
    )
    submissions = sa.table("submissions", sa.column("id"), sa.column("raw", sa.LargeBinary))
    ids = [row[0] for row in bind.execute(sa.select(submissions.c.id))]
    for submission_id in ids:
        data = bind.execute(
            sa.select(parts.c.data)
            .where(parts.c.submission_id == submission_id)
            .order_by(parts.c.part)
        ).scalars()
        bind.execute(
            submissions.update()
            .where(submissions.c.id == submission_id)
            .values(raw=b"".join(bytes(d) for d in data))
        )
    op.drop_table("submission_parts")
    with op.batch_alter_table("submissions", schema=None) as batch_op:
        batch_op.alter_column("raw", existing_type=sa.LargeBinary(), nullable=False)


def _drop_details() -> None:
    with op.batch_alter_table("status_details", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_details_status_id"))
    op.drop_table("status_details")


def _create_details(*columns: sa.Column) -> sa.Table:  # type: ignore[type-arg]
    """status_details with its key, status and outcome columns, then `columns`."""
    table = op.create_table(
        "status_details",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status_id", sa.String(length=36), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["status_id"], ["statuses.id"], name=op.f("fk_status_details_status_id_statuses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_details")),
    )
    with op.batch_alter_table("status_details", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_details_status_id"), ["status_id"], unique=False
        )
    return table
