"""The database: migrations applied, times kept in UTC on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from stations.db import alembic_config, current_revision
from stations.models import Base, StreamState
from stations.queries import save_stream_state, stream_positions


def test_migrated_to_head(engine: Engine) -> None:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    assert current_revision(engine) == head


def test_migrations_match_the_models(engine: Engine) -> None:
    # A model change without its migration shows up here as a difference.
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_times_come_back_as_utc(session: Session) -> None:
    dushanbe = timezone(timedelta(hours=5))
    local = datetime(2025, 3, 1, 17, 0, tzinfo=dushanbe)
    save_stream_state(
        session,
        server="s:1",
        network="TJ",
        station="SAREZ",
        last_seq=7,
        last_start=local,
        now=local,
    )
    session.expire_all()
    pos = stream_positions(session, server="s:1")[("TJ", "SAREZ")]
    assert pos.last_start == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert pos.last_start.tzinfo is not None
    assert pos.last_seq == 7


def test_naive_time_is_refused(session: Session) -> None:
    naive = datetime(2025, 3, 1, 12, 0)
    session.add(
        StreamState(
            server="s", network="TJ", station="X", last_seq=1, last_start=naive, updated_at=naive
        )
    )
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
