"""Health history size and query speed: a month of snapshots for a network, as the worker
keeps them (a snapshot a minute for the last days, hourly means before).

Writes a month of history for ``--stations`` stations of six channels into a fresh SQLite
database (or ``--database-url``), folds it the way the worker does, and prints the rows,
the database size and the time of the dashboard's queries (one channel over a day, a week
and the month).

    python bench/health_history.py [--stations 50] [--days 30]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder (with bench/ingest.py) would shadow Larza's packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import func, insert, select

from ingest.health.metrics import ChannelHealth
from stations.db import make_engine, make_session_factory, migrate
from stations.health import downsample_snapshots, health_history, history_metrics
from stations.models import Channel, ChannelKind, HealthSnapshot, HealthState, Network, Station

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def typical_metrics() -> dict[str, object]:
    """One channel's snapshot as the worker stores it in history."""
    h = ChannelHealth(100.0, 600.0, 8_388_607.0, started=0.0)
    rng = np.random.default_rng(1)
    for i in range(150):
        h.add(i * 4.0, rng.normal(0, 30, 400), i * 4.0 + 3.1, timing_quality=100, clock_locked=True)
    m = h.snapshot(601.0)
    m.update(noise_time=400.0, noise_db_above_nlnm=41.2, noise_db_above_nhnm=-16.5)
    m.update(noise_pct_above_nhnm=0.0, noise_pct_below_nlnm=0.0)
    return history_metrics(HealthState.OK, m)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--raw-days", type=float, default=1.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.sqlite"
        engine = make_engine(args.database_url or f"sqlite:///{path}")
        migrate(engine)
        factory = make_session_factory(engine)
        with factory() as s, s.begin():
            net = Network(code="XX", description=None)
            s.add(net)
            s.flush()
            ids = []
            for i in range(args.stations):
                st = Station(
                    network_id=net.id, code=f"S{i:03d}", latitude=0.0, longitude=0.0,
                    elevation=0.0, site_name=None, start_date=None, end_date=None,
                )  # fmt: skip
                s.add(st)
                s.flush()
                for code in ("HHZ", "HHN", "HHE", "HNZ", "HNN", "HNE"):
                    c = Channel(station_id=st.id, location="", code=code,
                                kind=ChannelKind.SEISMOMETER, sampling_rate=100.0, azimuth=None,
                                dip=None, sensitivity=None, sensitivity_unit=None)  # fmt: skip
                    s.add(c)
                    s.flush()
                    ids.append(c.id)
        metrics = typical_metrics()
        t = time.perf_counter()
        start = NOW - timedelta(days=args.days)
        minutes = args.days * 1440
        with engine.begin() as conn:
            for m in range(0, minutes, 60):  # an hour of minutes at a time
                rows = [
                    {"channel_id": cid, "time": start + timedelta(minutes=m + k),
                     "interval_s": 60, "metrics": metrics}
                    for k in range(60)
                    for cid in ids
                ]  # fmt: skip
                conn.execute(insert(HealthSnapshot), rows)
        written = time.perf_counter() - t
        t = time.perf_counter()
        folded = 0
        while True:
            with factory() as s, s.begin():
                n, _ = downsample_snapshots(
                    s,
                    now=NOW,
                    raw_retention=timedelta(days=args.raw_days),
                    retention=timedelta(days=400),
                )
            folded += n
            if n == 0:
                break
        folding = time.perf_counter() - t
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(HealthSnapshot)).scalar_one()
        if args.database_url is None:
            with sqlite3.connect(path) as raw:  # outside SQLAlchemy's transactions
                raw.execute("VACUUM")
            size = os.path.getsize(path)
        else:
            size = -1
        print(
            f"{len(ids)} channels, {args.days} days: {minutes * len(ids):,} minute snapshots "
            f"written in {written:.0f} s, {folded:,} folded into hourly means in {folding:.0f} s"
        )
        print(f"kept: {rows:,} rows; database {size / 1e6:.1f} MB" if size >= 0 else "")
        print(f"one snapshot's metrics: {len(str(metrics))} characters of JSON")
        for label, days in (("a day", 1), ("a week", 7), ("the month", args.days)):
            times = []
            for cid in ids[:: max(1, len(ids) // 20)]:
                t = time.perf_counter()
                with factory() as s:
                    got = health_history(
                        s, channel_id=cid, start=NOW - timedelta(days=days), end=NOW, limit=10_000
                    )
                times.append(time.perf_counter() - t)
            print(
                f"one channel over {label:9}: {len(got):5d} snapshots, "
                f"median {1e3 * statistics.median(times):.1f} ms"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
