"""SSE latency: from a change committed to the database to each client receiving it.

Starts ``larza api`` on a fresh database, opens N clients on ``/api/v1/stream``, and has a
writer process store detections as the worker does (each transaction ends with
``log_changes``), one every ``--every`` seconds, noting when each commit returned. Each
client notes when each message arrived; the latency is the arrival minus the commit (both
on this machine's clock). Prints p50, p99 and max per number of clients, and the API
process's CPU while idle with them connected.

    python bench/sse.py [--clients 1,16,64] [--changes 200] [--every 0.05]
                        [--poll 0.05] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path; Larza's packages must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse
import asyncio
import http.client
import multiprocessing
import os
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from stations.changes import log_changes
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import default_inventory_path, import_stationxml
from stations.models import ChangeKind
from stations.queries import channel_index, store_detection


def prepare(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    with make_session_factory(engine)() as s, s.begin():
        import_stationxml(s, default_inventory_path())
    engine.dispose()


def write(url: str, count: int, every_s: float, out: Any) -> None:
    """Store ``count`` detections, each in its own transaction as the worker stores a batch;
    put (change id, commit time) on ``out``."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        channel = next(iter(channel_index(s).values())).id
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        onset = t0 + timedelta(seconds=10 * i)
        with factory() as s, s.begin():
            detection = store_detection(
                s,
                channel_id=channel,
                on_time=onset,
                off_time=onset + timedelta(seconds=5),
                onset_time=onset,
                peak_ratio=6.0,
                snr=8.0,
                peak_amplitude=1000.0,
                profile="default",
                now=datetime.now(UTC),
            )
            (change,) = log_changes(
                s, changes=[(ChangeKind.DETECTION, detection.id)], now=datetime.now(UTC)
            )
            change_id = change.id
        out.put((change_id, time.time()))
        time.sleep(every_s)
    engine.dispose()


async def client(port: int, count: int, received: dict[int, float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    while (await reader.readline()) not in (b"\r\n", b""):
        pass  # the headers
    while len(received) < count:
        line = await reader.readline()
        if not line:
            raise SystemExit("the stream ended")
        # chunked transfer: a chunk is one SSE message; its id line starts with "id: "
        for part in line.split(b"\n"):
            if part.startswith(b"id: "):
                received[int(part[4:])] = time.time()
    writer.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def run_level(url: str, port: int, pid: int, n: int, args: argparse.Namespace) -> None:
    context = multiprocessing.get_context("spawn")
    commits: Any = context.Queue()
    received: list[dict[int, float]] = [{} for _ in range(n)]

    async def main() -> float:
        tasks = [asyncio.create_task(client(port, args.changes, r)) for r in received]
        await asyncio.sleep(1.0)  # connected and idle
        cpu, t = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(3.0)
        idle = (cpu_seconds(pid) - cpu) / (time.monotonic() - t)
        writer = context.Process(target=write, args=(url, args.changes, args.every, commits))
        writer.start()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=args.changes * args.every + 120)
        writer.join()
        return idle

    idle = asyncio.run(main())
    committed = dict(commits.get() for _ in range(args.changes))
    latencies = [r[i] - at for r in received for i, at in committed.items()]
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{n:8} {1e3 * q[49]:8.1f} {1e3 * q[98]:8.1f} {1e3 * max(latencies):8.1f} "
        f"{100 * idle:14.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--changes", type=int, default=200, help="per level")
    parser.add_argument("--every", type=float, default=0.05, help="seconds between commits")
    parser.add_argument("--poll", type=float, default=None, help="LARZA_STREAM_POLL_S")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'sse.sqlite'}"
        prepare(url)
        port = free_port()
        env = {**os.environ, "LARZA_DATABASE_URL": url, "LARZA_WEBHOOKS_ENABLED": "false"}
        if args.poll is not None:
            env["LARZA_STREAM_POLL_S"] = str(args.poll)
        api = subprocess.Popen(
            [sys.executable, "-m", "ingest", "api", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_up(port)
            print(
                f"{url.split(':')[0]}; a detection committed every {args.every:g} s, "
                f"{args.changes} per level; poll {args.poll or 'default'}\n"
            )
            print(f"{'clients':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'idle CPU %':>14}")
            for n in (int(c) for c in args.clients.split(",")):
                run_level(url, port, api.pid, n, args)
        finally:
            api.terminate()
            api.wait(timeout=20)


if __name__ == "__main__":
    main()
