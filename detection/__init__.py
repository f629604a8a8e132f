"""Larza detection: pure numpy/scipy streaming filters, STA/LTA, triggers, phase picks and
association.

The ingest worker uses the high-level pieces: one :class:`SensorPicker` per sensor (a
station's ``HHZ``, ``HHN``, ``HHE``) reports P picks on the vertical and S picks on the
horizontals, as ``(channel code, Trigger)``::

    sensor = SensorPicker()
    for code in ("HHZ", "HHN", "HHE"):
        sensor.add(code, DetectorConfig(), sampling_rate=100.0)
    for code, trigger in sensor.feed("HHZ", samples, starttime):
        for event in assoc.add(Pick(station, code, trigger.onset_time, trigger.peak_ratio,
                                    key, trigger.phase)):
            ...

A :class:`StreamingDetector` is one channel's chain. The array functions underneath take and
return explicit state, in the style of ``scipy.signal.sosfilt(..., zi)``: feeding a segment in
pieces equals feeding it whole.
"""

from detection._aic import aic, aic_pick
from detection._association import Associator, NetworkEvent, Pick
from detection._chain import FeedResult, StreamingDetector, Trigger
from detection._config import DetectorConfig
from detection._filter import FilterState, bandpass, design_bandpass
from detection._onset import Polarity
from detection._sensor import SensorPicker, role_of
from detection._stalta import (
    ClassicStaLtaState,
    RecursiveStaLtaState,
    classic_sta_lta,
    recursive_sta_lta,
)
from detection._trigger import TriggerState, trigger_onset

__all__ = [
    "Associator",
    "ClassicStaLtaState",
    "DetectorConfig",
    "FeedResult",
    "FilterState",
    "NetworkEvent",
    "Pick",
    "Polarity",
    "RecursiveStaLtaState",
    "SensorPicker",
    "StreamingDetector",
    "Trigger",
    "TriggerState",
    "aic",
    "aic_pick",
    "bandpass",
    "classic_sta_lta",
    "design_bandpass",
    "recursive_sta_lta",
    "role_of",
    "trigger_onset",
]
