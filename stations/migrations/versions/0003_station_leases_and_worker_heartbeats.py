"""station leases and worker heartbeats

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:15:37.081937
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_worker")),
        sa.UniqueConstraint("name", name=op.f("uq_ingest_worker_name")),
    )
    op.create_table(
        "station_lease",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(length=8), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_lease")),
        sa.UniqueConstraint("network", "station", name=op.f("uq_station_lease_network_station")),
    )
    with op.batch_alter_table("station_lease", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_station_lease_worker"), ["worker"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("station_lease", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_lease_worker"))

    op.drop_table("station_lease")
    op.drop_table("ingest_worker")
