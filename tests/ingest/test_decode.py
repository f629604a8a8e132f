"""Decoding at the edge agrees with ObsPy on real records, and refuses bad ones clearly."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from obspy import Stream, read
from pymseed import DataEncoding, MS3Record

from ingest.seedlink.decode import RecordError, decode_record
from stations.queries import ChannelKey


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


# The fast path (one reused libmseed record per thread, read through pymseed's CFFI binding)
# against the path through an MS3Record of its own, on records of every kind.

_EXTRAS = [
    None,
    '{"FDSN":{"Time":{"Quality":87}}}',
    '{"FDSN":{"Time":{"Quality":55.5}}}',
    '{"FDSN":{"Time":{"Quality":-3}}}',
    '{"FDSN":{"Time":{"Quality":true}}}',
    '{"FDSN":{"Time":{"Quality":"good"}}}',
    '{"FDSN":{"Time":{"Quality":{}}}}',
    '{"FDSN":{"Time":{"Correction":1.5}}}',
]


def _generated(
    version: int,
    encoding: int,
    samples: object,
    sample_type: str,
    *,
    extra: str | None = None,
    flags: int = 0,
    rate: float = 100.0,
) -> bytes:
    msr = MS3Record(reclen=512, encoding=encoding)
    msr.sourceid = "FDSN:XX_TEST_00_H_H_Z"
    msr.set_starttime_str("2024-05-01T12:34:56.789012Z")
    msr.samprate = rate
    msr.formatversion = version
    msr.flags = flags
    if extra is not None:
        msr.extra = extra
    return next(iter(msr.generate(data_samples=samples, sample_type=sample_type)))


def _kinds() -> list[bytes]:
    ints = (np.arange(300, dtype=np.int32) * 37) % 1001 - 500
    floats = np.linspace(-1.5, 2.5, 40)
    encoded: list[tuple[int, object, str]] = [
        (DataEncoding.STEIM2, ints, "i"),
        (DataEncoding.STEIM1, ints, "i"),
        (DataEncoding.INT32, ints[:100], "i"),
        (DataEncoding.INT16, ints[:100], "i"),
        (DataEncoding.FLOAT32, floats.astype(np.float32), "f"),
        (DataEncoding.FLOAT64, floats, "d"),
        (DataEncoding.TEXT, b"hello 123", "t"),
    ]
    out = []
    for version in (2, 3):
        for encoding, samples, sample_type in encoded:
            for extra in _EXTRAS:
                for flags in (0, 0x04):
                    raw = _generated(
                        version, encoding, samples, sample_type, extra=extra, flags=flags
                    )
                    out.append(raw)
        for rate in (-10.0, 0.0, 1.0 / 3):
            out.append(_generated(version, DataEncoding.STEIM2, ints, "i", rate=rate))
    good = _generated(2, DataEncoding.STEIM2, ints, "i")
    v3 = _generated(3, DataEncoding.STEIM2, ints, "i", extra=_EXTRAS[1])
    no_samples = good[:30] + b"\x00\x00" + good[32:]  # v2 header: sample count 0
    more_declared = good[:30] + (600).to_bytes(2, "big") + good[32:]
    bad_crc = v3[:28] + bytes([v3[28] ^ 0xFF]) + v3[29:]  # v3 header CRC, bytes 28-31
    out += [no_samples, more_declared, bad_crc, v3[:-20], b"", b"\x00" * 512]
    out += [good[:300], good, v3]
    return out


def _as_float64(stream: Stream) -> Stream:
    copy = stream.copy()
    for trace in copy:
        trace.data = trace.data.astype(np.float64) / 3
    return copy


def _outcome(decode: object, raw: bytes) -> tuple[object, ...]:
    assert callable(decode)
    try:
        r = decode(raw)
    except Exception as e:
        return (type(e), str(e))
    return (
        r.key,
        r.starttime,
        r.sampling_rate,
        r.data.dtype,
        r.data.tolist(),
        r.timing_quality,
        r.clock_locked,
    )


def test_the_fast_path_decodes_every_kind_of_record_as_an_own_ms3record_does() -> None:
    from ingest.seedlink.decode import _decode_record_slowly

    kinds = _kinds()
    outcomes = [_outcome(decode_record, raw) for raw in kinds]
    assert outcomes == [_outcome(_decode_record_slowly, raw) for raw in kinds]
    # Again, in another order: nothing carries over from one record to the next.
    assert [_outcome(decode_record, raw) for raw in reversed(kinds)] == outcomes[::-1]
    # And not only errors: the kinds cover good records of both versions and the refusals.
    assert sum(isinstance(o[0], ChannelKey) for o in outcomes) > 100
    assert {o[0] for o in outcomes if not isinstance(o[0], ChannelKey)} == {RecordError}


def test_miniseed_3_timing_quality_and_clock_flag() -> None:
    ints = np.arange(100, dtype=np.int32)
    raw = _generated(3, DataEncoding.STEIM2, ints, "i", extra=_EXTRAS[1], flags=0x04)
    record = decode_record(raw)
    assert (record.timing_quality, record.clock_locked) == (87, True)
    assert_array_equal(record.data, ints)
    assert record.starttime == pytest.approx(1714566896.789012, abs=1e-6)
    bare = decode_record(_generated(3, DataEncoding.STEIM2, ints, "i"))
    assert (bare.timing_quality, bare.clock_locked) == (None, False)
    period = decode_record(_generated(3, DataEncoding.STEIM2, ints, "i", rate=-10.0))
    assert period.sampling_rate == 0.1


def test_ordinary_records_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the use of pymseed's CFFI binding: if pymseed changed what the fast path
    reads, records would quietly go the slow way, and this fails."""
    import ingest.seedlink.decode

    def refuse(payload: bytes) -> object:
        raise AssertionError("decoded through an MS3Record")

    monkeypatch.setattr(ingest.seedlink.decode, "_decode_record_slowly", refuse)
    stream = read()
    for trace in stream:
        trace.data = trace.data.astype(np.int32)
    for encoding in ("STEIM1", "STEIM2", "INT32"):
        for raw in _records(stream, encoding)[:5]:
            decode_record(raw)
    for raw in _records(_as_float64(stream), "FLOAT64")[:5]:
        decode_record(raw)
    for version in (2, 3):
        raw = _generated(version, DataEncoding.STEIM2, np.arange(9), "i", extra=_EXTRAS[1])
        assert decode_record(raw).timing_quality == 87


def test_samples_are_an_array_of_their_own() -> None:
    stream = read()
    for trace in stream:
        trace.data = trace.data.astype(np.int32)
    first, second = _records(stream, "STEIM2")[:2]
    floats = _records(_as_float64(stream), "FLOAT64")[0]
    record = decode_record(first)
    kept = record.data.copy()
    assert record.data.flags.owndata
    assert record.data.flags.writeable
    for raw in (second, floats, b"garbage!" * 64, first[:300], second):
        with contextlib.suppress(RecordError):
            decode_record(raw)
    assert_array_equal(record.data, kept)
    assert decode_record(floats).data.flags.owndata  # float64 samples are copied too


def test_a_corrupt_record_spoils_only_itself() -> None:
    stream = read()
    for trace in stream:
        trace.data = trace.data.astype(np.int32)
    good = _records(stream, "STEIM2")[:3]
    expected = [_outcome(decode_record, raw) for raw in good]
    # A Steim-2 record whose first frame's control word is garbage fails in decoding,
    # after its header parsed.
    broken = good[0][:64] + b"\xff" * 64 + good[0][128:]
    with pytest.raises(RecordError):
        decode_record(broken)
    assert [_outcome(decode_record, raw) for raw in good] == expected


def test_threads_decode_side_by_side() -> None:
    from concurrent.futures import ThreadPoolExecutor

    kinds = _kinds()
    expected = [_outcome(decode_record, raw) for raw in kinds]
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: [_outcome(decode_record, r) for r in kinds], range(8)))
    assert all(run == expected for run in runs)
