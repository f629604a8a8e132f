"""Migration 0007 on a database that holds data: documents become bytes, webhooks of
revoked keys stop, and on PostgreSQL every id and its sequence become 64-bit."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from stations.db import alembic_config, current_revision, make_engine, migrate
from stations.inventory import default_inventory_path


def test_upgrade_keeps_documents_and_disables_revoked_keys_webhooks(
    fresh_database_url: str,
) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine, "0006")
    xml = default_inventory_path().read_text(encoding="utf-8")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO api_key (id, name, prefix, secret_hash, created_at, revoked_at) "
                "VALUES (1, 'kept', 'larza_aaaaaa', 'x', :t, NULL), "
                "(2, 'gone', 'larza_bbbbbb', 'y', :t, :t)"
            ),
            {"t": "2025-01-01 00:00:00+00:00"},
        )
        c.execute(
            text(
                "INSERT INTO webhook (id, url, secret, kinds, api_key_id, created_at, active, "
                "cursor, failures) VALUES "
                "(1, 'http://a.example/', 's', 'state', 1, :t, true, 0, 0), "
                "(2, 'http://b.example/', 's', 'state', 2, :t, true, 0, 0), "
                "(3, 'http://c.example/', 's', 'state', NULL, :t, true, 0, 0)"
            ),
            {"t": "2025-01-01 00:00:00+00:00"},
        )
        c.execute(
            text(
                "INSERT INTO inventory_document (source, imported_at, xml) "
                "VALUES ('tj.xml', :t, :xml)"
            ),
            {"t": "2025-01-01 00:00:00+00:00", "xml": xml},
        )
    migrate(engine, "0007")
    with engine.connect() as c:
        content, encoding = c.execute(
            text("SELECT content, encoding FROM inventory_document")
        ).one()
        assert bytes(content) == xml.encode("utf-8")
        assert encoding == "UTF-8"
        active = dict(c.execute(text("SELECT id, active FROM webhook ORDER BY id")).all())
        assert {k: bool(v) for k, v in active.items()} == {1: True, 2: False, 3: True}
        if engine.dialect.name == "postgresql":
            types = set(
                c.execute(text("SELECT data_type FROM information_schema.sequences")).scalars()
            )
            assert types == {"bigint"}
            columns = c.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND (column_name = 'id' "
                    "OR column_name LIKE '%\\_id') AND data_type <> 'bigint'"
                )
            ).all()
            assert columns == []

    migrate_down(engine, "0006")
    with engine.connect() as c:
        assert c.execute(text("SELECT xml FROM inventory_document")).scalar_one() == xml
    migrate(engine, "0007")
    assert current_revision(engine) == "0007"
    engine.dispose()


def migrate_down(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
