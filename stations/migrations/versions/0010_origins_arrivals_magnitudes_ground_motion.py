"""earthquakes: origins, arrivals, station magnitudes and ground motion

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 22:34:13.678154
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "origin",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "free",
                "fixed_depth",
                "not_located",
                name="locationstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "reason", sa.String(length=200), nullable=False, comment="why fixed or not located"
        ),
        sa.Column("time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("depth_km", sa.Float(), nullable=True),
        sa.Column("rms", sa.Float(), nullable=True, comment="seconds"),
        sa.Column("n_phases", sa.Integer(), nullable=False),
        sa.Column("n_stations", sa.Integer(), nullable=False),
        sa.Column("azimuthal_gap", sa.Float(), nullable=True),
        sa.Column("min_distance_km", sa.Float(), nullable=True),
        sa.Column("max_distance_km", sa.Float(), nullable=True),
        sa.Column("time_error_s", sa.Float(), nullable=True),
        sa.Column("latitude_error_km", sa.Float(), nullable=True),
        sa.Column("longitude_error_km", sa.Float(), nullable=True),
        sa.Column("depth_error_km", sa.Float(), nullable=True),
        sa.Column("semi_major_km", sa.Float(), nullable=True, comment="68.3 % ellipse"),
        sa.Column("semi_minor_km", sa.Float(), nullable=True),
        sa.Column("ellipse_azimuth", sa.Float(), nullable=True),
        sa.Column(
            "quality",
            sa.String(length=1),
            nullable=False,
            comment="HYPO71 grade A-D; - not located",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_origin_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_origin")),
        sa.UniqueConstraint("event_id", "version", name=op.f("uq_origin_event_id_version")),
    )
    with op.batch_alter_table("origin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_origin_event_id"), ["event_id"], unique=False)

    op.create_table(
        "station_magnitude",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channels", sa.String(length=40), nullable=False, comment="e.g. HHE,HHN"),
        sa.Column(
            "amplitudes_mm",
            sa.String(length=100),
            nullable=False,
            comment="Wood-Anderson, per channel",
        ),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("magnitude", sa.Float(), nullable=False),
        sa.Column("correction", sa.Float(), nullable=False),
        sa.Column(
            "used", sa.Boolean(), nullable=False, comment="in the network magnitude's trimmed mean"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_station_magnitude_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_magnitude_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_magnitude")),
    )
    with op.batch_alter_table("station_magnitude", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_magnitude_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_station_magnitude_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "station_motion",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "station_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channels", sa.String(length=40), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("pga_cms2", sa.Float(), nullable=False),
        sa.Column("pgv_cms", sa.Float(), nullable=False),
        sa.Column("psa03_g_pct", sa.Float(), nullable=False),
        sa.Column("psa10_g_pct", sa.Float(), nullable=False),
        sa.Column("psa30_g_pct", sa.Float(), nullable=False),
        sa.Column("intensity", sa.Float(), nullable=False, comment="Worden et al. 2012"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_station_motion_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_motion_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_motion")),
    )
    with op.batch_alter_table("station_motion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_station_motion_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_station_motion_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "arrival",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "origin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "detection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("phase", sa.String(length=1), nullable=False),
        sa.Column("residual", sa.Float(), nullable=True, comment="observed - predicted, s"),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("azimuth", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["detection_id"],
            ["detection.id"],
            name=op.f("fk_arrival_detection_id_detection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["origin_id"],
            ["origin.id"],
            name=op.f("fk_arrival_origin_id_origin"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arrival")),
    )
    with op.batch_alter_table("arrival", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arrival_detection_id"), ["detection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_arrival_origin_id"), ["origin_id"], unique=False)

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("depth_km", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("magnitude", sa.Float(), nullable=True, comment="network ML"))
        batch_op.add_column(sa.Column("magnitude_uncertainty", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("magnitude_stations", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("energy_class", sa.Float(), nullable=True, comment="Rautian's K")
        )
        batch_op.create_index(batch_op.f("ix_event_latitude"), ["latitude"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_magnitude"), ["magnitude"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_magnitude"))
        batch_op.drop_index(batch_op.f("ix_event_latitude"))
        batch_op.drop_column("energy_class")
        batch_op.drop_column("magnitude_stations")
        batch_op.drop_column("magnitude_uncertainty")
        batch_op.drop_column("magnitude")
        batch_op.drop_column("depth_km")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")

    with op.batch_alter_table("arrival", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_arrival_origin_id"))
        batch_op.drop_index(batch_op.f("ix_arrival_detection_id"))

    op.drop_table("arrival")
    with op.batch_alter_table("station_motion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_motion_station_id"))
        batch_op.drop_index(batch_op.f("ix_station_motion_event_id"))

    op.drop_table("station_motion")
    with op.batch_alter_table("station_magnitude", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_station_magnitude_station_id"))
        batch_op.drop_index(batch_op.f("ix_station_magnitude_event_id"))

    op.drop_table("station_magnitude")
    with op.batch_alter_table("origin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_origin_event_id"))

    op.drop_table("origin")
