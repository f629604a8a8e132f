"""station health states and history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:28:29.702298
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "state_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                "OK",
                "UNKNOWN",
                "DEGRADED",
                "DOWN",
                name="healthstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "to_state",
            sa.Enum(
                "OK",
                "UNKNOWN",
                "DEGRADED",
                "DOWN",
                name="healthstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_state_change_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_change")),
    )
    with op.batch_alter_table("state_change", schema=None) as batch_op:
        batch_op.create_index("ix_state_change_station_time", ["station_id", "time"], unique=False)

    op.create_table(
        "station_health",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "OK",
                "UNKNOWN",
                "DEGRADED",
                "DOWN",
                name="healthstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_health_station_id_station")
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_health")),
    )
    op.create_table(
        "channel_health",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "OK",
                "UNKNOWN",
                "DEGRADED",
                "DOWN",
                name="healthstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_channel_health_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_health")),
    )
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("interval_s", sa.Integer(), server_default="60", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.drop_column("interval_s")

    op.drop_table("channel_health")
    op.drop_table("station_health")
    with op.batch_alter_table("state_change", schema=None) as batch_op:
        batch_op.drop_index("ix_state_change_station_time")

    op.drop_table("state_change")
