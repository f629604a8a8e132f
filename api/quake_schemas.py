"""What the API says of an earthquake beyond its detections: origin, arrivals, station
magnitudes and ground motion (parts of ``EventOut``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "ArrivalOut",
    "GroundMotionOut",
    "OriginOut",
    "PredictedArrivalOut",
    "StationMagnitudeOut",
]


class ArrivalOut(BaseModel):
    detection_id: int
    stream: str = Field(description="NET.STA.LOC.CHA of the pick")
    phase: Literal["P", "S"] = Field(description="the phase the origin uses the pick as")
    residual: float | None = Field(description="observed minus predicted, seconds")
    weight: float = Field(description="0-1: how much the locator used it (Huber)")
    distance_km: float | None = Field(description="epicentral distance")
    azimuth: float | None = Field(description="from the epicentre to the station, degrees")


class PredictedArrivalOut(BaseModel):
    station: str = Field(description="NET.STA")
    phase: Literal["P", "S"]
    time: datetime = Field(description="when the origin has the phase reach the station")
    distance_km: float = Field(description="epicentral")


class OriginOut(BaseModel):
    version: int = Field(description="1 at the event's creation, one more with each update")
    status: Literal["free", "fixed_depth", "not_located"]
    reason: str = Field(description="why the depth is fixed or the event not located")
    time: datetime | None
    latitude: float | None
    longitude: float | None
    depth_km: float | None = Field(description="below sea level")
    time_error_s: float | None
    latitude_error_km: float | None
    longitude_error_km: float | None
    depth_error_km: float | None
    semi_major_km: float | None = Field(description="68.3 % confidence ellipse")
    semi_minor_km: float | None
    ellipse_azimuth: float | None
    rms: float | None = Field(description="seconds")
    azimuthal_gap: float | None = Field(description="degrees")
    n_phases: int
    n_stations: int
    min_distance_km: float | None
    max_distance_km: float | None
    quality: str = Field(description="HYPO71 grade A (best) to D; - not located")
    created_at: datetime
    arrivals: list[ArrivalOut]
    predicted: list[PredictedArrivalOut] = Field(
        default_factory=list,
        description="P and S times the located origin predicts at each station of the event, "
        "picked or not (the worker's travel times; empty for origins stored before Larza "
        "kept them)",
    )


class StationMagnitudeOut(BaseModel):
    station: str = Field(description="NET.STA")
    channels: list[str]
    amplitudes_mm: list[float] = Field(description="peak Wood-Anderson amplitude per channel")
    distance_km: float = Field(description="as the calibration uses it (hypocentral default)")
    magnitude: float
    correction: float
    used: bool = Field(description="in the network magnitude (false: trimmed)")


class GroundMotionOut(BaseModel):
    station: str = Field(description="NET.STA")
    channels: list[str]
    distance_km: float | None = Field(description="hypocentral")
    pga_cms2: float
    pga_g_pct: float
    pgv_cms: float
    psa_03_g_pct: float = Field(description="pseudo-spectral acceleration, 0.3 s, 5 % damping")
    psa_10_g_pct: float
    psa_30_g_pct: float
    intensity: float = Field(description="instrumental intensity, Worden et al. (2012)")
