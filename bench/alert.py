"""Early-warning latency and quality on scenario quakes fed as short records.

Starts ``larza api`` (a real process) on a fresh database with a webhook to a receiver in
this process and an SSE client on ``/api/v1/stream?kinds=alert``; then, for each scenario and
run, a new worker pipeline (this process, as ``larza worker`` runs it) is fed the three
Pamir stations' records of 1 s (``--record-seconds``) in data-time order, paced at
``--speed`` times real time. A scenario quake's verticals (HHZ and HNZ, the same ground
motion through each one's gain) carry a P wave whose tau_c and Pd are those of its
magnitude by the relations the on-site estimate inverts (Wu & Kanamori 2005, Wu & Zhao
2006) and noise, P at the default model's travel times.

Prints, per scenario: the processing latency from the arrival of the record that completed
the data an alert message needed (the moment it was handed to the pipeline) to the message
reaching the webhook receiver and the SSE client (p50, p99, max); the first alert's time
after the origin (data time of that record) and its magnitude error, and the error of the
last estimate within 10 s of it; the warning time at each target site (S arrival minus the
first alert's record arrival in data time) against the ideal (S arrival minus the moment the
third station had the ``min_window_s`` of P the magnitude needs).

    python bench/alert.py [--runs 5] [--speed 10] [--record-seconds 1] [--webhook-poll S]
                          [--quiet-seconds 3600] [--database-url postgresql+psycopg://...]

``--quiet-seconds``: then that long of the three stations with no quake and faults injected
(spikes, one station's glitches, calibration steps, clipped bursts, coincident small glitches,
large distant quakes): the alerts raised (none, it should be) and the candidates suppressed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path; Larza's packages must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse
import asyncio
import dataclasses
import http.client
import io
import json
import logging
import math
import os
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
from obspy import Stream, Trace, UTCDateTime
from sqlalchemy import select

from detection import TravelTimeTable, distance_km
from ingest.alerts.config import AlertsTable, SiteEntry
from ingest.config import LarzaConfig
from ingest.quakes.model import travel_time_table
from ingest.seedlink.source import Packet
from ingest.worker.pipeline import Pipeline
from stations.apikeys import create_api_key
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import AlertVersion, ChangeKind
from stations.webhooks import create_webhook

STATIONS = {"SAREZ": (38.27, 72.60), "MURGH": (38.17, 73.96), "MANEM": (37.49, 71.55)}
GAIN = 299999999.27771586  # the default inventory's seismometers, counts per m/s
HN_GAIN = 80000.0  # its accelerometers, counts per m/s^2
FS = 100.0
SITES = (
    SiteEntry(name="Usoi dam", latitude=38.27, longitude=72.61, threshold=4.0),
    SiteEntry(name="Khorugh", latitude=37.49, longitude=71.55, threshold=4.0),
    SiteEntry(name="Nurek dam", latitude=38.37, longitude=69.35, threshold=4.0),
    SiteEntry(name="Rogun dam", latitude=38.68, longitude=69.77, threshold=4.0),
    SiteEntry(name="Dushanbe", latitude=38.56, longitude=68.79, threshold=4.0),
)
SCENARIOS = {
    # name: (latitude, longitude, depth km, magnitude)
    "M 6.5 at 150 km under the Pamir": (38.0, 72.9, 150.0, 6.5),
    "M 5.0 at 10 km beside the Usoi dam": (38.20, 72.50, 10.0, 5.0),
}
ORIGIN_S = 60.0
SECONDS = 150.0


def traces(
    station: str,
    quake: tuple[float, float, float, float],
    table: TravelTimeTable,
    rng: np.random.Generator,
    start: UTCDateTime,
) -> list[Trace]:
    """The station's seismometer (HHZ) and accelerometer (HNZ) records of the quake: the
    same ground motion through each one's gain, each with its own noise."""
    lat, lon, depth, m = quake
    epi = float(distance_km(lat, lon, *STATIONS[station]))
    p = ORIGIN_S + float(table.time(False, epi, depth))
    hypo = math.hypot(epi, depth)
    tau_c = 10 ** (0.296 * m - 1.716)
    pd = 10 ** (-3.463 + 0.729 * m - 1.374 * math.log10(hypo)) / 100
    t = np.arange(round(SECONDS * FS)) / FS
    rel = np.clip(t - p, 0, None)
    ramp = np.sin(np.pi / 2 * np.clip(rel / 0.3, 0, 1)) ** 2
    u = pd * ramp * np.exp(-np.clip(rel - 4.0, 0, None) / 3.0) * np.sin(2 * np.pi * rel / tau_c)
    velocity = np.gradient(u, 1 / FS)
    out = []
    for code, counts in (
        ("HHZ", velocity * GAIN + rng.normal(0, 200, t.size)),
        ("HNZ", np.gradient(velocity, 1 / FS) * HN_GAIN + rng.normal(0, 80, t.size)),
    ):
        counts = np.clip(counts, -(2**31) + 1, 2**31 - 1)
        header = {"network": "TJ", "station": station, "channel": code, "sampling_rate": FS}
        out.append(Trace(np.round(counts).astype(np.int32), header={**header, "starttime": start}))
    return out


def packets(traces: list[Trace], record_s: float) -> list[tuple[float, Packet]]:
    """(data end time, packet) of records ``record_s`` long, in data-time order."""
    out = []
    for tr in traces:
        n = round(record_s * FS)
        for i, a in enumerate(range(0, tr.stats.npts, n)):
            piece = tr.copy()
            piece.data = tr.data[a : a + n]
            piece.stats.starttime = tr.stats.starttime + a / FS
            buf = io.BytesIO()
            Stream([piece]).write(buf, format="MSEED", reclen=512, encoding="STEIM2")
            raw = buf.getvalue()
            for j in range(0, len(raw), 512):
                end = piece.stats.endtime.timestamp
                out.append(
                    (end, Packet(f"TJ_{tr.stats.station}", i * 10 + j // 512 + 1, raw[j : j + 512]))
                )
    return sorted(out, key=lambda x: x[0])


class Receiver:
    def __init__(self) -> None:
        self.got: dict[int, float] = {}  # alert_version id -> arrival (time.time())
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.time()
                for change in body["changes"]:
                    if change["kind"] == "alert" and change["data"] is not None:
                        key = (change["data"]["alert_id"], change["data"]["version"])
                        receiver.got.setdefault(hash(key), now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def sse_client(port: int, got: dict[int, float], stop: threading.Event) -> None:
    async def run() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/stream?kinds=alert HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        while not stop.is_set():
            try:
                line = await asyncio.wait_for(reader.readline(), 0.5)
            except TimeoutError:
                continue
            if not line:
                return
            for part in line.split(b"\n"):
                if part.startswith(b"data: "):
                    data = json.loads(part[6:])
                    if data and "alert_id" in data:
                        got.setdefault(hash((data["alert_id"], data["version"])), time.time())
        writer.close()

    asyncio.run(run())


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
        finally:
            conn.close()
    raise SystemExit("the API did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def quiet_hour(
    factory: Any, config: LarzaConfig, seconds: float, record_s: float, seed: int = 11
) -> None:
    """An hour of the three stations' HHZ and HNZ with no quake and every fault injected:
    spikes, one station's P-like glitches, calibration steps, clipped bursts, coincident
    small glitches at all three, and large distant quakes (long-period P crossing the network
    at 20 km/s), on a fresh SQLite database. Prints the alerts raised (there should be none)
    and the candidates suppressed, by reason."""
    rng = np.random.default_rng(seed)
    n = round(seconds * FS)
    start = UTCDateTime(int(time.time()) - 2 * 3600 - int(seconds))
    data = {
        (st, ch): rng.normal(0, 200 if ch == "HHZ" else 80, n)
        for st in STATIONS
        for ch in ("HHZ", "HNZ")
    }
    injected: dict[str, int] = {}

    def burst(x: np.ndarray, at: int, amplitude: float, freq: float, length_s: float) -> None:
        t = np.arange(min(round(length_s * FS), n - at)) / FS
        x[at : at + t.size] += (
            amplitude * np.exp(-t / (length_s / 3)) * np.sin(2 * np.pi * freq * t)
        )

    names = list(STATIONS)
    for t0 in np.arange(60.0, seconds - 60, 120.0):  # spikes, every station
        for st in names:
            at = round((t0 + rng.uniform(0, 60)) * FS)
            data[(st, "HHZ")][at : at + int(rng.integers(1, 4))] = 8_000_000 * rng.choice([-1, 1])
            injected["spike"] = injected.get("spike", 0) + 1
    for t0 in np.arange(100.0, seconds - 60, 300.0):  # one station's P-like glitch
        st = names[int(rng.integers(3))]
        burst(data[(st, "HHZ")], round(t0 * FS), 200_000, 5.0, 2.0)
        injected["glitch"] = injected.get("glitch", 0) + 1
    for t0 in np.arange(400.0, seconds - 60, 900.0):  # calibration step, 1 s
        st = names[int(rng.integers(3))]
        at = round(t0 * FS)
        data[(st, "HHZ")][at : at + 100] += 500_000
        injected["calibration"] = injected.get("calibration", 0) + 1
    for t0 in np.arange(700.0, seconds - 60, 1200.0):  # clipped burst at one station
        st = names[int(rng.integers(3))]
        x = data[(st, "HHZ")]
        burst(x, round(t0 * FS), 50_000_000, 3.0, 4.0)
        np.clip(x, -8_388_607, 8_388_607, out=x)
        injected["clipping"] = injected.get("clipping", 0) + 1
    for t0 in np.arange(1000.0, seconds - 60, 1500.0):  # small glitches at all three
        for st in names:
            burst(data[(st, "HHZ")], round((t0 + rng.uniform(0, 2)) * FS), 20_000, 6.0, 1.5)
        injected["coincident_glitches"] = injected.get("coincident_glitches", 0) + 1
    for t0 in np.arange(1300.0, seconds - 60, 1800.0):  # teleseism: long period, steep
        for st, (lat, lon) in STATIONS.items():
            delay = float(distance_km(36.0, 66.0, lat, lon)) / 20.0
            at = round((t0 + delay - 20) * FS)
            ground = np.zeros(n)  # velocity, m/s: on both sensors, through their gains
            burst(ground, at, 300_000 / GAIN, 0.2, 30.0)
            data[(st, "HHZ")] += ground * GAIN
            data[(st, "HNZ")] += np.gradient(ground, 1 / FS) * HN_GAIN
        injected["teleseism"] = injected.get("teleseism", 0) + 1
    traces = []
    for (st, ch), x in data.items():
        header = {"network": "TJ", "station": st, "channel": ch, "sampling_rate": FS}
        x = np.clip(np.round(x), -(2**31) + 1, 2**31 - 1).astype(np.int32)
        traces.append(Trace(x, header={**header, "starttime": start}))
    feed = packets(traces, record_s)
    pipeline = Pipeline(
        factory, server="bench-quiet:18000", config=config, clock=lambda: datetime.now(UTC)
    )
    t = time.perf_counter()
    for _, packet in feed:
        pipeline.handle(packet)
    took = time.perf_counter() - t
    alerts = {k: v for k, v in pipeline.counts.items() if k.startswith("alerts_")}
    print(
        f"{seconds / 3600:g} h of three stations (HHZ, HNZ), no quake, {len(feed)} records of "
        f"{record_s:g} s, processed in {took:.0f} s"
    )
    print(f"  injected: {injected}")
    print(f"  alerts: {alerts or 'none'}; preliminary picks {pipeline.counts['preliminary']}")
    warning = pipeline.warning
    print(f"  suppressed, by reason: {dict(warning.suppressed) if warning else {}}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--record-seconds", type=float, default=1.0)
    parser.add_argument(
        "--webhook-poll", type=float, default=None, help="LARZA_WEBHOOK_POLL_S (the API's default)"
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--quiet-seconds", type=float, default=0.0, help="then this long with faults, no quake"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'alert.sqlite'}"
        engine = make_engine(url)
        migrate(engine)
        factory = make_session_factory(engine)
        receiver = Receiver()
        with factory() as s, s.begin():
            import_stationxml(s, default_inventory_path())
            key, _ = create_api_key(s, name="bench", now=datetime.now(UTC))
            create_webhook(
                s,
                url=f"http://127.0.0.1:{receiver.port}/alerts",
                secret="x" * 32,
                kinds=(ChangeKind.ALERT,),
                api_key_id=key.id,
                now=datetime.now(UTC),
            )
        port = free_port()
        env = {
            **os.environ,
            "LARZA_DATABASE_URL": url,
            "LARZA_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        }
        if args.webhook_poll is not None:
            env["LARZA_WEBHOOK_POLL_S"] = str(args.webhook_poll)
        api = subprocess.Popen(
            [sys.executable, "-m", "ingest", "api", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop = threading.Event()
        sse_got: dict[int, float] = {}
        try:
            wait_up(port)
            threading.Thread(target=sse_client, args=(port, sse_got, stop), daemon=True).start()
            time.sleep(1.0)
            base = LarzaConfig()
            config = dataclasses.replace(
                base, alerts=AlertsTable(enabled=True, min_stations=3, sites=SITES)
            )
            table = travel_time_table(config)
            print(
                f"{url.split(':')[0]}; {args.runs} runs a scenario; records of "
                f"{args.record_seconds:g} s fed at {args.speed:g}x real time; webhook poll "
                f"{'default' if args.webhook_poll is None else f'{args.webhook_poll:g} s'}\n"
            )
            run_no = 0
            for name, quake in SCENARIOS.items() if args.runs else ():
                hook_ms: list[float] = []
                sse_ms: list[float] = []
                first_after: list[float] = []
                m_first: list[float] = []
                m_10: list[float] = []
                warning: dict[str, list[tuple[float, float]]] = {s.name: [] for s in SITES}
                for run in range(args.runs):
                    run_no += 1
                    # data of the past hours (a record from the future is refused)
                    start = UTCDateTime(int(time.time()) - 3 * 3600) + 600 * run_no
                    origin = start.timestamp + ORIGIN_S
                    rng = np.random.default_rng(run_no)
                    feed = packets(
                        [tr for s in STATIONS for tr in traces(s, quake, table, rng, start)],
                        args.record_seconds,
                    )
                    clock_base = time.time()
                    pipeline = Pipeline(
                        factory,
                        server="bench:18000",
                        config=config,
                        clock=lambda: datetime.now(UTC),
                    )
                    sent: list[tuple[int, float, float, Any]] = []  # key, arrival, data time
                    t_start = time.monotonic()
                    for data_end, packet in feed:
                        due = t_start + (data_end - start.timestamp) / args.speed
                        pause = due - time.monotonic()
                        if pause > 0:
                            time.sleep(pause)
                        before = sum(
                            v for k, v in pipeline.counts.items() if k.startswith("alerts_")
                        )
                        arrival = time.time()
                        pipeline.handle(packet)
                        after = sum(
                            v for k, v in pipeline.counts.items() if k.startswith("alerts_")
                        )
                        if after > before:
                            sent.append((after, arrival, data_end, None))
                    time.sleep(1.5)
                    with factory() as s:
                        rows = s.scalars(
                            select(AlertVersion)
                            .where(AlertVersion.sent_at >= _utc(clock_base))
                            .order_by(AlertVersion.id)
                        ).all()
                    network = [r for r in rows if r.station is None]
                    for row, (_, arrival, _, _) in zip(network, sent, strict=False):
                        h = hash((row.alert_id, row.version))
                        if h in receiver.got:
                            hook_ms.append(1000 * (receiver.got[h] - arrival))
                        if h in sse_got:
                            sse_ms.append(1000 * (sse_got[h] - arrival))
                    created = [
                        (r, s) for r, s in zip(network, sent, strict=False) if r.action == "created"
                    ]
                    if not created:
                        said = dict(pipeline.warning.suppressed) if pipeline.warning else {}
                        print(f"  {name}, run {run + 1}: no alert (suppressed: {said})")
                        continue
                    row, (_, _, data_end, _) = created[0]
                    first_after.append(data_end - origin)
                    m_first.append((row.magnitude or math.nan) - quake[3])
                    later = [
                        r
                        for r, s in zip(network, sent, strict=False)
                        if s[2] <= data_end + 10 and r.magnitude is not None
                    ]
                    m_10.append((later[-1].magnitude or math.nan) - quake[3])
                    third_p = sorted(
                        origin
                        + float(
                            table.time(
                                False,
                                float(distance_km(quake[0], quake[1], *STATIONS[st])),
                                quake[2],
                            )
                        )
                        for st in STATIONS
                    )[2]
                    ideal_t = third_p + 1.0
                    for site in SITES:
                        epi = float(distance_km(quake[0], quake[1], site.latitude, site.longitude))
                        s_arr = origin + float(table.time(True, epi, quake[2]))
                        warning[site.name].append((s_arr - data_end, s_arr - ideal_t))
                print(f"{name}: {len(first_after)} of {args.runs} runs alerted")
                for what, values in (("webhook", hook_ms), ("SSE", sse_ms)):
                    if values:
                        print(
                            f"  record arrival -> {what}: p50 {statistics.median(values):.0f} ms, "
                            f"p99 {pct(values, 0.99):.0f} ms, max {max(values):.0f} ms "
                            f"({len(values)} messages)"
                        )
                if first_after:
                    print(
                        f"  first alert: {statistics.median(first_after):.1f} s of data after "
                        "the origin (median)"
                    )
                    print(
                        f"  magnitude error: first alert {statistics.median(m_first):+.2f}, "
                        f"within 10 s {statistics.median(m_10):+.2f} (median)"
                    )
                    for site, pairs in warning.items():
                        got = statistics.median(p[0] for p in pairs)
                        ideal = statistics.median(p[1] for p in pairs)
                        print(f"  warning time at {site}: {got:.1f} s (ideal {ideal:.1f} s)")
            if args.quiet_seconds:
                # a database of its own: the scenarios' stored data and alerts are newer
                # than the hour's records (they would be taken as late, an alert adopted)
                quiet = make_engine(f"sqlite:///{Path(tmp) / 'quiet.sqlite'}")
                migrate(quiet)
                quiet_factory = make_session_factory(quiet)
                with quiet_factory() as s, s.begin():
                    import_stationxml(s, default_inventory_path())
                quiet_hour(quiet_factory, config, args.quiet_seconds, args.record_seconds)
                quiet.dispose()
        finally:
            stop.set()
            api.terminate()
            api.wait(timeout=20)
            engine.dispose()


if __name__ == "__main__":
    main()
