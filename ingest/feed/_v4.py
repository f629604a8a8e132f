"""SeedLink v4 vocabulary without I/O: errors, selectors, DATA arguments, packets, INFO JSON.

The FDSN SeedLink 4.0 specification, as far as the Larza feed speaks it. Station IDs are
``NET_STA``; stream IDs are ``LOC_B_S_SS`` (for a miniSEED 2 channel ``CCC``, ``B_S_S`` is
``C_C_C``); the format and subformat of every stored record are ``2`` and ``D``.

Sequence numbers: v4 wants them per station, unique and strictly increasing, 64-bit. The ring
numbers each station's packets 1 .. FFFFFF and then wraps (as SeisComP does for v3);
:class:`SequenceNumbers` unwraps them, so a station's v4 numbers equal its v3 numbers until the
first wrap and keep increasing after it. A position stored by a client over one protocol
version therefore stays valid over the other (until the first wrap).
"""

from __future__ import annotations

import calendar
import fnmatch
import json
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.feed._protocol import SEQ_MODULUS, Selector, StationInfo, parse_selector
from ingest.feed._ring import Packet, Ring

VERSION = "4.0"
FORMAT_MSEED2 = "2"
SUBFORMAT_DATA = "D"
FORMAT_JSON = "J"
SUBFORMAT_INFO = "I"
SUBFORMAT_ERROR = "E"
FILTERS = {
    "native": "data in the format they are stored in (miniSEED 2)",
    "2": "miniSEED 2 (the stored format)",
    "3": "miniSEED 3 if possible: not possible here, data come as stored (miniSEED 2)",
}
INFO_ITEMS = ("ID", "FORMATS", "CAPABILITIES", "STATIONS", "STREAMS")
CAPABILITIES_V4 = ("SLPROTO:4.0", "TIME")

_HEADER = struct.Struct("<2sccIQB")
_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{1,2})(?::(?P<s>\d{1,2})(?:\.(?P<f>\d{1,9}))?)?)?Z?"
)
_STREAM_PATTERN = re.compile(r"[A-Z0-9?*]*(?:_[A-Z0-9?*]*){0,3}")


class CommandError(ValueError):
    """A refused v4 command: answered ``ERROR <code> <message>``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def reply(self) -> str:
        return f"ERROR {self.code} {self.message}\r\n"


# -- station and stream patterns ---------------------------------------------------------------


def station_id(network: str, station: str) -> str:
    return f"{network}_{station}"


def stream_id(location: str, channel: str) -> str:
    """``LOC_B_S_SS`` of a miniSEED 2 channel: ``("00", "HHZ")`` gives ``00_H_H_Z``."""
    return "_".join([location, *channel])


def parse_station_pattern(args: list[str]) -> str:
    """The pattern of ``STATION NET_STA`` (or the v3 form ``STATION STA NET``), upper-case."""
    if len(args) == 1:
        return args[0].upper()
    if len(args) == 2:
        return station_id(args[1], args[0]).upper()
    raise CommandError("ARGUMENTS", "STATION takes one station ID (NET_STA)")


def pattern_match(pattern: str, text: str) -> bool:
    """``*``/``?`` wildcards anchored at both ends, case-insensitive."""
    return fnmatch.fnmatchcase(text.upper(), pattern.upper())


@dataclass(frozen=True, slots=True)
class StreamSelector:
    """One v4 ``SELECT [!]LOC_B_S_SS[.FS][:filter]``.

    ``format`` matches the two-character format and subformat code from its start (``2``
    matches ``2D``); a single letter is taken as the subformat (``.D``: data). A v3 form
    (``[LL]CCC[.T]``) is kept as its v3 :class:`Selector`.
    """

    negate: bool
    stream: str
    format: str | None = None
    v3: Selector | None = None

    def matches(self, location: str, channel: str, type_: str = SUBFORMAT_DATA) -> bool:
        if self.v3 is not None:
            return self.v3.matches(location, channel, type_)
        if not pattern_match(self.stream, stream_id(location, channel)):
            return False
        if self.format is None:
            return True
        if len(self.format) == 1 and self.format.isalpha():
            # A v3 record type as clients translate it ("HHZ.D" -> "*_H_H_Z.D"): taken as the
            # subformat, since a letter matches no format this server sends ("2").
            return fnmatch.fnmatchcase(type_, self.format)
        return fnmatch.fnmatchcase(FORMAT_MSEED2 + type_, self.format + "*")


def parse_stream_selector(text: str) -> StreamSelector:
    """Parse a ``SELECT`` argument; raise :class:`CommandError` (``ARGUMENTS``) if invalid."""
    body, _, flt = text.upper().partition(":")
    negate = body.startswith("!")
    if negate and flt:
        raise CommandError("ARGUMENTS", "a :filter cannot follow a negated selector")
    if flt and flt.lower() not in FILTERS:
        raise CommandError("ARGUMENTS", f"unknown filter {flt.lower()!r}")
    pattern, _, fmt = body.removeprefix("!").partition(".")
    if "_" not in pattern:
        try:
            return StreamSelector(negate, pattern, v3=parse_selector(body))
        except ValueError:
            pass
    if not pattern or not _STREAM_PATTERN.fullmatch(pattern) or len(fmt) > 2:
        raise CommandError("ARGUMENTS", f"not a stream selector: {text!r}")
    return StreamSelector(negate, pattern, fmt or None)


# -- DATA ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataArgs:
    """``DATA [seq|ALL] [start [end]]``: ``seq`` is ``None`` for next/all (see ``all``)."""

    seq: int | None
    all: bool
    start_ns: int | None
    end_ns: int | None


def parse_iso_time(text: str) -> int:
    """``YYYY-MM-DDThh:mm:ss[.f]Z`` (seconds, fraction and ``Z`` optional) as POSIX ns."""
    m = _ISO.fullmatch(text.upper())
    if m is None:
        raise CommandError("ARGUMENTS", f"not an ISO time: {text!r}")
    try:
        dt = datetime(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"]),
            int(m["h"] or 0),
            int(m["mi"] or 0),
            int(m["s"] or 0),
            tzinfo=UTC,
        )
    except ValueError as e:
        raise CommandError("ARGUMENTS", f"not an ISO time: {text!r}") from e
    frac = int((m["f"] or "0").ljust(9, "0"))
    return calendar.timegm(dt.timetuple()) * 1_000_000_000 + frac


def parse_data(args: list[str]) -> DataArgs:
    if len(args) > 3:
        raise CommandError("ARGUMENTS", "DATA takes [seq|ALL] [start [end]]")
    seq: int | None = None
    all_ = False
    if args:
        first = args[0].upper()
        if first == "ALL":
            all_ = True
        elif first != "-1":
            if not first.isdigit() or int(first) >= 2**64:
                raise CommandError("ARGUMENTS", f"not a decimal sequence number: {args[0]!r}")
            seq = int(first)
    start = parse_iso_time(args[1]) if len(args) >= 2 else None
    end = parse_iso_time(args[2]) if len(args) == 3 else None
    if start is not None and end is not None and end <= start:
        raise CommandError("ARGUMENTS", "DATA end time is not after its start time")
    return DataArgs(seq, all_, start, end)


# -- sequence numbers ------------------------------------------------------------------------


class SequenceNumbers:
    """Per-station v4 sequence numbers: the ring's wrapping numbers, unwrapped.

    Told of every published packet (:meth:`published`), it knows each station's newest v4
    number; a packet still in the ring is less than one wrap older, which fixes its own.
    """

    def __init__(self, newest: dict[tuple[str, str], int] | None = None) -> None:
        self._newest: dict[tuple[str, str], int] = dict(newest or {})

    def state(self) -> list[list[object]]:
        """Each station's newest number, to be saved with a ring (see :meth:`from_state`)."""
        return [[net, sta, n] for (net, sta), n in self._newest.items()]

    @classmethod
    def from_state(cls, state: object) -> SequenceNumbers:
        rows = state if isinstance(state, list) else []
        return cls({(str(net), str(sta)): int(n) for net, sta, n in rows})

    def published(self, packet: Packet) -> int:
        last = self._newest.get(packet.key)
        number = packet.seq if last is None else last + (packet.seq - _wrap(last)) % SEQ_MODULUS
        self._newest[packet.key] = number
        return number

    def number(self, packet: Packet) -> int:
        """The v4 number of a packet still in the ring."""
        last = self._newest.get(packet.key, packet.seq)
        return last - (_wrap(last) - packet.seq) % SEQ_MODULUS

    def next_number(self, key: tuple[str, str]) -> int:
        return self._newest.get(key, 0) + 1

    def resume_after(
        self, ring: Ring, key: tuple[str, str], last: int, start_ns: int | None
    ) -> tuple[int, str]:
        """Where ``DATA last+1 [start]`` starts: ``(gid, how)`` as :meth:`Ring.resume_after`
        (the packet numbered ``last`` must be held, and start in the second ``start`` names)."""
        newest = self._newest.get(key)
        oldest = ring.get(ring.oldest_of(key))
        if newest is not None and oldest is not None and self.number(oldest) <= last <= newest:
            return ring.resume_after(key, _wrap(last), start_ns)
        if start_ns is not None:
            return ring.first_ending_after(key, start_ns), "time"
        return ring.next_gid, "new"


def _wrap(number: int) -> int:
    return (number - 1) % SEQ_MODULUS + 1


# -- packets and INFO ------------------------------------------------------------------------


def frame(fmt: str, subformat: str, seq: int, sid: str, payload: bytes) -> bytes:
    """One v4 packet: ``SE``, format, subformat, length, sequence, station ID, payload."""
    sid_bytes = sid.encode("ascii")
    head = _HEADER.pack(
        b"SE", fmt.encode("ascii"), subformat.encode("ascii"), len(payload), seq, len(sid_bytes)
    )
    return head + sid_bytes + payload


def iso_time(ns: int) -> str:
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ns % 1_000_000_000) // 1000:06d}Z"


def info_document(
    item: str,
    *,
    software: str,
    organization: str,
    stations: list[StationInfo],
    numbers: SequenceNumbers,
    station_pattern: str = "*",
    stream_pattern: str = "*",
) -> dict[str, object]:
    """The JSON answer to ``INFO item [station [stream]]`` (Appendix B of the specification).

    Raises :class:`CommandError` for an item the feed does not serve.
    """
    doc: dict[str, object] = {"software": software, "organization": organization}
    if item == "ID":
        return doc
    if item == "CAPABILITIES":
        doc["capability"] = list(CAPABILITIES_V4)
        return doc
    if item not in ("FORMATS", "STATIONS", "STREAMS"):
        raise CommandError("ARGUMENTS", f"INFO {item} is not supported")
    doc["format"] = {
        FORMAT_MSEED2: {"mimetype": "application/vnd.fdsn.mseed", "subformat": {"D": "data"}},
        FORMAT_JSON: {
            "mimetype": "application/json",
            "subformat": {"I": "seedlink-info", "E": "seedlink-error"},
        },
    }
    doc["filter"] = dict(FILTERS)
    if item == "FORMATS":
        return doc
    stream_pattern, _, format_pattern = stream_pattern.partition(".")
    entries: list[dict[str, object]] = []
    for st in stations:
        sid = station_id(st.network, st.station)
        if not pattern_match(station_pattern, sid):
            continue
        key = (st.network, st.station)
        entry: dict[str, object] = {
            "id": sid,
            "description": st.description,
            "start_seq": _unwrap_info(numbers, key, st.begin_seq),
            "end_seq": numbers.next_number(key),
            "backfill": 0,
        }
        if item == "STREAMS":
            entry["stream"] = [
                {
                    "id": stream_id(s.location, s.channel),
                    "format": FORMAT_MSEED2,
                    "subformat": SUBFORMAT_DATA,
                    "origin": "native",
                    "start_time": iso_time(s.begin_ns),
                    "end_time": iso_time(s.end_ns),
                }
                for s in st.streams
                if pattern_match(stream_pattern or "*", stream_id(s.location, s.channel))
                and fnmatch.fnmatchcase("2D", (format_pattern or "") + "*")
            ]
        entries.append(entry)
    doc["station"] = entries
    return doc


def _unwrap_info(numbers: SequenceNumbers, key: tuple[str, str], begin_seq: int) -> int:
    next_number = numbers.next_number(key)
    if begin_seq == 0:  # no packet held
        return next_number
    newest = next_number - 1
    return newest - (_wrap(newest) - begin_seq) % SEQ_MODULUS


def info_packet(doc: dict[str, object], error: bool = False) -> bytes:
    payload = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    return frame(FORMAT_JSON, SUBFORMAT_ERROR if error else SUBFORMAT_INFO, 0, "", payload)


def error_document(software: str, organization: str, code: str, message: str) -> dict[str, object]:
    return {
        "software": software,
        "organization": organization,
        "error": {"code": code, "message": message},
    }
