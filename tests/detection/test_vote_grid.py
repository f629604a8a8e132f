"""The association's voting grid on a wide network: bounded memory, the same quakes."""

from __future__ import annotations

import numpy as np
import pytest

from detection import (
    PhasePick,
    QuakeAssociator,
    QuakeAssociatorConfig,
    StationCoordinates,
    TravelTimeTable,
    distance_km,
)
from detection._vote_grid import _BUDGET_BYTES, VotingGrid

KM_PER_DEG = 111.19492664455873


def grid_network(n: int, spacing_km: float) -> dict[str, StationCoordinates]:
    """n x n stations ``spacing_km`` apart around 38 N, 72 E."""
    out = {}
    for i in range(n):
        for j in range(n):
            lat = 36.0 + i * spacing_km / KM_PER_DEG
            lon = 66.0 + j * spacing_km / (KM_PER_DEG * np.cos(np.radians(38.0)))
            out[f"XX.S{i:02d}{j:02d}"] = StationCoordinates(lat, lon, 0.0)
    return out


def picks_of(
    network: dict[str, StationCoordinates],
    table: TravelTimeTable,
    source: tuple[float, float, float],
    origin: float,
    reach_km: float,
    first_key: int,
) -> list[PhasePick]:
    """P and S picks (exact table times) at the stations within ``reach_km`` of the source."""
    lat, lon, depth = source
    out: list[PhasePick] = []
    for name, c in network.items():
        d = float(distance_km(lat, lon, c.latitude, c.longitude))
        if d > reach_km:
            continue
        for phase, is_s, sigma in (("P", False, 0.05), ("S", True, 0.1)):
            t = origin + float(table.time(is_s, d, depth))
            out.append(PhasePick(first_key + len(out), name, t, phase, sigma))  # type: ignore[arg-type]
    return out


def test_a_window_holds_the_table_times_and_nothing_beyond_reach(
    pamir_table: TravelTimeTable,
) -> None:
    lat = np.array([38.0, 38.0, 38.0])
    lon = np.array([70.0, 71.0, 80.0])  # the third ~880 km east: beyond a 300 km reach
    grid = VotingGrid(
        lat,
        lon,
        np.zeros(3),
        pamir_table,
        spacing_km=15.0,
        depth_step_km=20.0,
        margin_km=200.0,
        max_depth_km=300.0,
        reach_km=300.0,
    )
    window = grid.window(0, [0, 1, 2])
    assert np.isnan(window.time[:, 2]).all()
    assert not np.isnan(window.time[:, 0]).any()
    for index in (0, window.time.shape[0] // 2, window.time.shape[0] - 1):
        node_lat, node_lon, depth = window.node(index)
        for k in (0, 1):
            d = float(distance_km(node_lat, node_lon, lat[k], lon[k]))
            if d > 300.0:  # a corner of station 0's box may lie beyond station 1's
                continue
            expected = float(pamir_table.time(False, d, depth))
            assert window.time[index, k] == pytest.approx(expected, abs=1e-3)


def test_a_wide_network_locates_quakes_far_apart_within_a_bounded_grid(
    pamir_table: TravelTimeTable,
) -> None:
    network = grid_network(24, 50.0)  # 1,150 km a side, 576 stations
    config = QuakeAssociatorConfig(vote_reach_km=400.0)
    assoc = QuakeAssociator(network, pamir_table, config)
    sources = [(36.3, 66.4, 20.0), (46.0, 79.5, 120.0)]  # opposite corners
    picks = []
    for n, source in enumerate(sources):
        picks += picks_of(network, pamir_table, source, 1000.0 + 200.0 * n, 130.0, 1000 * n)
    finals = []
    for pick in sorted(picks, key=lambda p: p.time):
        finals += [e for e in assoc.add(pick).events if e.status == "final"]
        finals += [e for e in assoc.close_before(pick.time).events if e.status == "final"]
    finals += [e for e in assoc.flush().events if e.status == "final"]
    assert len(finals) == 2
    for event, (lat, lon, depth) in zip(finals, sources, strict=True):
        o = event.origin
        assert float(distance_km(lat, lon, o.latitude, o.longitude)) < 2.0
        assert abs(o.depth_km - depth) < 5.0
    # the whole grid would hold nodes x stations x 16 bytes: 1.6 GB here
    assert assoc.voting_grid_bytes <= _BUDGET_BYTES
