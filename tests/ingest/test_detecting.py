"""Detection over records, as the worker and ``larza detect`` run it: three-component picks,
channels the detector cannot use, bad data and repeated records leave the rest untouched."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from detection import Trigger
from ingest.config import LarzaConfig, parse_config
from ingest.detect.chain import Detecting, Found
from ingest.seedlink.decode import Record
from stations.queries import ChannelKey

T0 = 1_748_779_200.0
FULL_SCALE = 8_388_607.0


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def wavelet(n: int, fs: float, freq: float, decay: float) -> np.ndarray:
    t = np.arange(n) / fs
    return np.exp(-t / decay) * np.sin(2 * np.pi * freq * t)


def station(
    rng: np.random.Generator,
    name: str,
    onset: float,
    *,
    seconds: float = 120.0,
    fs: float = 100.0,
    band: str = "HH",
    codes: str = "ZNE",
) -> dict[ChannelKey, np.ndarray]:
    """A station's channels: noise, a P strong on the vertical, an S 3 s later strong on the
    horizontals."""
    n = int(seconds * fs)
    out = {}
    for c in codes:
        x = rng.normal(0.0, 100.0, n)
        i, j = int(onset * fs), int((onset + 3.0) * fs)
        p, s = {"Z": (3000.0, 600.0), "N": (500.0, 5000.0), "E": (-400.0, 3000.0)}[c]
        freq = min(6.0, fs / 5)
        x[i:] += p * wavelet(n - i, fs, freq, 1.5)
        x[j:] += s * wavelet(n - j, fs, freq / 2, 2.0)
        out[ChannelKey("TJ", name, "", band + c)] = np.round(x)
    return out


def as_records(
    channels: dict[ChannelKey, np.ndarray], fs_of: dict[ChannelKey, float] | None = None
) -> list[Record]:
    """Records of about 4 s of every channel, in order of their end times."""
    out = []
    for key, x in channels.items():
        fs = (fs_of or {}).get(key, 100.0)
        step = max(1, int(4 * fs))
        for a in range(0, x.size, step):
            out.append(Record(key, T0 + a / fs, fs, x[a : a + step].astype(np.float64)))
    return sorted(out, key=lambda r: (r.endtime, str(r.key)))


def run(records: list[Record], config: LarzaConfig | None = None) -> tuple[list[Found], Detecting]:
    detecting = Detecting(config or LarzaConfig())
    found: list[Found] = []

    def keep(f: Found) -> int:
        found.append(f)
        return len(found)

    for record in records:
        detecting.feed(record, keep)
    detecting.finish(keep)
    return found, detecting


def summary(found: list[Found], name: str | None = None) -> list[tuple[str, str | None, float]]:
    return [
        (str(f.key), f.trigger.phase, round(f.trigger.onset_time - T0, 3))
        for f in found
        if name is None or f.key.station == name
    ]


def test_a_three_component_station_gives_a_p_and_an_s(rng: np.random.Generator) -> None:
    found, detecting = run(as_records(station(rng, "SAREZ", 60.0)))
    assert [(str(f.key), f.trigger.phase) for f in found] == [
        ("TJ.SAREZ..HHZ", "P"),
        ("TJ.SAREZ..HHN", "S"),
    ]
    p, s = (f.trigger for f in found)
    assert abs(p.onset_time - (T0 + 60.0)) < 0.05
    assert abs(s.onset_time - (T0 + 63.0)) < 0.2
    assert all(f.profile == "default" for f in found)
    assert detecting.stats()["s_picks"] == 1


def test_bad_channels_and_bad_data_leave_the_others_unchanged(
    rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    good = station(rng, "SAREZ", 60.0)
    alone, _ = run(as_records(good))
    assert len(alone) == 2
    # MURGH: a 20-sps and a 1-sps channel. MANEM: a NaN record and a full-scale spike.
    slow = station(rng, "MURGH", 70.0, fs=20.0, band="BH", codes="Z")
    slower = {ChannelKey("TJ", "MURGH", "", "LHZ"): rng.normal(0.0, 100.0, 120)}
    manem = station(rng, "MANEM", 80.0)
    manem_z = manem[ChannelKey("TJ", "MANEM", "", "HHZ")]
    manem_z[2000:2400] = np.nan  # one whole record
    manem_z[4500] = FULL_SCALE
    rates = dict.fromkeys(slow, 20.0) | dict.fromkeys(slower, 1.0)
    records = as_records({**good, **slow, **slower, **manem}, rates)
    with caplog.at_level(logging.INFO, logger="ingest.detect.chain"):
        found, detecting = run(records)
    assert summary(found, "SAREZ") == summary(alone)
    assert [f.trigger.onset_index for f in found if f.key.station == "SAREZ"] == [
        f.trigger.onset_index for f in alone
    ]
    # The 20-sps vertical is detected on with its band cut to 8 Hz; the 1-sps one is not.
    murgh = summary(found, "MURGH")
    assert [(k, phase) for k, phase, _ in murgh] == [("TJ.MURGH..BHZ", None)]
    assert abs(murgh[0][2] - 70.0) < 0.15
    said = [r.getMessage() for r in caplog.records]
    assert said.count("TJ.MURGH..BHZ: band 1-20 Hz cut to 1-8 Hz for 20 sps") == 1
    assert said.count("TJ.MURGH..LHZ: not detected on: skipped: 1 sps gives an STA window of "
                      "under two samples") == 1  # fmt: skip
    # MANEM: the NaN record restarted its vertical, the spike was masked, the quake found.
    assert [(k, phase) for k, phase, _ in summary(found, "MANEM")] == [
        ("TJ.MANEM..HHZ", "P"),
        ("TJ.MANEM..HHN", "S"),
    ]
    stats = detecting.stats()
    assert (stats["nonfinite"], stats["spikes"], stats["restarts"]) == (400, 1, 1)
    assert stats["skipped"] == 30  # the 1-sps channel's records


def test_repeated_and_overlapping_records_are_fed_once(rng: np.random.Generator) -> None:
    channels = station(rng, "SAREZ", 60.0)
    records = as_records(channels)
    once, _ = run(records)
    # Every record twice, and the same data cut again into records that overlap them by half.
    shifted = [
        Record(key, T0 + a / 100.0, 100.0, x[a : a + 400].astype(np.float64))
        for key, x in channels.items()
        for a in range(200, x.size, 400)
    ]
    again = sorted(records + records + shifted, key=lambda r: (r.endtime, str(r.key)))
    twice, detecting = run(again)
    assert summary(twice) == summary(once)
    # The repeats, and each channel's last re-cut record, which ends where its data end.
    assert detecting.counts["repeated"] == len(records) + len(channels)
    assert detecting.stats()["overlaps"] > 0


def test_records_older_than_what_was_stored_are_not_fed(rng: np.random.Generator) -> None:
    records = as_records(station(rng, "SAREZ", 60.0))
    detecting = Detecting(LarzaConfig())
    ends = {r.key: T0 + 90.0 for r in records}
    detecting.seen_until(ends)
    found: list[Found] = []
    for record in records:
        detecting.feed(record, lambda f: found.append(f) or len(found))
    assert detecting.counts["repeated"] == sum(r.endtime <= T0 + 90.0 for r in records)
    assert found == []  # the quake at 60 s was processed before the restart


def test_a_failing_channel_is_restarted_and_the_others_go_on(
    rng: np.random.Generator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = as_records({**station(rng, "SAREZ", 60.0), **station(rng, "MANEM", 80.0)})
    alone, _ = run([r for r in records if r.key.station == "SAREZ"])
    from detection import SensorPicker

    feed = SensorPicker.feed
    target = next(r for r in records if r.key.channel == "HHZ" and r.starttime >= T0 + 30.0)
    failed = []

    def flaky(
        self: SensorPicker, code: str, samples: np.ndarray, start: float
    ) -> list[tuple[str, Trigger]]:
        if samples is target.data:
            failed.append(code)
            raise RuntimeError("a bug")
        return feed(self, code, samples, start)

    monkeypatch.setattr(SensorPicker, "feed", flaky)
    with caplog.at_level(logging.ERROR, logger="ingest.detect.chain"):
        found, detecting = run(records)
    assert failed
    assert detecting.counts["detector_errors"] == 1
    assert sum("detection failed" in r.getMessage() for r in caplog.records) == 1
    broken = target.key.station
    other = "MANEM" if broken == "SAREZ" else "SAREZ"
    expected = alone if other == "SAREZ" else run([r for r in records if r.key.station == other])[0]
    assert summary(found, other) == summary(expected)


def test_a_disabled_channel_is_not_detected_on(rng: np.random.Generator) -> None:
    config = parse_config({"detector": {"TJ.SAREZ..HHN": {"enabled": False}}})
    found, detecting = run(as_records(station(rng, "SAREZ", 60.0)), config)
    assert [(str(f.key), f.trigger.phase) for f in found] == [
        ("TJ.SAREZ..HHZ", "P"),
        ("TJ.SAREZ..HHE", "S"),
    ]
    assert detecting.counts["skipped"] > 0


def test_s_picks_join_their_stations_event_and_never_start_one(
    rng: np.random.Generator,
) -> None:
    channels = {
        **station(rng, "SAREZ", 60.0),
        **station(rng, "MURGH", 61.0),
        **station(rng, "MANEM", 62.0),
    }
    config = parse_config({"association": {"min_stations": 3, "travel_times": False}})
    detecting = Detecting(config)
    found: list[tuple[int, Trigger]] = []

    def keep(f: Found) -> int:
        found.append((len(found) + 1, f.trigger))
        return len(found)

    events = []
    for record in as_records(channels):
        events += detecting.feed(record, keep)
    events += detecting.finish(keep)
    final = [e for e in events if e.status == "final"]
    assert len(final) == 1
    phases = {key: t.phase for key, t in found}
    assert sorted(phases[k] for k in final[0].pick_keys) == ["P", "P", "P", "S", "S", "S"]
    assert final[0].coincidence_sum == 3.0
    assert final[0].time == pytest.approx(min(t.onset_time for _, t in found), abs=1e-6)
