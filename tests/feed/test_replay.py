"""Replay of recorded miniSEED: byte for byte as recorded, or re-timed sample for sample."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import obspy
import pytest
from seedlink_client import SeedLink

from ingest.feed import FaultySource, Gap, ReplaySource, read_files, sds_files
from ingest.feed._mseed import record_info
from stations.errors import ConfigurationError

from ..conftest import ServerThread

OBSPY_DATA = Path(obspy.__file__).parent / "io" / "mseed" / "tests" / "data"
TWO_CHANNELS = OBSPY_DATA / "CH.BALST..LH_two_channels"
"""A day of LHE and LHZ at 1 sps in 512-byte Steim-2 records, as ObsPy ships it."""


def chunks(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + 512] for i in range(0, len(data), 512)]


def stream(records: list[bytes]) -> obspy.Stream:
    return obspy.read(io.BytesIO(b"".join(records)))


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ObsPy's example stream (3 channels, 100 sps, 30 s) as 512-byte Steim-2 records."""
    st = obspy.read()
    for tr in st:
        tr.data = tr.data.astype(np.int32)
    path = tmp_path_factory.mktemp("replay") / "example.mseed"
    st.write(str(path), format="MSEED", encoding="STEIM2", reclen=512)
    return path


def test_fast_mode_passes_every_record_byte_for_byte_interleaved_in_time() -> None:
    original = chunks(TWO_CHANNELS)
    src = ReplaySource.from_files([TWO_CHANNELS], "fast")
    assert src.stations == [("CH", "BALST")]
    got = src.records_until(0.0)
    assert src.records_until(1e10) == []
    assert sorted(got) == sorted(original)
    infos = [record_info(r) for r in got]
    ends = [i.end_ns for i in infos]
    assert ends == sorted(ends)  # as a digitizer sends them: each once it is full
    channels = [i.channel for i in infos[:20]]
    assert {"LHE", "LHZ"} == set(channels)
    assert channels != sorted(channels)  # interleaved, not one channel after the other
    for cha in ("LHE", "LHZ"):  # each channel's own order is the file's
        mine = [r for r, i in zip(got, infos, strict=True) if i.channel == cha]
        assert mine == [r for r in original if record_info(r).channel == cha]


def test_original_mode_releases_in_real_time_unchanged(example: Path) -> None:
    original = chunks(example)
    start = 2_000_000_000.0
    src = ReplaySource.from_files([example], "original", start=start)
    origin = src.origin_ns
    assert src.start == origin / 1e9
    released: list[bytes] = []
    for step in np.arange(0.0, 32.0, 0.25):
        now = start + float(step)
        fresh = src.records_until(now)
        for rec in fresh:  # nothing early, nothing late by more than a step
            lag = (now - start) - (record_info(rec).end_ns - origin) / 1e9
            assert 0.0 <= lag < 0.25 + 1e-9
        released += fresh
    assert src.remaining == 0
    assert sorted(released) == sorted(original)


def test_realtime_mode_retimes_sample_for_sample(example: Path) -> None:
    start = 2_000_000_000.0
    src = ReplaySource.from_files([example], "realtime", start=start)
    assert src.start == start
    shift = start - src.origin_ns / 1e9
    half = src.records_until(start + 15.0)
    rest = src.records_until(start + 60.0)
    assert half
    assert rest
    for rec in half:
        assert record_info(rec).end_ns <= (start + 15.0) * 1e9
    ref = obspy.read(str(example))
    got = stream(half + rest).merge()
    assert len(got) == 3
    for tr in got:
        orig = ref.select(id=tr.id)[0]
        assert tr.stats.starttime.timestamp == pytest.approx(orig.stats.starttime.timestamp + shift)
        assert tr.stats.starttime.timestamp == start
        assert tr.stats.sampling_rate == orig.stats.sampling_rate
        assert tr.stats.mseed.encoding == "STEIM2"
        assert tr.stats.mseed.record_length == 512
        np.testing.assert_array_equal(tr.data, orig.data)


def test_realtime_mode_defaults_to_now() -> None:
    src = ReplaySource.from_files([TWO_CHANNELS], "realtime")
    now = 2_000_000_000.4
    assert src.records_until(now) == []
    assert src.start == 2_000_000_000.0
    first = src.records_until(now + 400.0)
    assert first
    assert min(record_info(r).start_ns for r in first) == 2_000_000_000 * 10**9


def test_longer_records_are_repacked_into_512_bytes() -> None:
    path = OBSPY_DATA / "test.mseed"  # two 4096-byte records
    records = read_files([path])
    assert all(len(r) == 512 for r in records)
    assert len(records) > 2
    ref = obspy.read(str(path)).merge()[0]
    got = stream(records).merge()[0]
    assert got.stats.starttime == ref.stats.starttime
    np.testing.assert_array_equal(got.data, ref.data)


def test_sds_archive_replay_across_midnight(tmp_path: Path, example: Path) -> None:
    st = obspy.read(str(example))
    midnight = obspy.UTCDateTime(2024, 3, 1)
    for tr in st:
        tr.stats.network, tr.stats.station = "XX", "SDSA"
        tr.stats.starttime = midnight - 12.0
    for tr in st:
        for day in (midnight - 86400, midnight):
            piece = tr.slice(day, day + 86400 - tr.stats.delta, nearest_sample=False)
            if piece.stats.npts == 0:
                continue
            s = piece.stats
            folder = tmp_path / str(day.year) / s.network / s.station / f"{s.channel}.D"
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{s.network}.{s.station}.{s.location}.{s.channel}.D.{day.year}.{day.julday:03d}"
            piece.write(str(folder / name), format="MSEED", encoding="STEIM2", reclen=512)
    begin, end = (midnight - 20).timestamp, (midnight + 60).timestamp
    files = sds_files(tmp_path, begin, end, channel="EH?")
    assert sorted(p.name for p in files) == sorted(
        f"XX.SDSA..EH{c}.D.2024.{d}" for c in "ENZ" for d in ("060", "061")
    )
    assert sds_files(tmp_path, begin, end, channel="EHZ", station="OTHER") == []
    src = ReplaySource.from_sds(tmp_path, begin, end, "fast", channel="EHZ")
    got = stream(src.records_until(0.0)).merge()
    assert [tr.id for tr in got] == ["XX.SDSA..EHZ"]
    ref = st.select(channel="EHZ")[0]
    assert got[0].stats.starttime == ref.stats.starttime
    np.testing.assert_array_equal(got[0].data, ref.data)


def test_faults_apply_to_a_replay(example: Path) -> None:
    start = 2_000_000_000.0
    src = FaultySource(
        ReplaySource.from_files([example], "realtime", start=start),
        [Gap(start=10.0, end=12.0, channel="EHZ")],
    )
    st = stream(src.records_until(start + 60.0)).select(channel="EHZ")
    (gap,) = st.get_gaps()
    assert gap[5].timestamp == pytest.approx(start + 12.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ReplaySource([], "fast"),
        lambda: ReplaySource(chunks(TWO_CHANNELS), "sideways"),  # type: ignore[arg-type]
        lambda: read_files([OBSPY_DATA / "not.mseed"]),
        lambda: read_files([OBSPY_DATA / "no such file"]),
        lambda: sds_files(OBSPY_DATA / "nowhere", 0.0, 1.0),
    ],
)
def test_bad_replays_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError):
        make()


def test_replay_through_the_server_is_byte_for_byte(
    server_factory: Callable[..., ServerThread],
) -> None:
    original = chunks(TWO_CHANNELS)
    srv = server_factory(stations=[])
    srv.publish(ReplaySource.from_files([TWO_CHANNELS], "fast").records_until(0.0))
    sl = SeedLink("127.0.0.1", srv.port, timeout=10, dialup=True)
    sl.add_stream("CH_BALST", None, all_data=True)  # dial-up, everything held
    sl.connect()
    try:
        packets = list(sl.collect(reconnect=False))
    finally:
        sl.close()
    by_channel: dict[str, list[bytes]] = defaultdict(list)
    for p in packets:
        by_channel[record_info(p.payload).channel].append(p.payload)
    for cha, recs in by_channel.items():
        assert recs == [r for r in original if record_info(r).channel == cha]
    assert sum(map(len, by_channel.values())) == len(original)
