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


def pack_steim2(
    network: str,
    station: str,
    location: str,
    channel: str,
    start_ns: int,
    sampling_rate: float,
    samples: npt.NDArray[np.int32],
    timing_quality: int = 100,
) -> list[tuple[bytes, int]]:
    """Pack int32 samples into Steim-2 512-byte records with blockettes 1000 and 1001.

    Returns ``(record, number_of_samples)`` pairs; every record but the last is full.
    """
    msr = _template(network, station, location, channel, start_ns, sampling_rate)
    msr.encoding = DataEncoding.STEIM2
    msr.set_extra_header("/FDSN/Time/Quality", timing_quality)
    data = np.ascontiguousarray(samples, dtype=np.int32)
    out: list[tuple[bytes, int]] = []
    for rec in msr.generate(data, "i"):
        out.append((rec, int(MS3Record.parse(rec).samplecnt)))
    return out


def pack_text(
    network: str, station: str, location: str, channel: str, start_ns: int, text: str
) -> list[bytes]:
    """Pack ASCII text (e.g. SeedLink INFO XML) into as many 512-byte log records as needed."""
    msr = _template(network, station, location, channel, start_ns, 0.0)
    msr.encoding = DataEncoding.TEXT
    return list(msr.generate(text.encode("ascii", "xmlcharrefreplace"), "t"))
