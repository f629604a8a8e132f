"""acknowledgements, station maintenance, who imported an inventory document

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 13:36:24.373500
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acknowledgement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("state_change_id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_acknowledgement_api_key_id_api_key")
        ),
        sa.ForeignKeyConstraint(
            ["state_change_id"],
            ["state_change.id"],
            name=op.f("fk_acknowledgement_state_change_id_state_change"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_acknowledgement_station_id_station")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgement")),
        sa.UniqueConstraint("state_change_id", name=op.f("uq_acknowledgement_state_change_id")),
    )
    with op.batch_alter_table("acknowledgement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_acknowledgement_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "station_maintenance",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_key.id"], name=op.f("fk_station_maintenance_api_key_id_api_key")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["station.id"], name=op.f("fk_station_maintenance_station_id_station")
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_station_maintenance")),
    )
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode would copy the table, and SQLite refuses to drop the original while
        # channels refer to it: add the column with its foreign key inline instead.
        op.execute(
            "ALTER TABLE inventory_document ADD COLUMN api_key_id INTEGER "
            "CONSTRAINT fk_inventory_document_api_key_id_api_key REFERENCES api_key (id)"
        )
    else:
        op.add_column(
            "inventory_document",
            sa.Column(
                "api_key_id",
                sa.Integer(),
                nullable=True,
                comment="who imported it through the API; null: the CLI",
            ),
        )
        op.create_foreign_key(
            op.f("fk_inventory_document_api_key_id_api_key"),
            "inventory_document",
            "api_key",
            ["api_key_id"],
            ["id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(
            op.f("fk_inventory_document_api_key_id_api_key"),
            "inventory_document",
            type_="foreignkey",
        )
    op.drop_column("inventory_document", "api_key_id")
    op.drop_table("station_maintenance")
    with op.batch_alter_table("acknowledgement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_acknowledgement_station_id"))

    op.drop_table("acknowledgement")
