"""Many rows written at once: the update path converts every value as the ORM would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stations._bulk import bulk_write
from stations.health import ChannelReport, save_channel_health
from stations.models import ArchiveFile, Channel, ChannelHealth, ChannelStatus, HealthState
from stations.queries import (
    StreamPosition,
    add_archived_records,
    record_arrivals,
    save_stream_states,
    stream_positions,
)

DUSHANBE = timezone(timedelta(hours=5))


def test_updates_keep_times_states_and_metrics(inventory: Session) -> None:
    ids = list(inventory.scalars(select(Channel.id).order_by(Channel.id)))[:3]
    first = datetime(2026, 12, 3, 9, 0, tzinfo=DUSHANBE)
    reports = [ChannelReport(i, HealthState.OK, "", {"rms": 1.5, "gaps": 0}) for i in ids]
    save_channel_health(inventory, reports=reports, now=first)  # inserted
    later = first + timedelta(seconds=10)
    reports = [
        ChannelReport(i, HealthState.DEGRADED, f"gap {n}", {"rms": 2.5, "gaps": [n, None]})
        for n, i in enumerate(ids)
    ]
    save_channel_health(inventory, reports=reports, now=later)  # updated
    inventory.expire_all()
    rows = {h.channel_id: h for h in inventory.scalars(select(ChannelHealth))}
    for n, i in enumerate(ids):
        assert rows[i].state is HealthState.DEGRADED
        assert rows[i].reason == f"gap {n}"
        assert rows[i].metrics == {"rms": 2.5, "gaps": [n, None]}
        assert rows[i].evaluated_at == later
        assert rows[i].evaluated_at.tzinfo == UTC


def test_arrivals_add_up_and_keep_the_newest_time(inventory: Session) -> None:
    ids = list(inventory.scalars(select(Channel.id).order_by(Channel.id)))[:2]
    t0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
    record_arrivals(inventory, arrivals=dict.fromkeys(ids, (t0, 2)), arrival_time=t0)
    late = {ids[0]: (t0 + timedelta(seconds=8), 3), ids[1]: (t0 - timedelta(seconds=8), 1)}
    record_arrivals(inventory, arrivals=late, arrival_time=t0 + timedelta(seconds=9))
    inventory.expire_all()
    rows = {s.channel_id: s for s in inventory.scalars(select(ChannelStatus))}
    assert (rows[ids[0]].records, rows[ids[0]].last_sample_time) == (5, t0 + timedelta(seconds=8))
    assert (rows[ids[1]].records, rows[ids[1]].last_sample_time) == (3, t0)
    assert rows[ids[1]].last_arrival_time == t0 + timedelta(seconds=9)


def test_a_naive_time_is_refused_on_update(inventory: Session) -> None:
    (i,) = list(inventory.scalars(select(Channel.id).order_by(Channel.id)))[:1]
    t0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
    record_arrivals(inventory, arrivals={i: (t0, 1)}, arrival_time=t0)
    naive = {"channel_id": i, "last_sample_time": datetime(2026, 12, 3), "records": 1}
    with pytest.raises(ValueError, match="naive"):
        bulk_write(inventory, ChannelStatus, added=[], changed=[naive])


def test_new_and_stored_rows_in_one_batch(session: Session) -> None:
    t0 = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
    add_archived_records(session, files={"a.mseed": (512, 1)}, now=t0)
    add_archived_records(session, files={"a.mseed": (1024, 1), "b.mseed": (512, 1)}, now=t0)
    rows = {f.path: (f.size, f.records) for f in session.scalars(select(ArchiveFile))}
    assert rows == {"a.mseed": (1024, 2), "b.mseed": (512, 1)}
    save_stream_states(session, server="s:18000", positions={("TJ", "SAREZ"): (7, t0)}, now=t0)
    later = {("TJ", "SAREZ"): (9, t0 + timedelta(seconds=4)), ("TJ", "MURGH"): (3, t0)}
    save_stream_states(session, server="s:18000", positions=later, now=t0)
    save_stream_states(session, server="other:18000", positions={("TJ", "SAREZ"): (1, t0)}, now=t0)
    assert stream_positions(session, server="s:18000") == {
        ("TJ", "SAREZ"): StreamPosition(9, t0 + timedelta(seconds=4)),
        ("TJ", "MURGH"): StreamPosition(3, t0),
    }
    assert stream_positions(session, server="other:18000") == {
        ("TJ", "SAREZ"): StreamPosition(1, t0)
    }
