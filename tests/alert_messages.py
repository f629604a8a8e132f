"""Network alert messages made the way the worker makes them (``ingest.alerts.engine``, from
the network warning's point source), for the tests of what the API and the dashboard show of
them: the same ``content`` keys the worker stores, not a hand-written imitation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from detection import Origin, PointSource, SiteForecast, WarningMessage
from ingest.alerts.engine import message_of
from stations.alerts import AlertMessage

# Near SAREZ: 12 km SW of it, as the dashboard says an epicentre.
LATITUDE, LONGITUDE = 38.19, 72.50
STATIONS = ("TJ.SAREZ", "TJ.MURGH", "TJ.MANEM")


def origin(time: datetime, *, depth_km: float = 10.0) -> Origin:
    return Origin(
        status="free",
        reason="",
        time=time.timestamp(),
        latitude=LATITUDE,
        longitude=LONGITUDE,
        depth_km=depth_km,
        rms=0.12,
        n_phases=3,
        n_stations=3,
        azimuthal_gap=200.0,
        min_distance_km=12.0,
        max_distance_km=120.0,
        time_error_s=None,
        latitude_error_km=None,
        longitude_error_km=None,
        depth_error_km=None,
        semi_major_km=None,
        semi_minor_km=None,
        ellipse_azimuth=None,
        quality="C",
        arrivals=(),
    )


def network_message(
    action: Literal["created", "updated"],
    *,
    made: datetime,
    magnitude: float,
    s_after: dict[str, float],
    mmi: dict[str, float],
    reason: str = "",
) -> AlertMessage:
    """A created or updated message, ``made`` at that time; each site's S arrives
    ``s_after[name]`` seconds after ``made`` with intensity ``mmi[name]``."""
    sites = tuple(
        SiteForecast(
            name=name,
            latitude=38.27 + 0.1 * i,
            longitude=72.61 - 0.5 * i,
            mmi=mmi[name],
            s_arrival=(made + timedelta(seconds=seconds)).timestamp(),
            warning_s=seconds,
            alert=mmi[name] >= 5.0,
        )
        for i, (name, seconds) in enumerate(s_after.items())
    )
    source = PointSource(
        origin=origin(made - timedelta(seconds=20)),
        magnitude=magnitude,
        magnitude_sigma=0.4,
        stations=STATIONS,
        sites=sites,
    )
    return message_of(WarningMessage(action=action, source=source, reason=reason))


def cancel_message(reason: str = "the picks were coincident glitches") -> AlertMessage:
    return message_of(WarningMessage(action="cancelled", source=None, reason=reason))
