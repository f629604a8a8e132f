"""The drill feed resumes clients by real servers' rules, no kinder (ringserver 4.5; SeisComP's
seedlink alike), over raw v3 and v4 sockets. Each test names the rule it exercises:

- R1: ``DATA seq time`` continues after packet ``seq - 1`` when the ring holds it and its
  record starts in the second ``time`` names;
- R2: the packet is held but is another record (the ring was re-created or reused): the flow
  starts at the station's first packet ending at or after ``time``;
- R3: the packet has left the ring: by time, likewise;
- R4: no time, and the packet is not held: new data only (the gap the client must notice);
- R5: no time, the ring re-created with the same numbers: the number is taken as it is, so a
  client that sends no time resumes mid-ring (why Larza always sends one);
- R6: a ring kept across a restart (``--ring-file``) keeps its numbers: positions stay valid.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.feed import SyntheticSource, default_stations
from ingest.feed._mseed import RecordInfo, record_info

from ..conftest import SPAN, T0, Made, ServerThread
from .test_server_v4 import Raw

Version = str  # "3" or "4"
_V4_HEAD = struct.Struct("<2sccIQB")


def _time(ns: int, version: Version) -> str:
    t = datetime.fromtimestamp(ns / 1e9, UTC)
    if version == "3":
        return f"{t.year},{t.month},{t.day},{t.hour},{t.minute},{t.second}"
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fetch(port: int, version: Version, station: str, data: str) -> list[tuple[int, bytes]]:
    """A dial-up request for one station (``data``: the arguments of DATA/FETCH): the
    packets the feed sends, as (sequence number, record)."""
    c = Raw(port)
    try:
        if version == "4":
            c.v4()
            assert c.ask(f"STATION TJ_{station}") == "OK"
            assert c.ask(f"DATA {data}".strip()) == "OK"
            c.send("ENDFETCH")
            return [(p.seq, p.payload) for p in c.packets_until_end()]
        assert c.ask(f"STATION {station} TJ") == "OK"
        assert c.ask(f"FETCH {data}".strip()) == "OK"
        c.send("END")
        out = []
        while (head := c.read(3)) != b"END":
            head += c.read(5)
            out.append((int(head[2:], 16), c.read(512)))
        return out
    finally:
        c.close()


def station_records(made: Made, station: str) -> list[tuple[bytes, RecordInfo]]:
    return [(r, i) for r, i in zip(made.records, made.infos, strict=True) if i.station == station]


def _seq(n: int, version: Version) -> str:
    return f"{n:06X}" if version == "3" else str(n)


VERSIONS = pytest.mark.parametrize("version", ["3", "4"])


@VERSIONS
def test_r1_a_held_packet_with_its_start_time_is_honoured(
    loaded: ServerThread, made: Made, version: Version
) -> None:
    murgh = station_records(made, "MURGH")
    n = 40  # the client's last packet
    got = fetch(
        loaded.port,
        version,
        "MURGH",
        f"{_seq(n + 1, version)} {_time(murgh[n - 1][1].start_ns, version)}",
    )
    assert got == [(k, r) for k, (r, _) in enumerate(murgh, start=1) if k > n]


@VERSIONS
def test_r2_a_held_number_naming_another_record_resumes_by_time(
    loaded: ServerThread, made: Made, version: Version
) -> None:
    murgh = station_records(made, "MURGH")
    n = 40
    other = murgh[n + 25][1]  # the time the client gives is not packet n's
    got = fetch(
        loaded.port, version, "MURGH", f"{_seq(n + 1, version)} {_time(other.start_ns, version)}"
    )
    second = other.start_ns // 1_000_000_000 * 1_000_000_000 if version == "3" else other.start_ns
    first = next(k for k, (_, i) in enumerate(murgh, start=1) if i.end_ns >= second)
    assert got == [(k, r) for k, (r, _) in enumerate(murgh, start=1) if k >= first]
    assert first > n + 1  # the client would have lost what lies between: it must send the time


@VERSIONS
def test_r3_an_evicted_packet_resumes_by_time(
    server_factory: Callable[..., ServerThread], made: Made, version: Version
) -> None:
    srv = server_factory(ring_size=120)
    srv.publish(made.records[:400])
    held = fetch(srv.port, version, "SAREZ", "ALL" if version == "4" else "")
    sarez = station_records(made, "SAREZ")
    n = 3  # long gone from a ring of 120 packets
    got = fetch(
        srv.port,
        version,
        "SAREZ",
        f"{_seq(n + 1, version)} {_time(sarez[n - 1][1].start_ns, version)}",
    )
    assert got == held  # everything the ring still holds of the station, and no more
    assert got[0][0] > n + 1


@VERSIONS
def test_r4_an_evicted_packet_without_a_time_gets_new_data_only(
    server_factory: Callable[..., ServerThread], made: Made, version: Version
) -> None:
    srv = server_factory(ring_size=120)
    srv.publish(made.records[:400])
    assert fetch(srv.port, version, "SAREZ", _seq(4, version)) == []


def _later_records(made: Made) -> list[bytes]:
    """Other records of the same stations, an hour later: what a re-created ring holds."""
    source = SyntheticSource(
        default_stations(), seed=99, event_interval=1000.0, first_event_after=30.0, start=T0 + 3600
    )
    records: list[bytes] = []
    t = T0 + 3600
    while t < T0 + 3600 + SPAN / 2:
        t += 1.0
        records += source.records_until(t)
    return records


@VERSIONS
def test_r2_r5_a_re_created_ring_is_told_by_the_time_alone(
    server_factory: Callable[..., ServerThread], made: Made, version: Version
) -> None:
    """The server restarted with a fresh ring, numbering new records from 1 again: with its
    last record's start time the client gets every new record; without it, it would resume
    after the new packet bearing its old number and miss the ones before."""
    murgh = station_records(made, "MURGH")
    n = 30
    srv = server_factory()
    later = _later_records(made)
    srv.publish(later)
    new = [r for r in later if record_info(r).station == "MURGH"]
    assert len(new) > n + 10
    with_time = fetch(
        srv.port,
        version,
        "MURGH",
        f"{_seq(n + 1, version)} {_time(murgh[n - 1][1].start_ns, version)}",
    )
    assert [r for _, r in with_time] == new
    without = fetch(srv.port, version, "MURGH", _seq(n + 1, version))
    assert [r for _, r in without] == new[n:]  # R5: what a client sending no time gets


@VERSIONS
def test_r6_a_ring_kept_across_a_restart_keeps_its_numbers(
    made: Made, tmp_path: Path, version: Version
) -> None:
    ring_file = tmp_path / "ring.bin"
    first = ServerThread(stations=default_stations(), ring_file=ring_file).start()
    first.publish(made.records[:300])
    before = fetch(first.port, version, "MANEM", "ALL" if version == "4" else "")
    first.stop()  # saves the ring
    again = ServerThread(stations=default_stations(), ring_file=ring_file).start()
    try:
        assert fetch(again.port, version, "MANEM", "ALL" if version == "4" else "") == before
        n = len(before) // 2
        seq, record = before[n - 1]
        start = record_info(record).start_ns
        got = fetch(
            again.port, version, "MANEM", f"{_seq(seq + 1, version)} {_time(start, version)}"
        )
        assert got == before[n:]
        again.publish(made.records[300:])  # numbering goes on where it stopped
        after = fetch(
            again.port, version, "MANEM", f"{_seq(seq + 1, version)} {_time(start, version)}"
        )
        assert [s for s, _ in after] == list(range(seq + 1, seq + 1 + len(after)))
        assert len(after) == sum(1 for i in made.infos if i.station == "MANEM") - n
    finally:
        again.stop()
