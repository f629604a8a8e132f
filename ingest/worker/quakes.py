"""Magnitude and ground motion of the worker's final events, from its own archive.

When an earthquake becomes final (its last arrivals due ``CLOSE_LAG_S`` ago, so the records
around it are committed), each of its stations' channels is read back from the SDS archive
(the span from 30 s before the P to 35 s after the S), corrected with the inventory's
StationXML responses, and measured (:mod:`ingest.quakes.measure`); the results are stored in
the batch's transaction with the event. Preliminary versions carry no magnitude.

Cost: bounded by the event's stations, once per event — on the order of 20-50 ms a station
(the archive read, two response corrections for ML and six for ground motion).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np
from obspy import Inventory, Stream, Trace, UTCDateTime
from sqlalchemy.orm import Session

from detection import StationCoordinates, TravelTimeTable
from ingest.config import LarzaConfig
from ingest.detect.chain import EventChange
from ingest.quakes.measure import Measured, measure_event
from ingest.quakes.model import magnitude_calibration
from ingest.seedlink.decode import RecordError, decode_record
from ingest.worker.archive import SdsArchive
from stations.inventory import current_inventory
from stations.models import Channel, Event
from stations.quakes import NewMagnitude, NewMotion, store_magnitudes, store_motions
from stations.queries import ChannelKey

__all__ = ["EventMeasurer"]

log = logging.getLogger(__name__)

READ_BYTES = 512 * 1024
"""How much of a day file's tail is searched for an event's records (~16 min at 100 sps)."""


class EventMeasurer:
    """Measures final events from the archive and stores what it found."""

    def __init__(
        self,
        archive: SdsArchive,
        config: LarzaConfig,
        table: TravelTimeTable,
        stations: Mapping[str, StationCoordinates],
        channels: Mapping[ChannelKey, Channel],
    ) -> None:
        self._archive = archive
        self._config = config
        self._table = table
        self._stations = stations
        self._channels = channels  # shared with the pipeline: follows the inventory
        self._inventory: Inventory | None = None
        self._calibration = magnitude_calibration(config.magnitude)
        self.seconds = 0.0
        """Time spent measuring, for the worker's counts."""

    def forget_inventory(self) -> None:
        """The inventory changed: responses are read again at the next event."""
        self._inventory = None

    def measure(self, session: Session, event: Event, change: EventChange) -> Measured | None:
        """Measure a final located event and store its magnitudes and ground motion."""
        origin = change.origin
        if change.status != "final" or origin is None or not origin.located:
            return None
        began = time.perf_counter()
        if self._inventory is None:
            self._inventory = current_inventory(session)
        inventory = self._inventory

        def read(station: str, start: float, end: float) -> Stream:
            return self._read(session, station, start, end)

        measured = measure_event(
            origin,
            change.stations,
            self._stations,
            self._table,
            read,
            inventory,
            self._calibration,
            lambda trace_id: self._config.health_for(ChannelKey(*trace_id.split("."))).clip_level,
            self._config.magnitude.wood_anderson_gain,
        )
        ids = self._station_ids()
        network = measured.network
        store_magnitudes(
            session,
            event=event,
            magnitude=network.magnitude if network else None,
            uncertainty=network.uncertainty if network else None,
            count=network.station_count if network else None,
            energy_class=measured.energy_class,
            stations=[
                NewMagnitude(
                    station_id=ids[m.station],
                    channels=m.magnitude_channels,
                    amplitudes_mm=m.magnitude.amplitudes_mm,
                    distance_km=m.magnitude.distance_km,
                    magnitude=m.magnitude.magnitude,
                    correction=m.magnitude.correction,
                    used=m.used,
                )
                for m in measured.stations
                if m.magnitude is not None and m.station in ids
            ],
        )
        motions = []
        for m in measured.stations:
            if m.motion is None or m.station not in ids:
                continue
            psa = dict(m.motion.psa_g_pct)
            motions.append(
                NewMotion(
                    station_id=ids[m.station],
                    channels=m.motion_channels,
                    distance_km=m.distance_km,
                    pga_cms2=m.motion.pga_cms2,
                    pgv_cms=m.motion.pgv_cms,
                    psa_g_pct=(psa.get(0.3, 0.0), psa.get(1.0, 0.0), psa.get(3.0, 0.0)),
                    intensity=m.motion.mmi,
                )
            )
        store_motions(session, event=event, motions=motions)
        self.seconds += time.perf_counter() - began
        return measured

    def _station_ids(self) -> dict[str, int]:
        return {f"{k.network}.{k.station}": c.station_id for k, c in self._channels.items()}

    def _read(self, session: Session, station: str, start: float, end: float) -> Stream:
        net, sta = station.split(".")
        traces = []
        for key, channel in self._channels.items():
            if key.network != net or key.station != sta or channel.kind.value == "soh":
                continue
            raws = self._archive.read_back(
                session, key=key, start=start, end=end, max_bytes=READ_BYTES
            )
            for raw in raws:
                try:
                    record = decode_record(raw)
                except RecordError:
                    continue
                header = {
                    "network": key.network,
                    "station": key.station,
                    "location": key.location,
                    "channel": key.channel,
                    "sampling_rate": record.sampling_rate,
                    "starttime": UTCDateTime(record.starttime),
                }
                traces.append(Trace(np.asarray(record.data, dtype=np.float64), header=header))
        stream = Stream(traces)
        if traces:
            stream.trim(UTCDateTime(start), UTCDateTime(end))
        return stream
