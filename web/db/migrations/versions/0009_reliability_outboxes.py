"""reliability (issue 14): the WeChat outbox keeps every text until sent (held, retries, claims);
12345 webhook rows carry their order (in-order delivery), a claim and a dead-letter time; a named chat
turn remembers the resident message it stored

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 20:00:00.000000

Only ``down_revision`` names another revision: re-chain it when merging.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
    # Texts kept before this revision were all waiting for the resident's next message.
    op.execute("UPDATE outbox SET held = TRUE WHERE delivered = FALSE")
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_webhook_outbox_order_code"), ["order_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_outbox_dead_at"), ["dead_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_outbox_dead_at"))
        batch_op.drop_index(batch_op.f("ix_webhook_outbox_order_code"))
        batch_op.drop_column("dead_at")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("order_code")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("next_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("held")
    with op.batch_alter_table("chat_turns", schema=None) as batch_op:
        batch_op.drop_column("message_id")
