"""The server's packet ring: one bounded store in publication order, per-station sequences."""

from __future__ import annotations

import json
import os
import struct
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ingest.feed._mseed import RecordInfo, record_info
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


_MAGIC = b"LARZA-RING-1\n"
_ENTRY = struct.Struct("<QII")  # gid, station sequence number, record length


class Ring:
    """At most ``size`` packets; the oldest leaves first, whatever its station.

    A ring can be saved to a file and loaded again (:meth:`save`, :meth:`load`), so a server
    restarted with its ring keeps its packets and their numbers, as ringserver's ring files do.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"ring size must be >= 1, got {size}")
        self.size = size
        self._packets: deque[Packet] = deque()
        self._stations: dict[tuple[str, str], _Station] = {}
        self._next_gid = 0
        self.latest_end_ns = 0

    def __len__(self) -> int:
        return len(self._packets)

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

    def resume_after(
        self, key: tuple[str, str], last_seq: int, start_ns: int | None
    ) -> tuple[int, str]:
        """Where a client that received the station's packet ``last_seq`` resumes: ``(gid,
        how)``, as SeedLink servers do (ringserver; SeisComP's seedlink alike).

        The position is honoured only if the packet ``last_seq`` is still in the ring and,
        when ``start_ns`` (the start time of the client's last record) is given, its record
        starts in the same whole second (``how`` is ``"found"``). Otherwise, with a time, the
        flow starts at the station's first packet ending at or after it (``"time"``: the
        client sees a few records again, and anything newer); without one, with new data
        only (``"new"``: whatever the ring still held is skipped, a gap the client must
        notice).
        """
        st = self._stations.get(key)
        if st is not None and st.packets:
            offset = (last_seq - st.packets[0].seq) % SEQ_MODULUS
            if offset < len(st.packets):
                packet = st.packets[offset]
                if start_ns is None or (
                    packet.info.start_ns // 1_000_000_000 == start_ns // 1_000_000_000
                ):
                    return packet.gid + 1, "found"
        if start_ns is not None:
            return self.first_ending_after(key, start_ns), "time"
        return self._next_gid, "new"

    def first_ending_after(self, key: tuple[str, str], time_ns: int) -> int:
        """The ``gid`` of the station's first packet (in publication order) whose record ends
        at or after ``time_ns``; the next packet's if none does."""
        st = self._stations.get(key)
        for packet in st.packets if st is not None else ():
            if packet.info.end_ns >= time_ns:
                return packet.gid
        return self._next_gid

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

    # -- a ring kept across restarts -----------------------------------------------------------

    def save(self, path: Path, extra: dict[str, object] | None = None) -> None:
        """Write the ring to ``path`` (atomically: a new file renamed over the old one)."""
        meta = {
            "size": self.size,
            "next_gid": self._next_gid,
            "stations": [
                [net, sta, st.description, st.next_seq] for (net, sta), st in self._stations.items()
            ],
            "extra": extra or {},
        }
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as f:
            f.write(_MAGIC)
            f.write(json.dumps(meta).encode() + b"\n")
            for p in self._packets:
                record = p.frame[8:]
                f.write(_ENTRY.pack(p.gid, p.seq, len(record)))
                f.write(record)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, size: int) -> tuple[Ring, dict[str, object]]:
        """A ring read from ``path`` (written by :meth:`save`), holding at most ``size`` packets,
        and the ``extra`` saved with it. Raises ``ValueError`` if the file is not a ring."""
        data = path.read_bytes()
        if not data.startswith(_MAGIC):
            raise ValueError(f"{path}: not a Larza feed ring file")
        at = len(_MAGIC)
        newline = data.index(b"\n", at)
        meta = json.loads(data[at:newline])
        ring = cls(size)
        for net, sta, description, next_seq in meta["stations"]:
            ring._stations[(net, sta)] = _Station(description, next_seq)
        at = newline + 1
        while at < len(data):
            gid, seq, length = _ENTRY.unpack_from(data, at)
            at += _ENTRY.size
            record = data[at : at + length]
            at += length
            info = record_info(record)
            packet = Packet(gid, seq, info, b"SL%06X" % seq + record)
            ring._packets.append(packet)
            ring._stations.setdefault(packet.key, _Station()).packets.append(packet)
            ring.latest_end_ns = max(ring.latest_end_ns, info.end_ns)
        while len(ring._packets) > size:
            old = ring._packets.popleft()
            ring._stations[old.key].packets.popleft()
        ring._next_gid = int(meta["next_gid"])
        return ring, dict(meta.get("extra") or {})
