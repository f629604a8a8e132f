"""An origin's uncertainties and quality as QuakeML (ObsPy's objects), one way for every
writer: the API's documents of stored origins and ``larza detect``'s of fresh ones."""

from __future__ import annotations

from typing import Any, Protocol

KM_PER_DEGREE = 111.19492664455873
"""Kilometres in a degree of a great circle (QuakeML gives distances in degrees)."""


class OriginErrors(Protocol):
    """What a located origin says of its uncertainty (a stored origin, or the locator's)."""

    @property
    def time_error_s(self) -> float | None: ...
    @property
    def latitude_error_km(self) -> float | None: ...
    @property
    def longitude_error_km(self) -> float | None: ...
    @property
    def depth_error_km(self) -> float | None: ...
    @property
    def semi_major_km(self) -> float | None: ...
    @property
    def semi_minor_km(self) -> float | None: ...
    @property
    def ellipse_azimuth(self) -> float | None: ...
    @property
    def n_phases(self) -> int: ...
    @property
    def n_stations(self) -> int: ...
    @property
    def rms(self) -> float | None: ...
    @property
    def azimuthal_gap(self) -> float | None: ...
    @property
    def min_distance_km(self) -> float | None: ...
    @property
    def max_distance_km(self) -> float | None: ...


def add_origin_errors(origin: Any, o: OriginErrors) -> None:
    """Set ``origin``'s (an ``obspy.core.event.Origin``) time, place and depth errors, its
    68.3 % ellipse and its quality from ``o``."""
    from obspy.core.event import OriginQuality, OriginUncertainty, QuantityError

    if o.time_error_s is not None:
        origin.time_errors = QuantityError(uncertainty=o.time_error_s)
    if o.latitude_error_km is not None:
        origin.latitude_errors = QuantityError(uncertainty=o.latitude_error_km / KM_PER_DEGREE)
    if o.longitude_error_km is not None:
        origin.longitude_errors = QuantityError(uncertainty=o.longitude_error_km / KM_PER_DEGREE)
    if o.depth_error_km is not None:
        origin.depth_errors = QuantityError(uncertainty=o.depth_error_km * 1000.0)
    if o.semi_major_km is not None and o.semi_minor_km is not None:
        origin.origin_uncertainty = OriginUncertainty(
            min_horizontal_uncertainty=o.semi_minor_km * 1000.0,
            max_horizontal_uncertainty=o.semi_major_km * 1000.0,
            azimuth_max_horizontal_uncertainty=o.ellipse_azimuth,
            preferred_description="uncertainty ellipse",
            confidence_level=68.3,
        )
    origin.quality = OriginQuality(
        used_phase_count=o.n_phases,
        used_station_count=o.n_stations,
        standard_error=o.rms,
        azimuthal_gap=o.azimuthal_gap,
        minimum_distance=None if o.min_distance_km is None else o.min_distance_km / KM_PER_DEGREE,
        maximum_distance=None if o.max_distance_km is None else o.max_distance_km / KM_PER_DEGREE,
    )
