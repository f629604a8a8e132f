"""miniSEED decoding at the edge: one record in, codes, times and a numpy array out.

Decoded with EarthScope's ``pymseed`` (libmseed), against about 300-500 µs per record for
ObsPy's ``read()``, whose plugin detection and object building dominate. ObsPy stays the
oracle in the tests.

The per-record path goes to libmseed through pymseed's CFFI binding (``pymseed.clib``) rather
than through an ``MS3Record`` per record: ``MS3Record.parse`` allocates a record and a sample
buffer of libmseed's preallocation block (1 MiB) only to shrink and free them again, and
every property read is a Python call. Here each thread keeps one libmseed record that every
parse reuses, sample buffer included; each field is read once, and the samples are copied
once, converted to float64, into a fresh array: under 10 µs per 512-byte Steim-2 record,
against about 80 µs through ``MS3Record.parse``.

A record the fast path does not take (a failed parse, text samples, extra headers it cannot
read, a buffer that is not ``bytes``) goes through ``MS3Record.parse`` as before, so errors
and edge cases come out exactly as pymseed reports them. The tests hold the two paths equal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from pymseed import MS3Record
from pymseed.clib import clibmseed, ffi
from pymseed.exceptions import MiniSEEDError
from pymseed.logging import ensure_thread_logging
from pymseed.util import sourceid2nslc

from stations.queries import ChannelKey

_CLOCK_LOCKED = 0x04  # miniSEED 3 flags bit 2 (miniSEED 2: I/O and clock flags bit 5)
_TIME_QUALITY = "/FDSN/Time/Quality"  # blockette 1001's timing quality, as libmseed maps it

# What MS3Record.parse(payload, unpack_data=True) asks of libmseed (CRC checks are its default).
_PARSE_FLAGS = clibmseed.MSF_UNPACKDATA | clibmseed.MSF_VALIDATECRC
_NSTMODULUS = clibmseed.NSTMODULUS
_SAMPLES: dict[bytes, tuple[np.dtype[Any], int]] = {
    b"i": (np.dtype(np.int32), 4),
    b"f": (np.dtype(np.float32), 4),
    b"d": (np.dtype(np.float64), 8),
}
# The value types libmseed's mseh_get_ptr_type reports for numbers and booleans.
_UINT, _INT, _REAL, _STRING, _BOOL = (ord(c) for c in "uinsb")
_QUALITY_POINTER = ffi.new("char[]", _TIME_QUALITY.encode())
_QUALITIES_KEPT = 1024  # distinct extra-header texts remembered per thread


class RecordError(ValueError):
    """A record that cannot be decoded; carries why."""


@dataclass(frozen=True)
class Record:
    key: ChannelKey
    starttime: float  # POSIX seconds of the first sample
    sampling_rate: float
    data: npt.NDArray[np.float64]
    timing_quality: int | None = None  # blockette 1001 / FDSN.Time.Quality, 0-100 %
    clock_locked: bool = False  # the "clock locked" flag of the record header

    endtime: float = field(init=False)  # POSIX seconds of the last sample

    def __post_init__(self) -> None:
        # a field, not a property: the worker asks for it several times per record
        object.__setattr__(
            self, "endtime", self.starttime + (len(self.data) - 1) / self.sampling_rate
        )

    def end_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.endtime, UTC)


@lru_cache(maxsize=65536)
def _key(sourceid: bytes) -> ChannelKey:
    """The channel of an FDSN source identifier (a stream's records all repeat it)."""
    return ChannelKey(*sourceid2nslc(sourceid.decode("utf-8")))


class _Slow(Exception):
    """The fast path leaves this record to ``MS3Record.parse``."""


class _Decoder(threading.local):
    """One thread's libmseed record, reused by every record the thread decodes.

    libmseed keeps a record's sample buffer when the record is parsed into again, so after
    the first record no parse allocates. Samples leave only as copies: a ``Record`` never
    points into this buffer.
    """

    def __init__(self) -> None:
        ensure_thread_logging()  # libmseed's messages to pymseed's registry, not stderr
        # msr3_parse fills *record, allocating it when NULL and freeing it (leaving NULL)
        # when a record fails past its header; the last one is freed with the thread.
        self.record: Any = ffi.gc(ffi.new("MS3Record **"), clibmseed.msr3_free)
        self.parsed: Any = ffi.new("LM_PARSED_JSON **")
        self.uint64: Any = ffi.new("uint64_t *")
        self.int64: Any = ffi.new("int64_t *")
        self.double: Any = ffi.new("double *")
        self.boolean: Any = ffi.new("int *")
        # Timing quality by the exact extra-header bytes: a stream repeats the same few.
        self.qualities: dict[bytes, int | None] = {}

    def decode(self, payload: bytes) -> Record:
        if clibmseed.msr3_parse(payload, len(payload), self.record, _PARSE_FLAGS, 0) != 0:
            raise _Slow
        msr = self.record[0]
        try:
            key = _key(ffi.string(msr.sid))
        except ValueError as e:
            raise RecordError(f"not a decodable miniSEED record: {e}") from e
        rate = float(clibmseed.msr3_sampratehz(msr))
        decoded = msr.numsamples
        _check(key, rate, msr.samplecnt, decoded)
        sample = _SAMPLES.get(msr.sampletype)
        if sample is None:  # text
            raise _Slow
        dtype, size = sample
        samples = ffi.buffer(msr.datasamples, decoded * size)
        data = np.frombuffer(samples, dtype=dtype).astype(np.float64)  # a copy, always
        quality = None
        if msr.extralength:
            if msr.extra == ffi.NULL:
                raise _Slow
            extra = ffi.unpack(msr.extra, msr.extralength)
            if extra in self.qualities:
                quality = self.qualities[extra]
            else:
                quality = self._quality(msr)
                if len(self.qualities) >= _QUALITIES_KEPT:
                    self.qualities.clear()
                self.qualities[extra] = quality
        return Record(
            key,
            float(msr.starttime / _NSTMODULUS),
            rate,
            data,
            quality,
            bool(msr.flags & _CLOCK_LOCKED),
        )

    def _quality(self, msr: Any) -> int | None:
        """The timing quality in the record's extra headers, as
        ``int(MS3Record.get_extra_header(...))`` when that is a number or a boolean."""
        parsed = self.parsed
        try:
            kind = clibmseed.mseh_get_ptr_type(msr, _QUALITY_POINTER, parsed)
            if kind == 0 or kind == _STRING:
                return None
            if kind == _UINT:
                value, code = self.uint64, b"u"
            elif kind == _INT:
                value, code = self.int64, b"i"
            elif kind == _REAL:
                value, code = self.double, b"n"
            elif kind == _BOOL:
                value, code = self.boolean, b"b"
            else:  # an error, an object or an array: as MS3Record reports it
                raise _Slow
            if clibmseed.mseh_get_ptr_r(msr, _QUALITY_POINTER, value, code, 0, parsed) != 0:
                raise _Slow
        finally:
            clibmseed.mseh_free_parsestate(parsed)
        return int(value[0])


def _check(key: ChannelKey, rate: float, declared: int, decoded: int) -> None:
    """Refuse a record without a usable rate or with missing samples (both decoding paths)."""
    if not rate > 0:
        raise RecordError(f"record of {key} has sampling rate {rate}")
    if declared == 0 or decoded == 0:
        raise RecordError(f"record of {key} holds no samples")
    if decoded != declared:
        raise RecordError(f"record of {key} decodes {decoded} of {declared} samples")


_decoder = _Decoder()


def decode_record(payload: bytes) -> Record:
    """Decode one miniSEED (2 or 3) record. The samples are a new array of their own."""
    if isinstance(payload, bytes):
        try:
            return _decoder.decode(payload)
        except _Slow:
            pass
    return _decode_record_slowly(payload)


def _decode_record_slowly(payload: bytes) -> Record:
    """``decode_record`` through an ``MS3Record`` of its own: any buffer, any record."""
    try:
        msr = MS3Record.parse(payload, unpack_data=True)
        key = _key(msr.sourceid.encode("utf-8"))
    except (MiniSEEDError, ValueError) as e:
        raise RecordError(f"not a decodable miniSEED record: {e}") from e
    rate = float(msr.samprate)
    _check(key, rate, msr.samplecnt, msr.numsamples)
    try:
        data = np.array(msr.np_datasamples, dtype=np.float64)
        quality = msr.get_extra_header(_TIME_QUALITY) if msr.extralength else None
    except (MiniSEEDError, ValueError, TypeError) as e:
        # text records, or extra headers whose timing quality is not a value
        raise RecordError(f"record of {key} has no readable samples or headers: {e}") from e
    return Record(
        key=key,
        starttime=float(msr.starttime_seconds),
        sampling_rate=rate,
        data=data,
        timing_quality=int(quality) if isinstance(quality, int | float) else None,
        clock_locked=bool(msr.flags & _CLOCK_LOCKED),
    )


def record_length(buffer: bytes, at: int = 0) -> int | None:
    """The length of the miniSEED record (2 or 3) starting at ``buffer[at]``, as libmseed
    detects it; None if no record starts there or it runs past the buffer."""
    view = buffer[at:] if at else buffer
    version = ffi.new("uint8_t *")
    length = int(clibmseed.ms3_detect(view, len(view), version))
    if length <= 0 or length > len(view):
        return None
    return length


def split_records(buffer: bytes) -> list[bytes] | None:
    """The records filling ``buffer`` end to end (as an archive day file holds them); None if
    the buffer is not records from its first byte to its last."""
    out: list[bytes] = []
    at = 0
    while at < len(buffer):
        length = record_length(buffer, at)
        if length is None:
            return None
        out.append(buffer[at : at + length])
        at += length
    return out
