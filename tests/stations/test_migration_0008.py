"""Migration 0008 on a database with stored positions: a position held the last record's end
time (or an arrival time), which a server refuses or resumes after; it becomes a start time
ten minutes earlier, so the first resume repeats a few records (skipped as repeats) rather
than skipping any. The gaps table comes and goes with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from stations.db import alembic_config, make_engine, migrate
from stations.queries import stream_positions


def test_positions_move_back_ten_minutes_and_gaps_come(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    migrate(engine, "0007")
    end = datetime(2026, 11, 30, 12, 0, 3, 500000, tzinfo=UTC)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO stream_state (server, network, station, last_seq, last_time, "
                "updated_at) VALUES ('feed:18000', 'TJ', 'SAREZ', 4242, :t, :t)"
            ),
            {"t": end.replace(tzinfo=None) if engine.dialect.name == "sqlite" else end},
        )
    migrate(engine)
    with Session(engine) as s:
        pos = stream_positions(s, server="feed:18000")[("TJ", "SAREZ")]
    assert pos.last_seq == 4242
    assert pos.last_start == end - timedelta(minutes=10)
    assert "data_gap" in inspect(engine).get_table_names()
    migrate_down(engine, "0007")
    assert "data_gap" not in inspect(engine).get_table_names()
    with engine.connect() as c:
        columns = {col["name"] for col in inspect(c).get_columns("stream_state")}
    assert "last_time" in columns
    engine.dispose()


def migrate_down(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
