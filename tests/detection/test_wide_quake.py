"""A large quake on a wide, dense network: hundreds of stations pick it within seconds.

The picks are the table's own times (the oracle of the table is tested against TauP
elsewhere) with a little noise: what is tested here is what association does with many
picks at once, not the travel times.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from detection import (
    Observation,
    PhasePick,
    Quake,
    QuakeAssociator,
    QuakeAssociatorConfig,
    StationCoordinates,
    TravelTimeTable,
    distance_km,
    locate,
)

SIDE = 20  # 400 stations 40 km apart: a grid 760 km wide
SOURCE = (33.4, 64.3, 30.0)
T0 = 1_700_000_000.0


def grid_network() -> dict[str, StationCoordinates]:
    return {
        f"XX.S{i:03d}": StationCoordinates(30.0 + 0.36 * (i // SIDE), 60.0 + 0.45 * (i % SIDE), 1.0)
        for i in range(SIDE * SIDE)
    }


def picks_of(
    table: TravelTimeTable, network: dict[str, StationCoordinates], seed: int = 3
) -> list[PhasePick]:
    rng = np.random.default_rng(seed)
    lat, lon, depth = SOURCE
    out = []
    for name, c in network.items():
        d = float(distance_km(lat, lon, c.latitude, c.longitude))
        for is_s, phase in ((False, "P"), (True, "S")):
            t = (
                T0
                + float(table.time(is_s, d, depth))
                + float(table.elevation_delay(is_s, c.elevation_km))
            )
            out.append(PhasePick(len(out), name, t + rng.normal(0, 0.03), phase, 0.05))  # type: ignore[arg-type]
    return sorted(out, key=lambda p: p.time)


def test_every_pick_of_a_network_wide_quake_joins_one_event(pamir_table: TravelTimeTable) -> None:
    # on a dense grid many stations are the same distance from the source: their P picks
    # fall within a few milliseconds of one another, and must not be taken for a glitch
    network = grid_network()
    picks = picks_of(pamir_table, network)
    cfg = QuakeAssociatorConfig(settle_phases=40, relocate_growth=0.2)
    assoc = QuakeAssociator(network, pamir_table, cfg)
    versions: list[Quake] = []
    for pick in picks:
        versions += assoc.add(pick).events
    (final,) = assoc.flush().events
    assert final.status == "final"
    assert set(final.pick_keys) == {p.key for p in picks}
    o = final.origin
    assert float(distance_km(SOURCE[0], SOURCE[1], o.latitude, o.longitude)) < 1.0
    assert abs(o.depth_km - SOURCE[2]) < 3.0
    assert all(p.weight > 0 for p in final.picks)  # the final location uses every phase
    assert o.n_phases == len(picks)

    # a settled event is relocated when its phases grew by a fifth, not at every pick: the
    # picks in between are arrivals of the last origin with weight 0
    relocated = sorted({v.origin.n_phases for v in versions if v.origin.n_phases >= 40})
    assert 5 <= len(relocated) <= 20
    for a, b in itertools.pairwise(relocated):
        assert b >= a * 1.2 - 1
    between = next(v for v in versions if len(v.picks) > v.origin.n_phases)
    unused = [p for p in between.picks if p.weight == 0]
    assert len(unused) == len(between.picks) - between.origin.n_phases
    assert all(math.isfinite(p.residual) and abs(p.residual) < 1.0 for p in unused)


def test_a_version_keeps_the_picks_it_had(pamir_table: TravelTimeTable) -> None:
    # a version's picks are worked out when first read, from what the event held then
    network = grid_network()
    picks = picks_of(pamir_table, network)[:300]
    assoc = QuakeAssociator(network, pamir_table)
    versions: list[tuple[Quake, int]] = []
    for pick in picks:
        for quake in assoc.add(pick).events:
            versions.append((quake, len(assoc.open_events[0].picks)))
    assert len(versions) > 100
    for quake, held in versions:
        assert len(quake.picks) == held
        assert [p.time for p in quake.picks] == sorted(p.time for p in quake.picks)


def test_an_unrelated_pick_among_an_events_simultaneous_picks_takes_none_back(
    pamir_table: TravelTimeTable,
) -> None:
    network = grid_network()
    picks = picks_of(pamir_table, network)
    assoc = QuakeAssociator(network, pamir_table)
    for pick in picks[:200]:
        assoc.add(pick)
    (event,) = assoc.open_events
    # two P picks of the event within a few ms of each other, and a stray pick among them
    p_times = sorted((p.time, p.station) for p in event.picks if p.phase == "P")
    pair = next((a, b) for a, b in itertools.pairwise(p_times) if b[0] - a[0] <= 0.01)
    held = {pair[0][1], pair[1][1]}
    far = next(n for n in network if n not in {p.station for p in event.picks})
    stray = PhasePick(10_000, far, pair[0][0] + 0.001, "P", 0.05)
    update = assoc.add(stray)
    assert all(e.event_key == event.event_key for e in update.events)
    (after,) = assoc.open_events
    assert held <= set(after.stations)
    assert len(after.picks) >= len(event.picks)


def test_thousands_of_phases_locate_from_scratch_in_bounded_memory(
    pamir_table: TravelTimeTable,
) -> None:
    # the coarse grid over the whole network with every phase would be nodes x phases
    # values (here about 60,000 x 800): it searches with the stations that heard it first
    network = grid_network()
    obs = [
        Observation(p.station, p.phase or "P", p.time, p.uncertainty, p.key)
        for p in picks_of(pamir_table, network)
    ]
    origin = locate(obs, network, pamir_table)
    assert origin.status == "free"
    assert origin.n_phases == len(obs)
    assert float(distance_km(SOURCE[0], SOURCE[1], origin.latitude, origin.longitude)) < 1.0
    assert abs(origin.depth_km - SOURCE[2]) < 3.0
