"""The synthetic source: valid contiguous miniSEED, in real time, with locatable earthquakes."""

from __future__ import annotations

import io
import itertools
import time
from collections import defaultdict
from typing import Any

import numpy as np
import obspy
import pytest
from obspy.signal.trigger import classic_sta_lta, trigger_onset

from ingest.feed import ChannelSpec, StationSpec, SyntheticSource, default_stations
from ingest.feed._mseed import record_info
from stations.errors import ConfigurationError

from ..conftest import T0, Made, make_records


def _stream(records: list[bytes]) -> obspy.Stream:
    return obspy.read(io.BytesIO(b"".join(records)))


def test_records_are_valid_miniseed_obspy_reads(made: Made) -> None:
    expected = {
        (s.network, s.station, c.location, c.channel): c.sampling_rate
        for s in made.stations
        for c in s.channels
    }
    seen = set()
    for rec in made.records[::7]:
        assert len(rec) == 512
        st = obspy.read(io.BytesIO(rec))
        assert len(st) == 1
        tr = st[0]
        key = (tr.stats.network, tr.stats.station, tr.stats.location, tr.stats.channel)
        assert tr.stats.sampling_rate == expected[key]
        assert tr.stats.mseed.encoding == "STEIM2"
        assert tr.stats.mseed.record_length == 512
        assert tr.data.dtype == np.int32
        seen.add(key)
    assert seen == set(expected)
    from obspy.io.mseed.util import get_record_information

    info = get_record_information(io.BytesIO(made.records[0]))
    assert info["timing_quality"] == 100  # blockette 1001


def test_each_channel_contiguous_without_gaps_or_overlaps(made: Made) -> None:
    by_channel: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    for info in made.infos:
        by_channel[(info.network, info.station, info.location, info.channel)].append(info)
    assert len(by_channel) == 18
    for infos in by_channel.values():
        assert infos[0].start_ns == round(T0 * 1e9)
        for a, b in itertools.pairwise(infos):
            assert b.start_ns == a.end_ns + 10_000_000  # 100 sps: the very next sample
    st = _stream(made.records)
    assert st.get_gaps() == []
    st.merge()
    assert len(st) == 18


def test_one_call_returns_records_in_start_time_order() -> None:
    src = SyntheticSource(default_stations(), seed=4, start=T0)
    starts = [record_info(r).start_ns for r in src.records_until(T0 + 60)]
    assert len(starts) > 100
    assert starts == sorted(starts)


def test_real_time_release_near_now() -> None:
    stations = default_stations()[:1]
    src = SyntheticSource(stations, seed=3)
    now = time.time()
    assert src.records_until(now) == []  # the start: nothing recorded yet
    later = now + 30.0
    recs = src.records_until(later)
    infos = [record_info(r) for r in recs]
    assert infos
    assert all(i.end_ns <= later * 1e9 for i in infos)
    newest: dict[str, int] = {}
    for i in infos:
        newest[i.channel] = max(newest.get(i.channel, 0), i.end_ns)
    assert len(newest) == 6
    for end in newest.values():  # nothing older than the 4 s flush is held back
        assert later - end / 1e9 <= 4.0 + 0.02
    assert src.records_until(later) == []


def test_records_full_in_a_quake_are_sent_at_the_next_tick() -> None:
    # A quake's samples compress worse than noise: its records fill in less time than the
    # noise records before them did, and a digitizer sends each once it is full.
    stations = default_stations()[:1]
    src = SyntheticSource(stations, seed=3, start=T0, first_event_after=10.0)
    late: list[float] = []
    t = T0
    while t < T0 + 60.0:
        t += 0.2
        for raw in src.records_until(t):
            info = record_info(raw)
            if info.start_ns / 1e9 > T0 + 5.0:  # a channel's first record fills unforeseen
                late.append(t - info.end_ns / 1e9)
    assert src.events
    assert len(late) > 50
    assert max(late) <= 0.2 + 0.011  # a tick and a sample (it was up to 2.6 s)


def test_samples_do_not_depend_on_call_pattern() -> None:
    a = make_records(span=60.0, step=0.5, seed=11)
    b = make_records(span=60.0, step=60.0, seed=11)
    sa, sb = _stream(a.records).merge(), _stream(b.records).merge()
    for tr in sa:
        other = sb.select(id=tr.id)[0]
        n = min(tr.stats.npts, other.stats.npts)
        assert n > 5000
        np.testing.assert_array_equal(tr.data[:n], other.data[:n])


def test_seeds_repeat_and_differ() -> None:
    a = make_records(span=20.0, seed=1).records
    assert a == make_records(span=20.0, seed=1).records
    assert a != make_records(span=20.0, seed=2).records


def test_earthquake_p_onsets_found_by_sta_lta_in_distance_order(made: Made) -> None:
    events = made.source.events
    assert len(events) == 1
    event = events[0]
    assert event.origin_time == T0 + 30.0
    assert 36.0 < event.latitude < 39.5
    assert 70.0 < event.longitude < 75.5
    assert 5.0 <= event.depth_km <= 20.0
    st = _stream(made.records).merge()
    picks = {}
    for station in made.stations:
        tr = st.select(station=station.station, channel="HHZ")[0].copy()
        tr.filter("bandpass", freqmin=1.0, freqmax=20.0)
        cft = classic_sta_lta(tr.data, 50, 1000)
        onsets = trigger_onset(cft, 3.5, 1.0)
        assert len(onsets) >= 1, station.station
        first = tr.stats.starttime.timestamp + onsets[0][0] / tr.stats.sampling_rate
        assert abs(first - event.p_time(station)) < 1.0, station.station
        picks[station.station] = first
    by_distance = sorted(made.stations, key=event.distance_km)
    by_pick = sorted(made.stations, key=lambda s: picks[s.station])
    assert by_pick == by_distance


def test_accelerometers_and_horizontals_see_the_event(made: Made) -> None:
    event = made.source.events[0]
    st = _stream(made.records).merge()
    for station in made.stations:
        p, s = event.p_time(station), event.s_time(station)
        for cha in ("HNZ", "HHN", "HHE"):
            tr = st.select(station=station.station, channel=cha)[0]
            quiet = tr.slice(obspy.UTCDateTime(T0 + 5), obspy.UTCDateTime(T0 + 25)).data
            loud = tr.slice(obspy.UTCDateTime(p), obspy.UTCDateTime(s + 10)).data
            assert np.abs(loud).max() > 10 * quiet.std(), (station.station, cha)
        hhz = st.select(station=station.station, channel="HHZ")[0]
        hhn = st.select(station=station.station, channel="HHN")[0]
        window = (obspy.UTCDateTime(s), obspy.UTCDateTime(s + 5))
        assert np.abs(hhn.slice(*window).data).max() > np.abs(hhz.slice(*window).data).max()


def test_200_sps_accelerometer() -> None:
    station = StationSpec("XX", "TEST", 38.0, 72.0, 1000.0, (ChannelSpec("00", "HNZ", 200.0),))
    src = SyntheticSource([station], seed=5, start=T0)
    st = _stream(src.records_until(T0 + 30))
    assert {tr.stats.sampling_rate for tr in st} == {200.0}
    assert st[0].id == "XX.TEST.00.HNZ"
    assert st.get_gaps() == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChannelSpec("0", "HHZ", 100.0),
        lambda: ChannelSpec("", "HZ", 100.0),
        lambda: ChannelSpec("", "HHZ", 0.0),
        lambda: StationSpec("TOOLONG", "X", 0, 0, 0, ()),
        lambda: SyntheticSource([], seed=1),
        lambda: SyntheticSource(default_stations(), seed=1, event_interval=0.0),
    ],
)
def test_bad_configuration_is_refused(make: Any) -> None:
    with pytest.raises(ConfigurationError):
        make()
