"""The SeedLink v3 server over real loopback sockets: raw bytes, EarthScope's client, ObsPy's.

The server also speaks v4 (``test_server_v4``), which EarthScope's client would choose by
itself: here it is held to v3.
"""

from __future__ import annotations

import io
import re
import socket
import threading
from collections.abc import Callable

import obspy
import pytest
from obspy.clients.seedlink.basic_client import Client as ObspyClient
from seedlink_client import Protocol, SeedLink

from ingest.feed._mseed import record_info

from ..conftest import T0, Made, ServerThread

# -- raw sockets ------------------------------------------------------------------------------


class Raw:
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

    def packets_until_end(self) -> list[tuple[int, bytes]]:
        out = []
        while True:
            head = self.read(3)
            if head == b"END":
                return out
            head += self.read(5)
            assert re.fullmatch(rb"SL[0-9A-F]{6}", head), head
            out.append((int(head[2:], 16), self.read(512)))

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(loaded: ServerThread) -> Callable[[], Raw]:
    opened: list[Raw] = []

    def connect() -> Raw:
        opened.append(Raw(loaded.port))
        return opened[-1]

    yield connect  # type: ignore[misc]
    for r in opened:
        r.close()


def test_hello_errors_and_line_endings(raw: Callable[[], Raw]) -> None:
    c = raw()
    c.send("HELLO", "\r")
    assert c.line() == (
        "SeedLink v4.0 (Larza feed) :: SLPROTO:3.1 SLPROTO:4.0 CAP EXTREPLY NSWILDCARD BATCH WS:13"
    )
    assert c.line() == "Larza test feed"
    c.send("FROBNICATE", "\n")
    assert c.line() == "ERROR"
    c.send("STATION NOSUCH TJ")
    assert c.line() == "ERROR"
    c.send("INFO GAPS")
    assert c.line() == "ERROR"
    c.send("INFO CONNECTIONS")
    assert c.line() == "ERROR"
    c.send("station sarez tj", "\r")
    assert c.line() == "OK"
    c.send("SELECT XX")
    assert c.line() == "ERROR"
    c.send("SELECT HHZ.D")
    assert c.line() == "OK"
    c.send("DATA 1")
    assert c.line() == "OK"
    c.send("TIME 2025,13,1")
    assert c.line() == "ERROR"


def test_info_records_are_miniseed_log_records(raw: Callable[[], Raw]) -> None:
    c = raw()
    c.send("INFO STREAMS")
    xml = b""
    while True:
        head = c.read(8)
        assert head in (b"SLINFO *", b"SLINFO  ")
        tr = obspy.read(io.BytesIO(c.read(512)))[0]
        assert tr.stats.channel == "LOG"
        xml += tr.data.tobytes()
        if head == b"SLINFO  ":
            break
    text = xml.decode()
    assert text.count("<station ") == 3
    assert text.count("<stream ") == 18
    assert 'organization="Larza test feed"' in text


def test_multi_station_select_streams_only_the_selection(
    raw: Callable[[], Raw], made: Made
) -> None:
    c = raw()
    for cmd in ["STATION SAREZ TJ", "SELECT HHZ", "FETCH", "STATION MANEM", "SELECT ??HN?"]:
        c.send(cmd)
        assert c.line() == "OK"
    c.send("FETCH")
    assert c.line() == "OK"
    c.send("END")
    packets = c.packets_until_end()
    infos = [record_info(rec) for _, rec in packets]
    got = {(i.station, i.channel) for i in infos}
    assert got == {("SAREZ", "HHZ"), ("MANEM", "HNZ"), ("MANEM", "HNN"), ("MANEM", "HNE")}
    expected = sum(1 for i in made.infos if (i.station, i.channel) in got)
    assert len(packets) == expected
    sarez = [seq for (seq, _), i in zip(packets, infos, strict=True) if i.station == "SAREZ"]
    assert sarez == sorted(sarez)
    assert sarez[0] >= 1  # SAREZ's own counter; HHZ is a subset of its packets


def test_sequence_numbers_are_per_station(loaded: ServerThread, made: Made) -> None:
    with SeedLink("127.0.0.1", loaded.port, timeout=10, protocol=Protocol.V3) as sl:
        text = sl.info("STATIONS")
    for s in ("SAREZ", "MURGH", "MANEM"):
        n = sum(1 for i in made.infos if i.station == s)
        pattern = rf'name="{s}" network="TJ" [^>]*begin_seq="000001" end_seq="{n:06X}"'
        assert re.search(pattern, text)


def test_live_data_reaches_a_realtime_client(
    server_factory: Callable[..., ServerThread], made: Made
) -> None:
    srv = server_factory()
    srv.publish(made.records[:50])
    c = Raw(srv.port)
    try:
        c.send("STATION * TJ")
        assert c.line() == "OK"
        c.send("DATA")
        assert c.line() == "OK"
        c.send("END")
        c.send("INFO ID")  # answered in any state; a sync point before publishing
        assert c.read(8) == b"SLINFO  "
        c.read(512)
        srv.publish(made.records[50:60])
        got = [c.read(520) for _ in range(10)]
        assert [g[8:] for g in got] == made.records[50:60]
    finally:
        c.close()


def test_many_simultaneous_clients(loaded: ServerThread, made: Made) -> None:
    n_clients = 24
    counts: list[int] = [0] * n_clients
    errors: list[BaseException] = []

    def one(k: int) -> None:
        c = Raw(loaded.port)
        try:
            c.send("HELLO")
            c.line()
            c.line()
            c.send(f"STATION {['SAREZ', 'MURGH', 'MANEM'][k % 3]} TJ")
            assert c.line() == "OK"
            c.send("FETCH")
            assert c.line() == "OK"
            c.send("END")
            counts[k] = len(c.packets_until_end())
            c.send("BYE")
        except BaseException as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    per_station = {
        s: sum(1 for i in made.infos if i.station == s) for s in ("SAREZ", "MURGH", "MANEM")
    }
    assert counts == [per_station[["SAREZ", "MURGH", "MANEM"][k % 3]] for k in range(n_clients)]


def test_slow_client_is_dropped_others_continue(
    server_factory: Callable[..., ServerThread], made: Made
) -> None:
    srv = server_factory(ring_size=200)
    srv.publish(made.records[:200])
    slow, fast = Raw(srv.port), Raw(srv.port)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        for c in (slow, fast):
            c.send("STATION * *")
            assert c.line() == "OK"
        slow.send("TIME 2000,1,1")  # everything held, then live
        assert slow.line() == "OK"
        fast.send("DATA")
        assert fast.line() == "OK"
        slow.send("END")
        fast.send("END")
        fast.send("INFO ID")
        fast.read(520)
        # the slow client never reads: its socket fills, its cursor falls off the ring,
        # while the fast one gets every packet
        received = 0
        for _ in range(40):
            for k in range(0, len(made.records) - 100, 100):
                srv.publish(made.records[k : k + 100])
                assert fast.read(520 * 100)[520 * 99 + 8 :] == made.records[k + 99]
                received += 100
            if srv.call(_client_count(srv)) == 1:
                break
        assert srv.call(_client_count(srv)) == 1
        assert received >= 100
    finally:
        slow.close()
        fast.close()


def _client_count(srv: ServerThread) -> Callable[[], object]:
    async def go() -> int:
        return srv.server.client_count

    return go


# -- EarthScope's seedlink-client ---------------------------------------------------------------


def test_earthscope_client_hello_and_info(loaded: ServerThread) -> None:
    with SeedLink("127.0.0.1", loaded.port, timeout=10, protocol=Protocol.V3) as sl:
        assert sl.server_id == "SeedLink v4.0 (Larza feed)"
        assert sl.organization == "Larza test feed"
        assert sl.protocol is Protocol.V3
        stations = sl.info_dict("STATIONS")
        streams = sl.info("STREAMS")
    assert "SAREZ" in str(stations)
    assert streams.count('seedname="HHZ"') == 3


def test_earthscope_client_multi_station_selection(loaded: ServerThread, made: Made) -> None:
    sl = SeedLink("127.0.0.1", loaded.port, timeout=10, dialup=True, protocol=Protocol.V3)
    sl.add_stream("TJ_SAREZ", "HH?")  # dial-up FETCH without a number: all that is held
    sl.add_stream("TJ_MURGH", "HH?")
    sl.connect()
    try:
        packets = list(sl.collect(reconnect=False))
    finally:
        sl.close()
    codes = {(p.record().sourceid) for p in packets}
    assert codes == {f"FDSN:TJ_{s}__H_H_{c}" for s in ("SAREZ", "MURGH") for c in "ZNE"}
    expected = [
        r
        for r, i in zip(made.records, made.infos, strict=True)
        if i.station in ("SAREZ", "MURGH") and i.channel.startswith("HH")
    ]
    assert sorted(p.payload for p in packets) == sorted(expected)


def test_earthscope_client_resume_continues_exactly(loaded: ServerThread) -> None:
    sl = SeedLink("127.0.0.1", loaded.port, timeout=10, dialup=True, protocol=Protocol.V3)
    sl.add_stream("TJ_MANEM", None)
    sl.connect()
    try:
        everything = [(p.seqnum, p.payload) for p in sl.collect(reconnect=False)]
    finally:
        sl.close()
    cut = len(everything) // 3
    last_seq = everything[cut - 1][0]
    sl = SeedLink("127.0.0.1", loaded.port, timeout=10, dialup=True, protocol=Protocol.V3)
    sl.add_stream("TJ_MANEM", None, seqnum=last_seq)
    sl.connect()
    try:
        rest = [(p.seqnum, p.payload) for p in sl.collect(reconnect=False)]
    finally:
        sl.close()
    assert everything[:cut] + rest == everything
    assert [s for s, _ in everything] == list(range(1, len(everything) + 1))


def test_resume_from_an_evicted_sequence_without_a_time_gets_new_data_only(
    server_factory: Callable[..., ServerThread], made: Made
) -> None:
    """As ringserver: a number the ring no longer holds, and no time, is "new data only"
    (libslink's resume without its ``lastpkttime`` option): the client must see the gap."""
    srv = server_factory(ring_size=100)
    srv.publish(made.records[:400])
    sl = SeedLink("127.0.0.1", srv.port, timeout=10, dialup=True, protocol=Protocol.V3)
    sl.add_stream("TJ_SAREZ", None, seqnum=2)  # asks for 3, long gone
    sl.connect()
    try:
        seqs = [p.seqnum for p in sl.collect(reconnect=False)]
    finally:
        sl.close()
    assert seqs == []


def test_earthscope_client_uni_station_mode(loaded: ServerThread, made: Made) -> None:
    sl = SeedLink("127.0.0.1", loaded.port, timeout=10, dialup=True, protocol=Protocol.V3)
    sl.set_all_stations("HNZ")
    sl.connect()
    try:
        packets = list(sl.collect(reconnect=False))
    finally:
        sl.close()
    assert {p.station_id for p in packets} == {"TJ_SAREZ", "TJ_MURGH", "TJ_MANEM"}
    assert {p.record().sourceid[-5:] for p in packets} == {"H_N_Z"}
    assert len(packets) == sum(1 for i in made.infos if i.channel == "HNZ")


# -- ObsPy's client -----------------------------------------------------------------------------


def test_obspy_get_info(loaded: ServerThread) -> None:
    client = ObspyClient("127.0.0.1", loaded.port, timeout=5)
    assert client.get_info(level="station") == [
        ("TJ", "MANEM"),
        ("TJ", "MURGH"),
        ("TJ", "SAREZ"),
    ]
    channels = client.get_info(station="SAREZ", level="channel")
    assert channels == sorted(
        ("TJ", "SAREZ", "", c) for c in ["HHE", "HHN", "HHZ", "HNE", "HNN", "HNZ"]
    )


def test_obspy_get_waveforms_time_window(loaded: ServerThread, made: Made) -> None:
    client = ObspyClient("127.0.0.1", loaded.port, timeout=5)
    t1, t2 = obspy.UTCDateTime(T0 + 60), obspy.UTCDateTime(T0 + 90)
    st = client.get_waveforms("TJ", "MURGH", "", "HH?", t1, t2)
    st.merge()
    assert sorted(tr.id for tr in st) == ["TJ.MURGH..HHE", "TJ.MURGH..HHN", "TJ.MURGH..HHZ"]
    ref = obspy.read(io.BytesIO(b"".join(made.records))).merge()
    for tr in st:
        assert tr.stats.starttime == t1
        assert tr.stats.endtime == t2
        expected = ref.select(id=tr.id)[0].slice(t1, t2)
        assert (tr.data == expected.data).all()
