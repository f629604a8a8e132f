"""The bound that spares a three-station association its hopeless locations: it never
refuses arrivals that a location fits (checked against the location itself), and the
associator's events are the same with it and without it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from obspy.taup import TauPyModel

from detection import (
    LocatorConfig,
    Observation,
    PhasePick,
    QuakeAssociator,
    TravelTimeTable,
    distance_km,
    locate,
)
from detection._feasible import SolutionBound

from ..pamir import T0
from .test_quake_association import SHALLOW, SPARSE, THREE, feed, quake_picks

WORK = LocatorConfig(min_phases=3, min_phases_free_depth=4, likelihood_errors=False)
"""The locator the associator tries a pick with (``QuakeAssociator._work_cfg``)."""


def _time(
    table: TravelTimeTable, source: tuple[float, float, float], station: str, phase: str
) -> float:
    lat, lon, depth = source
    c = THREE[station]
    d = distance_km(lat, lon, c.latitude, c.longitude)
    is_s = phase == "S"
    return float(table.time(is_s, d, depth) + table.elevation_delay(is_s, c.elevation_km))


def _tolerance(o: Observation) -> float:
    return 3.0 * math.hypot(o.uncertainty, 0.35 if o.phase == "S" else 0.2)


def test_the_bound_never_refuses_what_a_location_fits(
    pamir_table: TravelTimeTable, rng: np.random.Generator
) -> None:
    """Three P picks of a source anywhere in the region and an S at one of the stations,
    seconds off or too soon after its P for the P picks' moveout (as in the bench's
    recordings): whenever the location (as the associator makes it) has every residual
    within its tolerance, the bound said it may; it refuses the S too soon."""
    bound = SolutionBound(pamir_table)
    fitted = refused = 0
    for i in range(24):
        source = (rng.uniform(36.8, 39.2), rng.uniform(71.0, 74.5), rng.uniform(0.0, 200.0))
        s_at = list(THREE)[i % 3]
        obs = [
            Observation(name, "P", T0 + _time(pamir_table, source, name, "P") + noise, 0.05, k)
            for k, (name, noise) in enumerate(zip(THREE, rng.uniform(-0.2, 0.2, 3), strict=True))
        ]
        s_time = T0 + _time(pamir_table, source, s_at, "S") + rng.uniform(-3.0, 3.0)
        if i % 2:  # an S that follows its P too soon for the P picks' moveout
            s_time = obs[list(THREE).index(s_at)].time + 0.9
        obs.append(Observation(s_at, "S", s_time, 0.1, 9))
        tolerances = [_tolerance(o) for o in obs]
        origin = locate(obs, THREE, pamir_table, WORK)
        fits = origin.located and all(
            abs(a.residual) <= tol for a, tol in zip(origin.arrivals, tolerances, strict=True)
        )
        may = bound.may_fit(obs, tolerances, THREE, WORK)
        assert may or not fits, (source, s_time - T0)
        fitted += fits
        refused += not may
    assert fitted >= 8
    assert refused >= 8
    p_times = {"TJ.SAREZ": 0.0, "TJ.MURGH": 2.5, "TJ.MANEM": 4.0}
    bench = [Observation(n, "P", T0 + t, 0.05, k) for k, (n, t) in enumerate(p_times.items())]
    bench.append(Observation("TJ.SAREZ", "S", T0 + 0.92, 0.1, 9))
    assert not bound.may_fit(bench, [_tolerance(o) for o in bench], THREE, WORK)


def test_three_stations_associate_the_same_with_and_without_the_bound(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quake with its S picks, one whose S come 0.9 s after each P (as in the bench's
    recordings: no source explains them with the P picks) and a pick of noise: every
    update is the same when the bound is never consulted, and the bound did refuse."""
    good = quake_picks(pamir_taup, SHALLOW, T0, 1, stations=list(THREE))
    bad_p = quake_picks(pamir_taup, (37.9, 72.8, 15.0), T0 + 300.0, 20, "P", list(THREE))
    bad_s = [PhasePick(p.key + 10, p.station, p.time + 0.92, "S", 0.1) for p in bad_p]
    noise = [PhasePick(40, "TJ.MURGH", T0 + 312.0, "S", 0.1)]
    picks = good + bad_p + bad_s + noise

    answers: list[bool] = []
    real = SolutionBound.may_fit

    def counted(self: SolutionBound, *args: object, **kwargs: object) -> bool:
        answer = real(self, *args, **kwargs)  # type: ignore[arg-type]
        answers.append(answer)
        return answer

    monkeypatch.setattr(SolutionBound, "may_fit", counted)
    with_bound = feed(QuakeAssociator(THREE, pamir_table, SPARSE), picks)
    monkeypatch.setattr(SolutionBound, "may_fit", lambda *args, **kwargs: True)
    without = feed(QuakeAssociator(THREE, pamir_table, SPARSE), picks)
    assert repr(with_bound) == repr(without)
    assert answers.count(False) >= 3
    events = {e.event_key for u in [*with_bound[0], with_bound[1]] for e in u.events}
    assert events == {1, 2}
