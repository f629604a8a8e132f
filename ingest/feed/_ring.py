"""The server's packet ring: one bounded store in publication order, per-station sequences."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ingest.feed._mseed import RecordInfo
from ingest.feed._protocol import SEQ_MODULUS, StationInfo, StreamInfo, next_sequence


@dataclass(frozen=True, slots=True)
class Packet:
    """A published record. ``gid`` counts every packet of the server and never wraps; ``seq``
    is the station's SeedLink sequence number."""

    gid: int
    seq: int
    info: RecordInfo
    frame: bytes
    """``SL`` + six hex digits + the record, ready to send."""

    @property
    def key(self) -> tuple[str, str]:
        return (self.info.network, self.info.station)


@dataclass(slots=True)
class _Station:
    description: str = ""
    next_seq: int = 1
    packets: deque[Packet] = field(default_factory=deque)


class Ring:
    """At most ``size`` packets; the oldest leaves first, whatever its station."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"ring size must be >= 1, got {size}")
        self.size = size
        self._packets: deque[Packet] = deque()
        self._stations: dict[tuple[str, str], _Station] = {}
        self._next_gid = 0
        self.latest_end_ns = 0

    # -- stations --------------------------------------------------------------------------

    def add_station(
        self, network: str, station: str, description: str = "", *, next_seq: int | None = None
    ) -> None:
        """Know a station before its first record; ``next_seq`` (1 .. FFFFFF) sets the
        sequence number its next record gets (a drill of the wrap past FFFFFF)."""
        st = self._stations.setdefault((network, station), _Station())
        st.description = description or st.description
        if next_seq is not None:
            if not 1 <= next_seq <= SEQ_MODULUS:
                raise ValueError(f"next_seq must be 1 .. {SEQ_MODULUS:X}, got {next_seq:X}")
            st.next_seq = next_seq

    @property
    def station_keys(self) -> list[tuple[str, str]]:
        return list(self._stations)

    # -- packets ---------------------------------------------------------------------------

    def append(self, record: bytes, info: RecordInfo) -> tuple[Packet, list[Packet]]:
        """Store a record; returns its packet and the packets evicted to make room."""
        st = self._stations.setdefault((info.network, info.station), _Station())
        seq = st.next_seq
        st.next_seq = next_sequence(seq)
        packet = Packet(self._next_gid, seq, info, b"SL%06X" % seq + record)
        self._next_gid += 1
        self._packets.append(packet)
        st.packets.append(packet)
        self.latest_end_ns = max(self.latest_end_ns, info.end_ns)
        evicted: list[Packet] = []
        while len(self._packets) > self.size:
            old = self._packets.popleft()
            self._stations[old.key].packets.popleft()
            evicted.append(old)
        return packet, evicted

    @property
    def next_gid(self) -> int:
        """The ``gid`` the next published packet will get."""
        return self._next_gid

    @property
    def oldest_gid(self) -> int:
        return self._packets[0].gid if self._packets else self._next_gid

    def get(self, gid: int) -> Packet | None:
        """The packet ``gid``, or ``None`` if it has left the ring or does not exist yet."""
        if not self._packets:
            return None
        index = gid - self._packets[0].gid
        if 0 <= index < len(self._packets):
            return self._packets[index]
        return None

    def start_for_sequence(self, key: tuple[str, str], seq: int) -> tuple[int, str]:
        """Where ``DATA seq`` starts for a station: ``(gid, how)``.

        ``how`` is ``"found"`` (the packet is in the ring), ``"oldest"`` (it has left the ring:
        the oldest packet of the station, a real gap) or ``"new"`` (not produced yet: only
        new data).
        """
        st = self._stations.get(key)
        if st is None or not st.packets:
            return self._next_gid, "new"
        first = st.packets[0].seq
        offset = (seq - first) % SEQ_MODULUS
        if offset < len(st.packets):
            return st.packets[offset].gid, "found"
        ahead = (seq - st.next_seq) % SEQ_MODULUS
        if ahead < SEQ_MODULUS // 2:
            return self._next_gid, "new"
        return st.packets[0].gid, "oldest"

    def oldest_of(self, key: tuple[str, str]) -> int:
        st = self._stations.get(key)
        if st is None or not st.packets:
            return self._next_gid
        return st.packets[0].gid

    # -- INFO ------------------------------------------------------------------------------

    def station_infos(self, with_streams: bool) -> list[StationInfo]:
        out: list[StationInfo] = []
        for (net, sta), st in sorted(self._stations.items()):
            streams: dict[tuple[str, str], tuple[int, int]] = {}
            if with_streams:
                for p in st.packets:
                    k = (p.info.location, p.info.channel)
                    begin, end = streams.get(k, (p.info.start_ns, p.info.end_ns))
                    streams[k] = (min(begin, p.info.start_ns), max(end, p.info.end_ns))
            out.append(
                StationInfo(
                    network=net,
                    station=sta,
                    description=st.description,
                    begin_seq=st.packets[0].seq if st.packets else 0,
                    end_seq=st.packets[-1].seq if st.packets else 0,
                    streams=tuple(
                        StreamInfo(loc, cha, b, e) for (loc, cha), (b, e) in sorted(streams.items())
                    ),
                )
            )
        return out
