"""guide versions (published edits) and resident error reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guide_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("yaml", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", "version", name="uq_guide_versions_code_version"),
    )
    with op.batch_alter_table("guide_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guide_versions_code"), ["code"], unique=False)

    op.create_table(
        "guide_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=48), nullable=False),
        sa.Column("situation", sa.String(length=48), nullable=True),
        sa.Column("part", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("client", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["resolved_by"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guide_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guide_reports_code"), ["code"], unique=False)
        batch_op.create_index(batch_op.f("ix_guide_reports_client"), ["client"], unique=False)
        batch_op.create_index(batch_op.f("ix_guide_reports_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_guide_reports_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("guide_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_reports_created_at"))
        batch_op.drop_index(batch_op.f("ix_guide_reports_status"))
        batch_op.drop_index(batch_op.f("ix_guide_reports_client"))
        batch_op.drop_index(batch_op.f("ix_guide_reports_code"))
    op.drop_table("guide_reports")
    with op.batch_alter_table("guide_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_versions_code"))
    op.drop_table("guide_versions")
