"""API benchmark: throughput, latency and errors at 1, 4, 16 and 64 connections against a
real ``larza api`` on loopback, side by side with a hello-world FastAPI route served the
same way (uvicorn, the same number of worker processes) in the same run.

Fills a fresh database: the stations (the TJ inventory, or ``--stations N`` made up, six
channels each) with the health a worker stores (every channel's metrics of a real window of
data, every station's state), 100,000 detections and events of three detections each. While
the cases run, a writer stores a new evaluation round every ``--round-s`` seconds as the
worker does, in turns of at most 100 stations spread over the round (so the API rebuilds
what it caches, and the figures include that). Each case
keeps every connection busy for ``--seconds``; a request answered other than 200 counts as
an error (the case goes on).

    python bench/api.py [--stations 1000] [--connections 1,4,16,64] [--seconds 3]
                        [--workers 1] [--database-url postgresql+psycopg://...] [--only list]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path; Larza's packages must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse
import asyncio
import http.client
import math
import multiprocessing
import os
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, insert, select

from ingest.health.metrics import ChannelHealth
from ingest.worker.process import EVALUATED_AT_ONCE
from stations.db import make_engine, make_session_factory, migrate
from stations.health import ChannelReport, save_channel_health, save_station_states
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import (
    Channel,
    ChannelKind,
    ChannelStatus,
    Detection,
    Event,
    EventDetection,
    EventStatus,
    HealthState,
    Network,
    Station,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HEALTH_WRITTEN_EVERY_S = 60.0
"""A channel's health unchanged is written this often (the snapshot interval)."""
HELLO_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}
"""


def made_up_stations(engine: Engine, n: int) -> None:
    """``n`` stations of network XX, six 100-sps channels each (HH? and HN?)."""
    with engine.begin() as conn:
        conn.execute(insert(Network), [{"code": "XX", "description": "bench"}])
        network_id = conn.scalar(select(Network.id).where(Network.code == "XX"))
        conn.execute(
            insert(Station),
            [
                {
                    "network_id": network_id,
                    "code": f"S{i:04d}",
                    "latitude": 36.0 + (i % 50) * 0.1,
                    "longitude": 68.0 + (i // 50) * 0.3,
                    "elevation": 1000.0 + i,
                    "site_name": f"Bench site {i}",
                }
                for i in range(n)
            ],
        )
        ids = conn.scalars(select(Station.id).where(Station.network_id == network_id)).all()
        conn.execute(
            insert(Channel),
            [
                {
                    "station_id": sid,
                    "location": "",
                    "code": f"{band}{axis}",
                    "kind": ChannelKind.SEISMOMETER if band == "HH" else ChannelKind.ACCELEROMETER,
                    "sampling_rate": 100.0,
                }
                for sid in ids
                for band in ("HH", "HN")
                for axis in "ZNE"
            ],
        )


def window_metrics(now: float, rng: np.random.Generator) -> dict[str, Any]:
    """A channel's metrics as the worker computes them, over 5 minutes of noise."""
    health = ChannelHealth(100.0, window_s=600.0, started=now - 300.0)
    for k in range(100):
        start = now - 300.0 + 3.0 * k
        health.add(start, rng.normal(0.0, 500.0, 300), start + 3.5, timing_quality=100)
    return health.snapshot(now)


def evaluation_round(
    engine: Engine,
    now: datetime,
    metrics: dict[str, Any],
    station_ids: set[int] | None = None,
    *,
    channel_health: bool = True,
) -> None:
    """What a worker's health evaluation stores, in one transaction: the newest data of the
    channels of ``station_ids`` (all when None), their health (with ``channel_health``: the
    worker writes a channel's health when its state changes, else once a minute) and the
    stations' states."""
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        stmt = select(Channel.id, Channel.station_id)
        if station_ids is not None:
            stmt = stmt.where(Channel.station_id.in_(station_ids))
        channels = s.execute(stmt).all()
        newest = now - timedelta(seconds=2)
        s.execute(
            ChannelStatus.__table__.delete().where(  # type: ignore[attr-defined]
                ChannelStatus.channel_id.in_([cid for cid, _ in channels])
            )
        )
        s.execute(
            insert(ChannelStatus),
            [
                {
                    "channel_id": cid,
                    "last_sample_time": newest,
                    "last_arrival_time": newest + timedelta(seconds=1.5),
                    "records": 1000,
                }
                for cid, _ in channels
            ],
        )
        if channel_health:
            reports = [ChannelReport(cid, HealthState.OK, "", metrics) for cid, _ in channels]
            save_channel_health(s, reports=reports, now=now)
        save_station_states(
            s,
            states={sid: (HealthState.OK, "all channels OK") for _, sid in channels},
            now=now,
        )


def fill(url: str, n_stations: int, detections: int) -> dict[str, Any]:
    engine = make_engine(url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    if n_stations > 3:
        made_up_stations(engine, n_stations - 3)
    with engine.connect() as conn:
        channels = conn.scalars(select(Channel.id).order_by(Channel.id)).all()
    now = time.time()
    metrics = window_metrics(now, np.random.default_rng(1))
    evaluation_round(engine, datetime.fromtimestamp(now, UTC), metrics)
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
    return metrics


def _store_rounds(url: str, metrics: dict[str, Any], every_s: float, stop: Any, count: Any) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        order = sorted(conn.scalars(select(Station.id)).all())
    turns = max(1, math.ceil(len(order) / EVALUATED_AT_ONCE))
    health_due = [0.0] * turns
    turn = 0
    while not stop.wait(every_s / turns):
        now = time.monotonic()
        due = now >= health_due[turn % turns]
        if due:
            health_due[turn % turns] = now + HEALTH_WRITTEN_EVERY_S
        stations = set(order[turn % turns :: turns])
        evaluation_round(engine, datetime.now(UTC), metrics, stations, channel_health=due)
        turn += 1
        if turn % turns == 0:
            with count.get_lock():
                count.value += 1
    engine.dispose()


class Rounds:
    """A process that stores an evaluation round every ``every_s`` seconds as a worker does
    (a process of its own: in the client's, it would hold the client's GIL): in turns of
    at most 100 stations spread over the round, a channel's health once a minute."""

    def __init__(self, url: str, metrics: dict[str, Any], every_s: float) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.counter = context.Value("i", 0)
        self.every_s = every_s
        self.process = context.Process(
            target=_store_rounds, args=(url, metrics, every_s, self.stop, self.counter)
        )

    @property
    def count(self) -> int:
        return int(self.counter.value)

    def __enter__(self) -> Rounds:
        if self.every_s > 0:
            self.process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.process.is_alive():
            self.process.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, path: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not start")


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    bytes: int = 0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    """(status, body bytes) of one HTTP/1.1 response."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length = None
    chunked = False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    size = 0
    if chunked:
        while True:
            n = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(n + 2)
            size += n
            if n == 0:
                break
    elif length:
        await reader.readexactly(length)
        size = length
    return status, size


async def _connection(port: int, path: str, until: float, result: Result, gzip: bool) -> None:
    accept = "Accept-Encoding: gzip\r\n" if gzip else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{accept}\r\n".encode()
    reader = writer = None
    while time.perf_counter() < until:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
            assert reader is not None
            t = time.perf_counter()
            writer.write(request)
            status, size = await asyncio.wait_for(_read_response(reader), timeout=60)
            result.latencies.append(time.perf_counter() - t)
            result.bytes += size
            if status != 200:
                result.error(f"HTTP {status}")
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as e:
            result.error(type(e).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


def hammer(port: int, path: str, connections: int, seconds: float, gzip: bool) -> Result:
    """Every one of ``connections`` keep-alive connections sends ``path`` again as soon as
    it has its answer, for ``seconds``."""
    result = Result()

    async def run() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(
            *(_connection(port, path, until, result, gzip) for _ in range(connections))
        )

    t = time.perf_counter()
    asyncio.run(run())
    result.elapsed = time.perf_counter() - t
    return result


def start(command: list[str], env: dict[str, str], port: int, path: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_up(port, path)
    except SystemExit:
        process.kill()
        raise
    return process


def stop(process: subprocess.Popen[bytes]) -> str:
    process.terminate()
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err.decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stations", type=int, default=3, help="3: the TJ inventory")
    parser.add_argument("--detections", type=int, default=100_000)
    parser.add_argument("--connections", default="1,4,16,64")
    parser.add_argument("--seconds", type=float, default=3.0, help="per case and level")
    parser.add_argument("--workers", type=int, default=1, help="larza api --workers")
    parser.add_argument("--round-s", type=float, default=10.0, help="0: no evaluation rounds")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--only",
        default="",
        help="run only the cases whose name contains one of these texts (comma-separated)",
    )
    parser.add_argument(
        "--identity",
        action="store_true",
        help="ask for uncompressed answers (by default the client sends 'Accept-Encoding: "
        "gzip', as browsers, curl --compressed, requests, httpx and Prometheus do)",
    )
    args = parser.parse_args()
    levels = [int(n) for n in args.connections.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        t = time.perf_counter()
        metrics = fill(url, args.stations, args.detections)
        print(
            f"{args.stations:,} stations, {args.detections:,} detections and "
            f"{args.detections // 3:,} events stored in {time.perf_counter() - t:.1f} s "
            f"({url.split(':')[0]})"
        )
        Path(tmp, "hello_app.py").write_text(HELLO_APP)
        env = {**os.environ, "LARZA_DATABASE_URL": url, "LARZA_WEBHOOKS_ENABLED": "false"}
        api_port, hello_port = free_port(), free_port()
        workers = ["--workers", str(args.workers)]
        api = start(
            [
                *(sys.executable, "-m", "ingest", "api", "--port", str(api_port)),
                *(workers if args.workers > 1 else []),
            ],
            env,
            api_port,
            "/healthz",
        )
        hello = start(
            [
                *(sys.executable, "-m", "uvicorn", "hello_app:app", "--app-dir", tmp),
                *("--port", str(hello_port), "--log-level", "warning", *workers),
            ],
            env,
            hello_port,
            "/hello",
        )
        try:
            mid = (T0 + timedelta(seconds=20 * args.detections // 6)).strftime("%Y-%m-%dT%H:%M:%S")
            end = (T0 + timedelta(seconds=20 * args.detections // 6 + 3600)).strftime(
                "%Y-%m-%dT%H:%M:%S"
            )
            fdsn = f"starttime={mid}&endtime={end}"
            one_station = "station=TJ.SAREZ&min_snr=10&limit=100"
            cases = [
                ("hello world (FastAPI)", hello_port, "/hello"),
                ("station list", api_port, "/api/v1/stations"),
                ("metrics", api_port, "/metrics"),
                ("detections, a page of 100", api_port, "/api/v1/detections?limit=100&after=50000"),
                (
                    "detections of one station, min SNR",
                    api_port,
                    f"/api/v1/detections?{one_station}",
                ),
                (
                    "events in one hour",
                    api_port,
                    f"/api/v1/events?start={mid}&end={end}&limit=100",
                ),
                ("FDSN events in one hour (QuakeML)", api_port, f"/fdsnws/event/1/query?{fdsn}"),
            ]
            only = [t.strip().lower() for t in args.only.split(",") if t.strip()]
            cases = [
                c
                for c in cases
                if not only or c[1] == hello_port or any(t in c[0].lower() for t in only)
            ]
            print(
                f"uvicorn, {args.workers} worker process(es); each case {args.seconds:g} s per "
                f"level; an evaluation round every {args.round_s:g} s; "
                f"{'no compression' if args.identity else 'Accept-Encoding: gzip'} "
                f"(KB: as received)\n"
            )
            print(
                f"{'':36} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
                f"{'errors':>7} {'KB':>7} {'of hello':>8}"
            )
            hello_rate: dict[int, float] = {}
            with Rounds(url, metrics, args.round_s) as rounds:
                for name, port, path in cases:
                    hammer(port, path, 4, min(1.0, args.seconds), not args.identity)  # warm up
                    for n in levels:
                        r = hammer(port, path, n, args.seconds, not args.identity)
                        rate = len(r.latencies) / r.elapsed
                        if port == hello_port:
                            hello_rate[n] = rate
                        q = (
                            statistics.quantiles(r.latencies, n=100)
                            if len(r.latencies) > 1
                            else [r.latencies[0] if r.latencies else float("nan")] * 99
                        )
                        errors = sum(r.errors.values())
                        size = r.bytes / max(1, len(r.latencies)) / 1024
                        share = rate / hello_rate[n] if hello_rate.get(n) else float("nan")
                        print(
                            f"{name:36} {n:5} {rate:8.0f} {1e3 * q[49]:8.1f} {1e3 * q[98]:8.1f} "
                            f"{errors:7} {size:7.1f} {share:8.0%}"
                            + (f"  {r.errors}" if r.errors else ""),
                            flush=True,
                        )
                print(f"\n{rounds.count} evaluation rounds stored during the run")
        finally:
            log = stop(api)
            stop(hello)
        if "Traceback" in log:
            print("\nthe API logged errors:\n" + log[-3000:])


if __name__ == "__main__":
    main()
