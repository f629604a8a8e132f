"""Where packets come from: a ``PacketSource`` protocol and its SeedLink implementation."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from seedlink_client import Protocol as SeedLinkProtocol
from seedlink_client import SeedLink, SeedLinkError

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


V3_SEQ_MASK = 0xFFFFFF
"""SeedLink v3 sequence numbers are six hex digits: a resume asks for ``(last + 1) & FFFFFF``."""


class _Client(SeedLink):
    """EarthScope's client, with v3 resume sequences wrapped past FFFFFF.

    seedlink-client 0.2.0 resumes a v3 stream with ``DATA <last + 1>`` unmasked, so after a
    packet numbered FFFFFF it asks for 1000000, which a v3 server refuses: that station
    would never resume (about every 4 months at 100 sps). Before each negotiation over v3 the
    streams' last sequences are wrapped as libslink does, so the request is for 000000.
    """

    def negotiate(self) -> None:
        if self.protocol is SeedLinkProtocol.V3:
            for stream in self.streams:  # the list is a copy, its Stream objects are not
                if stream.seqnum is not None and stream.seqnum >= V3_SEQ_MASK:
                    stream.seqnum = ((stream.seqnum + 1) & V3_SEQ_MASK) - 1
        super().negotiate()


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
    ) -> None:
        if protocol not in _PROTOCOLS:
            raise ValueError(f"protocol must be 'auto', '3' or '4', got {protocol!r}")
        if uni_station and len(stations) != 1:
            raise ValueError(f"uni-station mode needs exactly one station, got {len(stations)}")
        self._address = address
        self._max_backoff_s = max_backoff_s
        self._only: str | None = None
        self._dropped: set[str] = set()
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
            timestamp = pos.last_time.strftime("%Y-%m-%dT%H:%M:%S") if pos else None
            if uni_station:
                self._only = f"{net}_{sta}"
                self._client.set_all_stations(wanted, seqnum=seqnum, timestamp=timestamp)
            else:
                self._client.add_stream(f"{net}_{sta}", wanted, seqnum=seqnum, timestamp=timestamp)
            if pos:
                log.info("%s.%s: resuming after sequence %d", net, sta, pos.last_seq)

    @property
    def protocol(self) -> str | None:
        """The protocol version spoken on the current connection (``"3"``/``"4"``), if any."""
        negotiated = self._client.protocol
        return None if negotiated is None else str(negotiated.value)

    def packets(self) -> Iterator[Packet]:
        """Packets until closed; (re)connects with capped exponential backoff."""
        delay = 1.0
        while True:
            try:
                self._client.connect()
            except (SeedLinkError, OSError, ValueError) as e:
                log.warning("%s: cannot connect (%s); retrying in %.0f s", self._address, e, delay)
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            delay = 1.0
            log.info(
                "%s: connected (%s), SeedLink v%s",
                self._address,
                self._client.server_id,
                self.protocol,
            )
            try:
                yield from self._collect()
            except (SeedLinkError, OSError, ValueError) as e:
                # A dropped link, or garbage where a packet should be: start again from
                # the last packet handed out (the client resumes from its sequence).
                log.warning(
                    "%s: connection failed (%s); reconnecting in %.0f s", self._address, e, delay
                )
                self._client.close()
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            self._client.close()

    def _collect(self) -> Iterator[Packet]:
        for pkt in self._client.collect(reconnect=True):
            if pkt.is_info:
                continue
            if self._only is not None and pkt.station_id != self._only:
                if pkt.station_id not in self._dropped:
                    self._dropped.add(pkt.station_id)
                    log.warning(
                        "%s: uni-station mode for %s, dropping packets of %s",
                        self._address,
                        self._only,
                        pkt.station_id,
                    )
                continue
            yield Packet(pkt.station_id, pkt.seqnum, bytes(pkt.payload), self._address)

    def close(self) -> None:
        self._client.close()
