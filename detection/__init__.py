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
from detection._coincidence import (
    CoincidenceAssociator,
    CoincidenceEvent,
    CoincidenceUpdate,
    TriggerWindow,
)
from detection._colocated import (
    AgreementConfig,
    SensorAgreement,
    Verdict,
    compare_colocated,
)
from detection._config import DetectorConfig
from detection._filter import FilterState, bandpass, design_bandpass
from detection._geo import azimuth_deg, destination, distance_km
from detection._locate import (
    LocatedArrival,
    LocatorConfig,
    Observation,
    Origin,
    StationCoordinates,
    locate,
    predicted_arrivals,
)
from detection._magnitude import (
    MagnitudeCalibration,
    NetworkMagnitude,
    StationMagnitude,
    energy_class,
    hutton_boore_minus_log_a0,
    network_magnitude,
    station_magnitude,
)
from detection._motion import (
    ComponentMotion,
    StationMotion,
    component_motion,
    mmi_from_pga,
    mmi_from_pgv,
    oscillator_response,
    station_motion,
)
from detection._onset import Polarity
from detection._onsite import (
    OnsiteConfig,
    OnsiteMeter,
    OnsiteReading,
    SensorKind,
    combined_magnitude,
    magnitude_from_pd,
    magnitude_from_tau_c,
)
from detection._plum import ShakingAlert, ShakingCandidate, ShakingVote
from detection._quakes import (
    AssociatedPick,
    PhasePick,
    Quake,
    QuakeAssociator,
    QuakeAssociatorConfig,
    QuakeUpdate,
)
from detection._sensor import SensorPicker, role_of
from detection._stalta import (
    ClassicStaLtaState,
    RecursiveStaLtaState,
    classic_sta_lta,
    recursive_sta_lta,
)
from detection._traveltime import TravelTimeTable
from detection._trigger import TriggerState, trigger_onset
from detection._warning import (
    IntensityEquation,
    NetworkWarning,
    PointSource,
    SiteForecast,
    Suppressed,
    TargetSite,
    WarningConfig,
    WarningMessage,
)

__all__ = [
    "AgreementConfig",
    "AssociatedPick",
    "Associator",
    "ClassicStaLtaState",
    "CoincidenceAssociator",
    "CoincidenceEvent",
    "CoincidenceUpdate",
    "ComponentMotion",
    "DetectorConfig",
    "FeedResult",
    "FilterState",
    "IntensityEquation",
    "LocatedArrival",
    "LocatorConfig",
    "MagnitudeCalibration",
    "NetworkEvent",
    "NetworkMagnitude",
    "NetworkWarning",
    "Observation",
    "OnsiteConfig",
    "OnsiteMeter",
    "OnsiteReading",
    "Origin",
    "PhasePick",
    "Pick",
    "PointSource",
    "Polarity",
    "Quake",
    "QuakeAssociator",
    "QuakeAssociatorConfig",
    "QuakeUpdate",
    "RecursiveStaLtaState",
    "SensorAgreement",
    "SensorKind",
    "SensorPicker",
    "ShakingAlert",
    "ShakingCandidate",
    "ShakingVote",
    "SiteForecast",
    "StationCoordinates",
    "StationMagnitude",
    "StationMotion",
    "StreamingDetector",
    "Suppressed",
    "TargetSite",
    "TravelTimeTable",
    "Trigger",
    "TriggerState",
    "TriggerWindow",
    "Verdict",
    "WarningConfig",
    "WarningMessage",
    "aic",
    "aic_pick",
    "azimuth_deg",
    "bandpass",
    "classic_sta_lta",
    "combined_magnitude",
    "compare_colocated",
    "component_motion",
    "design_bandpass",
    "destination",
    "distance_km",
    "energy_class",
    "hutton_boore_minus_log_a0",
    "locate",
    "magnitude_from_pd",
    "magnitude_from_tau_c",
    "mmi_from_pga",
    "mmi_from_pgv",
    "network_magnitude",
    "oscillator_response",
    "predicted_arrivals",
    "recursive_sta_lta",
    "role_of",
    "station_magnitude",
    "station_motion",
    "trigger_onset",
]
