"""The phase associator: events only from picks one hypocentre explains, streamed."""

from __future__ import annotations

import math

import pytest
from obspy.taup import TauPyModel

from detection import (
    LocatorConfig,
    PhasePick,
    Quake,
    QuakeAssociator,
    QuakeAssociatorConfig,
    QuakeUpdate,
    TravelTimeTable,
    distance_km,
)

from ..pamir import NETWORK, T0, taup_time

DEEP = (37.90, 72.40, 150.0)
SHALLOW = (37.30, 71.90, 20.0)


def quake_picks(
    taup: TauPyModel,
    source: tuple[float, float, float],
    origin: float,
    first_key: int,
    phases: str = "PS",
    stations: list[str] | None = None,
) -> list[PhasePick]:
    lat, lon, depth = source
    out = []
    for station in stations or list(NETWORK):
        for phase in phases:
            t = origin + taup_time(taup, phase, station, lat, lon, depth)
            sigma = 0.05 if phase == "P" else 0.1
            out.append(PhasePick(first_key + len(out), station, t, phase, sigma))  # type: ignore[arg-type]
    return out


def feed(assoc: QuakeAssociator, picks: list[PhasePick]) -> tuple[list[QuakeUpdate], QuakeUpdate]:
    """Picks in time order, the data time following them; then the end of data."""
    updates = []
    for pick in sorted(picks, key=lambda p: p.time):
        updates.append(assoc.add(pick))
        updates.append(assoc.close_before(pick.time))
    return updates, assoc.flush()


def finals(updates: list[QuakeUpdate], last: QuakeUpdate) -> list[Quake]:
    events = [e for u in [*updates, last] for e in u.events if e.status == "final"]
    return sorted(events, key=lambda e: e.event_key)


def test_one_quake_is_one_event_updated_as_picks_arrive(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    assoc = QuakeAssociator(NETWORK, pamir_table)
    picks = quake_picks(pamir_taup, DEEP, T0, 0)
    updates, last = feed(assoc, picks)
    seen = [e for u in updates for e in u.events]
    assert {e.event_key for e in seen} == {1}
    first = seen[0]
    assert first.status == "preliminary"
    assert first.version == 1
    assert len(first.picks) == QuakeAssociatorConfig().min_phases  # created at the 7th phase
    versions = [e.version for e in seen]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    (event,) = finals(updates, last)
    assert event.event_key == 1
    assert event.status == "final"
    assert set(event.pick_keys) == {p.key for p in picks}
    assert {p.phase for p in event.picks if p.station == "TJ.SAREZ"} == {"P", "S"}
    o = event.origin
    assert float(distance_km(DEEP[0], DEEP[1], o.latitude, o.longitude)) < 1.0
    assert abs(o.depth_km - DEEP[2]) < 2.0
    assert abs(o.time - T0) < 0.1
    assert last.unassociated == ()


def test_two_overlapping_quakes_are_two_events(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    a = quake_picks(pamir_taup, DEEP, T0, 0)
    b = quake_picks(pamir_taup, SHALLOW, T0 + 4.0, 100)
    assoc = QuakeAssociator(NETWORK, pamir_table)
    updates, last = feed(assoc, a + b)
    events = finals(updates, last)
    assert len(events) == 2
    by_truth = {}
    for event in events:
        keys = set(event.pick_keys)
        assert keys in ({p.key for p in a}, {p.key for p in b})
        by_truth[0 if keys == {p.key for p in a} else 1] = event.origin
    for truth, (lat, lon, depth), t0 in ((0, DEEP, T0), (1, SHALLOW, T0 + 4.0)):
        o = by_truth[truth]
        assert float(distance_km(lat, lon, o.latitude, o.longitude)) < 1.0
        assert abs(o.depth_km - depth) < 2.0
        assert abs(o.time - t0) < 0.1


def test_a_noise_pick_is_left_out_returned_and_moves_nothing(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    picks = quake_picks(pamir_taup, DEEP, T0, 0)
    first_p = min(p.time for p in picks if p.station == "TJ.SAREZ" and p.phase == "P")
    noise = PhasePick(99, "TJ.SAREZ", first_p - 9.0, "P", 0.05)  # 9 s early, as in the issue
    clean = finals(*feed(QuakeAssociator(NETWORK, pamir_table), picks))
    updates, last = feed(QuakeAssociator(NETWORK, pamir_table), [*picks, noise])
    (event,) = finals(updates, last)
    assert 99 not in event.pick_keys
    released = [p for u in [*updates, last] for p in u.unassociated]
    assert released == [noise]
    assert event.origin.time == pytest.approx(clean[0].origin.time, abs=1e-6)


def test_s_picks_never_start_an_event(pamir_table: TravelTimeTable, pamir_taup: TauPyModel) -> None:
    only_s = quake_picks(pamir_taup, DEEP, T0, 0, phases="S")
    updates, last = feed(QuakeAssociator(NETWORK, pamir_table), only_s)
    assert [e for u in [*updates, last] for e in u.events] == []
    released = [p.key for u in [*updates, last] for p in u.unassociated]
    assert sorted(released) == [p.key for p in only_s]


def test_s_picks_complete_an_event_of_few_p_stations(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """Four stations with P and S: the P picks alone are too few, the S picks complete it."""
    near = ["TJ.SAREZ", "TJ.BULUN", "TJ.RUSHN", "TJ.ALICH"]
    picks = quake_picks(pamir_taup, DEEP, T0, 0, stations=near)
    updates, last = feed(QuakeAssociator(NETWORK, pamir_table), picks)
    (event,) = finals(updates, last)
    assert len(event.picks) == 8
    created = next(e for u in updates for e in u.events)
    assert any(p.phase == "S" for p in created.picks)


def test_a_glitch_on_many_stations_at_once_is_no_event(
    pamir_table: TravelTimeTable,
) -> None:
    picks = []
    for k, t in enumerate((T0, T0 + 40.0, T0 + 90.0)):
        for j, station in enumerate(NETWORK):
            picks.append(PhasePick(100 * k + j, station, t + 0.001 * (j % 3), "P", 0.05))
    updates, last = feed(QuakeAssociator(NETWORK, pamir_table), picks)
    assert [e for u in [*updates, last] for e in u.events] == []
    assert len([p for u in [*updates, last] for p in u.unassociated]) == len(picks)


def test_a_late_station_updates_the_event_before_it_is_final(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    picks = quake_picks(pamir_taup, DEEP, T0, 0)
    late = next(p for p in picks if p.station == "TJ.JIRGA" and p.phase == "P")
    on_time = sorted((p for p in picks if p is not late), key=lambda p: p.time)
    assoc = QuakeAssociator(NETWORK, pamir_table)
    for pick in on_time:
        assoc.add(pick)
    (open_event,) = assoc.open_events
    assert late.key not in open_event.pick_keys
    update = assoc.add(late)  # after the S picks of nearer stations
    (changed,) = update.events
    assert changed.event_key == open_event.event_key
    assert changed.version == open_event.version + 1
    assert late.key in changed.pick_keys
    assert changed.status == "preliminary"
    (final,) = assoc.flush().events
    assert final.status == "final"
    assert late.key in final.pick_keys


def test_picks_of_stations_without_coordinates_come_back_at_once(
    pamir_table: TravelTimeTable,
) -> None:
    assoc = QuakeAssociator(NETWORK, pamir_table)
    stranger = PhasePick(1, "XX.NOWHERE", T0, "P", 0.1)
    assert assoc.add(stranger) == QuakeUpdate(unassociated=(stranger,))


def test_bad_picks_and_settings_are_refused(pamir_table: TravelTimeTable) -> None:
    assoc = QuakeAssociator(NETWORK, pamir_table)
    with pytest.raises(ValueError, match="finite time"):
        assoc.add(PhasePick(1, "TJ.SAREZ", math.nan, "P"))
    with pytest.raises(ValueError, match="uncertainty > 0"):
        assoc.add(PhasePick(1, "TJ.SAREZ", T0, "P", 0.0))
    with pytest.raises(ValueError, match="phase must be"):
        assoc.add(PhasePick(1, "TJ.SAREZ", T0, "Pn", 0.1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_phases >= min_stations"):
        QuakeAssociatorConfig(min_phases=3)
    with pytest.raises(ValueError, match="at least min_stations=4 stations"):
        QuakeAssociator(dict(list(NETWORK.items())[:3]), pamir_table)


def test_picks_without_a_phase_are_given_one(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    labelled = quake_picks(pamir_taup, SHALLOW, T0, 0)
    bare = [PhasePick(p.key, p.station, p.time, None, p.uncertainty) for p in labelled]
    updates, last = feed(QuakeAssociator(NETWORK, pamir_table), bare)
    (event,) = finals(updates, last)
    truth = {p.key: p.phase for p in labelled}
    assert {p.key: p.phase for p in event.picks} == truth
    assert not any(p.relabelled for p in event.picks)


def test_a_mislabelled_s_joins_as_s(pamir_table: TravelTimeTable, pamir_taup: TauPyModel) -> None:
    picks = quake_picks(pamir_taup, DEEP, T0, 0)
    k = next(i for i, p in enumerate(picks) if p.station == "TJ.VANJ" and p.phase == "S")
    picks[k] = PhasePick(picks[k].key, "TJ.VANJ", picks[k].time, "P", picks[k].uncertainty)
    (event,) = finals(*feed(QuakeAssociator(NETWORK, pamir_table), picks))
    joined = next(p for p in event.picks if p.key == picks[k].key)
    assert joined.phase == "S"
    assert joined.relabelled


def test_a_glitch_takes_back_the_picks_an_event_took_first(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    picks = quake_picks(pamir_taup, DEEP, T0, 0)
    karak_s = next(p for p in picks if p.station == "TJ.KARAK" and p.phase == "S")
    assoc = QuakeAssociator(NETWORK, pamir_table)
    for pick in sorted((p for p in picks if p is not karak_s), key=lambda p: p.time):
        assoc.add(pick)
    # a glitch on three stations; its first pick comes where KARAK's S is due, and joins
    when = karak_s.time + 0.05
    glitch = [
        PhasePick(900 + i, s, when + 0.001 * i, "P", 0.05)
        for i, s in enumerate(["TJ.KARAK", "TJ.JIRGA", "TJ.ISHKA"])
    ]
    (joined,) = assoc.add(glitch[0]).events
    assert 900 in joined.pick_keys
    assert assoc.add(glitch[1]).events == ()
    (given_back,) = assoc.add(glitch[2]).events
    assert given_back.event_key == joined.event_key
    assert 900 not in given_back.pick_keys
    assert given_back.version == joined.version + 1
    released = assoc.flush().unassociated
    assert {p.key for p in released} == {900, 901, 902}


THREE = {k: NETWORK[k] for k in ("TJ.SAREZ", "TJ.MURGH", "TJ.MANEM")}
"""The default inventory's three stations."""
SPARSE = QuakeAssociatorConfig(min_stations=3, min_phases=3, locator=LocatorConfig(min_phases=5))
"""What ``larza.toml``'s defaults give a three-station network (``associator_config``)."""


@pytest.mark.parametrize("source", [DEEP, SHALLOW], ids=["150 km", "20 km"])
def test_three_stations_make_an_event_located_once_its_s_picks_arrive(
    source: tuple[float, float, float], pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """P at the three stations make an event, not located (three phases say nothing of
    four unknowns) and saying why; the S picks join it (tried by locating afresh: its
    first location is one of many) and with five phases it is located, saying it rests
    on three stations."""
    assoc = QuakeAssociator(THREE, pamir_table, SPARSE)
    picks = quake_picks(pamir_taup, source, T0, 1, stations=list(THREE))
    updates, last = feed(assoc, picks)
    versions = [e for u in [*updates, last] for e in u.events]
    assert {e.event_key for e in versions} == {1}
    first = versions[0]  # at the third P; the shallow quake's nearest S came before it
    assert [p.phase for p in first.picks if p.phase == "P"] == ["P", "P", "P"]
    assert first.origin.status == "not_located"
    n_s = len(first.picks) - 3
    assert first.origin.reason.startswith(
        f"{3 + n_s} phases (3 P, {n_s} S) at 3 stations: a location needs at least 5"
    )
    (final,) = finals(updates, last)
    assert len(final.picks) == 6
    assert final.origin.status == "free"
    assert final.origin.reason.startswith("3 stations only")
    lat, lon, depth = source
    assert float(distance_km(lat, lon, final.origin.latitude, final.origin.longitude)) < 3.0
    assert abs(final.origin.depth_km - depth) < 5.0


def test_three_stations_with_p_only_make_an_event_not_located(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """No S picked: an event of the three P picks all the same (not a group of triggers:
    one hypocentre explains them), stored not located with the reason."""
    assoc = QuakeAssociator(THREE, pamir_table, SPARSE)
    picks = quake_picks(pamir_taup, DEEP, T0, 1, phases="P", stations=list(THREE))
    (final,) = finals(*feed(assoc, picks))
    assert sorted(p.key for p in final.picks) == [1, 2, 3]
    assert not final.origin.located
    assert "3 phases (3 P, 0 S) at 3 stations" in final.origin.reason


def test_three_stations_refuse_p_picks_no_source_explains(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """P picks farther apart in time than waves can travel between the stations make no
    event, and neither does an S alone."""
    assoc = QuakeAssociator(THREE, pamir_table, SPARSE)
    apart = [
        PhasePick(1, "TJ.SAREZ", T0, "P"),
        PhasePick(2, "TJ.MURGH", T0 + 60.0, "P"),
        PhasePick(3, "TJ.MANEM", T0 + 120.0, "P"),
        PhasePick(4, "TJ.SAREZ", T0 + 130.0, "S"),
    ]
    updates, last = feed(assoc, apart)
    assert not [e for u in [*updates, last] for e in u.events]
    assert sorted(p.key for u in [*updates, last] for p in u.unassociated) == [1, 2, 3, 4]


def test_three_stations_two_sensors_each_make_one_event(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """A station's seismometer and accelerometer both pick the quake: their picks make one
    event (the better-picked copy of each arrival), not two."""
    assoc = QuakeAssociator(THREE, pamir_table, SPARSE)
    picks = quake_picks(pamir_taup, DEEP, T0, 1, stations=list(THREE))
    copies = [
        PhasePick(p.key + 100, p.station, p.time + 0.03, p.phase, 2 * p.uncertainty) for p in picks
    ]
    updates, last = feed(assoc, picks + copies)
    assert {e.event_key for u in [*updates, last] for e in u.events} == {1}
    (final,) = finals(updates, last)
    assert len(final.picks) == 6
    assert final.origin.status == "free"
    assert float(distance_km(*DEEP[:2], final.origin.latitude, final.origin.longitude)) < 3.0


def test_quiet_associators_in_one_state_go_on_alike_up_to_their_event_keys(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    """One associator that made an event and one fresh, both quiet in the same state (its
    stations' picks aged out of the live window), make the same events of the same picks:
    their keys go on from each one's ``next_event_key``."""
    seasoned = QuakeAssociator(NETWORK, pamir_table)
    fresh = QuakeAssociator(NETWORK, pamir_table)
    assert fresh.quiet_state() == (-math.inf, ())
    assert fresh.next_event_key == 1
    first = quake_picks(pamir_taup, DEEP, T0, 0)
    for pick in first:
        seasoned.add(pick)
    assert seasoned.quiet_state() is None  # an event is open
    seasoned.close_before(T0 + 120.0)
    assert seasoned.quiet_state() == (T0 + 120.0, tuple(sorted(
        (s, max(p.time for p in first if p.station == s)) for s in NETWORK)))  # fmt: skip
    later = T0 + 120.0 + QuakeAssociatorConfig().live_window_s
    seasoned.close_before(later)
    fresh.close_before(later)
    assert seasoned.quiet_state() == fresh.quiet_state() == (later, ())
    assert (seasoned.next_event_key, fresh.next_event_key) == (2, 1)
    second = quake_picks(pamir_taup, SHALLOW, later + 60.0, 100)
    a, last_a = feed(seasoned, second)
    b, last_b = feed(fresh, second)
    made_a, made_b = finals(a, last_a), finals(b, last_b)
    assert len(made_a) == 1
    assert [(e.event_key - 1, e.version, e.status, e.origin, e.picks) for e in made_a] == [
        (e.event_key, e.version, e.status, e.origin, e.picks) for e in made_b
    ]
