"""64-bit ids and keys; StationXML documents kept as bytes with their encoding; webhooks
of revoked keys disabled

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00.000000

On PostgreSQL every id and every key to one becomes BIGINT, with its sequence (a SERIAL's
sequence is 32-bit too). This rewrites the tables: on a large database (months of health
snapshots) it takes minutes, with the tables locked. SQLite's INTEGER PRIMARY KEY is 64-bit
already: nothing to change there.

Documents stored before this revision were kept as text decoded as UTF-8 (lossily for other
encodings); they become the UTF-8 bytes of that text.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIAL_IDS = (
    "acknowledgement", "api_key", "archive_file", "change_log", "channel", "detection",
    "event", "health_snapshot", "ingest_worker", "inventory_document", "network",
    "state_change", "station", "station_lease", "stream_state", "webhook",
)  # fmt: skip
KEYS = (
    ("acknowledgement", "station_id"), ("acknowledgement", "state_change_id"),
    ("acknowledgement", "api_key_id"), ("channel", "station_id"), ("channel", "inventory_id"),
    ("channel_health", "channel_id"), ("channel_status", "channel_id"),
    ("detection", "channel_id"), ("event_detection", "event_id"),
    ("event_detection", "detection_id"), ("health_snapshot", "channel_id"),
    ("inventory_document", "api_key_id"), ("state_change", "station_id"),
    ("station", "network_id"), ("station_health", "station_id"),
    ("station_maintenance", "station_id"), ("station_maintenance", "api_key_id"),
    ("webhook", "api_key_id"),
)  # fmt: skip

_documents = sa.table(
    "inventory_document",
    sa.column("id", sa.Integer),
    sa.column("xml", sa.Text),
    sa.column("content", sa.LargeBinary),
    sa.column("encoding", sa.String),
)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        columns = [(table, "id") for table in SERIAL_IDS] + list(KEYS)
        by_table: dict[str, list[str]] = {}
        for table, column in columns:
            by_table.setdefault(table, []).append(column)
        for table, names in by_table.items():  # one rewrite per table
            changes = ", ".join(f"ALTER COLUMN {name} TYPE BIGINT" for name in names)
            op.execute(f"ALTER TABLE {table} {changes}")
        for table in SERIAL_IDS:
            op.execute(
                f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS BIGINT', "
                f"pg_get_serial_sequence('{table}', 'id')); END $$"
            )
    _documents_as_bytes(postgresql)
    op.execute(
        "UPDATE webhook SET active = false WHERE api_key_id IN "
        "(SELECT id FROM api_key WHERE revoked_at IS NOT NULL)"
    )


def _documents_as_bytes(postgresql: bool) -> None:
    if postgresql:
        op.add_column("inventory_document", sa.Column("content", sa.LargeBinary(), nullable=True))
        op.add_column(
            "inventory_document", sa.Column("encoding", sa.String(length=40), nullable=True)
        )
    else:  # batch mode would copy the table, which SQLite refuses while channels refer to it
        op.execute("ALTER TABLE inventory_document ADD COLUMN content BLOB NOT NULL DEFAULT x''")
        op.execute(
            "ALTER TABLE inventory_document "
            "ADD COLUMN encoding VARCHAR(40) NOT NULL DEFAULT 'UTF-8'"
        )
    bind = op.get_bind()
    for row in bind.execute(sa.select(_documents.c.id, _documents.c.xml)).all():
        bind.execute(
            _documents.update()
            .where(_documents.c.id == row.id)
            .values(content=row.xml.encode("utf-8"), encoding="UTF-8")
        )
    if postgresql:
        op.alter_column("inventory_document", "content", nullable=False)
        op.alter_column("inventory_document", "encoding", nullable=False)
        op.drop_column("inventory_document", "xml")
    else:
        op.execute("ALTER TABLE inventory_document DROP COLUMN xml")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.add_column("inventory_document", sa.Column("xml", sa.Text(), nullable=True))
    else:
        op.execute("ALTER TABLE inventory_document ADD COLUMN xml TEXT NOT NULL DEFAULT ''")
    bind = op.get_bind()
    for row in bind.execute(sa.select(_documents.c.id, _documents.c.content)).all():
        bind.execute(
            _documents.update()
            .where(_documents.c.id == row.id)
            .values(xml=bytes(row.content).decode("utf-8", "replace"))
        )
    if postgresql:
        op.alter_column("inventory_document", "xml", nullable=False)
        op.drop_column("inventory_document", "encoding")
        op.drop_column("inventory_document", "content")
        for table in SERIAL_IDS:
            op.execute(
                f"DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s AS INTEGER', "
                f"pg_get_serial_sequence('{table}', 'id')); END $$"
            )
        by_table: dict[str, list[str]] = {}
        for table, column in [(table, "id") for table in SERIAL_IDS] + list(KEYS):
            by_table.setdefault(table, []).append(column)
        for table, names in by_table.items():
            changes = ", ".join(f"ALTER COLUMN {name} TYPE INTEGER" for name in names)
            op.execute(f"ALTER TABLE {table} {changes}")
    else:
        op.execute("ALTER TABLE inventory_document DROP COLUMN encoding")
        op.execute("ALTER TABLE inventory_document DROP COLUMN content")
