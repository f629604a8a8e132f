"""SeedLink v3 vocabulary without I/O: selectors, sequence numbers, times, INFO XML.

(The v4 vocabulary is in ``_v4``; both share :func:`selectors_match` and the HELLO line.)
"""

from __future__ import annotations

import calendar
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from xml.sax.saxutils import quoteattr

SEQ_MODULUS = 0xFFFFFF
"""Sequence numbers run 1 .. 0xFFFFFF per station and then wrap to 1."""

SOFTWARE = "SeedLink v4.0 (Larza feed)"
"""HELLO's first words: ``SeedLink vX.Y`` is the highest protocol version served (v4 rule)."""
CAPABILITIES = "SLPROTO:3.1 SLPROTO:4.0 CAP EXTREPLY NSWILDCARD BATCH WS:13"
INFO_CAPABILITIES = (
    "dialup",
    "multistation",
    "window-extraction",
    "info:id",
    "info:capabilities",
    "info:stations",
    "info:streams",
)

_SELECTOR = re.compile(r"(?P<neg>!?)(?P<dash>-*)(?P<id>[A-Z0-9?*]{3,5})(?:\.(?P<type>[A-Z?]))?")


@dataclass(frozen=True, slots=True)
class Selector:
    """One v3 ``SELECT`` pattern ``[!][LL]CCC[.T]``.

    ``location`` is ``None`` when the pattern gives none (any location matches); ``--``
    (or leading dashes) means the empty location. ``?`` matches one character, ``*`` any.
    """

    negate: bool
    location: str | None
    channel: str
    type: str | None

    def matches(self, location: str, channel: str, type_: str = "D") -> bool:
        if self.location is not None:
            loc = location if location else "--"
            pattern = self.location if self.location else "--"
            if not fnmatch.fnmatchcase(loc, pattern):
                return False
        if not fnmatch.fnmatchcase(channel, self.channel):
            return False
        return self.type is None or fnmatch.fnmatchcase(type_, self.type)


def parse_selector(text: str) -> Selector:
    """Parse ``[!][LL]CCC[.T]``; raise ``ValueError`` for anything else."""
    m = _SELECTOR.fullmatch(text.upper())
    if m is None:
        raise ValueError(f"not a SeedLink v3 selector: {text!r}")
    ident = m["id"]
    if m["dash"]:
        if len(ident) != 3:
            raise ValueError(f"not a SeedLink v3 selector: {text!r}")
        location: str | None = ""
    elif len(ident) == 5:
        location = ident[:2]
    elif len(ident) == 3:
        location = None
    else:
        raise ValueError(f"not a SeedLink v3 selector: {text!r}")
    return Selector(bool(m["neg"]), location, ident[-3:], m["type"])


class StreamMatcher(Protocol):
    """A v3 :class:`Selector` or a v4 selector: a negation flag and a match."""

    @property
    def negate(self) -> bool: ...

    def matches(self, location: str, channel: str, type_: str = "D") -> bool: ...


def selectors_match(
    selectors: Sequence[StreamMatcher], location: str, channel: str, type_: str = "D"
) -> bool:
    """No selectors, or none positive: everything not negated; otherwise positive and not
    negated."""
    positive = [s for s in selectors if not s.negate]
    if positive and not any(s.matches(location, channel, type_) for s in positive):
        return False
    return not any(s.matches(location, channel, type_) for s in selectors if s.negate)


def parse_sequence(text: str) -> int:
    """A v3 sequence number: hexadecimal (``0x`` prefix tolerated), 0 .. 0xFFFFFF."""
    t = text.lower().removeprefix("0x")
    try:
        value = int(t, 16)
    except ValueError as e:
        raise ValueError(f"not a hexadecimal sequence number: {text!r}") from e
    if not 0 <= value <= SEQ_MODULUS:
        raise ValueError(f"sequence number {text!r} is above {SEQ_MODULUS:X}")
    return value


def next_sequence(seq: int) -> int:
    return seq % SEQ_MODULUS + 1


def previous_sequence(seq: int) -> int:
    """The number before ``seq`` (1 .. FFFFFF, wrapping): the packet a ``DATA seq`` resumes
    after. ``000000``, which libslink asks for after ``FFFFFF``, follows ``FFFFFF`` too."""
    return seq - 1 if seq >= 2 else SEQ_MODULUS


def parse_time(text: str) -> int:
    """``Y,M,D[,h[,m[,s]]]`` (seconds may have a fraction) as POSIX nanoseconds."""
    parts = text.split(",")
    if not 1 <= len(parts) <= 6 or any(not p for p in parts):
        raise ValueError(f"not a SeedLink time (Y,M,D,h,m,s): {text!r}")
    try:
        ints = [int(p) for p in parts[:5]]
        seconds = float(parts[5]) if len(parts) == 6 else 0.0
        year, month, day, hour, minute = ints + [1, 1, 0, 0][len(ints) - 1 :]
        whole = datetime(year, month, day, hour, minute, tzinfo=UTC)
    except ValueError as e:
        raise ValueError(f"not a SeedLink time (Y,M,D,h,m,s): {text!r}") from e
    if not 0.0 <= seconds < 61.0:
        raise ValueError(f"seconds out of range in SeedLink time {text!r}")
    return calendar.timegm(whole.timetuple()) * 1_000_000_000 + round(seconds * 1e9)


def format_info_time(ns: int) -> str:
    """SeisComP's INFO time format, ``YYYY/MM/DD hh:mm:ss.ffff``."""
    dt = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    frac = (ns % 1_000_000_000) // 100_000
    return dt.strftime("%Y/%m/%d %H:%M:%S") + f".{frac:04d}"


def wildcard_match(pattern: str, code: str) -> bool:
    """``?``/``*`` wildcards, case-insensitive (station and network codes)."""
    return fnmatch.fnmatchcase(code.upper(), pattern.upper())


@dataclass(frozen=True, slots=True)
class StreamInfo:
    location: str
    channel: str
    begin_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class StationInfo:
    network: str
    station: str
    description: str
    begin_seq: int
    end_seq: int
    streams: tuple[StreamInfo, ...]


def info_xml(
    level: str,
    *,
    organization: str,
    started_ns: int,
    stations: list[StationInfo],
) -> str:
    """The XML answer to ``INFO ID|CAPABILITIES|STATIONS|STREAMS`` (upper-case ``level``)."""
    head = (
        f"<seedlink software={quoteattr(SOFTWARE)} organization={quoteattr(organization)} "
        f'started="{format_info_time(started_ns)}"'
    )
    if level == "ID":
        return f'<?xml version="1.0"?>\n{head}/>\n'
    lines = ['<?xml version="1.0"?>', head + ">"]
    if level == "CAPABILITIES":
        lines += [f'<capability name="{c}"/>' for c in INFO_CAPABILITIES]
    elif level in ("STATIONS", "STREAMS"):
        for st in stations:
            attrs = (
                f"<station name={quoteattr(st.station)} network={quoteattr(st.network)} "
                f"description={quoteattr(st.description)} "
                f'begin_seq="{st.begin_seq:06X}" end_seq="{st.end_seq:06X}" '
                f'stream_check="enabled"'
            )
            if level == "STATIONS":
                lines.append(attrs + "/>")
                continue
            lines.append(attrs + ">")
            for s in st.streams:
                lines.append(
                    f"<stream location={quoteattr(s.location)} seedname={quoteattr(s.channel)} "
                    f'type="D" begin_time="{format_info_time(s.begin_ns)}" '
                    f'end_time="{format_info_time(s.end_ns)}" begin_recno="0" end_recno="0" '
                    f'gap_check="disabled" gap_treshold="0"/>'
                )
            lines.append("</station>")
    else:
        raise ValueError(f"INFO level {level!r} is not served")
    lines.append("</seedlink>")
    return "\n".join(lines) + "\n"
