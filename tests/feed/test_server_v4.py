"""The feed's SeedLink v4 and uni-station mode over real loopback sockets: raw bytes, and
EarthScope's client through the worker's ``SeedLinkSource``."""

from __future__ import annotations

import io
import json
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import obspy
import pytest

from ingest.feed import default_stations
from ingest.feed._mseed import record_info
from ingest.feed._protocol import SEQ_MODULUS
from ingest.feed._ring import Ring
from ingest.feed._v4 import SequenceNumbers, info_document
from ingest.seedlink.source import Packet, SeedLinkSource
from stations.queries import StreamPosition

from ..conftest import T0, Made, ServerThread

_HEAD = struct.Struct("<2sccIQB")


@dataclass(frozen=True)
class V4Packet:
    format: str
    subformat: str
    seq: int
    station_id: str
    payload: bytes


class Raw:
    """A client speaking raw bytes: lines out, lines or v3/v4 packets in."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, line: str, end: str = "\r\n") -> None:
        self.sock.sendall((line + end).encode())

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed after {len(self.buf)} of {n} bytes")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self) -> str:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n")
        return head.decode()

    def ask(self, line: str) -> str:
        self.send(line)
        return self.line()

    def v4(self) -> None:
        """HELLO and ``SLPROTO 4.0``."""
        self.send("HELLO")
        assert "SLPROTO:4.0" in self.line().split(" :: ")[1].split()
        self.line()
        assert self.ask("SLPROTO 4.0") == "OK"

    def packet(self) -> V4Packet:
        signature, fmt, sub, length, seq, sid_len = _HEAD.unpack(self.read(_HEAD.size))
        assert signature == b"SE"
        sid = self.read(sid_len).decode("ascii")
        return V4Packet(fmt.decode(), sub.decode(), seq, sid, self.read(length))

    def packets_until_end(self) -> list[V4Packet]:
        out = []
        while True:
            if self.read(2) == b"EN":
                assert self.read(1) == b"D"
                return out
            self.buf = b"SE" + self.buf
            out.append(self.packet())

    def info(self, item: str) -> tuple[str, dict[str, object]]:
        self.send(f"INFO {item}")
        p = self.packet()
        assert (p.format, p.station_id) == ("J", "")
        return p.subformat, json.loads(p.payload)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connect() -> Iterator[Callable[[int], Raw]]:
    opened: list[Raw] = []

    def open_(port: int) -> Raw:
        opened.append(Raw(port))
        return opened[-1]

    yield open_
    for r in opened:
        r.close()


def per_station_numbers(made: Made) -> list[int]:
    """The sequence number each pre-made record gets: its place in its station's order."""
    counts: Counter[str] = Counter()
    out = []
    for info in made.infos:
        counts[info.station] += 1
        out.append(counts[info.station])
    return out


# -- raw v4 sessions ----------------------------------------------------------------------------


def test_hello_offers_v4_and_the_v4_handshake(
    loaded: ServerThread, connect: Callable[[int], Raw]
) -> None:
    c = connect(loaded.port)
    c.send("HELLO")
    first = c.line()
    assert first.startswith("SeedLink v4.0 (Larza feed) :: ")
    assert {"SLPROTO:3.1", "SLPROTO:4.0"} <= set(first.split(" :: ")[1].split())
    assert c.line() == "Larza test feed"
    assert c.ask("SLPROTO 4.0") == "OK"
    assert c.ask("USERAGENT larza-tests/1.0 seedlink-client/0.2.0") == "OK"
    assert c.ask("AUTH USERPASS someone secret").startswith("ERROR UNSUPPORTED ")
    assert c.ask("SLPROTO 4.0").startswith("ERROR UNEXPECTED ")
    assert c.ask("station tj_sarez") == "OK"


def test_v4_session_streams_the_selection_as_v4_packets(
    loaded: ServerThread, connect: Callable[[int], Raw], made: Made
) -> None:
    c = connect(loaded.port)
    c.v4()
    for cmd in [
        "STATION TJ_SAREZ",
        "SELECT *_H_H_Z.D",  # what EarthScope's client makes of v3's "HHZ.D"
        "DATA ALL",
        "STATION TJ_M*",
        "SELECT HN?",  # the v3 form
        "SELECT !*_H_N_E",
        "SELECT !*.E",  # no event records: excludes nothing here
        "DATA ALL",
    ]:
        assert c.ask(cmd) == "OK", cmd
    c.send("ENDFETCH")
    packets = c.packets_until_end()

    numbers = per_station_numbers(made)
    wanted = {("SAREZ", "HHZ"), ("MURGH", "HNZ"), ("MURGH", "HNN")}
    wanted |= {("MANEM", "HNZ"), ("MANEM", "HNN")}
    expected = [
        (f"TJ_{i.station}", n, r)
        for r, i, n in zip(made.records, made.infos, numbers, strict=True)
        if (i.station, i.channel) in wanted
    ]
    assert {(p.format, p.subformat) for p in packets} == {("2", "D")}
    assert {len(p.payload) for p in packets} == {512}
    assert [(p.station_id, p.seq, p.payload) for p in packets] == expected
    for sid in ("TJ_SAREZ", "TJ_MURGH", "TJ_MANEM"):
        seqs = [p.seq for p in packets if p.station_id == sid]
        assert seqs == sorted(set(seqs))
        assert seqs[0] >= 1
    tr = obspy.read(io.BytesIO(packets[0].payload))[0]
    assert (tr.stats.network, tr.stats.station, tr.stats.channel) == ("TJ", "SAREZ", "HHZ")
    assert len(tr.data) > 0


def test_v4_real_time_flow_and_info_while_streaming(
    server_factory: Callable[..., ServerThread], connect: Callable[[int], Raw], made: Made
) -> None:
    srv = server_factory()
    srv.publish(made.records[:50])
    c = connect(srv.port)
    c.v4()
    assert c.ask("STATION *") == "OK"
    assert c.ask("DATA") == "OK"
    c.send("END")
    assert c.info("ID")[0] == "I"  # answered while streaming; a sync point before publishing
    c.send("SELECT *")  # ignored once streaming: no reply may come between the packets
    srv.publish(made.records[50:60])
    got = [c.packet() for _ in range(10)]
    numbers = per_station_numbers(made)
    assert [p.payload for p in got] == made.records[50:60]
    assert [p.seq for p in got] == numbers[50:60]
    assert [p.station_id for p in got] == [f"TJ_{i.station}" for i in made.infos[50:60]]


def test_info_stations_and_streams_as_json(
    loaded: ServerThread, connect: Callable[[int], Raw], made: Made
) -> None:
    c = connect(loaded.port)
    c.v4()
    sub, doc = c.info("STATIONS")
    assert sub == "I"
    assert doc["software"] == "SeedLink v4.0 (Larza feed)"
    assert doc["organization"] == "Larza test feed"
    counts = Counter(i.station for i in made.infos)
    assert doc["station"] == [
        {
            "id": f"TJ_{s}",
            "description": s.title(),
            "start_seq": 1,
            "end_seq": counts[s] + 1,
            "backfill": 0,
        }
        for s in ("MANEM", "MURGH", "SAREZ")
    ]
    sub, doc = c.info("STREAMS TJ_SAR* *_H_H_?")
    assert sub == "I"
    (station,) = doc["station"]  # type: ignore[misc]
    assert station["id"] == "TJ_SAREZ"
    streams = station["stream"]
    assert [s["id"] for s in streams] == ["_H_H_E", "_H_H_N", "_H_H_Z"]
    assert {(s["format"], s["subformat"]) for s in streams} == {("2", "D")}
    begin = datetime.fromisoformat(streams[0]["start_time"])
    assert begin == datetime.fromtimestamp(T0, tz=UTC)
    sub, doc = c.info("CONNECTIONS")
    assert sub == "E"
    assert doc["error"]["code"] == "ARGUMENTS"  # type: ignore[index]
    _, doc = c.info("CAPABILITIES")
    assert "SLPROTO:4.0" in doc["capability"]  # type: ignore[operator]


def test_data_resumes_from_a_sequence_number_and_a_time_window(
    loaded: ServerThread, connect: Callable[[int], Raw], made: Made
) -> None:
    numbers = per_station_numbers(made)
    murgh = [(n, r) for r, i, n in zip(made.records, made.infos, numbers, strict=True)]
    murgh = [(n, r) for (n, r), i in zip(murgh, made.infos, strict=True) if i.station == "MURGH"]
    c = connect(loaded.port)
    c.v4()
    assert c.ask("STATION TJ_MURGH") == "OK"
    assert c.ask("DATA 100") == "OK"
    c.send("ENDFETCH")
    got = [(p.seq, p.payload) for p in c.packets_until_end()]
    assert got == murgh[99:]

    start, end = T0 + 60, T0 + 90
    c = connect(loaded.port)
    c.v4()
    assert c.ask("STATION TJ_MURGH") == "OK"
    assert c.ask("SELECT *_H_H_Z.2D") == "OK"
    assert c.ask("DATA ALL 2025-06-15T15:07:40Z 2025-06-15T15:08:10.000Z") == "OK"
    c.send("ENDFETCH")
    infos = [record_info(p.payload) for p in c.packets_until_end()]
    assert infos
    assert all(i.end_ns > start * 1e9 and i.start_ns < end * 1e9 for i in infos)
    expected = [
        i
        for i in made.infos
        if i.station == "MURGH" and i.channel == "HHZ" and i.end_ns > start * 1e9
        if i.start_ns < end * 1e9
    ]
    assert [i.start_ns for i in infos] == [i.start_ns for i in expected]

    c = connect(loaded.port)
    c.v4()
    assert c.ask("STATION TJ_MURGH") == "OK"
    assert c.ask(f"DATA {len(murgh) + 1}") == "OK"  # not produced yet: new data only
    c.send("ENDFETCH")
    assert c.packets_until_end() == []


def test_data_from_an_evicted_sequence_without_a_time_gets_new_data_only(
    server_factory: Callable[..., ServerThread], connect: Callable[[int], Raw], made: Made
) -> None:
    """As ringserver: ``DATA seq`` for a number no longer held, and no time: new data only."""
    srv = server_factory(ring_size=100)
    srv.publish(made.records[:400])
    c = connect(srv.port)
    c.v4()
    assert c.ask("STATION TJ_SAREZ") == "OK"
    assert c.ask("DATA 3") == "OK"
    c.send("ENDFETCH")
    assert c.packets_until_end() == []


def test_v4_errors_name_a_code(loaded: ServerThread, connect: Callable[[int], Raw]) -> None:
    c = connect(loaded.port)
    assert c.ask("SLPROTO 9.0").startswith("ERROR UNSUPPORTED ")
    c.v4()
    for cmd, code in [
        ("FROBNICATE", "UNSUPPORTED"),
        ("BATCH", "UNSUPPORTED"),
        ("FETCH", "UNSUPPORTED"),
        ("TIME 2025,6,15", "UNSUPPORTED"),
        ("SELECT *_H_H_Z", "UNEXPECTED"),
        ("DATA", "UNEXPECTED"),
        ("END", "UNEXPECTED"),
        ("STATION", "ARGUMENTS"),
    ]:
        assert re.fullmatch(rf"ERROR {code} \S.*", c.ask(cmd)), cmd
    assert c.ask("STATION TJ_SAREZ") == "OK"
    for cmd in [
        "SELECT",
        "SELECT *_H_H_Z:mseed9",
        "SELECT !*_H_H_Z:native",
        "SELECT 0$_H",
        "DATA xyz",
        "DATA 0x10",
        "DATA 5 2025-13-01T00:00:00Z",
        "DATA ALL 2025-06-15T15:08:00Z 2025-06-15T15:07:00Z",
    ]:
        assert c.ask(cmd).startswith("ERROR ARGUMENTS "), cmd
    assert c.ask("SELECT 00_H_H_Z:native") == "OK"


def test_v3_sessions_are_unchanged_by_v4(
    loaded: ServerThread, connect: Callable[[int], Raw]
) -> None:
    c = connect(loaded.port)
    assert c.ask("STATION SAREZ TJ") == "OK"
    assert c.ask("SLPROTO 4.0").startswith("ERROR UNEXPECTED ")  # too late to switch
    assert c.ask("FROBNICATE") == "ERROR"
    assert c.ask("TIME 2025,1,1") == "OK"
    c.send("END")
    assert re.fullmatch(rb"SL[0-9A-F]{6}", c.read(8))


# -- EarthScope's client (v4) through SeedLinkSource --------------------------------------------


def source(
    port: int, stations: list[str], positions: dict[str, Packet], **kw: object
) -> SeedLinkSource:
    """A source resuming each station after the packet given (none: all the feed holds)."""
    return SeedLinkSource(
        f"127.0.0.1:{port}",
        [("TJ", s) for s in stations],
        "",
        {
            ("TJ", s): StreamPosition(
                p.seqnum or 0, datetime.fromtimestamp(record_info(p.payload).start_ns / 1e9, UTC)
            )
            for s, p in positions.items()
        },
        keepalive_s=30.0,
        idle_timeout_s=30.0,
        reconnect_delay_s=0.1,
        **kw,  # type: ignore[arg-type]
    )


class Reader:
    """Reads a source in a thread until it has ``n`` packets."""

    def __init__(self, src: SeedLinkSource, n: int) -> None:
        self.src = src
        self.n = n
        self.packets: list[Packet] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for p in self.src.packets():
                self.packets.append(p)
                if len(self.packets) >= self.n:
                    return
        except BaseException as e:
            self.error = e

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.05)):
            if len(self.packets) >= count or not self.thread.is_alive():
                break
            deadline.wait(0.05)
        assert len(self.packets) >= count, f"{len(self.packets)} of {count} packets"

    def finish(self) -> list[Packet]:
        self.thread.join(timeout=20)
        if self.thread.is_alive():
            self.src.close()
        assert self.error is None
        assert not self.thread.is_alive()
        return self.packets


def _drop_all_clients(srv: ServerThread) -> Callable[[], object]:
    async def go() -> int:
        clients = list(srv.server._clients)
        for client in clients:
            client.writer.transport.abort()
        return len(clients)

    return go


def assert_exactly_once(packets: list[Packet], records: list[bytes]) -> None:
    assert Counter(p.payload for p in packets) == Counter(records)
    for sid in {p.station_id for p in packets}:
        seqs = [p.seqnum for p in packets if p.station_id == sid]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # type: ignore[operator]


def test_seedlink_client_v4_gets_every_record_once_across_reconnect_and_resume(
    server_factory: Callable[..., ServerThread], made: Made
) -> None:
    stations = ["SAREZ", "MURGH", "MANEM"]
    srv = server_factory()
    srv.publish(made.records[:400])

    src = source(srv.port, stations, {}, protocol="4")
    reader = Reader(src, 600)
    reader.wait_for(150)
    assert src.protocol == "4"
    assert srv.call(_drop_all_clients(srv)) == 1  # the client reconnects and resumes itself
    srv.publish(made.records[400:600])
    first = reader.finish()
    assert_exactly_once(first, made.records[:600])

    # a new client resumes from the positions the worker would have stored
    stored = {p.station_id.split("_")[1]: p for p in first}
    srv.publish(made.records[600:800])
    src = source(srv.port, stations, stored)  # "auto": v4
    rest = Reader(src, 200).finish()
    assert src.protocol == "4"
    assert_exactly_once(first + rest, made.records[:800])


def test_positions_stored_over_v3_resume_over_v4(loaded: ServerThread, made: Made) -> None:
    stations = ["SAREZ", "MURGH", "MANEM"]
    src = source(loaded.port, stations, {}, protocol="3")
    first = Reader(src, 300).finish()
    assert src.protocol == "3"
    stored = {p.station_id.split("_")[1]: p for p in first}
    src = source(loaded.port, stations, stored, protocol="4")
    rest = Reader(src, len(made.records) - 300).finish()
    assert src.protocol == "4"
    assert_exactly_once(first + rest, made.records)


# -- uni-station mode ---------------------------------------------------------------------------


def test_uni_station_select_then_time_starts_the_flow(
    server_factory: Callable[..., ServerThread], connect: Callable[[int], Raw], made: Made
) -> None:
    """A digitizer-like server with one station: no STATION; TIME (or DATA) starts the flow
    unanswered."""
    srv = server_factory(stations=default_stations()[:1])
    sarez = [r for r, i in zip(made.records, made.infos, strict=True) if i.station == "SAREZ"]
    srv.publish(sarez[:100])
    c = connect(srv.port)
    c.send("HELLO")
    c.line()
    c.line()
    assert c.ask("SELECT HHZ") == "OK"
    c.send("TIME 2025,1,1")
    expected = [(n, r) for n, r in enumerate(sarez, start=1) if record_info(r).channel == "HHZ"]
    held = [e for e in expected if e[0] <= 100]
    got = [c.read(520) for _ in held]
    assert [(int(g[2:8], 16), g[8:]) for g in got] == held
    srv.publish(sarez[100:200])
    live = [e for e in expected if 100 < e[0] <= 200]
    got = [c.read(520) for _ in live]
    assert [(int(g[2:8], 16), g[8:]) for g in got] == live


@pytest.mark.parametrize("protocol", ["3", "auto"])
def test_seedlink_source_uni_station(
    server_factory: Callable[..., ServerThread], made: Made, protocol: str
) -> None:
    srv = server_factory(stations=default_stations()[:1])
    sarez = [r for r, i in zip(made.records, made.infos, strict=True) if i.station == "SAREZ"]
    srv.publish(sarez)
    src = source(srv.port, ["SAREZ"], {}, protocol=protocol, uni_station=True)
    got = Reader(src, len(sarez)).finish()
    assert src.protocol == ("3" if protocol == "3" else "4")
    assert [p.payload for p in got] == sarez
    assert {p.station_id for p in got} == {"TJ_SAREZ"}


def test_uni_station_needs_exactly_one_station() -> None:
    with pytest.raises(ValueError, match="exactly one station"):
        source(18000, ["SAREZ", "MURGH"], {}, uni_station=True)


def test_v4_numbers_keep_increasing_past_the_v3_wrap(made: Made) -> None:
    ring = Ring(5)
    ring.add_station("TJ", "SAREZ")
    ring._stations[("TJ", "SAREZ")].next_seq = SEQ_MODULUS - 2  # as if long running
    numbers = SequenceNumbers()
    sarez = [(r, i) for r, i in zip(made.records, made.infos, strict=True) if i.station == "SAREZ"]
    packets = []
    for record, info in sarez[:8]:
        packet, _ = ring.append(record, info)
        numbers.published(packet)
        packets.append(packet)
    assert [p.seq for p in packets] == [
        SEQ_MODULUS - 2,
        SEQ_MODULUS - 1,
        SEQ_MODULUS,
        1,
        2,
        3,
        4,
        5,
    ]
    first = SEQ_MODULUS - 2
    held = packets[3:]  # the ring keeps five
    assert [numbers.number(p) for p in held] == list(range(first + 3, first + 8))
    # DATA n continues after n - 1 when it is held; not held and no time: new data only
    assert numbers.resume_after(ring, ("TJ", "SAREZ"), first + 4, None) == (held[2].gid, "found")
    assert numbers.resume_after(ring, ("TJ", "SAREZ"), first, None) == (ring.next_gid, "new")
    start_ns = held[1].info.start_ns  # a time: the first packet ending at or after it
    gid, how = numbers.resume_after(ring, ("TJ", "SAREZ"), first, start_ns)
    assert how == "time"
    assert gid == next(p.gid for p in held if p.info.end_ns >= start_ns)
    assert numbers.resume_after(ring, ("TJ", "SAREZ"), first + 7, None) == (ring.next_gid, "found")
    doc = info_document(
        "STATIONS",
        software="s",
        organization="o",
        stations=ring.station_infos(with_streams=False),
        numbers=numbers,
    )
    assert doc["station"][0]["start_seq"] == first + 3  # type: ignore[index]
    assert doc["station"][0]["end_seq"] == first + 8  # type: ignore[index]
