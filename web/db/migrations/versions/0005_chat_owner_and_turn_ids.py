"""wechat nonces (replay guard), the owner of a web chat, and named chat turns (idempotent retries)

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
    # Chats from before have no owner: web routes no longer open them (staff still see them).
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_conversations_owner"), ["owner"], unique=False)

    op.create_table(
        "chat_turns",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("client_msg_id", sa.String(length=64), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", "client_msg_id"),
    )
    with op.batch_alter_table("chat_turns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_turns_created_at"), ["created_at"], unique=False)

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
    with op.batch_alter_table("chat_turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_turns_created_at"))
    op.drop_table("chat_turns")
    with op.batch_alter_table("wechat_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wechat_nonces_created_at"))
    op.drop_table("wechat_nonces")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_owner"))
        batch_op.drop_column("owner")
