"""wechat nonces (replay guard)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("timestamp", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", "timestamp"),
    )
    with op.batch_alter_table("wechat_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wechat_nonces_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wechat_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_nonces_created_at"))
    op.drop_table("wechat_nonces")
