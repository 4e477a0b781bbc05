"""policy_versions.config_document: the configuration's own policy, kept apart from the
version it made when settings changed in the console were carried over

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 13:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("policy_versions", sa.Column("config_document", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite drops a plain column in place; batch mode would rebuild the table.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE policy_versions DROP COLUMN config_document")
    else:
        op.drop_column("policy_versions", "config_document")
