"""``[alerts]`` in ``larza.toml``: early warning (see the README's "Early warning").

Example::

    [alerts]
    enabled = true
    min_stations = 3              # stations with P before a network alert
    min_magnitude = 4.0
    onsite_mmi = 5.0              # PLUM-style station alert at this observed intensity
    exercise = false              # a drill: every message is marked, CAP status Exercise
    [[alerts.sites]]
    name = "Usoi dam"
    latitude = 38.27
    longitude = 72.61
    threshold = 4.0               # warn at this predicted intensity (MMI)
    [alerts.intensity]            # MMI = c1 + c2 M + c3 log R + c4 R + c5 B + c6 M log R
    c1 = 0.309
    [alerts.sensors]              # a station's seismometer and accelerometer must agree
    min_ratio = 0.5               # share of the P motion the other sensor must show
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detection import (
    AgreementConfig,
    IntensityEquation,
    LocatorConfig,
    TargetSite,
    WarningConfig,
)

__all__ = [
    "AlertsTable",
    "IntensityTable",
    "SensorsTable",
    "SiteEntry",
    "agreement_config",
    "warning_config",
]

NOISE_GAP_S = 0.5
"""The co-located sensors' noise ends this long before the P onset (a pick a few samples
early leaves the P out of it)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteEntry(_Frozen):
    name: str = Field(min_length=1, max_length=100)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    threshold: float = Field(4.0, ge=1, le=10, description="MMI at which the site is warned")


class IntensityTable(_Frozen):
    """Coefficients of the intensity-prediction equation; the default is Atkinson, Worden &
    Wald (2014), active crustal regions."""

    c1: float = 0.309
    c2: float = 1.864
    c3: float = -1.672
    c4: float = -0.00219
    c5: float = 1.77
    c6: float = -0.383
    name: str = "Atkinson, Worden & Wald (2014), active crustal regions"


class SensorsTable(_Frozen):
    """The co-located sensors' agreement test (:func:`detection.compare_colocated`): a
    station's P enters the point source only when its seismometer and accelerometer agree."""

    min_ratio: float = Field(0.5, gt=0, lt=1, description="share of the motion the other shows")
    max_sigma: float = Field(
        1.0 / 6.0, gt=0, le=1, description="largest spread of that share, on noise, believed"
    )
    max_lag_s: float = Field(0.02, ge=0, le=1, description="lags searched either side")
    min_snr: float = Field(3.0, gt=0, description="RMS over noise RMS when the other clipped")
    noise_s: float = Field(
        10.0, gt=NOISE_GAP_S, le=20, description="noise read from this long before the onset"
    )
    min_noise_s: float = Field(2.0, gt=0, description="seconds of noise needed for a verdict")

    @model_validator(mode="after")
    def _noise_fits(self) -> Self:
        if self.min_noise_s > self.noise_s - NOISE_GAP_S:
            raise ValueError(
                f"need min_noise_s <= noise_s - {NOISE_GAP_S} (the noise ends {NOISE_GAP_S} s "
                f"before the onset), got min_noise_s={self.min_noise_s}, noise_s={self.noise_s}"
            )
        return self


class AlertsTable(_Frozen):
    enabled: bool = Field(True, description="run the early warning in the worker")
    min_stations: int = Field(3, ge=2, description="stations with P a network alert needs")
    min_magnitude: float = Field(4.0, description="smaller: no alert unless a site is warned")
    max_rms_s: float = Field(1.0, gt=0, description="picks fitting worse are not one quake")
    max_distance_km: float = Field(250.0, gt=0, description="farther epicentres: suppressed")
    min_timing_quality: int = Field(50, ge=0, le=100, description="worse clocks: picks unused")
    fixed_depth_km: float = Field(100.0, ge=0, description="depth while too few picks fix it")
    end_after_s: float = Field(30.0, gt=0, description="ended this long after S at every site")
    onsite_mmi: float = Field(5.0, ge=1, le=10, description="station alert at this intensity")
    onsite_agree_s: float = Field(5.0, gt=0, description="a second sensor or station within")
    exercise: bool = Field(
        False, description="a drill: messages are marked exercise (CAP status Exercise)"
    )
    sites: tuple[SiteEntry, ...] = ()
    intensity: IntensityTable = Field(default_factory=IntensityTable)
    sensors: SensorsTable = Field(default_factory=SensorsTable)


def warning_config(table: AlertsTable) -> WarningConfig:
    """The network warning's settings from the table."""
    eq = table.intensity
    return WarningConfig(
        min_stations=table.min_stations,
        max_rms_s=table.max_rms_s,
        max_distance_km=table.max_distance_km,
        min_timing_quality=table.min_timing_quality,
        min_magnitude=table.min_magnitude,
        end_after_s=table.end_after_s,
        sites=tuple(TargetSite(s.name, s.latitude, s.longitude, s.threshold) for s in table.sites),
        intensity=IntensityEquation(eq.c1, eq.c2, eq.c3, eq.c4, eq.c5, eq.c6, eq.name),
        locator=LocatorConfig(fixed_depth_km=table.fixed_depth_km, min_phases_free_depth=4),
    )


def agreement_config(table: AlertsTable) -> AgreementConfig:
    """The co-located sensors' test's settings from the table."""
    s = table.sensors
    return AgreementConfig(
        min_ratio=s.min_ratio,
        max_sigma=s.max_sigma,
        max_lag_s=s.max_lag_s,
        min_snr=s.min_snr,
        min_noise_s=s.min_noise_s,
    )
