"""End to end, tried as a new user would: feed, worker and API as real processes on loopback.

The feed serves synthetic earthquakes every 15 s; the worker reads it over TCP; the API
must list the three stations with fresh data, and detections at several stations.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import free_port

pytestmark = pytest.mark.e2e


def _larza(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "ingest", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


@pytest.fixture
def stack(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {
        **os.environ,
        "LARZA_DATABASE_URL": fresh_database_url,
        "LARZA_ARCHIVE_DIR": str(tmp_path / "archive"),
    }
    for step in (["db", "migrate"], ["stations", "import", "--default"]):
        subprocess.run(
            [sys.executable, "-m", "ingest", *step], env=env, check=True, capture_output=True
        )
    sl_port, api_port = free_port(), free_port()
    procs = [
        _larza(
            "feed",
            "--port",
            str(sl_port),
            "--seed",
            "7",
            "--event-interval",
            "15",
            "--first-event-after",
            "14",
            env=env,
            log=tmp_path / "feed.log",
        )
    ]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", sl_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    procs.append(
        _larza("worker", "--seedlink", f"127.0.0.1:{sl_port}", env=env, log=tmp_path / "worker.log")
    )
    procs.append(_larza("api", "--port", str(api_port), env=env, log=tmp_path / "api.log"))
    try:
        yield f"http://127.0.0.1:{api_port}", tmp_path
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _get(base: str, path: str) -> object:
    try:
        with urllib.request.urlopen(base + path, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):  # not up yet, or an error status
        return None


def test_feed_to_api(stack: tuple[str, Path]) -> None:
    base, logs = stack
    fresh: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(fresh) < 3:
        stations = _get(base, "/api/v1/stations")
        if isinstance(stations, list):
            fresh = {
                s["id"]: s["data_latency_s"]
                for s in stations
                if s["data_latency_s"] is not None and s["data_latency_s"] < 10
            }
        time.sleep(1)
    assert sorted(fresh) == ["TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"], _tail(logs)

    detected: set[str] = set()
    events: list[dict[str, object]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (len(detected) < 3 or not events):
        page = _get(base, "/api/v1/detections?limit=1000")
        if isinstance(page, dict):
            detected = {f"{d['network']}.{d['station']}" for d in page["items"]}
        got = _get(base, "/api/v1/events")
        if isinstance(got, dict):
            events = got["items"]
        time.sleep(2)
    assert detected == {"TJ.MANEM", "TJ.MURGH", "TJ.SAREZ"}, _tail(logs)
    assert events, _tail(logs)
    assert events[0]["n_stations"] == 3


def _tail(logs: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
        for p in sorted(logs.glob("*.log"))
    )
