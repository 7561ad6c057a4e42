"""the help desk a county runs on: agent presence and chat offers, first responses, canned replies,
好差评 rectification tasks; work orders get their category and due day

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 20:00:00.000000

Only ``down_revision`` names another revision: re-chain it onto 0007 when merging.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_presence",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column(
            "state", sa.Enum("online", "busy", "away", name="presence", native_enum=False, length=16), nullable=False
        ),
        sa.Column("max_chats", sa.Integer(), nullable=True),
        sa.Column("last_offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("staff_id"),
    )
    op.create_table(
        "chat_offers",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index("ix_chat_offers_staff_id", "chat_offers", ["staff_id"])
    op.create_table(
        "first_responses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_first_responses_conversation_id", "first_responses", ["conversation_id"])
    op.create_index("ix_first_responses_staff_id", "first_responses", ["staff_id"])
    op.create_index("ix_first_responses_waiting_since", "first_responses", ["waiting_since"])
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["staff.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_canned_replies_owner_id", "canned_replies", ["owner_id"])
    op.create_table(
        "rating_tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rating_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "核实",
                "整改",
                "反馈",
                "回访",
                "办结",
                "申诉中",
                "申诉成立",
                name="taskstate",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("rerating", sa.Integer(), nullable=True),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.Column("appeal_from", sa.String(length=16), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rating_id"], ["ratings.id"]),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
    )
    op.create_index("ix_rating_tasks_state", "rating_tasks", ["state"])
    op.create_index("ix_rating_tasks_due_on", "rating_tasks", ["due_on"])
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch_op.create_index("ix_work_orders_due_on", ["due_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_work_orders_due_on")
        batch_op.drop_column("due_on")
        batch_op.drop_column("category")
    op.drop_table("rating_tasks")
    op.drop_table("canned_replies")
    op.drop_table("first_responses")
    op.drop_table("chat_offers")
    op.drop_table("agent_presence")
