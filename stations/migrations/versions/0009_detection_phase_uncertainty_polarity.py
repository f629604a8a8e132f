"""detections become picks: phase, onset uncertainty, first motion, bridged gap

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("detection") as batch:
        batch.add_column(
            sa.Column(
                "phase",
                sa.String(length=1),
                nullable=True,
                comment="P or S; None: no phase (a channel without partners)",
            )
        )
        batch.add_column(
            sa.Column(
                "onset_uncertainty",
                sa.Float(),
                nullable=True,
                comment="seconds; None for detections stored before picks had it",
            )
        )
        batch.add_column(
            sa.Column(
                "polarity",
                sa.String(length=12),
                nullable=True,
                comment="first motion: positive, negative or undecidable; None for S",
            )
        )
        batch.add_column(
            sa.Column(
                "bridged",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="a gap was bridged in its window",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("detection") as batch:
        batch.drop_column("bridged")
        batch.drop_column("polarity")
        batch.drop_column("onset_uncertainty")
        batch.drop_column("phase")
