"""Submission request id: the X-Request-Id that brought it, for the worker's logs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 10:55:10.389674
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("submissions", sa.Column("request_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    # SQLite drops a plain column in place; batch mode would rebuild the table, which other
    # tables' foreign keys forbid.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE submissions DROP COLUMN request_id")
    else:
        op.drop_column("submissions", "request_id")
