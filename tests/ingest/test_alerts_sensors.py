"""The network alert believes a station's P only when its co-located sensors agree: small
glitches at the three Pamir stations within 2 s, on the seismometers only, raise no alert
and are said to be the sensors' disagreement; the same motion on seismometer and
accelerometer alike raises one (and without accelerometers, the glitches would)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from obspy import Trace
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from detection import TravelTimeTable
from stations.models import AlertVersion

from .test_alerts_worker import GAIN, QUAKE, STATIONS, T0, config, factory, run, vertical

__all__ = ["factory"]

FS = 100.0
HN_GAIN = 80000.0  # the default inventory's accelerometers, counts per m/s^2
SECONDS = 100.0


def burst_velocity(at: float, rng: np.random.Generator) -> np.ndarray:
    """The fault hour's coincident glitch as ground velocity (m/s): 20,000 seismometer counts
    at 6 Hz decaying over 1.5 s, starting ``at`` s (within 2 s at each station)."""
    t = np.arange(round(SECONDS * FS)) / FS
    rel = t - (at + rng.uniform(0, 2))
    inside = (rel >= 0) & (rel < 1.5)
    v = np.zeros_like(t)
    v[inside] = 20_000 * np.exp(-rel[inside] / 0.5) * np.sin(2 * np.pi * 6 * rel[inside])
    return v / GAIN


def traces(rng: np.random.Generator, *, on_hn: bool, with_hn: bool = True) -> list[Trace]:
    out = []
    for station in STATIONS:
        v = burst_velocity(60.0, rng)
        hh = v * GAIN + rng.normal(0, 200, v.size)
        channels = {"HHZ": hh}
        if with_hn:
            acc = np.gradient(v, 1 / FS) if on_hn else np.zeros_like(v)
            channels["HNZ"] = acc * HN_GAIN + rng.normal(0, 80, v.size)
        for code, x in channels.items():
            header = {"network": "TJ", "station": station, "channel": code, "sampling_rate": FS}
            out.append(Trace(np.round(x).astype(np.int32), header={**header, "starttime": T0}))
    return out


def alerts(factory: sessionmaker[Session]) -> list[str]:
    with factory() as s:
        return [v.action for v in s.scalars(select(AlertVersion).order_by(AlertVersion.id))]


@pytest.mark.parametrize(
    ("on_hn", "with_hn", "alerted"),
    [
        pytest.param(False, False, True, id="no-accelerometers-the-glitches-alert"),
        pytest.param(False, True, False, id="seismometers-only-no-alert"),
        pytest.param(True, True, True, id="both-sensors-alert"),
    ],
)
def test_coincident_glitches_on_the_seismometers_only_raise_no_alert(
    factory: sessionmaker[Session],
    table_cache: Path,
    on_hn: bool,
    with_hn: bool,
    alerted: bool,
) -> None:
    rng = np.random.default_rng(17)
    pipeline = run(factory, config(table_cache), traces(rng, on_hn=on_hn, with_hn=with_hn))
    assert pipeline.warning is not None
    said = pipeline.warning.suppressed
    if alerted:
        assert alerts(factory)[:1] == ["created"], dict(said)
        assert said["sensors_disagree"] == 0
    else:
        assert alerts(factory) == [], dict(said)
        assert said["sensors_disagree"] >= 1


@pytest.mark.parametrize("with_hn", [False, True], ids=["seismometers", "both-sensors"])
def test_the_magnitude_is_the_seismometers_while_it_is_on_scale(
    factory: sessionmaker[Session],
    table_cache: Path,
    pamir_table: TravelTimeTable,
    with_hn: bool,
) -> None:
    """A quake recorded by both sensors: the alert's magnitude is the one the seismometers
    give (within 0.02 of the truth here); the accelerometers' 80 counts of noise,
    integrated twice, would make it about 6.0."""
    rng = np.random.default_rng(5)
    hh = [vertical(s, pamir_table, rng) for s in STATIONS]
    hn = []
    for trace in hh if with_hn else []:
        acc = np.gradient(trace.data / GAIN, 1 / FS) * HN_GAIN
        acc += rng.normal(0, 80, acc.size)
        copy = trace.copy()
        copy.stats.channel = "HNZ"
        copy.data = np.round(acc).astype(np.int32)
        hn.append(copy)
    run(factory, config(table_cache), hh + hn)
    with factory() as s:
        versions = s.scalars(select(AlertVersion).order_by(AlertVersion.id)).all()
    assert [v.action for v in versions] == ["created", "ended"]
    assert versions[0].magnitude == pytest.approx(QUAKE[3], abs=0.1)


def test_the_agreement_settings_reach_the_test(
    factory: sessionmaker[Session], table_cache: Path
) -> None:
    """``[alerts.sensors] max_sigma`` so small that no share is ever believed: the
    accelerometers can confirm nothing, the stations are used unconfirmed, and the glitches
    the defaults turn down (above) raise an alert."""
    rng = np.random.default_rng(17)
    base = config(table_cache)
    strict = base.alerts.sensors.model_copy(update={"max_sigma": 1e-6})
    settings = dataclasses.replace(base, alerts=base.alerts.model_copy(update={"sensors": strict}))
    pipeline = run(factory, settings, traces(rng, on_hn=False))
    assert pipeline.warning is not None
    said = pipeline.warning.suppressed
    assert alerts(factory)[:1] == ["created"], dict(said)
    assert said["sensors_disagree"] == 0
