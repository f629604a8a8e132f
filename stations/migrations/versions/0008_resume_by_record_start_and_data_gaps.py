"""stream positions hold the last record's start time; data gaps are stored

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACK = timedelta(minutes=10)
"""Positions stored before held the last record's end time (or a packet's arrival time), which
a server would refuse or position after: moved back so that resuming by time repeats a few
records (skipped as repeats) rather than skipping any."""


def upgrade() -> None:
    with op.batch_alter_table("stream_state") as batch:
        batch.alter_column(
            "last_time",
            new_column_name="last_start",
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=False,
            comment="start time of the last record archived: sent with the sequence on resume",
        )
    bind = op.get_bind()
    table = sa.table(
        "stream_state",
        sa.column("id", sa.Integer()),
        sa.column("last_start", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(sa.select(table.c.id, table.c.last_start)).all()
    for row_id, start in rows:  # naive UTC on SQLite, aware on PostgreSQL: either way
        bind.execute(table.update().where(table.c.id == row_id).values(last_start=start - _BACK))
    op.create_table(
        "data_gap",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("network", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(length=8), nullable=False),
        sa.Column("location", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column(
            "start",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="the last sample before the gap",
        ),
        sa.Column(
            "end",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="the first sample after the gap",
        ),
        sa.Column(
            "seconds", sa.Float(), nullable=False, comment="missing time: end - start - 1/rate"
        ),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_gap")),
    )
    op.create_index("ix_data_gap_stream", "data_gap", ["network", "station", "location", "channel"])
    op.create_index(op.f("ix_data_gap_start"), "data_gap", ["start"])


def downgrade() -> None:
    op.drop_index(op.f("ix_data_gap_start"), table_name="data_gap")
    op.drop_index("ix_data_gap_stream", table_name="data_gap")
    op.drop_table("data_gap")
    with op.batch_alter_table("stream_state") as batch:
        batch.alter_column(
            "last_start",
            new_column_name="last_time",
            existing_type=sa.DateTime(timezone=True),
            existing_nullable=False,
            comment=None,
        )
