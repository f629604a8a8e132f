"""``larza feed`` as a drill server, tried as an operator would: SOH channels and a lost GPS
lock, and a replay of recorded miniSEED, read back over SeedLink with EarthScope's client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from seedlink_client import SeedLink
from typer.testing import CliRunner

from ingest.cli.main import app
from ingest.seedlink.decode import decode_record

from ..conftest import free_port

pytestmark = pytest.mark.e2e


@contextmanager
def _feed(*args: str, log: Path) -> Iterator[int]:
    """A ``larza feed`` process on a free loopback port; yields the port."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "feed", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _collect(port: int, station: str, selectors: str, seconds: float) -> list[bytes]:
    client = SeedLink("127.0.0.1", port, timeout=5)
    client.add_stream(station, selectors)
    client.connect()
    got: list[bytes] = []
    deadline = time.monotonic() + seconds
    try:
        for packet in client.collect(reconnect=False):
            got.append(bytes(packet.payload))
            if time.monotonic() > deadline:
                break
    finally:
        client.close()
    return got


def test_drill_soh_channels_and_lost_gps_lock(tmp_path: Path) -> None:
    faults = tmp_path / "drill.toml"
    faults.write_text(
        '[[fault]]\nkind = "gps_unlock"\nstation = "SAREZ"\nstart = 0\nend = 3600\n'
        "timing_quality = 10\n"
    )
    drill = ("--soh-rate", "1", "--faults", str(faults), "--seed", "3")
    with _feed(*drill, log=tmp_path / "feed.log") as port:
        sarez = [decode_record(r) for r in _collect(port, "TJ_SAREZ", "HHZ GST", 12)]
        murgh = [decode_record(r) for r in _collect(port, "TJ_MURGH", "HHZ", 6)]
    channels = {r.key.channel for r in sarez}
    assert channels == {"HHZ", "GST"}
    hhz = [r for r in sarez if r.key.channel == "HHZ"]
    assert all(r.timing_quality == 10 and not r.clock_locked for r in hhz)
    gst = [r for r in sarez if r.key.channel == "GST"]
    assert {int(v) for r in gst for v in r.data} == {1}  # GPS status 1: unlocked
    assert murgh
    assert all(r.timing_quality == 100 and r.clock_locked for r in murgh)


def test_replay_of_recorded_files_arrives_byte_for_byte(tmp_path: Path) -> None:
    import io

    import numpy as np
    from obspy import read

    stream = read()  # ObsPy's example local event, three channels
    for trace in stream:
        trace.data = trace.data.astype(np.int32)
    path = tmp_path / "rjob.mseed"
    stream.write(str(path), format="MSEED", reclen=512, encoding="STEIM2")
    raw = path.read_bytes()
    sent = {raw[i : i + 512] for i in range(0, len(raw), 512)}
    replay = ("--replay", str(path), "--replay-mode", "fast")
    with _feed(*replay, log=tmp_path / "feed.log") as port:
        client = SeedLink("127.0.0.1", port, timeout=5, dialup=True)
        client.add_stream("BW_RJOB", "EH?", all_data=True)  # dial-up, everything held
        client.connect()
        got = [bytes(p.payload) for p in client.collect(reconnect=False)]
        client.close()
    assert set(got) == sent
    assert len(got) == len(sent)
    assert read(io.BytesIO(b"".join(got)))[0].stats.station == "RJOB"


def test_bad_feed_options_are_named() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["feed", "--replay-mode", "backwards"])
    assert result.exit_code == 1
    assert "--replay-mode" in result.output
    missing = runner.invoke(app, ["feed", "--faults", "/nonexistent/drill.toml"])
    assert missing.exit_code == 1
    assert "drill.toml" in missing.output
