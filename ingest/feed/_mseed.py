"""miniSEED 2 at the edge of the feed: packing with pymseed, reading the headers it needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pymseed import DataEncoding, MiniSEEDError, MS3Record, sourceid2nslc

RECORD_LENGTH = 512


@dataclass(frozen=True, slots=True)
class RecordInfo:
    """What the server needs to know of one record: codes, times (ns) and sample count."""

    network: str
    station: str
    location: str
    channel: str
    start_ns: int
    end_ns: int
    """Time of the last sample."""
    samples: int


def record_info(record: bytes) -> RecordInfo:
    """Read the header of one miniSEED record (no decompression).

    Raises ``ValueError`` if ``record`` is not a single complete 512-byte miniSEED record.
    """
    if len(record) != RECORD_LENGTH:
        raise ValueError(f"need a {RECORD_LENGTH}-byte record, got {len(record)} bytes")
    try:
        msr = MS3Record.parse(record)
    except (MiniSEEDError, ValueError, BufferError) as e:
        raise ValueError(f"not a miniSEED record: {e}") from e
    net, sta, loc, cha = sourceid2nslc(msr.sourceid)
    return RecordInfo(
        network=net,
        station=sta,
        location=loc,
        channel=cha,
        start_ns=int(msr.starttime),
        end_ns=int(msr.endtime),
        samples=int(msr.samplecnt),
    )


def _template(
    network: str, station: str, location: str, channel: str, start_ns: int, rate: float
) -> MS3Record:
    msr = MS3Record()
    msr.reclen = RECORD_LENGTH
    msr.formatversion = 2
    msr.sourceid = f"FDSN:{network}_{station}_{location}_{channel[0]}_{channel[1]}_{channel[2]}"
    msr.starttime = start_ns
    msr.samprate = rate
    msr.pubversion = 2  # data quality "D"
    return msr


def pack_text(
    network: str, station: str, location: str, channel: str, start_ns: int, text: str
) -> list[bytes]:
    """Pack ASCII text (e.g. SeedLink INFO XML) into as many 512-byte log records as needed."""
    msr = _template(network, station, location, channel, start_ns, 0.0)
    msr.encoding = DataEncoding.TEXT
    return list(msr.generate(text.encode("ascii", "xmlcharrefreplace"), "t"))


CLOCK_LOCKED = 0x04
"""miniSEED 3 flags bit 2, written as bit 5 of the miniSEED 2 I/O and clock flags."""

_ENCODINGS = {
    "STEIM1": DataEncoding.STEIM1,
    "STEIM2": DataEncoding.STEIM2,
    "INT32": DataEncoding.INT32,
}


def encoding_code(name: str) -> int:
    """The miniSEED encoding number of ``STEIM1``, ``STEIM2`` or ``INT32``."""
    try:
        return int(_ENCODINGS[name.upper()])
    except KeyError:
        raise ValueError(f"encoding must be one of {sorted(_ENCODINGS)}, got {name!r}") from None


def pack(
    network: str,
    station: str,
    location: str,
    channel: str,
    start_ns: int,
    sampling_rate: float,
    samples: npt.NDArray[np.int32],
    *,
    encoding: str = "STEIM2",
    timing_quality: int = 100,
    clock_locked: bool = True,
) -> list[tuple[bytes, int]]:
    """Pack int32 samples into 512-byte records (Steim-1, Steim-2 or int32).

    Every record carries blockette 1001 with ``timing_quality`` and, if ``clock_locked``, the
    "clock locked" I/O flag. Returns ``(record, number_of_samples)`` pairs.
    """
    msr = _template(network, station, location, channel, start_ns, sampling_rate)
    msr.encoding = encoding_code(encoding)
    msr.flags = CLOCK_LOCKED if clock_locked else 0
    msr.set_extra_header("/FDSN/Time/Quality", timing_quality)
    data = np.ascontiguousarray(samples, dtype=np.int32)
    return [(rec, int(MS3Record.parse(rec).samplecnt)) for rec in msr.generate(data, "i")]


@dataclass(frozen=True, slots=True)
class Decoded:
    """One record taken apart so that it can be changed and packed again with :func:`encode`.

    ``samples`` is int32, float32 or float64 (``sample_type`` ``i``, ``f``, ``d``) or, for
    text records, bytes (``t``).
    """

    sourceid: str
    start_ns: int
    samprate: float
    """As stored: negative means a sample period in seconds (libmseed's convention)."""
    period_ns: int
    encoding: int
    pubversion: int
    flags: int
    extra: str
    sample_type: str
    samples: npt.NDArray[np.generic]

    @property
    def timing_quality(self) -> int | None:
        return _timing_quality(self.extra)

    def sample_times_ns(self) -> npt.NDArray[np.int64]:
        return self.start_ns + np.arange(len(self.samples), dtype=np.int64) * self.period_ns


def _timing_quality(extra: str) -> int | None:
    import json

    if not extra:
        return None
    try:
        value = json.loads(extra)["FDSN"]["Time"]["Quality"]
    except (ValueError, KeyError, TypeError):
        return None
    return int(value)


def decode(record: bytes) -> Decoded:
    """Decode one record (any record length). Raises ``ValueError`` if it is not miniSEED."""
    try:
        msr = MS3Record.parse(record, unpack_data=True)
    except (MiniSEEDError, ValueError, BufferError) as e:
        raise ValueError(f"not a miniSEED record: {e}") from e
    sample_type = str(msr.sampletype)
    if sample_type == "t":
        samples: npt.NDArray[np.generic] = np.frombuffer(bytes(msr.datasamples), np.uint8)
    else:
        samples = np.array(msr.np_datasamples, copy=True)
    return Decoded(
        sourceid=str(msr.sourceid),
        start_ns=int(msr.starttime),
        samprate=float(msr.samprate_raw),
        period_ns=int(msr.samprate_period_ns) if msr.samprate else 0,
        encoding=int(msr.encoding),
        pubversion=int(msr.pubversion),
        flags=int(msr.flags),
        extra=str(msr.extra or ""),
        sample_type=sample_type,
        samples=samples,
    )


def encode(
    d: Decoded, *, timing_quality: int | None = None, encoding: int | None = None
) -> list[bytes]:
    """Pack ``d`` into 512-byte miniSEED 2 records (one, or more if it no longer fits).

    ``timing_quality`` replaces blockette 1001's value (adding the blockette if needed).
    """
    msr = MS3Record()
    msr.reclen = RECORD_LENGTH
    msr.formatversion = 2
    msr.sourceid = d.sourceid
    msr.starttime = d.start_ns
    msr.samprate = d.samprate
    msr.pubversion = d.pubversion
    msr.encoding = d.encoding if encoding is None else encoding
    msr.flags = d.flags
    if d.extra:
        msr.extra = d.extra
    if timing_quality is not None:
        msr.set_extra_header("/FDSN/Time/Quality", timing_quality)
    if d.sample_type == "t":
        return list(msr.generate(d.samples.tobytes(), "t"))
    return list(msr.generate(np.ascontiguousarray(d.samples), d.sample_type))
