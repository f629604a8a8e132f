"""Network association: distinct stations within a window make one event."""

from __future__ import annotations

import math

import pytest

from detection import Associator, NetworkEvent, Pick

T0 = 1_748_779_200.0


def pick(station: str, dt: float, key: int, channel: str = "HHZ") -> Pick:
    return Pick(station=f"TJ.{station}", channel=channel, time=T0 + dt, peak_ratio=5.0, key=key)


def offer(assoc: Associator, *picks: Pick) -> list[NetworkEvent]:
    out: list[NetworkEvent] = []
    for p in picks:
        out += assoc.add(p)
    return out


def test_three_stations_with_moveout_make_one_event_updated_by_a_late_station() -> None:
    assoc = Associator(window=40.0, min_stations=3)
    assert assoc.add(pick("SAREZ", 0.0, 1)) == []
    assert assoc.add(pick("MURGH", 5.0, 2)) == []
    (event,) = assoc.add(pick("MANEM", 8.0, 3))
    assert event.stations == ("TJ.MANEM", "TJ.MURGH", "TJ.SAREZ")
    assert event.time == T0
    assert event.duration == pytest.approx(8.0)
    assert event.coincidence_sum == 3.0
    assert event.pick_keys == (1, 2, 3)
    assert event.status == "preliminary"
    (late,) = assoc.add(pick("KHORG", 21.0, 4))
    assert late.event_key == event.event_key
    assert late.stations == ("TJ.KHORG", "TJ.MANEM", "TJ.MURGH", "TJ.SAREZ")
    assert late.duration == pytest.approx(21.0)
    assert assoc.open_events == (late,)


def test_one_station_on_several_channels_makes_no_event() -> None:
    assoc = Associator(window=40.0, min_stations=3)
    picks = [pick("SAREZ", 0.01 * i, i, channel) for i, channel in enumerate(["HHZ", "HHN", "HHE"])]
    picks += [pick("SAREZ", 1.0, 7, "HNZ")]
    assert offer(assoc, *picks) == []
    assert assoc.close_before(T0 + 1000.0) == []


def test_channels_of_a_station_count_once_but_all_keys_are_kept() -> None:
    assoc = Associator(window=40.0, min_stations=3)
    offer(assoc, pick("SAREZ", 0.3, 1, "HHN"), pick("SAREZ", 0.1, 2, "HHZ"))
    assert offer(assoc, pick("MURGH", 4.0, 3)) == []
    (event,) = offer(assoc, pick("MANEM", 6.0, 4))
    assert event.coincidence_sum == 3.0
    assert event.pick_keys == (2, 1, 3, 4)
    assert event.time == T0 + 0.1


def test_two_separate_quakes_make_two_events() -> None:
    assoc = Associator(window=40.0, min_stations=3)
    first = offer(assoc, pick("SAREZ", 0.0, 1), pick("MURGH", 5.0, 2), pick("MANEM", 8.0, 3))
    second = offer(assoc, pick("SAREZ", 300.0, 4), pick("MURGH", 304.0, 5), pick("MANEM", 309.0, 6))
    assert len(first) == len(second) == 1
    assert second[0].event_key > first[0].event_key
    assert second[0].pick_keys == (4, 5, 6)


def test_out_of_order_picks_join_the_same_event() -> None:
    assoc = Associator(window=40.0, min_stations=3)
    assert offer(assoc, pick("MANEM", 8.0, 3), pick("MURGH", 5.0, 2)) == []
    (event,) = assoc.add(pick("SAREZ", 0.0, 1))
    assert event.time == T0
    assert event.pick_keys == (1, 2, 3)


def test_picks_further_apart_than_the_window_do_not_associate() -> None:
    assoc = Associator(window=10.0, min_stations=3)
    assert offer(assoc, pick("SAREZ", 0.0, 1), pick("MURGH", 6.0, 2), pick("MANEM", 11.0, 3)) == []


def test_close_before_finalizes_and_drops_old_picks() -> None:
    assoc = Associator(window=40.0, min_stations=3)
    (event,) = offer(assoc, pick("SAREZ", 0.0, 1), pick("MURGH", 5.0, 2), pick("MANEM", 8.0, 3))
    offer(assoc, pick("SAREZ", 100.0, 4))  # a candidate that never becomes an event
    assert assoc.close_before(T0 + 39.0) == []
    (final,) = assoc.close_before(T0 + 41.0)
    assert final.status == "final"
    assert final.event_key == event.event_key
    assert final.pick_keys == event.pick_keys
    assert assoc.open_events == ()
    # a pick whose window has closed is ignored rather than opening a new group
    assert assoc.add(pick("KHORG", 0.5, 9)) == []
    assert assoc.close_before(T0 + 1000.0) == []


def test_the_same_pick_twice_changes_nothing() -> None:
    assoc = Associator(window=40.0, min_stations=3)
    offer(assoc, pick("SAREZ", 0.0, 1), pick("MURGH", 5.0, 2), pick("MANEM", 8.0, 3))
    assert assoc.add(pick("MANEM", 8.0, 3)) == []


def test_weights_set_the_coincidence_sum() -> None:
    assoc = Associator(window=40.0, min_stations=3, weights={"TJ.SAREZ": 2.0, "TJ.MANEM": 0.5})
    assert assoc.threshold == 3.0
    assert offer(assoc, pick("MANEM", 0.0, 1), pick("MURGH", 2.0, 2)) == []
    (event,) = assoc.add(pick("SAREZ", 3.0, 3))
    assert event.coincidence_sum == 3.5
    other = Associator(window=40.0, min_stations=3, weights={"TJ.SAREZ": 2.0})
    (event,) = offer(other, pick("SAREZ", 0.0, 1), pick("MURGH", 2.0, 2))
    assert event.stations == ("TJ.MURGH", "TJ.SAREZ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0.0}, "window=0.0"),
        ({"window": math.inf}, "window=inf"),
        ({"min_stations": 0}, "min_stations=0"),
        ({"weights": {"TJ.SAREZ": -1.0}}, r"weights\['TJ.SAREZ'\]=-1.0"),
    ],
)
def test_associator_refuses_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Associator(**kwargs)  # type: ignore[arg-type]


def test_associator_refuses_a_pick_without_a_time() -> None:
    with pytest.raises(ValueError, match="time=nan"):
        Associator().add(pick("SAREZ", math.nan, 1))


POSITIONS = {
    "TJ.SAREZ": (38.27, 72.60),
    "TJ.MURGH": (38.17, 73.96),
    "TJ.MANEM": (37.49, 71.55),
    "TJ.KHORG": (37.49, 71.55 + 0.3),
}


def _p_time(lat: float, lon: float, station: str, depth_km: float = 10.0) -> float:
    """P travel time at 6 km/s from a hypocentre, the way the drill feed makes its quakes."""
    s_lat, s_lon = POSITIONS[station]
    km_lat = 111.2 * (lat - s_lat)
    km_lon = 111.2 * math.cos(math.radians(lat)) * (lon - s_lon)
    return math.sqrt(km_lat**2 + km_lon**2 + depth_km**2) / 6.0


def test_onsets_too_far_apart_for_the_distance_do_not_associate() -> None:
    # SAREZ-MURGH is about 120 km: no first arrival takes 30 s between them at 6 km/s.
    picks = (pick("SAREZ", 0.0, 1), pick("MURGH", 30.0, 2))
    assert len(offer(Associator(window=40.0, min_stations=2), *picks)) == 1
    checked = Associator(window=40.0, min_stations=2, positions=POSITIONS)
    assert offer(checked, *picks) == []
    # 15 s is possible (a quake beyond SAREZ, away from MURGH).
    again = Associator(window=40.0, min_stations=2, positions=POSITIONS)
    assert len(offer(again, pick("SAREZ", 0.0, 1), pick("MURGH", 15.0, 2))) == 1


def test_a_quake_with_moveout_associates_and_a_stray_trigger_stays_out() -> None:
    lat, lon = 38.0, 72.3  # between SAREZ and MANEM
    times = {s: _p_time(lat, lon, s) for s in ("TJ.SAREZ", "TJ.MURGH", "TJ.MANEM")}
    assoc = Associator(window=40.0, min_stations=3, positions=POSITIONS)
    picks = [
        Pick(s, "HHZ", T0 + t, 6.0, key) for key, (s, t) in enumerate(sorted(times.items()), 1)
    ]
    (*_, event) = offer(assoc, *picks)
    assert event.stations == ("TJ.MANEM", "TJ.MURGH", "TJ.SAREZ")
    # A noise trigger at KHORG (26 km from MANEM) 20 s after MANEM's onset: not this quake.
    stray = Pick("TJ.KHORG", "HHZ", T0 + times["TJ.MANEM"] + 20.0, 4.0, 9)
    assert assoc.add(stray) == []
    (final,) = assoc.close_before(T0 + 1000.0)
    assert 9 not in final.pick_keys


def test_other_picks_of_a_station_in_the_event_still_join() -> None:
    assoc = Associator(window=40.0, min_stations=2, positions=POSITIONS)
    offer(assoc, pick("SAREZ", 0.0, 1), pick("MURGH", 19.0, 2))
    (event,) = offer(assoc, pick("MURGH", 33.0, 3, "HHN"))  # MURGH's S: same station
    assert event.pick_keys == (1, 2, 3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"velocity": 0.0}, "velocity=0.0"), ({"tolerance": -1.0}, "tolerance=-1.0")],
)
def test_travel_time_settings_are_checked(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Associator(**kwargs)  # type: ignore[arg-type]
