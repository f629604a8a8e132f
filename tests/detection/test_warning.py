"""Network early warning from a point source: a synthetic quake under the Pamir located from
its P picks alone, its magnitude from on-site Pd and tau_c, intensity and S arrival at the
target sites; updates, cancellation, end; and candidates suppressed with their reasons."""

from __future__ import annotations

import dataclasses
import math

import pytest

from detection import (
    IntensityEquation,
    NetworkWarning,
    OnsiteReading,
    Origin,
    SensorAgreement,
    StationCoordinates,
    TargetSite,
    TravelTimeTable,
    WarningConfig,
    distance_km,
)

STATIONS = {
    "TJ.SAREZ": StationCoordinates(38.27, 72.60),
    "TJ.MURGH": StationCoordinates(38.17, 73.96),
    "TJ.MANEM": StationCoordinates(37.49, 71.55),
    "XX.KHOR": StationCoordinates(37.50, 72.40),
    "XX.JAVS": StationCoordinates(38.60, 72.10),
    "XX.RUSH": StationCoordinates(37.95, 72.80),
}
SITES = (
    TargetSite("Usoi dam", 38.27, 72.61, 4.0),
    TargetSite("Dushanbe", 38.56, 68.79, 4.0),
)
T0 = 1_800_000_000.0
QUAKE = (38.05, 72.45, 150.0, 6.0)  # latitude, longitude, depth km, magnitude


def arrivals(table: TravelTimeTable, quake: tuple[float, float, float, float]) -> dict[str, float]:
    lat, lon, depth, _ = quake
    out = {}
    for name, c in STATIONS.items():
        epi = float(distance_km(lat, lon, c.latitude, c.longitude))
        out[name] = T0 + float(table.time(False, epi, depth))
    return dict(sorted(out.items(), key=lambda kv: kv[1]))


def reading(station: str, onset: float, quake: tuple[float, float, float, float]) -> OnsiteReading:
    """What a station's meter would say after 3 s of P from this quake, by the relations
    themselves (Wu & Kanamori 2005 for tau_c, Wu & Zhao 2006 for Pd)."""
    lat, lon, depth, m = quake
    c = STATIONS[station]
    hypo = math.hypot(float(distance_km(lat, lon, c.latitude, c.longitude)), depth)
    tau_c = 10 ** (0.296 * m - 1.716)
    pd_cm = 10 ** (-3.463 + 0.729 * m - 1.374 * math.log10(hypo))
    return OnsiteReading(onset, 3.0, pd_cm / 100, tau_c, 0.05, 0.01, 4.0, m, 0.41)


def first_alert(
    warning: NetworkWarning, picks: dict[str, float], quake: tuple[float, float, float, float]
) -> Origin:
    """The origin of the alert created by these P picks and their stations' readings."""
    sent = []
    for key, (station, t) in enumerate(picks.items()):
        sent += warning.add_pick(station, t, key)[0]
    for station, t in picks.items():
        sent += warning.add_reading(station, "HH", reading(station, t, quake))[0]
    assert sent[0].action == "created"
    source = sent[0].source
    assert source is not None
    return source.origin


def engine(table: TravelTimeTable, **config: object) -> NetworkWarning:
    return NetworkWarning(STATIONS, table, WarningConfig(sites=SITES, **config))  # type: ignore[arg-type]


def test_a_deep_pamir_quake_is_located_sized_and_forecast(pamir_table: TravelTimeTable) -> None:
    warning = engine(pamir_table, min_stations=4)
    times = arrivals(pamir_table, QUAKE)
    messages = []
    for key, (station, t) in enumerate(times.items()):
        messages += warning.add_pick(station, t, key)[0]
        messages += warning.add_reading(station, "HH", reading(station, t, QUAKE))[0]
    assert messages[0].action == "created"
    assert all(m.action == "updated" for m in messages[1:])
    source = messages[-1].source
    assert source is not None
    origin = source.origin
    assert float(distance_km(origin.latitude, origin.longitude, QUAKE[0], QUAKE[1])) < 5.0
    assert origin.depth_km == pytest.approx(QUAKE[2], abs=5.0)
    assert origin.time == pytest.approx(T0, abs=0.5)
    assert source.magnitude == pytest.approx(QUAKE[3], abs=0.1)
    dam, capital = source.sites
    hypo = math.hypot(float(distance_km(QUAKE[0], QUAKE[1], dam.latitude, dam.longitude)), QUAKE[2])
    s_time = T0 + float(
        pamir_table.time(
            True, float(distance_km(QUAKE[0], QUAKE[1], dam.latitude, dam.longitude)), QUAKE[2]
        )
    )
    assert dam.s_arrival == pytest.approx(s_time, abs=1.0)
    assert dam.mmi == pytest.approx(IntensityEquation().mmi(source.magnitude, hypo), abs=0.1)
    assert capital.s_arrival > dam.s_arrival
    assert dam.warning_s > 0  # S is still on its way when the alert goes out
    assert warning.active
    ended = warning.tick(capital.s_arrival + 31.0)
    assert [m.action for m in ended] == ["ended"]
    assert not warning.active


def test_the_intensity_equation_matches_its_published_form() -> None:
    # Atkinson, Worden & Wald (2014): M 6.5 at 10 km -> about VII-VIII; weaker farther off
    eq = IntensityEquation()
    h = 10 ** (-1.72 + 0.43 * 6.5)
    r = math.hypot(10.0, h)
    expected = (
        0.309 + 1.864 * 6.5 - 1.672 * math.log10(r) - 0.00219 * r - 0.383 * 6.5 * math.log10(r)
    )
    assert eq.mmi(6.5, 10.0) == pytest.approx(expected)
    assert eq.mmi(6.5, 10.0) > eq.mmi(6.5, 100.0) > eq.mmi(6.5, 300.0)
    assert eq.mmi(5.0, 100.0) < eq.mmi(6.0, 100.0)


def test_one_or_two_stations_never_alert(pamir_table: TravelTimeTable) -> None:
    warning = engine(pamir_table)
    times = list(arrivals(pamir_table, QUAKE).items())
    reasons = []
    for key, (station, t) in enumerate(times[:2]):
        messages, suppressed = warning.add_pick(station, t, key)
        assert messages == []
        reasons += [s.reason for s in suppressed]
    assert reasons == ["too_few_stations", "too_few_stations"]


def test_glitches_at_four_stations_are_not_a_quake(pamir_table: TravelTimeTable) -> None:
    # (three picks fit some hypocentre at some depth almost always: three unknowns, three
    # times; a fourth station is what tells a quake from coincident glitches)
    warning = engine(pamir_table, min_stations=4)
    # near-simultaneous "onsets" at stations 100-200 km apart fit no hypocentre
    picks = [
        ("TJ.MURGH", T0),
        ("TJ.MANEM", T0 + 0.1),
        ("TJ.SAREZ", T0 + 0.05),
        ("XX.JAVS", T0 + 12.0),
    ]
    suppressed = []
    for key, (station, t) in enumerate(picks):
        messages, s = warning.add_pick(station, t, key)
        assert messages == []
        suppressed += s
    assert suppressed[-1].reason in ("inconsistent", "distant")


def test_a_distant_quake_is_suppressed(pamir_table: TravelTimeTable) -> None:
    warning = engine(pamir_table, max_distance_km=150.0)
    far = (36.5, 70.5, 200.0, 6.5)  # Hindu Kush, ~200-300 km from the stations
    suppressed = []
    for key, (station, t) in enumerate(arrivals(pamir_table, far).items()):
        suppressed += warning.add_pick(station, t, key)[1]
    assert "distant" in {s.reason for s in suppressed}
    assert not warning.active


def test_bad_timing_and_clipping_are_left_out_and_said(pamir_table: TravelTimeTable) -> None:
    warning = engine(pamir_table, min_stations=3)
    times = list(arrivals(pamir_table, QUAKE).items())
    station, t = times[0]
    _, suppressed = warning.add_pick(station, t, 0, timing_quality=10)
    assert [s.reason for s in suppressed] == ["timing"]
    _, suppressed = warning.add_pick(times[1][0], times[1][1], 1)
    _, suppressed = warning.add_reading(
        times[1][0], "HH", reading(times[1][0], times[1][1], QUAKE), clipped=True
    )
    assert "clipped" in {s.reason for s in suppressed}


def test_a_withdrawn_pick_cancels_an_alert_left_short(pamir_table: TravelTimeTable) -> None:
    warning = engine(pamir_table, min_stations=3)
    times = list(arrivals(pamir_table, QUAKE).items())[:3]
    sent = []
    for key, (station, t) in enumerate(times):
        sent += warning.add_pick(station, t, key)[0]
        sent += warning.add_reading(station, "HN", reading(station, t, QUAKE))[0]
    assert sent[0].action == "created"
    messages, _ = warning.withdraw(2, times[-1][1] + 2)
    assert [m.action for m in messages] == ["cancelled"]
    assert not warning.active


def test_a_shallow_quake_is_found_at_a_trial_depth(pamir_table: TravelTimeTable) -> None:
    # three stations, a depth the configured fixed depth (100 km) cannot fit
    stations = {k: STATIONS[k] for k in ("TJ.SAREZ", "TJ.MURGH", "TJ.MANEM")}
    warning = NetworkWarning(stations, pamir_table, WarningConfig(sites=SITES))
    shallow = (38.20, 72.50, 10.0, 5.0)
    lat, lon, depth, _ = shallow
    times = sorted(
        (
            T0
            + float(
                pamir_table.time(
                    False, float(distance_km(lat, lon, c.latitude, c.longitude)), depth
                )
            ),
            name,
        )
        for name, c in stations.items()
    )
    messages = []
    for key, (t, station) in enumerate(times):
        messages += warning.add_pick(station, t, key)[0]
        messages += warning.add_reading(station, "HH", reading(station, t, shallow))[0]
    assert messages
    source = messages[0].source
    assert source is not None
    assert source.origin.depth_km == pytest.approx(10.0)
    assert source.origin.rms < 0.2
    # three P picks leave the epicentre ambiguous along a curve: within tens of km
    assert float(distance_km(source.origin.latitude, source.origin.longitude, lat, lon)) < 40


def test_a_long_period_p_is_not_a_local_quake(pamir_table: TravelTimeTable) -> None:
    # a large distant quake: P at every station, but tau_c of seconds in a 3-s window
    warning = engine(pamir_table, min_stations=3)
    times = list(arrivals(pamir_table, QUAKE).items())[:3]
    suppressed = []
    messages = []
    for key, (station, t) in enumerate(times):
        m, s = warning.add_pick(station, t, key)
        messages += m
        suppressed += s
        long = dataclasses.replace(reading(station, t, QUAKE), tau_c_s=4.5, magnitude=8.1)
        m, s = warning.add_reading(station, "HH", long)
        messages += m
        suppressed += s
    assert messages == []
    assert suppressed[-1].reason == "long_period"


def test_an_alert_whose_p_turns_out_long_period_is_cancelled(
    pamir_table: TravelTimeTable,
) -> None:
    warning = engine(pamir_table, min_stations=3)
    times = list(arrivals(pamir_table, QUAKE).items())[:3]
    sent = []
    for key, (station, t) in enumerate(times):
        sent += warning.add_pick(station, t, key)[0]
        sent += warning.add_reading(station, "HH", reading(station, t, QUAKE))[0]
    assert sent[0].action == "created"
    for station, t in times:
        long = dataclasses.replace(reading(station, t, QUAKE), tau_c_s=4.5)
        sent += warning.add_reading(station, "HH", long)[0]
    assert sent[-1].action == "cancelled"
    assert "long-period" in sent[-1].reason
    assert not warning.active


def test_a_p_no_source_can_share_with_the_candidate_is_left_out(
    pamir_table: TravelTimeTable,
) -> None:
    """Another quake's P (or a glitch) at a station far away, or at a time no P can cross to
    it, does not join the candidate and spoil its location."""
    far = {**STATIONS, "XX.FAR": StationCoordinates(46.0, 80.0)}  # ~1,000 km away
    warning = NetworkWarning(far, pamir_table, WarningConfig(sites=SITES, min_stations=4))
    times = arrivals(pamir_table, QUAKE)
    (first, t_first), *rest = times.items()
    suppressed = warning.add_pick(first, t_first, 0)[1]
    suppressed += warning.add_pick("XX.FAR", t_first + 1.0, 1)[1]  # far: another quake's
    # a near station, but 60 s later than any P could cross the ~100 km between them
    late_station = rest[0][0]
    suppressed += warning.add_pick(late_station, t_first + 59.0, 2)[1]
    assert {s.reason for s in suppressed} == {"too_few_stations"}
    messages = []
    for key, (station, t) in enumerate(rest, start=3):
        messages += warning.add_pick(station, t, key)[0]
        messages += warning.add_reading(station, "HH", reading(station, t, QUAKE))[0]
    messages += warning.add_reading(first, "HH", reading(first, t_first, QUAKE))[0]
    assert messages[0].action == "created"
    source = messages[-1].source
    assert source is not None
    assert "XX.FAR" not in source.stations
    assert float(distance_km(source.origin.latitude, source.origin.longitude, *QUAKE[:2])) < 5


def test_a_candidate_no_p_can_join_any_more_gives_way_to_the_next_quake(
    pamir_table: TravelTimeTable,
) -> None:
    """A glitch at one station (or a quake too small for more) is held as a candidate; once
    no P of its source can reach any station any more, the next quake's picks start a
    candidate of their own and alert, with no tick between (the worker's records can carry
    both in one batch)."""
    warning = engine(pamir_table)
    times = arrivals(pamir_table, QUAKE)
    first = next(iter(times))
    assert warning.add_pick(first, T0 - 45.0, 0)[1][0].reason == "too_few_stations"
    assert warning.expire(T0 - 30.0) == ()  # a P could still reach the farthest station
    sent = []
    for key, (station, t) in enumerate(times.items(), start=1):
        sent += warning.add_pick(station, t, key)[0]
        sent += warning.add_reading(station, "HH", reading(station, t, QUAKE))[0]
    assert sent[0].action == "created"
    source = sent[-1].source
    assert source is not None
    assert abs(source.origin.time - T0) < 1.0  # the quake's, not the glitch's
    assert float(distance_km(source.origin.latitude, source.origin.longitude, *QUAKE[:2])) < 5


def test_the_stations_still_without_p_move_the_first_alert_where_they_allow(
    pamir_table: TravelTimeTable,
) -> None:
    """A quake at 40 km under the network's south-west: its first three P picks fit a source
    at 100 km depth 15 km away as well as the true one, but that source's P would have
    reached TJ.MANEM before its data end, which show none yet: with the stations still
    without P heard, the first alert is put where their data allow, nearer the quake."""
    quake = (37.8, 72.2, 40.0, 5.5)
    times = arrivals(pamir_table, quake)
    first3 = list(times)[:3]
    now = times[first3[-1]] + 1.0  # the third station's P and a second of it
    found = []
    for heard in (False, True):
        warning = engine(pamir_table)
        for station in STATIONS if heard else ():
            warning.heard(station, now)
        found.append(first_alert(warning, {s: times[s] for s in first3}, quake))
    before, after = (float(distance_km(o.latitude, o.longitude, *quake[:2])) for o in found)
    assert before > 12.0
    assert after < before - 4.0
    # the picks-only source's P reaches a station still silent before its data end
    lat, lon, depth = found[0].latitude, found[0].longitude, found[0].depth_km
    c = STATIONS["TJ.MANEM"]
    epi = float(distance_km(lat, lon, c.latitude, c.longitude))
    assert found[0].time + float(pamir_table.time(False, epi, depth)) < now - 1.0


def s_arrivals(
    table: TravelTimeTable, quake: tuple[float, float, float, float]
) -> dict[str, float]:
    lat, lon, depth, _ = quake
    out = {}
    for name, c in STATIONS.items():
        epi = float(distance_km(lat, lon, c.latitude, c.longitude))
        out[name] = T0 + float(table.time(True, epi, depth))
    return out


def alerted(warning: NetworkWarning, table: TravelTimeTable, stations: int) -> list[str]:
    """The quake's P and readings at its first ``stations`` stations; the actions sent."""
    sent = []
    for key, (station, t) in enumerate(list(arrivals(table, QUAKE).items())[:stations]):
        sent += warning.add_pick(station, t, key)[0]
        sent += warning.add_reading(station, "HH", reading(station, t, QUAKE))[0]
    return [m.action for m in sent]


def test_the_s_waves_of_an_alert_start_no_new_candidate(pamir_table: TravelTimeTable) -> None:
    """Once the alert ended (its picks forgotten), the S waves picked as P at the stations
    are that quake's S, said so, and start nothing; a later quake elsewhere still does."""
    warning = engine(pamir_table, min_stations=3)
    assert alerted(warning, pamir_table, 3)[0] == "created"
    s_times = s_arrivals(pamir_table, QUAKE)
    assert [m.action for m in warning.tick(max(s_times.values()) + 200.0)] == ["ended"]
    assert warning.idle
    stations = list(arrivals(pamir_table, QUAKE))[:3]
    reasons = []
    for key, station in enumerate(stations, start=10):
        # an S picked 1.5 s late, as an S onset in the P coda is
        messages, suppressed = warning.add_pick(station, s_times[station] + 1.5, key)
        assert messages == []
        reasons += [s.reason for s in suppressed]
    assert reasons == ["explained_s"] * 3
    assert warning.idle  # no candidate
    # another quake, 10 minutes later: its P is no S of the first
    other = (38.3, 73.5, 20.0, 5.0)
    lat, lon, depth, _ = other
    later = T0 + 600.0
    c = STATIONS["TJ.MURGH"]
    t = later + float(
        pamir_table.time(False, float(distance_km(lat, lon, c.latitude, c.longitude)), depth)
    )
    _, suppressed = warning.add_pick("TJ.MURGH", t, 20)
    assert [s.reason for s in suppressed] == ["too_few_stations"]


def test_a_cancelled_alert_explains_no_s(pamir_table: TravelTimeTable) -> None:
    warning = engine(pamir_table, min_stations=3)
    assert alerted(warning, pamir_table, 3)[0] == "created"
    messages, _ = warning.withdraw(2, T0 + 40.0)
    assert [m.action for m in messages] == ["cancelled"]
    third = list(arrivals(pamir_table, QUAKE))[2]
    _, suppressed = warning.add_pick(third, s_arrivals(pamir_table, QUAKE)[third], 40)
    assert "explained_s" not in {s.reason for s in suppressed}


def test_a_station_waits_for_its_sensors_and_is_left_out_when_they_disagree(
    pamir_table: TravelTimeTable,
) -> None:
    """With co-located sensors, a P counts once they agree; three glitches seen by one
    sensor each are suppressed as such, after a verdict, never before."""
    times = list(arrivals(pamir_table, QUAKE).items())[:3]
    agree = SensorAgreement("agree", 0.98, 0.02, "HN shows 0.98 (±0.02) of the motion HH recorded")
    glitch = SensorAgreement(
        "disagree", 0.03, 0.1, "HN shows 0.03 (±0.10) of the motion HH recorded"
    )
    for verdict, expected in ((agree, ["created"]), (glitch, [])):
        warning = engine(pamir_table, min_stations=3)
        sent, said = [], []
        for key, (station, t) in enumerate(times):
            m, s = warning.add_pick(station, t, key, colocated=True)
            sent += m
            said += s
            m, s = warning.add_reading(station, "HH", reading(station, t, QUAKE))
            sent += m
            said += s
            assert warning.awaiting(station)
        assert sent == []  # nothing before the sensors' verdicts
        for station, t in times:
            m, s = warning.sensors(station, verdict, now=t + 1.0)
            sent += m
            said += s
        assert [m.action for m in sent] == expected
        if not expected:
            assert said[-1].reason == "sensors_disagree"
            assert "HN shows 0.03" in said[-1].detail


def test_a_p_after_a_glitch_its_sensors_disagreed_on_replaces_it(
    pamir_table: TravelTimeTable,
) -> None:
    """A glitch at the first station seconds before the quake's P there does not cost the
    quake that station: the P replaces the glitch's pick."""
    times = list(arrivals(pamir_table, QUAKE).items())[:3]
    words = "HN shows {:.2f} (±0.02) of the motion HH recorded"
    agree = SensorAgreement("agree", 0.98, 0.02, words.format(0.98))
    glitch = SensorAgreement("disagree", 0.03, 0.02, words.format(0.03))
    warning = engine(pamir_table, min_stations=3)
    first, t_first = times[0]
    warning.add_pick(first, t_first - 3.0, 99, colocated=True)
    warning.sensors(first, glitch, now=t_first - 2.0)
    assert warning.rejected(first)
    sent = []
    for key, (station, t) in enumerate(times):
        sent += warning.add_pick(station, t, key, colocated=True)[0]
        sent += warning.add_reading(station, "HH", reading(station, t, QUAKE))[0]
        sent += warning.sensors(station, agree, now=t + 1.0)[0]
    assert [m.action for m in sent] == ["created"]
    source = sent[0].source
    assert source is not None
    assert source.origin.rms < 0.2  # located from the P, not the glitch


def test_a_large_network_s_far_silent_stations_leave_the_first_alert_as_it_was(
    pamir_table: TravelTimeTable,
) -> None:
    """Hundreds of stations far away, their data flowing and no P: only the stations
    nearest the picked ones are searched with (a grid of nodes x thousands of stations took
    seconds a pick), and the first alert is where the six-station network puts it."""
    quake = (37.8, 72.2, 40.0, 5.5)
    times = arrivals(pamir_table, quake)
    first3 = list(times)[:3]
    now = times[first3[-1]] + 1.0
    far = {
        f"XX.F{i:03d}": StationCoordinates(42.0 + 0.1 * (i // 20), 60.0 + 0.1 * (i % 20))
        for i in range(300)
    }  # listed before the Pamir stations: a bound by order would keep only these
    found = []
    for network in ({**far, **STATIONS}, STATIONS):
        warning = NetworkWarning(network, pamir_table, WarningConfig(sites=SITES))
        for station in network:
            warning.heard(station, now)
        found.append(first_alert(warning, {s: times[s] for s in first3}, quake))
    assert found[0] == found[1]
