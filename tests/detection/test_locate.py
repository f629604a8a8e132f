"""The locator on exact arrivals from TauP itself, with noise, outliers and too few phases."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from obspy.taup import TauPyModel

from detection import (
    LocatorConfig,
    Observation,
    Origin,
    TravelTimeTable,
    azimuth_deg,
    distance_km,
    locate,
)

from ..pamir import NETWORK, T0, taup_time

SOURCES = {
    "inside, 10 km": (37.90, 72.40, 10.0),
    "inside, 150 km": (37.90, 72.40, 150.0),
    "edge, 10 km": (36.85, 73.45, 10.0),
    "edge, 150 km": (36.60, 70.90, 150.0),
}


def arrivals(
    taup: TauPyModel, source: tuple[float, float, float], phases: str = "PS"
) -> list[Observation]:
    lat, lon, depth = source
    out = []
    for station in NETWORK:
        for phase in phases:
            t = T0 + taup_time(taup, phase, station, lat, lon, depth)
            out.append(Observation(station, phase, t, 0.05 if phase == "P" else 0.1, len(out)))  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("name", SOURCES)
def test_exact_arrivals_give_back_the_source(
    name: str, pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    lat, lon, depth = SOURCES[name]
    origin = locate(arrivals(pamir_taup, SOURCES[name]), NETWORK, pamir_table)
    # the table follows TauP within a few hundredths of a second: a few hundred metres
    assert origin.status == "free"
    assert float(distance_km(lat, lon, origin.latitude, origin.longitude)) < 1.0
    assert abs(origin.depth_km - depth) < 2.0
    assert abs(origin.time - T0) < 0.1
    assert origin.rms < 0.05
    assert (origin.n_phases, origin.n_stations) == (22, 11)
    assert all(abs(a.residual) < 0.1 and a.weight == 1.0 for a in origin.arrivals)


def test_the_report_says_where_the_stations_are(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    inside = locate(arrivals(pamir_taup, SOURCES["inside, 150 km"]), NETWORK, pamir_table)
    edge = locate(arrivals(pamir_taup, SOURCES["edge, 150 km"]), NETWORK, pamir_table)
    assert inside.azimuthal_gap < 90 < 180 < edge.azimuthal_gap
    lat, lon, _ = SOURCES["edge, 150 km"]
    nearest = min(float(distance_km(lat, lon, c.latitude, c.longitude)) for c in NETWORK.values())
    assert edge.min_distance_km == pytest.approx(nearest, abs=1.0)
    assert inside.quality == "A"
    assert edge.quality in "CD"
    by_station = {a.station: a for a in inside.arrivals}
    c = NETWORK["TJ.MURGH"]
    assert by_station["TJ.MURGH"].azimuth == pytest.approx(
        float(azimuth_deg(inside.latitude, inside.longitude, c.latitude, c.longitude)), abs=0.1
    )


def test_errors_grow_with_the_pick_uncertainty_and_cover_the_truth(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """Over noisy realisations the 68 % ellipse holds the true epicentre about 68 % of the
    time and the depth error is about the spread of the depths."""
    rng = np.random.default_rng(3)
    lat, lon, depth = SOURCES["inside, 150 km"]
    exact = arrivals(pamir_taup, SOURCES["inside, 150 km"])
    inside, depths, reported = 0, [], []
    runs = 25
    for _ in range(runs):
        noisy = [
            Observation(o.station, o.phase, o.time + rng.normal(0, o.uncertainty), o.uncertainty)
            for o in exact
        ]
        origin = locate(noisy, NETWORK, pamir_table)
        assert origin.semi_major_km is not None
        assert origin.depth_error_km is not None
        north = (origin.latitude - lat) * 111.19
        east = (origin.longitude - lon) * 111.19 * math.cos(math.radians(lat))
        a = math.radians(origin.ellipse_azimuth or 0.0)
        along = east * math.sin(a) + north * math.cos(a)
        across = east * math.cos(a) - north * math.sin(a)
        assert origin.semi_minor_km is not None
        inside += (along / origin.semi_major_km) ** 2 + (across / origin.semi_minor_km) ** 2 <= 1
        depths.append(origin.depth_km - depth)
        reported.append(origin.depth_error_km)
    assert 0.4 <= inside / runs <= 0.95
    assert 0.5 < float(np.std(depths)) / float(np.mean(reported)) < 2.0
    wider = [Observation(o.station, o.phase, o.time, 4 * o.uncertainty) for o in exact]
    assert locate(wider, NETWORK, pamir_table).semi_major_km > 3 * origin.semi_major_km  # type: ignore[operator]


def test_a_wild_pick_is_down_weighted(pamir_table: TravelTimeTable, pamir_taup: TauPyModel) -> None:
    lat, lon, _depth = SOURCES["inside, 10 km"]
    picks = arrivals(pamir_taup, SOURCES["inside, 10 km"])
    wild = picks[4]
    picks[4] = Observation(wild.station, wild.phase, wild.time + 3.0, wild.uncertainty, wild.key)
    origin = locate(picks, NETWORK, pamir_table)
    assert float(distance_km(lat, lon, origin.latitude, origin.longitude)) < 1.0
    bad = next(a for a in origin.arrivals if a.key == wild.key)
    assert bad.residual == pytest.approx(3.0, abs=0.2)
    assert bad.weight < 0.1


def test_few_phases_fix_the_depth_or_refuse(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    picks = arrivals(pamir_taup, SOURCES["inside, 10 km"], phases="P")
    four = locate(picks[:4], NETWORK, pamir_table)
    assert four.status == "fixed_depth"
    assert four.depth_km == LocatorConfig().fixed_depth_km
    assert four.depth_error_km is None
    assert "depth fixed at 10 km: 4 phases at 4 stations" in four.reason
    two = locate(picks[:2], NETWORK, pamir_table)
    assert two.status == "not_located"
    assert not two.located
    assert "2 phases (2 P, 0 S) at 2 stations" in two.reason
    assert math.isnan(two.latitude)
    assert two.quality == "-"
    same_station = [picks[0], Observation(picks[0].station, "S", picks[0].time + 5, 0.1)]
    assert locate(same_station * 2, NETWORK, pamir_table).status == "not_located"


def test_a_start_gives_the_same_answer_as_the_whole_search(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    picks = arrivals(pamir_taup, SOURCES["inside, 150 km"])
    whole = locate(picks, NETWORK, pamir_table)
    near = locate(picks, NETWORK, pamir_table, start=(37.7, 72.2, 120.0))
    assert float(distance_km(whole.latitude, whole.longitude, near.latitude, near.longitude)) < 0.3
    assert near.depth_km == pytest.approx(whole.depth_km, abs=0.5)


def test_bad_observations_are_named(pamir_table: TravelTimeTable) -> None:
    with pytest.raises(ValueError, match=r"no coordinates for station 'TJ\.NOWHERE'"):
        locate([Observation("TJ.NOWHERE", "P", T0)] * 5, NETWORK, pamir_table)
    with pytest.raises(ValueError, match="uncertainty > 0"):
        locate([Observation("TJ.SAREZ", "P", T0, 0.0)], NETWORK, pamir_table)


THREE = {k: NETWORK[k] for k in ("TJ.SAREZ", "TJ.MURGH", "TJ.MANEM")}
"""The default inventory's three stations."""


def _inside_ellipse(origin: Origin, lat: float, lon: float) -> float:
    """The true epicentre's distance from the origin in units of the 68 % ellipse (<= 1:
    inside)."""
    assert origin.semi_major_km is not None
    assert origin.semi_minor_km is not None
    d = float(distance_km(origin.latitude, origin.longitude, lat, lon))
    az = math.radians(float(azimuth_deg(origin.latitude, origin.longitude, lat, lon)))
    axis = math.radians(origin.ellipse_azimuth or 0.0)
    along, across = d * math.cos(az - axis), d * math.sin(az - axis)
    return math.hypot(along / origin.semi_major_km, across / origin.semi_minor_km)


def test_three_stations_locate_with_errors_that_cover_the_truth(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """P and S at three stations (six phases for four unknowns): a free solution that says
    it rests on three stations, graded no better than C, whose 68 % ellipse and depth error
    (from the likelihood on a grid, the model's error included) hold the true source about
    as often as they claim when the picks scatter by their uncertainties."""
    rng = np.random.default_rng(5)
    cfg = LocatorConfig(p_model_error_s=0.2, s_model_error_s=0.35)
    lat, lon, depth = 37.90, 72.40, 150.0
    exact = [
        Observation(st, ph, T0 + taup_time(pamir_taup, ph, st, lat, lon, depth), sigma, k)  # type: ignore[arg-type]
        for k, (st, ph, sigma) in enumerate(
            (st, ph, 0.05 if ph == "P" else 0.1) for st in THREE for ph in "PS"
        )
    ]
    inside = within_depth = 0
    runs = 12
    for _ in range(runs):
        noisy = [
            replace(o, time=o.time + rng.normal(0, 0.2 if o.phase == "P" else 0.35)) for o in exact
        ]
        origin = locate(noisy, THREE, pamir_table, cfg)
        assert origin.status == "free"
        assert origin.reason.startswith("3 stations only: 6 phases for 4 unknowns")
        assert origin.quality in "CD"
        assert origin.depth_error_km is not None
        inside += _inside_ellipse(origin, lat, lon) <= 1.0
        within_depth += abs(origin.depth_km - depth) <= origin.depth_error_km
    # 68 % claimed, so about 8 of 12 (the seed's runs: 9 and 11); the linearised errors,
    # which the likelihood's replace, held the truth in 6 and 7
    assert inside >= 8, inside
    assert within_depth >= 8, within_depth


def test_three_stations_linearised_errors_are_what_the_likelihood_replaces(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """The likelihood's errors are never the linearised ones' fraction: with exact picks
    they agree on the scale (both from the picks' uncertainties), and the likelihood's are
    what the origin reports unless switched off."""
    lat, lon, depth = 37.90, 72.40, 150.0
    obs = [
        Observation(st, ph, T0 + taup_time(pamir_taup, ph, st, lat, lon, depth), 0.1, k)  # type: ignore[arg-type]
        for k, (st, ph) in enumerate((st, ph) for st in THREE for ph in "PS")
    ]
    scanned = locate(obs, THREE, pamir_table)
    linear = locate(obs, THREE, pamir_table, LocatorConfig(likelihood_errors=False))
    assert (scanned.latitude, scanned.longitude) == (linear.latitude, linear.longitude)
    assert scanned.semi_major_km is not None
    assert linear.semi_major_km is not None
    assert scanned.depth_error_km is not None
    assert linear.depth_error_km is not None
    assert 0.5 < scanned.semi_major_km / linear.semi_major_km < 5.0
    assert scanned.depth_error_km >= 0.5 * linear.depth_error_km
    assert float(distance_km(lat, lon, scanned.latitude, scanned.longitude)) < 2.0
