"""Where packets come from: a ``PacketSource`` protocol and its SeedLink implementation."""

from __future__ import annotations

import json
import logging
import select
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from xml.etree import ElementTree

from seedlink_client import Protocol as SeedLinkProtocol
from seedlink_client import SeedLink, SeedLinkError, _commands
from seedlink_client._commands import _expect_ok
from seedlink_client.protocol import (
    _V4_HEADER_STRUCT,
    FORMAT_MSEED2,
    HEADSIZE_V3,
    HEADSIZE_V4,
    MAX_PAYLOAD_SIZE,
    MAX_STATIONID,
    MIN_PAYLOAD_DETECT,
    _RawFrame,
    decode_frame_v3,
    parse_header_v3,
    parse_reply,
)
from seedlink_client.streams import Stream, sort_streams, v3_to_v4_selector, v4_to_v3_selector
from seedlink_client.time_utils import parse_timestring, to_comma_timestring, to_iso_timestring

from stations.queries import StreamPosition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Packet:
    station_id: str  # NET_STA
    seqnum: int | None
    payload: bytes
    server: str | None = None  # host:port it came from; None: the pipeline's own server


class PacketSource(Protocol):
    def packets(self) -> Iterator[Packet]: ...

    def close(self) -> None: ...


ProtocolChoice = Literal["auto", "3", "4"]
_PROTOCOLS: dict[str, SeedLinkProtocol | None] = {
    "auto": None,
    "3": SeedLinkProtocol.V3,
    "4": SeedLinkProtocol.V4,
}


HELD = datetime(1970, 1, 1, tzinfo=UTC)
"""A begin before any data: a station without a position gets all the server still holds."""

V3_SEQ_MASK = 0xFFFFFF
"""SeedLink v3 sequence numbers are six hex digits: a resume asks for ``(last + 1) & FFFFFF``."""

_CLIENT_LOG = logging.getLogger("seedlink_client.client")  # the client's own logger


class _Stopped(Exception):
    """Raised in the reading thread once the source was asked to stop; ends ``packets``."""


class _Client(SeedLink):
    """EarthScope's client, with v3 resume sequences wrapped past FFFFFF, less work per packet
    in the reading thread, and a stop that also ends a read on a silent connection.

    seedlink-client 0.2.0 resumes a v3 stream with ``DATA <last + 1>`` unmasked, so after a
    packet numbered FFFFFF it asks for 1000000, which a v3 server refuses: that station
    would never resume (about every 4 months at 100 sps). Before each negotiation over v3 the
    streams' last sequences are wrapped as libslink does, so the request is for 000000.

    The reading thread shares the interpreter with the pipeline, so what the client does per
    packet is paid for by the pipeline. Over v4 it frames a packet in several steps (buffer
    checks, a header object, then the frame), about a quarter of its cost per packet; here a
    packet wholly in the receive buffer (nearly every one: a read from the socket brings about
    a hundred) is unpacked in one step. Over v3 it calls libmseed three or four times per
    packet (to find the record's length, to parse the whole record only to name its station,
    to free it), and each call lets go of the GIL: the pipeline takes it and the reader waits
    for it, so a busy worker reads about one packet per hand-over. Here the length and the
    station of a plain miniSEED 2 record (blockette 1000 first) are read from its fixed header
    as libmseed reads them, without a call; the record is decoded (and checked) once, by the
    pipeline, as over v4, where the client never parsed it either. Either way the frame is
    the one the client would make; anything else (a partial packet, ``END``, ``ERROR``, a
    header the client would refuse, another record layout) goes the client's own way.

    While nothing arrives the client looks at its socket every second: with ``stopping`` set
    it raises ``_Stopped`` there, so a reader on a silent connection stops too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = threading.Event()
        self.begins: dict[str, datetime] = {}
        """Where a stream without a position starts (by station ID); none: new data only."""

    def _reconnect_after_delay(self) -> None:
        """The client's reconnection loop, ended by ``stopping`` too (the client's own goes
        on until a server answers, so a reader could not stop while its server is down)."""
        while True:
            if self.stopping.wait(self._reconnect_delay):
                raise _Stopped
            try:
                self.connect()
                self.negotiate()
                return
            except (SeedLinkError, OSError) as e:
                _CLIENT_LOG.warning(
                    "Reconnect to %s:%d failed: %s; retrying in %.0fs",
                    self._host,
                    self._port,
                    e,
                    self._reconnect_delay,
                )
                self.close()

    def _poll_readable(self, timeout: float) -> bool:
        """Whether data can be read, with ``poll`` (the client's ``select`` fails once the
        process has a descriptor numbered 1024 or more: a worker holding thousands of archive
        files open has)."""
        if self._has_buffered():
            return True  # (part of) a packet is buffered
        if self.stopping.is_set():
            raise _Stopped
        if self._sock is None:
            return False
        poller = select.poll()
        poller.register(self._sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(timeout * 1000))

    def negotiate(self) -> None:
        """STATION/SELECT/DATA for every stream, then END, resuming as libslink does, and
        more strictly.

        A stream with a position (its last packet's sequence number and record start time)
        asks for the next packet *and* gives that start time, over v3 (``DATA seq time``) and
        over v4 (``DATA seq time``): a server then honours the number only if the packet it
        names is still held and is the same record, and otherwise starts from that time
        (ringserver; SeisComP's seedlink does the same over v3). libslink sends no time over
        v4, so a ring re-created or reused behind it resumes mid-ring or at the newest
        packet. A stream without a position starts at ``begins[station]`` (v3 ``TIME begin``,
        v4 ``DATA ALL begin``): from what the server still holds, never only from "now",
        unless no begin is set (plain ``DATA``).
        """
        self._match_cache.clear()
        self._ensure_default_stream()
        walk = _commands.NegotiationWalk()
        for cmd in self._plan():
            if not walk.should_send(cmd):
                continue
            walk.record(cmd, self._send_command(cmd))
        walk.finish()
        self._streaming = True

    def _plan(self) -> list[_commands.Command]:
        v4 = self.protocol is SeedLinkProtocol.V4
        expect_reply = not self._batch_active
        commands: list[_commands.Command] = []
        for stream in sort_streams(self._streams):
            sid = stream.station_id
            if v4:
                commands.append(_commands.station_v4(sid))
                commands += [
                    _commands.select_v4(sid, v3_to_v4_selector(x) or x) for x in stream.selectors
                ]
            else:
                if self._multistation:
                    commands.append(_commands.station_v3(sid, expect_reply))
                commands += [
                    _commands.select_v3(sid, v4_to_v3_selector(x) or x, expect_reply)
                    for x in stream.selectors
                ]
            commands.append(self._data_command(stream, v4, expect_reply and self._multistation))
        if v4 or self._multistation:
            commands.append(_commands.end_v4(False) if v4 else _commands.end_v3())
        return commands

    def _data_command(self, stream: Stream, v4: bool, expect_reply: bool) -> _commands.Command:
        sid = stream.station_id
        last = _last_start(stream)
        text: str
        if stream.seqnum is not None:
            if v4:
                text = f"DATA {stream.seqnum + 1}"
                if last is not None:
                    text += f" {to_iso_timestring(last)}"
            else:
                text = f"DATA {(stream.seqnum + 1) & V3_SEQ_MASK:06X}"
                if last is not None:
                    text += f" {to_comma_timestring(last)}"
        elif (begin := self.begins.get(sid)) is not None:
            if v4:
                text = f"DATA ALL {to_iso_timestring(begin)}"
            else:
                text = f"TIME {to_comma_timestring(begin)}"
        else:
            text = "DATA"
        if v4:
            return _commands.Command(
                text, parse=_expect_ok, terminator=b"\r", role="data", stream_id=sid
            )
        return _commands.Command(
            text, parse=parse_reply if expect_reply else None, role="data", stream_id=sid
        )

    def _recv_frame(self) -> Any:
        start, end = self._recv_start, self._recv_end
        if end - start >= HEADSIZE_V4 and self.protocol is SeedLinkProtocol.V4:
            signature, fmt, subfmt, length, seqnum, sidlen = _V4_HEADER_STRUCT.unpack_from(
                self._recv_buf, start
            )
            station_at = start + HEADSIZE_V4
            payload_at = station_at + sidlen
            stop = payload_at + length
            if (
                stop <= end
                and signature == b"SE"
                and length <= MAX_PAYLOAD_SIZE
                and sidlen <= MAX_STATIONID
            ):
                view = self._recv_view
                frame = _RawFrame(
                    station_id=str(view[station_at:payload_at], "ascii"),
                    seqnum=seqnum,
                    payload_format=fmt.decode("ascii"),
                    payload_subformat=subfmt.decode("ascii"),
                    payload=bytes(view[payload_at:stop]),
                    info_continues=False,
                )
                self._recv_start = stop
                if stop == end:
                    self._reset_recv_buf()
                if _CLIENT_LOG.isEnabledFor(logging.DEBUG):
                    _CLIENT_LOG.debug(
                        "<-- packet station=%s seq=%s format=%s%s (%d bytes)",
                        frame.station_id or "-",
                        seqnum,
                        frame.payload_format,
                        frame.payload_subformat,
                        length,
                    )
                return frame
        return super()._recv_frame()

    def _recv_frame_v3(self) -> Any:
        header = parse_header_v3(self._take(HEADSIZE_V3))
        if not header.is_info:
            self._ensure(MIN_PAYLOAD_DETECT)  # as the client's own length detection does
            start = self._recv_start
            found = _plain_mseed2(self._recv_view[start : start + MIN_PAYLOAD_DETECT])
            if found is not None:
                length, station_id = found
                return _RawFrame(
                    station_id=station_id,
                    seqnum=header.seqnum,
                    payload_format=FORMAT_MSEED2,
                    payload_subformat="D",
                    payload=self._take(length),
                    info_continues=False,
                )
        return decode_frame_v3(header, self._read_mseed_payload())


def _last_start(stream: Stream) -> datetime | None:
    """The start time of the stream's last record (resolved from its last packet if one came
    on this connection), or None."""
    timestamp = stream.resolve_timestamp()
    if not timestamp:
        return None
    try:
        return parse_timestring(timestamp)
    except ValueError:
        log.warning(
            "%s: unreadable position time %r: resuming by number only",
            stream.station_id,
            timestamp,
        )
        return None


def _station_ids(info: str) -> set[str]:
    """``NET_STA`` of every station in an ``INFO STATIONS`` answer (v3 XML or v4 JSON)."""
    text = info.strip()
    if text.startswith("{"):
        doc = json.loads(text)
        return {str(s["id"]) for s in doc.get("station", []) if "id" in s}
    root = ElementTree.fromstring(text)
    return {
        f"{e.get('network', '')}_{e.get('name', '')}" for e in root.iter("station") if e.get("name")
    }


_SEQUENCE_DIGITS = frozenset(b"0123456789")
_NATIVE_ORDER = sys.byteorder
_SWAPPED_ORDER: Literal["big", "little"] = "big" if sys.byteorder == "little" else "little"


def _plain_mseed2(head: memoryview) -> tuple[int, str] | None:
    """Record length and ``NET_STA`` of a miniSEED 2 record from its first 64 bytes, when its
    fixed header is a plain one (sequence digits, a quality code, blockette 1000 first, codes
    of letters and digits); None for anything else.

    Where it answers, libmseed's ``ms3_detect`` finds the same length (the byte order guessed
    from the start year and day as it does), and the record's source identifier names the
    same network and station (codes with their trailing spaces removed).
    """
    if not (
        _SEQUENCE_DIGITS.issuperset(head[0:6])
        and head[6] in b"DRQM"
        and head[7] in b" \0"
        and head[24] <= 23
        and head[25] <= 59
        and head[26] <= 60
    ):
        return None
    order = _NATIVE_ORDER
    year = int.from_bytes(head[20:22], order)
    day = int.from_bytes(head[22:24], order)
    if not (1900 <= year <= 2100 and 1 <= day <= 366):
        order = _SWAPPED_ORDER
    blockette = int.from_bytes(head[46:48], order)
    if not 48 <= blockette <= MIN_PAYLOAD_DETECT - 8:
        return None
    if int.from_bytes(head[blockette : blockette + 2], order) != 1000:
        return None
    exponent = head[blockette + 6]
    if not 7 <= exponent <= 20:  # 128 bytes to 1 MiB
        return None
    station = bytes(head[8:13]).rstrip(b" ")
    network = bytes(head[18:20]).rstrip(b" ")
    if not (station.isalnum() and network.isalnum()):
        return None
    return 1 << exponent, f"{network.decode()}_{station.decode()}"


class SeedLinkSource:
    """Packets from one SeedLink server, resuming each station from its stored position.

    Built on EarthScope's ``seedlink-client``: it sends keepalives, reconnects after an idle
    timeout and resumes from the last sequence number it handed out.

    ``protocol``: ``"auto"`` speaks v4 when the server's HELLO offers it and v3 otherwise;
    ``"3"`` or ``"4"`` insist on that version (a server without it is a connection error,
    retried). Over v3 sequence numbers are six hex digits per station; over v4 decimal 64-bit
    numbers. Stored positions are plain numbers either way, so they stay valid when a server
    (Larza's feed among them) numbers a station's packets the same way in both versions.

    ``uni_station=True`` (with exactly one station): the client's "all stations" request. Over
    v3 it is uni-station mode, no ``STATION``: ``SELECT`` then ``DATA`` starts the flow, which
    is what a digitizer's built-in server may expect. Over v4 (which has no uni-station mode)
    it is ``STATION *``. Packets of any other station are dropped with a warning.

    ``positions``: each station's last record archived from this server (sequence number and
    start time), sent on resume (see :meth:`_Client.negotiate`). A station without one starts
    at ``begins[station]`` if given (e.g. just before its newest data in the archive), else at
    ``new_start``: by default :data:`HELD` (everything the server still holds); ``None``
    asks for new data only.

    Limitations: in uni-station mode the station is never named to the server, so the server
    decides what it sends (a multi-station server sends every station); v3 time stamps are
    sent with whole seconds; no TLS options and no v4 ``AUTH`` are passed through.
    """

    def __init__(
        self,
        address: str,
        stations: list[tuple[str, str]],
        selectors: str | Mapping[tuple[str, str], str],
        positions: Mapping[tuple[str, str], StreamPosition],
        *,
        keepalive_s: float,
        idle_timeout_s: float,
        reconnect_delay_s: float,
        max_backoff_s: float = 60.0,
        protocol: ProtocolChoice = "auto",
        uni_station: bool = False,
        new_start: datetime | None = HELD,
        begins: Mapping[tuple[str, str], datetime] | None = None,
    ) -> None:
        begins = begins or {}
        if protocol not in _PROTOCOLS:
            raise ValueError(f"protocol must be 'auto', '3' or '4', got {protocol!r}")
        if uni_station and len(stations) != 1:
            raise ValueError(f"uni-station mode needs exactly one station, got {len(stations)}")
        self._address = address
        self._max_backoff_s = max_backoff_s
        self._only: str | None = None
        self._dropped: set[str] = set()
        self._wanted = [f"{net}_{sta}" for net, sta in stations]
        self._compared = False
        self._client = _Client.from_server_string(
            address,
            timeout=10.0,
            protocol=_PROTOCOLS[protocol],
            keepalive=keepalive_s,
            idle_timeout=idle_timeout_s,
            reconnect_delay=reconnect_delay_s,
            clientname="larza",
            clientversion="0.1",
        )
        for net, sta in stations:
            wanted = selectors if isinstance(selectors, str) else selectors[(net, sta)]
            pos = positions.get((net, sta))
            seqnum = pos.last_seq if pos else None
            timestamp = to_iso_timestring(pos.last_start) if pos else None
            sid = "*" if uni_station else f"{net}_{sta}"
            if uni_station:
                self._only = f"{net}_{sta}"
                self._client.set_all_stations(wanted, seqnum=seqnum, timestamp=timestamp)
            else:
                self._client.add_stream(sid, wanted, seqnum=seqnum, timestamp=timestamp)
            if pos:
                log.info(
                    "%s.%s: resuming after sequence %d, record of %s",
                    net,
                    sta,
                    pos.last_seq,
                    timestamp,
                )
            else:
                begin = begins.get((net, sta), new_start)
                if begin is not None:
                    self._client.begins[sid] = begin
                log.info(
                    "%s.%s: no position on %s: from %s",
                    net,
                    sta,
                    address,
                    "new data only" if begin is None else f"{to_iso_timestring(begin)} on",
                )

    @property
    def protocol(self) -> str | None:
        """The protocol version spoken on the current connection (``"3"``/``"4"``), if any."""
        negotiated = self._client.protocol
        return None if negotiated is None else str(negotiated.value)

    def packets(self) -> Iterator[Packet]:
        """Packets until closed or stopped; (re)connects with capped exponential backoff."""
        stopping = self._client.stopping
        delay = 1.0
        try:
            while not stopping.is_set():
                try:
                    self._client.connect()
                except (SeedLinkError, OSError, ValueError) as e:
                    log.warning(
                        "%s: cannot connect (%s); retrying in %.0f s", self._address, e, delay
                    )
                    stopping.wait(delay)
                    delay = min(delay * 2, self._max_backoff_s)
                    continue
                delay = 1.0
                log.info(
                    "%s: connected (%s), SeedLink v%s",
                    self._address,
                    self._client.server_id,
                    self.protocol,
                )
                if not self._compared and self._only is None:
                    self._compare_stations()
                try:
                    yield from self._collect()
                except (SeedLinkError, OSError, ValueError) as e:
                    # A dropped link, or garbage where a packet should be: start again from
                    # the last packet handed out (the client resumes from its sequence).
                    log.warning(
                        "%s: connection failed (%s); reconnecting in %.0f s",
                        self._address,
                        e,
                        delay,
                    )
                    self._client.close()
                    stopping.wait(delay)
                    delay = min(delay * 2, self._max_backoff_s)
                    continue
                self._client.close()
        except _Stopped:
            pass
        self._client.close()

    def _compare_stations(self) -> None:
        """Once, on the first connection: say which stations read are not on the server, and
        which the server offers that are not read (not in the inventory, or another
        worker's), from its ``INFO STATIONS``."""
        self._compared = True
        try:
            offered = _station_ids(self._client.info("STATIONS"))
        except (SeedLinkError, ValueError, TypeError, AttributeError, ElementTree.ParseError) as e:
            log.info("%s: INFO STATIONS not understood (%s); not compared", self._address, e)
            return
        wanted = set(self._wanted)
        missing = sorted(wanted - offered)
        if missing:
            log.warning(
                "%s does not carry %s (not in its INFO STATIONS): no data will come for them",
                self._address,
                ", ".join(s.replace("_", ".") for s in missing),
            )
        extra = sorted(offered - wanted)
        if extra:
            shown = ", ".join(s.replace("_", ".") for s in extra[:20])
            more = f" and {len(extra) - 20} more" if len(extra) > 20 else ""
            log.info(
                "%s also offers %d station(s) not read here: %s%s (import them into the "
                "inventory to read them)",
                self._address,
                len(extra),
                shown,
                more,
            )

    def _collect(self) -> Iterator[Packet]:
        address, only = self._address, self._only
        for pkt in self._client.collect(reconnect=True):
            if pkt.is_info:
                continue
            if only is not None and pkt.station_id != only:
                self._drop(pkt.station_id)
                continue
            # The payload is bytes of its own already, copied out of the client's buffer.
            yield Packet(pkt.station_id, pkt.seqnum, pkt.payload, address)

    def _drop(self, station_id: str) -> None:
        if station_id not in self._dropped:
            self._dropped.add(station_id)
            log.warning(
                "%s: uni-station mode for %s, dropping packets of %s",
                self._address,
                self._only,
                station_id,
            )

    def stop(self) -> None:
        """Ask ``packets`` to end, from any thread: it ends once the packets already in the
        client's buffer are handed out, within about a second on a silent connection (the
        client's poll), and closes the client in the reading thread. A reconnection under
        way is finished first."""
        self._client.stopping.set()

    def close(self) -> None:
        self._client.close()
