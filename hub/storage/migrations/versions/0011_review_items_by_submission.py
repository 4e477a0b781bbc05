"""Review items by submission: receipts read a submission's held objects by its id

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 13:50:00
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_review_items_submission_id", "review_items", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_review_items_submission_id", table_name="review_items")
