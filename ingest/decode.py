"""miniSEED decoding at the edge: one record in, codes, times and a numpy array out."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from obspy import read

from stations.queries import ChannelKey


class RecordError(ValueError):
    """A record that cannot be decoded; carries why."""


@dataclass(frozen=True)
class Record:
    key: ChannelKey
    starttime: float  # POSIX seconds of the first sample
    sampling_rate: float
    data: npt.NDArray[np.float64]

    @property
    def endtime(self) -> float:
        """POSIX seconds of the last sample."""
        return self.starttime + (len(self.data) - 1) / self.sampling_rate

    def end_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.endtime, UTC)


def decode_record(payload: bytes) -> Record:
    """Decode one miniSEED record with ObsPy."""
    try:
        stream = read(io.BytesIO(payload), format="MSEED")
    except Exception as e:  # ObsPy raises many types for corrupt records
        raise RecordError(f"not a decodable miniSEED record: {e}") from e
    if len(stream) != 1:
        raise RecordError(f"expected one trace in the record, got {len(stream)}")
    trace = stream[0]
    stats = trace.stats
    if not stats.sampling_rate or stats.sampling_rate <= 0:
        raise RecordError(f"record of {trace.id} has sampling rate {stats.sampling_rate}")
    if stats.npts == 0:
        raise RecordError(f"record of {trace.id} holds no samples")
    key = ChannelKey(stats.network, stats.station, stats.location, stats.channel)
    return Record(
        key=key,
        starttime=float(stats.starttime.timestamp),
        sampling_rate=float(stats.sampling_rate),
        data=np.asarray(trace.data, dtype=np.float64),
    )
