"""Stations added while the worker runs join the phase association, nothing open lost."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import obspy
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
from ingest.config import LarzaConfig, load_config
from ingest.detect.chain import Detecting, EventChange, Found
from ingest.feed import SyntheticSource
from ingest.feed._mseed import record_info
from ingest.feed.inventory import station_specs
from ingest.quakes.model import associator_config
from ingest.seedlink.source import Packet
from ingest.worker.pipeline import Pipeline
from stations.db import make_engine, make_session_factory, migrate
from stations.inventory import import_stationxml
from stations.quakes import event_quakes
from stations.queries import ChannelKey, list_events

from ..detection.test_quake_association import DEEP, quake_picks
from ..pamir import NETWORK, T0
from ..quakenet import REGION, write_network


def _late_station(picks: list[PhasePick]) -> str:
    """The station whose first pick comes last: added while the quake's event is open."""
    return max(NETWORK, key=lambda s: min(p.time for p in picks if p.station == s))


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
    assoc.add_stations({late: NETWORK[late]})
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


def test_a_station_imported_into_a_running_pipeline_joins_its_located_events(
    fresh_database_url: str, tmp_path: Path, table_cache: Path
) -> None:
    """The worker's own path: five stations at start, the sixth imported while records
    flow, ``refresh_channels`` (the worker's inventory refresh); the quake that follows is
    located with all six, the new one's P and S among its arrivals."""
    xml, toml = write_network(tmp_path, table_cache)
    everything = obspy.read_inventory(str(xml))
    first = everything.copy()
    first.networks[0].stations = [s for s in first.networks[0].stations if s.code != "KARAK"]
    first.write(str(tmp_path / "five.xml"), format="STATIONXML")
    engine = make_engine(fresh_database_url)
    migrate(engine)
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        import_stationxml(s, tmp_path / "five.xml")
    source = SyntheticSource(
        station_specs(xml),
        seed=11,
        event_interval=10_000.0,
        first_event_after=70.0,
        start=T0,
        region=REGION,
        depth_km=(8.0, 15.0),
    )
    pipeline = Pipeline(
        factory,
        server="test:18000",
        config=load_config(toml),
        clock=lambda: datetime.fromtimestamp(T0 + 200, UTC),
        locate=True,
        health=False,
    )
    seq: dict[str, int] = {}
    t = T0
    while t < T0 + 190.0:
        t += 1.0
        if t == T0 + 15.0:
            with factory() as s, s.begin():
                import_stationxml(s, xml)  # the whole network: KARAK is new
            assert pipeline.refresh_channels() == 6  # KARAK's six channels
        packets = []
        for raw in source.records_until(t):
            station = f"TJ_{record_info(raw).station}"
            seq[station] = seq.get(station, 0) + 1
            packets.append(Packet(station, seq[station], raw))
        pipeline.handle_many(packets)
    with factory() as s:
        (event,) = list_events(s)
        assert event.status.value == "final"
        assert event.n_stations == 6
        quake = event_quakes(s, event_ids=[event.id])[event.id]
        assert quake.origin is not None
        karak = {d.id for d in event.detections if d.channel.station.code == "KARAK"}
        assert {a.phase for a in quake.origin.arrivals if a.detection_id in karak} >= {"P"}
    engine.dispose()
