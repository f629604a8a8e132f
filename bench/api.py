"""API benchmark: requests/s and latency percentiles against a real server on loopback.

Stores 100,000 detections (and events of three detections each) in a fresh database, starts
``larza api`` as its own process, and times the station list, a page of detections, an
event query over a time window and FDSN event queries (QuakeML and text) with keep-alive
HTTP clients.

    python bench/api.py [--detections 100000] [--clients 4] [--requests 2000]
                        [--database-url postgresql+psycopg://...] [--only FDSN]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path; Larza's packages must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import Detection, Event, EventDetection, EventStatus
from stations.queries import channel_index

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fill(url: str, detections: int) -> None:
    engine = make_engine(url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
        channels = [c.id for c in channel_index(s).values()]
    rows = []
    for i in range(detections):
        onset = T0 + timedelta(seconds=20 * (i // 3) + i % 3)
        rows.append(
            {
                "channel_id": channels[i % len(channels)],
                "on_time": onset + timedelta(seconds=0.3),
                "off_time": onset + timedelta(seconds=8),
                "onset_time": onset,
                "peak_ratio": 5.0 + i % 7,
                "snr": 3.0 + i % 11,
                "peak_amplitude": 1000.0 + i,
                "profile": "default",
                "created_at": onset,
            }
        )
    with engine.begin() as conn:
        for i in range(0, len(rows), 10_000):
            conn.execute(insert(Detection), rows[i : i + 10_000])
        events = [
            {
                "time": T0 + timedelta(seconds=20 * k),
                "status": EventStatus.FINAL,
                "n_stations": 3,
                "coincidence_sum": 3.0,
                "duration": 2.0,
                "created_at": T0,
                "updated_at": T0,
            }
            for k in range(detections // 3)
        ]
        for i in range(0, len(events), 10_000):
            conn.execute(insert(Event), events[i : i + 10_000])
        links = [
            {"event_id": k + 1, "detection_id": 3 * k + j + 1}
            for k in range(detections // 3)
            for j in range(3)
        ]
        for i in range(0, len(links), 10_000):
            conn.execute(insert(EventDetection), links[i : i + 10_000])
    if engine.dialect.name == "postgresql":
        # what autovacuum does to a database in service, soon but not at once after a bulk load
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the API did not start")


def hammer(port: int, path: str, clients: int, requests: int) -> tuple[float, list[float]]:
    """``requests`` GETs of ``path`` shared by ``clients`` keep-alive connections."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests // clients

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(per_client):
            t = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status}")
            mine.append(time.perf_counter() - t)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t, latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--detections", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--only", default="", help="run only the cases whose name contains this text"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        t = time.perf_counter()
        fill(url, args.detections)
        print(
            f"{args.detections:,} detections and {args.detections // 3:,} events stored "
            f"in {time.perf_counter() - t:.1f} s ({url.split(':')[0]})"
        )
        port = free_port()
        env = {**os.environ, "LARZA_DATABASE_URL": url, "LARZA_WEBHOOKS_ENABLED": "false"}
        server = subprocess.Popen(
            [sys.executable, "-m", "ingest", "api", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(port)
            mid = (T0 + timedelta(seconds=20 * args.detections // 6)).strftime("%Y-%m-%dT%H:%M:%S")
            end = (T0 + timedelta(seconds=20 * args.detections // 6 + 3600)).strftime(
                "%Y-%m-%dT%H:%M:%S"
            )
            fdsn = f"starttime={mid}&endtime={end}"
            one_station = "station=TJ.SAREZ&min_snr=10&limit=100"
            cases = [
                ("station list", "/api/v1/stations"),
                ("detections, a page of 100", "/api/v1/detections?limit=100&after=50000"),
                ("detections of one station, min SNR", f"/api/v1/detections?{one_station}"),
                ("events in one hour", f"/api/v1/events?start={mid}&end={end}&limit=100"),
                ("FDSN events in one hour (QuakeML)", f"/fdsnws/event/1/query?{fdsn}"),
                ("FDSN events in one hour (text)", f"/fdsnws/event/1/query?{fdsn}&format=text"),
            ]
            cases = [(name, path) for name, path in cases if args.only.lower() in name.lower()]
            print(f"{args.clients} keep-alive clients, {args.requests} requests each case\n")
            print(f"{'':38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for name, path in cases:
                hammer(port, path, args.clients, max(args.clients, args.requests // 10))  # warm
                elapsed, lat = hammer(port, path, args.clients, args.requests)
                q = statistics.quantiles(lat, n=100)
                print(f"{name:38} {len(lat) / elapsed:8.0f} {1e3 * q[49]:8.1f} {1e3 * q[98]:8.1f}")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
