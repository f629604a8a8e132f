"""catalogue runs: reprocessed picks and events beside the live catalogue

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 22:36:37.111274
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "config", sa.Text(), nullable=False, comment="the larza.toml the run used, as text"
        ),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "stations", sa.Text(), nullable=False, comment="NET.STA of the run, comma-separated"
        ),
        sa.Column("chunk_s", sa.Float(), nullable=False),
        sa.Column(
            "status",
            sa.String(length=16),
            nullable=False,
            comment="running, finished, partial (chunks failed) or interrupted",
        ),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("chunks_failed", sa.Integer(), nullable=False),
        sa.Column("detections", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_run")),
        sa.UniqueConstraint("name", name=op.f("uq_catalogue_run_name")),
    )
    op.create_table(
        "run_chunk",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False, comment="picks as JSON, or the error"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["catalogue_run.id"],
            name=op.f("fk_run_chunk_run_id_catalogue_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_run_chunk")),
    )
    op.create_table(
        "run_detection",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("network", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(length=8), nullable=False),
        sa.Column("location", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("on_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("off_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("onset_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peak_ratio", sa.Float(), nullable=False),
        sa.Column("snr", sa.Float(), nullable=True),
        sa.Column("peak_amplitude", sa.Float(), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("phase", sa.String(length=1), nullable=True),
        sa.Column("onset_uncertainty", sa.Float(), nullable=True),
        sa.Column("polarity", sa.String(length=12), nullable=True),
        sa.Column("bridged", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["catalogue_run.id"],
            name=op.f("fk_run_detection_run_id_catalogue_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_detection")),
    )
    with op.batch_alter_table("run_detection", schema=None) as batch_op:
        batch_op.create_index("ix_run_detection_run_onset", ["run_id", "onset_time"], unique=False)

    op.create_table(
        "run_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stations", sa.Text(), nullable=False, comment="NET.STA, space-separated"),
        sa.Column("n_stations", sa.Integer(), nullable=False),
        sa.Column("coincidence_sum", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column(
            "detections", sa.Text(), nullable=False, comment="run_detection ids, space-separated"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["catalogue_run.id"],
            name=op.f("fk_run_event_run_id_catalogue_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_event")),
    )
    with op.batch_alter_table("run_event", schema=None) as batch_op:
        batch_op.create_index("ix_run_event_run_time", ["run_id", "time"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("run_event", schema=None) as batch_op:
        batch_op.drop_index("ix_run_event_run_time")

    op.drop_table("run_event")
    with op.batch_alter_table("run_detection", schema=None) as batch_op:
        batch_op.drop_index("ix_run_detection_run_onset")

    op.drop_table("run_detection")
    op.drop_table("run_chunk")
    op.drop_table("catalogue_run")
