"""predicted arrivals: the P and S times a located origin predicts at its event's stations

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-03 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "predicted_arrival",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "origin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("phase", sa.String(length=1), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False, comment="epicentral"),
        sa.ForeignKeyConstraint(
            ["origin_id"],
            ["origin.id"],
            name=op.f("fk_predicted_arrival_origin_id_origin"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_predicted_arrival_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predicted_arrival")),
    )
    with op.batch_alter_table("predicted_arrival", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_predicted_arrival_origin_id"), ["origin_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_predicted_arrival_station_id"), ["station_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("predicted_arrival", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_predicted_arrival_station_id"))
        batch_op.drop_index(batch_op.f("ix_predicted_arrival_origin_id"))
    op.drop_table("predicted_arrival")
