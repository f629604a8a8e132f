"""catalogue runs: where the data came from, and chunks the source had no data in

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-03 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_run") as batch:
        batch.add_column(
            sa.Column(
                "chunks_empty",
                sa.Integer(),
                server_default="0",
                nullable=False,
                comment="of chunks_done, those the source had no data in",
            )
        )
        batch.add_column(
            sa.Column(
                "source_kind",
                sa.String(length=8),
                nullable=True,
                comment="sds or fdsn; null: stored before the source was recorded",
            )
        )
        batch.add_column(
            sa.Column(
                "source",
                sa.Text(),
                nullable=True,
                comment="the SDS archive's path, or the FDSN dataselect service's base URL",
            )
        )
        batch.add_column(
            sa.Column(
                "station_selection",
                sa.String(length=8),
                nullable=True,
                comment="given (--stations) or all (every station of the source)",
            )
        )
    with op.batch_alter_table("run_chunk") as batch:
        batch.add_column(
            sa.Column(
                "empty",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
                comment="finished, and the source had no data in it",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("run_chunk") as batch:
        batch.drop_column("empty")
    with op.batch_alter_table("catalogue_run") as batch:
        batch.drop_column("station_selection")
        batch.drop_column("source")
        batch.drop_column("source_kind")
        batch.drop_column("chunks_empty")
