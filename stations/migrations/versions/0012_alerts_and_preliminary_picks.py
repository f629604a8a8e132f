"""early-warning alerts and their versions; preliminary picks

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind", sa.String(length=12), nullable=False, comment="onsite (one station) or network"
        ),
        sa.Column(
            "status", sa.String(length=12), nullable=False, comment="active, cancelled or ended"
        ),
        sa.Column("version", sa.Integer(), nullable=False, comment="the latest version's number"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_created_at"), ["created_at"], unique=False)

    op.create_table(
        "alert_version",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.String(length=12),
            nullable=False,
            comment="created, updated, cancelled, ended",
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("depth_km", sa.Float(), nullable=True),
        sa.Column("magnitude", sa.Float(), nullable=True),
        sa.Column("magnitude_sigma", sa.Float(), nullable=True),
        sa.Column(
            "station", sa.String(length=20), nullable=True, comment="NET.STA of an on-site alert"
        ),
        sa.Column("reason", sa.String(length=300), nullable=True, comment="why, in words"),
        sa.Column(
            "content",
            sa.JSON(),
            nullable=False,
            comment="sites (intensity, S arrival, warning time), stations, picks",
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alert.id"], name=op.f("fk_alert_version_alert_id_alert")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_version")),
        sa.UniqueConstraint("alert_id", "version", name=op.f("uq_alert_version_alert_id_version")),
    )
    with op.batch_alter_table("alert_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_version_alert_id"), ["alert_id"], unique=False)

    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.String(length=12),
                server_default="final",
                nullable=False,
                comment="preliminary (at trigger-on), final, or withdrawn (never completed)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.drop_column("status")

    with op.batch_alter_table("alert_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_version_alert_id"))

    op.drop_table("alert_version")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_created_at"))

    op.drop_table("alert")
