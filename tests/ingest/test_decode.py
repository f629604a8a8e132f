"""Decoding at the edge agrees with ObsPy on real records, and refuses bad ones clearly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from obspy import Stream, read

from ingest.decode import RecordError, decode_record


def _records(stream: Stream, encoding: str) -> list[bytes]:
    buf = io.BytesIO()
    stream.write(buf, format="MSEED", reclen=512, encoding=encoding)
    raw = buf.getvalue()
    return [raw[i : i + 512] for i in range(0, len(raw), 512)]


@pytest.mark.parametrize("encoding", ["STEIM1", "STEIM2", "INT32"])
def test_same_as_obspy_on_a_real_local_event(encoding: str) -> None:
    stream = read()  # ObsPy's example: a local event at BW.RJOB, three components
    for trace in stream:
        trace.data = trace.data.astype(np.int32)
    records = _records(stream, encoding)
    assert len(records) > 10
    for raw in records:
        ours = decode_record(raw)
        (oracle,) = read(io.BytesIO(raw), format="MSEED")
        assert ours.key.network == oracle.stats.network
        assert str(ours.key) == oracle.id
        assert ours.starttime == pytest.approx(oracle.stats.starttime.timestamp, abs=1e-6)
        assert ours.endtime == pytest.approx(oracle.stats.endtime.timestamp, abs=1e-6)
        assert ours.sampling_rate == oracle.stats.sampling_rate
        assert_array_equal(ours.data, oracle.data)


def test_float_records_too() -> None:
    stream = read()
    for trace in stream:
        trace.data = trace.data.astype(np.float32) / 7
    raw = _records(stream, "FLOAT32")[0]
    (oracle,) = read(io.BytesIO(raw), format="MSEED")
    assert_array_equal(decode_record(raw).data, oracle.data.astype(np.float64))


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00" * 512, b"garbage!" * 64],
)
def test_garbage_is_a_record_error(payload: bytes) -> None:
    with pytest.raises(RecordError, match="not a decodable miniSEED record"):
        decode_record(payload)


def test_a_truncated_record_is_a_record_error() -> None:
    stream = read()
    for trace in stream:
        trace.data = trace.data.astype(np.int32)
    raw = _records(stream, "STEIM2")[0]
    with pytest.raises(RecordError):
        decode_record(raw[:300])


def test_timing_quality_and_clock_flag_as_obspy_reads_them() -> None:
    from obspy.core.util import AttribDict
    from obspy.io.mseed.util import get_flags

    stream = read()
    for trace in stream:
        trace.data = trace.data.astype(np.int32)
        trace.stats.mseed = AttribDict({"blkt1001": AttribDict({"timing_quality": 87})})
    raw = _records(stream, "STEIM2")[0]
    ours = decode_record(raw)
    (oracle,) = read(io.BytesIO(raw), format="MSEED", details=True)
    assert ours.timing_quality == oracle.stats.mseed.blkt1001.timing_quality == 87
    assert ours.clock_locked is False
    assert get_flags(io.BytesIO(raw))["io_and_clock_flags_counts"]["clock_locked"] == 0
    # Set bit 5 of the fixed header's I/O and clock flags (byte 37): the clock was locked.
    locked = raw[:37] + bytes([raw[37] | 0x20]) + raw[38:]
    assert decode_record(locked).clock_locked is True
    assert get_flags(io.BytesIO(locked))["io_and_clock_flags_counts"]["clock_locked"] == 1
