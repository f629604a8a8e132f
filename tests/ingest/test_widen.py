"""Stations added while the worker runs join the phase association, nothing open lost."""

from __future__ import annotations

import itertools

import pytest
from obspy.taup import TauPyModel

from detection import (
    PhasePick,
    Quake,
    QuakeAssociator,
    QuakeAssociatorConfig,
    TravelTimeTable,
    Trigger,
    distance_km,
)
from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, EventChange, Found
from ingest.detect.widen import DERIVED, STATE, widened
from ingest.quakes.model import associator_config
from stations.queries import ChannelKey

from ..detection.test_quake_association import DEEP, quake_picks
from ..pamir import NETWORK, T0


def _late_station(picks: list[PhasePick]) -> str:
    """The station whose first pick comes last: added while the quake's event is open."""
    return max(NETWORK, key=lambda s: min(p.time for p in picks if p.station == s))


def test_the_associator_state_is_all_carried_or_rebuilt(pamir_table: TravelTimeTable) -> None:
    """Every attribute of the associator is either streaming state (carried over) or built
    from the stations (built again): one added to ``detection._quakes`` fails here."""
    assoc = QuakeAssociator(NETWORK, pamir_table)
    assert set(vars(assoc)) == STATE | DERIVED


def test_an_open_event_takes_the_picks_of_a_station_added_meanwhile(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel
) -> None:
    picks = sorted(quake_picks(pamir_taup, DEEP, T0, 1), key=lambda p: p.time)
    late = _late_station(picks)
    first_late = min(i for i, p in enumerate(picks) if p.station == late)
    config = QuakeAssociatorConfig()
    assoc = QuakeAssociator({k: c for k, c in NETWORK.items() if k != late}, pamir_table, config)
    seen: list[Quake] = []
    for pick in picks[:first_late]:
        seen += assoc.add(pick).events
        seen += assoc.close_before(pick.time).events
    (open_event,) = assoc.open_events
    keys_before = assoc.open_pick_keys
    assoc = widened(assoc, {late: NETWORK[late]}, pamir_table, config)
    assert assoc.open_pick_keys == keys_before
    assert [e.event_key for e in assoc.open_events] == [open_event.event_key]
    for pick in picks[first_late:]:
        seen += assoc.add(pick).events
        seen += assoc.close_before(pick.time).events
    seen += assoc.flush().events
    finals = [e for e in seen if e.status == "final"]
    (final,) = finals
    assert final.event_key == open_event.event_key
    assert final.version > open_event.version
    assert set(final.pick_keys) == {p.key for p in picks}
    assert {p.phase for p in final.picks if p.station == late} == {"P", "S"}
    whole = QuakeAssociator(NETWORK, pamir_table, config)
    for pick in picks:
        whole.add(pick)
        whole.close_before(pick.time)
    (reference,) = whole.flush().events
    assert set(reference.pick_keys) == set(final.pick_keys)
    o, r = final.origin, reference.origin
    assert float(distance_km(o.latitude, o.longitude, r.latitude, r.longitude)) < 0.1
    assert o.depth_km == pytest.approx(r.depth_km, abs=0.5)
    assert o.time == pytest.approx(r.time, abs=0.02)
    assert float(distance_km(DEEP[0], DEEP[1], o.latitude, o.longitude)) < 1.0


def _trigger(pick: PhasePick) -> Trigger:
    return Trigger(
        on_time=pick.time,
        off_time=pick.time + 2.0,
        onset_time=pick.time,
        peak_ratio=8.0,
        snr=20.0,
        peak_amplitude=1000.0,
        on_index=0,
        off_index=200,
        onset_index=0,
        onset_uncertainty=pick.uncertainty,
        phase=pick.phase,
    )


def _run(detecting: Detecting, picks: list[PhasePick], add_before: int | None) -> list[EventChange]:
    """Picks as the worker's pickers give them, in time order; the late station imported
    (``add_stations``, as the worker's inventory refresh does) before pick ``add_before``."""
    keys = itertools.count(1)

    def keep(found: Found) -> int:
        return next(keys)

    changes: list[EventChange] = []
    late = picks[add_before].station if add_before is not None else None
    for i, pick in enumerate(picks):
        if i == add_before and late is not None:
            open_keys = detecting.open_pick_keys
            assert open_keys  # an event is open, picks wait
            detecting.add_stations({late: NETWORK[late]})
            assert detecting.open_pick_keys == open_keys
        net, sta = pick.station.split(".")
        key = ChannelKey(net, sta, "", "HHZ" if pick.phase == "P" else "HHN")
        changes += detecting.associate(key, [(key.channel, _trigger(pick))], keep, until=pick.time)
    changes += detecting.associate(ChannelKey(net, sta, "", "HHZ"), [], keep, until=T0 + 3600)
    return changes


@pytest.mark.parametrize("added", [True, False])
def test_the_worker_associates_a_station_imported_while_running(
    pamir_table: TravelTimeTable, pamir_taup: TauPyModel, added: bool
) -> None:
    """Without the refresh (``added=False``) the new station's picks stay out of the event,
    as they did before stations could join while running."""
    picks = sorted(quake_picks(pamir_taup, DEEP, T0, 1), key=lambda p: p.time)
    late = _late_station(picks)
    first_late = min(i for i, p in enumerate(picks) if p.station == late)
    config = LarzaConfig()
    assert associator_config(config.location).min_stations <= len(NETWORK) - 1
    known = {k: c for k, c in NETWORK.items() if k != late}
    detecting = Detecting(config, known, pamir_table, preliminary=True)
    assert detecting.locates
    changes = _run(detecting, picks, first_late if added else None)
    finals = [c for c in changes if c.status == "final"]
    (final,) = finals
    assert {c.event_key for c in changes} == {final.event_key}  # one event, never renumbered
    assert (late in final.stations) == added
    assert len(final.pick_keys) == len(picks) - (0 if added else 2)
    assert final.origin is not None
    o = final.origin
    assert float(distance_km(DEEP[0], DEEP[1], o.latitude, o.longitude)) < 1.0


def test_a_station_known_already_rebuilds_nothing(pamir_table: TravelTimeTable) -> None:
    detecting = Detecting(LarzaConfig(), NETWORK, pamir_table)
    before = detecting._quakes
    detecting.add_stations({"TJ.SAREZ": NETWORK["TJ.SAREZ"]})  # a channel added to a station
    assert detecting._quakes is before
