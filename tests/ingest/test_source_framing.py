"""The worker's SeedLink client frames packets on its own where it can (v4 packets wholly in
its buffer, plain miniSEED 2 records over v3): the packets it hands out are exactly the ones
EarthScope's client makes of the same stream, from Larza's feed over real loopback sockets,
and its reading of a miniSEED 2 header agrees with libmseed's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from seedlink_client import Protocol, SeedLink
from seedlink_client import mseed as client_mseed

from ingest.seedlink.source import HELD, Packet, SeedLinkSource, _Client, _plain_mseed2

from ..conftest import Made, ServerThread

Frame = tuple[str, int | None, str, str, bytes]


def _read_all(client: SeedLink, n: int) -> list[Frame]:
    """The first ``n`` packets ``client`` yields, read in a thread with a deadline."""
    got: list[Frame] = []

    def read() -> None:
        for pkt in client.collect(reconnect=False):
            got.append(
                (pkt.station_id, pkt.seqnum, pkt.payload_format, pkt.payload_subformat, pkt.payload)
            )
            if len(got) >= n:
                return

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=60)
    client.close()
    assert not thread.is_alive(), f"{len(got)} of {n} packets"
    return got


def _client(cls: type[SeedLink], port: int, protocol: Protocol, made: Made) -> SeedLink:
    client = cls.from_server_string(f"127.0.0.1:{port}", timeout=10.0, protocol=protocol)
    for spec in made.stations:
        client.add_stream(f"{spec.network}_{spec.station}", "")
        if isinstance(client, _Client):
            client.begins[f"{spec.network}_{spec.station}"] = HELD  # all that is held
    if not isinstance(client, _Client):
        client.set_timewindow(HELD)  # TIME / DATA ALL from then: all that is held, then live
    client.connect()
    return client


@pytest.mark.parametrize("protocol", [Protocol.V3, Protocol.V4])
def test_the_packets_are_the_ones_earthscopes_client_makes(
    loaded: ServerThread, made: Made, protocol: Protocol
) -> None:
    n = len(made.records)
    theirs = _read_all(_client(SeedLink, loaded.port, protocol, made), n)
    ours = _read_all(_client(_Client, loaded.port, protocol, made), n)
    assert len(ours) == n
    assert ours == theirs
    assert sorted(f[4] for f in ours) == sorted(made.records)


def _header(record: bytes) -> memoryview:
    return memoryview(record)[:64]


def test_a_plain_header_is_read_as_libmseed_reads_it(made: Made) -> None:
    assert len(made.records) > 100
    for record in made.records:
        length, version = client_mseed.detect_record_length(record[:64])
        station = client_mseed.station_id(client_mseed.parse_record(record))
        assert _plain_mseed2(_header(record)) == (length, station)
        assert version == 2


def _with(record: bytes, at: int, value: bytes) -> bytes:
    return record[:at] + value + record[at + len(value) :]


def _little_endian(record: bytes) -> bytes:
    """The fixed header's year, day and blockette offset, and blockette 1000's type and next
    offset, in little-endian order (as a little-endian logger writes them)."""
    out = bytearray(record)
    for at in (20, 22, 46):
        out[at : at + 2] = out[at : at + 2][::-1]
    blockette = int.from_bytes(record[46:48], "big")
    for at in (blockette, blockette + 2):
        out[at : at + 2] = out[at : at + 2][::-1]
    return bytes(out)


def test_unusual_headers_are_left_to_the_client(made: Made) -> None:
    record = made.records[0]
    blockette = int.from_bytes(record[46:48], "big")
    assert blockette == 48
    station = client_mseed.station_id(client_mseed.parse_record(record))
    sta = station.split("_")[1]
    unusual = {
        "sequence with a space": _with(record, 0, b" "),
        "another quality code": _with(record, 6, b"X"),
        "hour 24": _with(record, 24, bytes([24])),
        "no blockette": _with(record, 46, b"\x00\x00"),
        "another blockette first": _with(record, blockette, (100).to_bytes(2, "big")),
        "record length 2^6": _with(record, blockette + 6, bytes([6])),
        "record length 2^21": _with(record, blockette + 6, bytes([21])),
        "a space inside the station": _with(record, 8, sta[:1].encode() + b" " + sta[1:4].encode()),
        "no network": _with(record, 18, b"  "),
    }
    for name, variant in unusual.items():
        assert _plain_mseed2(_header(variant)) is None, name
    # What is read is what libmseed detects, in either byte order and any record length.
    for variant in (
        record,
        _little_endian(record),
        _with(record, blockette + 6, bytes([12])),
        _with(record, 0, b"999999"),
        _with(record, 6, b"Q"),
        _with(record, 7, b"\x00"),
    ):
        found = _plain_mseed2(_header(variant))
        assert found is not None
        assert found == (client_mseed.detect_record_length(variant[:64])[0], station)


@pytest.mark.parametrize("protocol", ["3", "4"])
def test_keepalive_replies_between_packets_are_skipped(
    server_factory: Callable[..., ServerThread], made: Made, protocol: str
) -> None:
    """INFO replies to the client's keepalives arrive between data packets (and go the
    client's own way); the packets before and after them are handed out."""
    feed = server_factory()
    sarez = [r for r in made.records if r[8:13] == b"SAREZ"][:2]
    source = SeedLinkSource(
        f"127.0.0.1:{feed.port}",
        [("TJ", "SAREZ")],
        "",
        {},
        keepalive_s=0.3,
        idle_timeout_s=30.0,
        reconnect_delay_s=0.2,
        protocol=protocol,  # type: ignore[arg-type]
    )
    received: list[Packet] = []

    def read() -> None:
        for packet in source.packets():
            received.append(packet)
            if len(received) == 2:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert feed.publish(sarez[:1])
    time.sleep(2.5)  # several keepalives answered while the station is quiet
    assert [p.payload for p in received] == sarez[:1]
    assert feed.publish(sarez[1:])
    reader.join(timeout=20)
    source.close()
    assert not reader.is_alive()
    assert [p.payload for p in received] == sarez
    assert {p.station_id for p in received} == {"TJ_SAREZ"}
    assert source.protocol == protocol
