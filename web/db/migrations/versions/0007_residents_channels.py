"""residents' channels (issue 16): 帮办 kinds (上门办, 在线预审), appointments and their half-hour slots,
uploaded photos with their expiry, pre-check verdicts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agency_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="agency"))
        batch_op.add_column(sa.Column("situation", sa.String(length=48), nullable=True))

    op.create_table(
        "appointment_slots",
        sa.Column("hall", sa.String(length=48), nullable=False),
        sa.Column("item_group", sa.String(length=48), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hall", "item_group", "slot"),
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("hall", sa.String(length=48), nullable=False),
        sa.Column("item_group", sa.String(length=48), nullable=False),
        sa.Column("item", sa.String(length=48), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_hall"), ["hall"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_slot"), ["slot"], unique=False)

    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("agency_code", sa.String(length=24), nullable=True),
        sa.Column("material", sa.Integer(), nullable=True),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uploads_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploads_agency_code"), ["agency_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_uploads_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "precheck_reviews",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agency_code", sa.String(length=24), nullable=False),
        sa.Column("material", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agency_code", "material", name="uq_precheck_reviews_code_material"),
    )
    with op.batch_alter_table("precheck_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_precheck_reviews_agency_code"), ["agency_code"], unique=False)


def downgrade() -> None:
    op.drop_table("precheck_reviews")
    op.drop_table("uploads")
    op.drop_table("appointments")
    op.drop_table("appointment_slots")
    with op.batch_alter_table("agency_requests", schema=None) as batch_op:
        batch_op.drop_column("situation")
        batch_op.drop_column("kind")
