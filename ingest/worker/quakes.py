"""Magnitude and ground motion of the worker's final events, from its own archive.

When an earthquake becomes final (its last arrivals due ``CLOSE_LAG_S`` ago, so the records
around it are committed), each of its stations' channels is read back from the SDS archive
(the span from 30 s before the P to 35 s after the S), corrected with the inventory's
StationXML responses, and measured (:mod:`ingest.quakes.measure`); the results are stored in
the batch's transaction with the event. Preliminary versions carry no magnitude.

Cost: once per event, bounded by its nearest 20 stations: 17 ms a station on the
development machine, 55 ms when it was busy (the archive read and decoding ~40 %, six
response corrections for ground motion, two and the Wood-Anderson simulation for ML);
``bench/quake_worker.py`` prints it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
from obspy import Inventory, Stream, Trace, UTCDateTime
from sqlalchemy.orm import Session

from detection import StationCoordinates, TravelTimeTable
from ingest.config import LarzaConfig
from ingest.detect.chain import EventChange
from ingest.quakes.measure import Measured, measure_event
from ingest.quakes.model import magnitude_calibration
from ingest.seedlink.decode import Record, RecordError, decode_record
from ingest.worker.archive import SdsArchive
from stations.inventory import current_inventory
from stations.models import Channel, Event
from stations.quakes import NewMagnitude, NewMotion, store_magnitudes, store_motions
from stations.queries import ChannelKey

__all__ = ["EventMeasurer"]

log = logging.getLogger(__name__)

READ_BYTES = 96 * 1024
"""How much of a day file's tail is searched for an event's records (~3 min at 100 sps;
the event closes a minute or two after its last arrivals)."""


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
            records = []
            for raw in raws:
                try:
                    records.append(decode_record(raw))
                except RecordError:
                    continue
            traces += _joined(key, records)
        stream = Stream(traces)
        if traces:
            stream.trim(UTCDateTime(start), UTCDateTime(end))
        return stream


def _joined(key: ChannelKey, records: Sequence[Record]) -> list[Trace]:
    """One trace per run of contiguous records (merging hundreds of one-record traces with
    ObsPy cost most of the measuring)."""
    runs: list[list[Record]] = []
    for record in sorted(records, key=lambda r: r.starttime):
        last = runs[-1][-1] if runs else None
        step = 1.0 / record.sampling_rate
        if (
            last is not None
            and last.sampling_rate == record.sampling_rate
            and abs(record.starttime - last.endtime - step) < 0.5 * step
        ):
            runs[-1].append(record)
        else:
            runs.append([record])
    traces = []
    for run in runs:
        header = {
            "network": key.network,
            "station": key.station,
            "location": key.location,
            "channel": key.channel,
            "sampling_rate": run[0].sampling_rate,
            "starttime": UTCDateTime(run[0].starttime),
        }
        data = np.concatenate([np.asarray(r.data, dtype=np.float64) for r in run])
        traces.append(Trace(data, header=header))
    return traces
