"""Where packets come from: a ``PacketSource`` protocol and its SeedLink implementation."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from seedlink_client import SeedLink, SeedLinkError

from stations.queries import StreamPosition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Packet:
    station_id: str  # NET_STA
    seqnum: int | None
    payload: bytes


class PacketSource(Protocol):
    def packets(self) -> Iterator[Packet]: ...

    def close(self) -> None: ...


class SeedLinkSource:
    """Packets from one SeedLink server, multi-station mode, resuming from stored positions.

    Built on EarthScope's ``seedlink-client``: it negotiates v3/v4, sends keepalives,
    reconnects after an idle timeout and resumes from the last sequence it handed out.
    """

    def __init__(
        self,
        address: str,
        stations: list[tuple[str, str]],
        selectors: str,
        positions: Mapping[tuple[str, str], StreamPosition],
        *,
        keepalive_s: float,
        idle_timeout_s: float,
        reconnect_delay_s: float,
        max_backoff_s: float = 60.0,
    ) -> None:
        self._address = address
        self._max_backoff_s = max_backoff_s
        self._client = SeedLink.from_server_string(
            address,
            timeout=10.0,
            keepalive=keepalive_s,
            idle_timeout=idle_timeout_s,
            reconnect_delay=reconnect_delay_s,
            clientname="larza",
            clientversion="0.1",
        )
        for net, sta in stations:
            pos = positions.get((net, sta))
            self._client.add_stream(
                f"{net}_{sta}",
                selectors,
                seqnum=pos.last_seq if pos else None,
                timestamp=pos.last_time.strftime("%Y-%m-%dT%H:%M:%S") if pos else None,
            )
            if pos:
                log.info("%s.%s: resuming after sequence %d", net, sta, pos.last_seq)

    def packets(self) -> Iterator[Packet]:
        """Packets until closed; (re)connects with capped exponential backoff."""
        delay = 1.0
        while True:
            try:
                self._client.connect()
            except SeedLinkError as e:
                log.warning("%s: cannot connect (%s); retrying in %.0f s", self._address, e, delay)
                time.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
                continue
            delay = 1.0
            log.info("%s: connected (%s)", self._address, self._client.server_id)
            for pkt in self._client.collect(reconnect=True):
                if pkt.is_info:
                    continue
                yield Packet(pkt.station_id, pkt.seqnum, bytes(pkt.payload))
            self._client.close()

    def close(self) -> None:
        self._client.close()
