"""initial tables

Revision ID: 0001
Revises:
Create Date: 2026-11-22 11:32:58.193932
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum("preliminary", "final", name="eventstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("n_stations", sa.Integer(), nullable=False),
        sa.Column("coincidence_sum", sa.Float(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_time"), ["time"], unique=False)

    op.create_table(
        "inventory_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_document")),
    )
    op.create_table(
        "network",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network")),
        sa.UniqueConstraint("code", name=op.f("uq_network_code")),
    )
    op.create_table(
        "stream_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server", sa.String(length=200), nullable=False),
        sa.Column("network", sa.String(length=8), nullable=False),
        sa.Column("station", sa.String(length=8), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stream_state")),
        sa.UniqueConstraint(
            "server", "network", "station", name=op.f("uq_stream_state_server_network_station")
        ),
    )
    op.create_table(
        "station",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("elevation", sa.Float(), nullable=False),
        sa.Column("site_name", sa.String(length=500), nullable=True),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["network_id"], ["network.id"], name=op.f("fk_station_network_id_network")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station")),
        sa.UniqueConstraint("network_id", "code", name=op.f("uq_station_network_id_code")),
    )
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_station_network_id"), ["network_id"], unique=False)

    op.create_table(
        "channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=8), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "seismometer",
                "accelerometer",
                "soh",
                name="channelkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("sampling_rate", sa.Float(), nullable=False),
        sa.Column("azimuth", sa.Float(), nullable=True),
        sa.Column("dip", sa.Float(), nullable=True),
        sa.Column("sensitivity", sa.Float(), nullable=True),
        sa.Column("sensitivity_unit", sa.String(length=32), nullable=True),
        sa.Column("inventory_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inventory_id"],
            ["inventory_document.id"],
            name=op.f("fk_channel_inventory_id_inventory_document"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_channel_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel")),
        sa.UniqueConstraint(
            "station_id", "location", "code", name=op.f("uq_channel_station_id_location_code")
        ),
    )
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_station_id"), ["station_id"], unique=False)

    op.create_table(
        "channel_status",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("last_sample_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_arrival_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_channel_status_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_channel_status")),
    )
    op.create_table(
        "detection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("off_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("onset_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("peak_ratio", sa.Float(), nullable=False),
        sa.Column("snr", sa.Float(), nullable=True, comment="None when the noise was zero"),
        sa.Column("peak_amplitude", sa.Float(), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_detection_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection")),
    )
    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_detection_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_detection_on_time"), ["on_time"], unique=False)

    op.create_table(
        "health_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_health_snapshot_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_snapshot")),
    )
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.create_index(
            "ix_health_snapshot_channel_time", ["channel_id", "time"], unique=False
        )

    op.create_table(
        "event_detection",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("detection_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["detection.id"],
            name=op.f("fk_event_detection_detection_id_detection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_event_detection_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "detection_id", name=op.f("pk_event_detection")),
    )
    with op.batch_alter_table("event_detection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_detection_detection_id"), ["detection_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("event_detection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_detection_detection_id"))

    op.drop_table("event_detection")
    with op.batch_alter_table("health_snapshot", schema=None) as batch_op:
        batch_op.drop_index("ix_health_snapshot_channel_time")

    op.drop_table("health_snapshot")
    with op.batch_alter_table("detection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detection_on_time"))
        batch_op.drop_index(batch_op.f("ix_detection_channel_id"))

    op.drop_table("detection")
    op.drop_table("channel_status")
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_station_id"))

    op.drop_table("channel")
    with op.batch_alter_table("station", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_network_id"))

    op.drop_table("station")
    op.drop_table("stream_state")
    op.drop_table("network")
    op.drop_table("inventory_document")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_time"))

    op.drop_table("event")
