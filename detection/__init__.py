"""Larza detection: pure numpy/scipy streaming filters, STA/LTA, triggers and association.

The ingest worker uses the high-level pieces::

    det = StreamingDetector(DetectorConfig(), sampling_rate=100.0)
    for trigger in det.feed(samples, starttime):
        for event in assoc.add(Pick(station, channel, trigger.onset_time, trigger.peak_ratio, key)):
            ...

The array functions underneath take and return explicit state, in the style of
``scipy.signal.sosfilt(..., zi)``: feeding a segment in pieces equals feeding it whole.
"""

from detection._aic import aic, aic_pick
from detection._association import Associator, NetworkEvent, Pick
from detection._chain import DetectorConfig, FeedResult, StreamingDetector, Trigger
from detection._filter import FilterState, bandpass, design_bandpass
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
    "RecursiveStaLtaState",
    "StreamingDetector",
    "Trigger",
    "TriggerState",
    "aic",
    "aic_pick",
    "bandpass",
    "classic_sta_lta",
    "design_bandpass",
    "recursive_sta_lta",
    "trigger_onset",
]
