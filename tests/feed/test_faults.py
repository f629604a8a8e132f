"""Drill faults: each visible in the records as ObsPy decodes them, and gone after its window."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import obspy
import pytest
from obspy.io.mseed import InternalMSEEDError
from obspy.io.mseed.util import get_flags, get_record_information
from seedlink_client import SeedLink

from ingest.feed import (
    ChannelSpec,
    Clipping,
    CorruptRecord,
    DeadChannel,
    Fault,
    FaultySource,
    FutureTimestamp,
    Gap,
    GpsUnlock,
    ListSource,
    SilentStation,
    StationSpec,
    SyntheticSource,
    centaur_soh,
    faults_from_dicts,
    load_faults,
)
from ingest.feed._mseed import RecordInfo, record_info
from stations.errors import ConfigurationError

from ..conftest import T0, ServerThread

SPAN = 90.0
HH = tuple(ChannelSpec("", f"HH{c}", 100.0) for c in "ZNE")
ALPHA = StationSpec("XX", "ALPHA", 38.0, 72.0, 1000.0, HH, soh=centaur_soh())
BRAVO = StationSpec("XX", "BRAVO", 38.3, 72.4, 1200.0, HH)


def run(faults: list[Fault], step: float = 1.0, seed: int = 5) -> list[bytes]:
    src = SyntheticSource([ALPHA, BRAVO], seed=seed, event_interval=1000.0, start=T0, faults=faults)
    out: list[bytes] = []
    t = T0
    while t < T0 + SPAN:
        t += step
        out += src.records_until(t)
    return out


@pytest.fixture(scope="module")
def clean() -> list[bytes]:
    return run([])


def stream(records: list[bytes]) -> obspy.Stream:
    return obspy.read(io.BytesIO(b"".join(records)))


def trace(records: list[bytes], station: str, channel: str) -> obspy.Trace:
    st = stream(records).select(station=station, channel=channel).merge()
    assert len(st) == 1
    return st[0]


def window(tr: obspy.Trace, a: float, b: float) -> np.ndarray:
    """Samples at times in [T0 + a, T0 + b)."""
    t = tr.times("timestamp")
    out: np.ndarray = tr.data[(t >= T0 + a) & (t < T0 + b)]
    return out


def outside(tr: obspy.Trace, a: float, b: float) -> np.ndarray:
    t = tr.times("timestamp")
    out: np.ndarray = tr.data[(t < T0 + a) | (t >= T0 + b)]
    return out


def infos(records: list[bytes]) -> list[RecordInfo]:
    return [record_info(r) for r in records]


def test_no_faults_changes_nothing(clean: list[bytes]) -> None:
    assert run([Gap(start=500.0, end=600.0)]) == clean


def test_gap_drops_exactly_the_window_and_data_resume_on_time(clean: list[bytes]) -> None:
    got = run([Gap(start=20.0, end=30.0, station="ALPHA", channel="HHZ")])
    st = stream(got).select(station="ALPHA", channel="HHZ")
    gaps = st.get_gaps()
    assert len(gaps) == 1
    assert gaps[0][4].timestamp == pytest.approx(T0 + 19.99)  # last sample before
    assert gaps[0][5].timestamp == pytest.approx(T0 + 30.0)  # first sample after
    st.merge()
    ref = trace(clean, "ALPHA", "HHZ")
    np.testing.assert_array_equal(st[0].data.compressed(), outside(ref, 20.0, 30.0))
    # every other channel, and the records wholly outside the window, are untouched
    untouched = [r for r, i in zip(got, infos(got), strict=True) if i.channel != "HHZ"]
    assert untouched == [r for r, i in zip(clean, infos(clean), strict=True) if i.channel != "HHZ"]
    assert stream(got).select(station="BRAVO").get_gaps() == []


def test_silent_station_stops_all_its_channels(clean: list[bytes]) -> None:
    got = run([SilentStation(start=40.0, end=55.0, station="ALPHA")])
    alpha = stream(got).select(station="ALPHA")
    by_channel = {g[3] for g in alpha.get_gaps()}
    assert by_channel == {"HHZ", "HHN", "HHE", *(s.channel for s in ALPHA.soh)}
    for info in infos(got):
        if info.station == "ALPHA":
            assert info.end_ns < (T0 + 40.0) * 1e9 or info.start_ns >= (T0 + 55.0) * 1e9
    bravo = [r for r, i in zip(got, infos(got), strict=True) if i.station == "BRAVO"]
    assert bravo == [r for r, i in zip(clean, infos(clean), strict=True) if i.station == "BRAVO"]


def test_dead_channel_is_flat_then_recovers(clean: list[bytes]) -> None:
    got = run([DeadChannel(start=30.0, end=50.0, station="ALPHA", channel="HHN", value=-17)])
    tr, ref = trace(got, "ALPHA", "HHN"), trace(clean, "ALPHA", "HHN")
    dead = window(tr, 30.0, 50.0)
    assert len(dead) == 2000
    assert set(dead.tolist()) == {-17}
    np.testing.assert_array_equal(outside(tr, 30.0, 50.0), outside(ref, 30.0, 50.0))
    assert len(np.unique(window(tr, 50.0, 60.0))) > 100


def test_clipping_saturates_at_full_scale(clean: list[bytes]) -> None:
    got = run([Clipping(start=10.0, end=15.0, channel="HHZ", full_scale=2**23)])
    tr, ref = trace(got, "BRAVO", "HHZ"), trace(clean, "BRAVO", "HHZ")
    clipped = window(tr, 10.0, 15.0)
    assert clipped.max() == 2**23 - 1
    assert clipped.min() == -(2**23)
    assert np.mean(np.abs(clipped) >= 2**23 - 1) > 0.5
    np.testing.assert_array_equal(outside(tr, 10.0, 15.0), outside(ref, 10.0, 15.0))
    assert np.abs(window(tr, 20.0, 80.0)).max() < 2**20


def _quality_and_lock(record: bytes) -> tuple[int, int]:
    quality = get_record_information(io.BytesIO(record))["timing_quality"]
    flags = get_flags(io.BytesIO(record))["io_and_clock_flags_counts"]["clock_locked"]
    return int(quality), int(flags)


def test_gps_unlock_lowers_timing_quality_and_clears_clock_locked() -> None:
    got = run([GpsUnlock(start=30.0, end=60.0, station="ALPHA", timing_quality=10)])
    seen: dict[str, set[tuple[int, int]]] = {"before": set(), "during": set(), "after": set()}
    for rec, info in zip(got, infos(got), strict=True):
        if info.station != "ALPHA":
            assert _quality_and_lock(rec) == (100, 1)
            continue
        if info.end_ns < (T0 + 30.0) * 1e9:
            seen["before"].add(_quality_and_lock(rec))
        elif info.start_ns >= (T0 + 60.0) * 1e9:
            seen["after"].add(_quality_and_lock(rec))
        elif (T0 + 31.0) * 1e9 <= info.start_ns < (T0 + 59.0) * 1e9:
            seen["during"].add(_quality_and_lock(rec))
    assert seen == {"before": {(100, 1)}, "during": {(10, 0)}, "after": {(100, 1)}}


def test_gps_unlock_shows_in_the_state_of_health_channels() -> None:
    got = run([GpsUnlock(start=30.0, end=60.0, station="ALPHA", timing_quality=10)])

    def soh(channel: str, a: float, b: float) -> np.ndarray:
        return window(trace(got, "ALPHA", channel), a, b)

    assert set(soh("GST", 0, 30)) == {2}
    assert set(soh("GST", 30, 60)) == {1}
    assert set(soh("GST", 60, 90)) == {2}
    assert set(soh("LCQ", 0, 30)) == {100}
    assert set(soh("LCQ", 30, 60)) == {10}
    assert set(soh("GNS", 30, 60)) == {0}
    assert soh("GNS", 0, 30).min() >= 7
    lce = soh("LCE", 30, 60)
    assert np.abs(soh("LCE", 0, 30)).max() <= 1
    assert lce[-1] > 10
    assert np.all(np.diff(lce) >= -2)
    assert np.abs(soh("LCE", 60, 90)).max() <= 1


def test_corrupt_records_keep_their_header_but_not_their_data(clean: list[bytes]) -> None:
    got = run([CorruptRecord(start=20.0, end=20.5, station="BRAVO", channel="HHE")])
    assert len(got) == len(clean)
    changed = [(a, b) for a, b in zip(got, clean, strict=True) if a != b]
    assert len(changed) in (1, 2)  # the record(s) overlapping the window
    for bad, good in changed:
        info = record_info(bad)
        assert info == record_info(good)  # still routable by a server
        assert (info.station, info.channel) == ("BRAVO", "HHE")
        assert info.start_ns < (T0 + 20.5) * 1e9
        assert info.end_ns >= (T0 + 20.0) * 1e9
        assert bad[:64] == good[:64]
        with pytest.raises(InternalMSEEDError, match="Steim2"):
            obspy.read(io.BytesIO(bad))


def test_future_timestamp(clean: list[bytes]) -> None:
    got = run([FutureTimestamp(start=40.0, end=41.0, station="ALPHA", channel="HHZ")])
    moved = [i for i in infos(got) if i.start_ns > (T0 + SPAN + 60) * 1e9]
    assert len(moved) in (1, 2)
    ref = {(i.channel, i.start_ns): i for i in infos(clean) if i.station == "ALPHA"}
    for i in moved:
        assert i.channel == "HHZ"
        assert ref[("HHZ", i.start_ns - 3600 * 10**9)].samples == i.samples


def test_faulty_synthetic_data_do_not_depend_on_call_pattern() -> None:
    faults = [
        Gap(start=20.0, end=21.3, channel="HHZ"),
        DeadChannel(start=35.0, end=45.0, channel="HHE"),
        GpsUnlock(start=50.0, end=70.0),
    ]
    a, b = stream(run(faults, step=0.5)), stream(run(faults, step=30.0))
    for tr in a.merge():
        other = b.select(id=tr.id).merge()[0]
        n = min(tr.stats.npts, other.stats.npts)
        np.testing.assert_array_equal(tr.data[:n], other.data[:n])


def test_faulty_source_wraps_any_source(clean: list[bytes]) -> None:
    timed = [(i.end_ns / 1e9, r) for r, i in zip(clean, infos(clean), strict=True)]
    wrapped = FaultySource(
        ListSource(timed), [Gap(start=T0 + 20.0, end=T0 + 30.0, channel="HHZ")], origin=0.0
    )
    got = wrapped.records_until(T0 + SPAN)
    assert sorted(got) == sorted(run([Gap(start=20.0, end=30.0, channel="HHZ")]))
    with pytest.raises(ConfigurationError, match="origin"):
        FaultySource(ListSource(timed), [Gap(start=0.0, end=1.0)]).records_until(T0 + SPAN)


def test_faults_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "drill.toml"
    path.write_text(
        """
[[fault]]
kind = "gps_unlock"
station = "SAREZ"
start = 60
end = 180
timing_quality = 10

[[fault]]
kind = "clipping"
channel = "HN?"
start = 200
end = 210
full_scale = 8388608
"""
    )
    assert load_faults(path) == [
        GpsUnlock(station="SAREZ", start=60, end=180, timing_quality=10),
        Clipping(channel="HN?", start=200, end=210, full_scale=2**23),
    ]


@pytest.mark.parametrize(
    "items",
    [
        [{"kind": "meteor", "start": 0, "end": 1}],
        [{"kind": "gap", "start": 5, "end": 1}],
        [{"kind": "gap", "start": 0, "end": 1, "colour": "red"}],
        [{"kind": "gps_unlock", "start": 0, "end": 1, "timing_quality": 101}],
        [{"kind": "clipping", "start": 0, "end": 1, "gain": 0}],
    ],
)
def test_bad_faults_are_refused(items: list[dict[str, object]]) -> None:
    with pytest.raises(ConfigurationError):
        faults_from_dicts(items)


def test_a_drill_through_the_server(server_factory: Callable[..., ServerThread]) -> None:
    faults = [
        CorruptRecord(start=20.0, end=21.0, station="ALPHA", channel="HHZ"),
        FutureTimestamp(start=30.0, end=31.0, station="BRAVO", channel="HHN"),
        SilentStation(start=40.0, end=50.0, station="BRAVO"),
    ]
    records = run(faults)
    srv = server_factory(stations=[ALPHA, BRAVO])
    srv.publish(records)  # corrupt and future records are still routable
    sl = SeedLink("127.0.0.1", srv.port, timeout=10, dialup=True)
    sl.set_all_stations(None, all_data=True)  # dial-up, everything held
    sl.connect()
    try:
        got = [p.payload for p in sl.collect(reconnect=False)]
    finally:
        sl.close()
    assert sorted(got) == sorted(records)
