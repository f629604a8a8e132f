"""Two real earthquakes located from their published picks, against another locator.

The data: ``westaus_events.xml`` in ObsPy's SeisComP test data (``obspy/io/seiscomp/tests/
data``), two automatic events of 2020-08-28 in Western Australia from the Research School of
Earth Sciences (ANU): EQTransformer picks at 4 stations, located by NonLinLoc, each origin with
its arrivals (phase, epicentral distance and azimuth to the station), residuals and an
uncertainty ellipsoid. Written by no one here, with a reference origin and its uncertainty:
what issue 14 asks for. NonLinLoc's model is not in the file; Larza uses ak135 (the Yilgarn
crust is not far from it). The file carries no station coordinates, so each station is put
where the reference origin's distance and azimuth to it say (to the metre, from the stored
values): what is tested is the location from the picks, not the station metadata.

The event of 06:26 is poorly constrained (4 stations, gap 190 degrees; NonLinLoc: 17-52 km
horizontally, depth +- 43 km); the one of 22:47 well (6-7 km, depth +- 3.3 km). Larza's
origins must fall within those uncertainties.
"""

from __future__ import annotations

from pathlib import Path

import obspy
import pytest

from detection import (
    Observation,
    StationCoordinates,
    TravelTimeTable,
    destination,
    distance_km,
    locate,
)
from ingest.quakes.traveltimes import EARTH_RADIUS_KM, TableGrid, load_table
from ingest.quakes.velocity import named_model

EVENTS = Path(obspy.__file__).parent / "io" / "seiscomp" / "tests" / "data" / "westaus_events.xml"
KM_PER_DEGREE = EARTH_RADIUS_KM * 3.141592653589793 / 180


@pytest.fixture(scope="module")
def ak135(table_cache: Path) -> TravelTimeTable:
    grid = TableGrid(
        max_distance_km=600.0, max_depth_km=100.0, distance_step_km=2.0, depth_step_km=2.0
    )
    return load_table(named_model("ak135"), grid, table_cache)


@pytest.mark.parametrize("index", [0, 1])
def test_the_picks_locate_within_the_reference_uncertainty(
    ak135: TravelTimeTable, index: int
) -> None:
    event = obspy.read_events(str(EVENTS))[index]
    reference = event.preferred_origin() or event.origins[0]
    picks = {p.resource_id.id: p for p in event.picks}
    stations: dict[str, StationCoordinates] = {}
    observations = []
    for arrival in reference.arrivals:
        pick = picks[arrival.pick_id.id]
        name = pick.waveform_id.station_code
        lat, lon = destination(
            reference.latitude,
            reference.longitude,
            arrival.azimuth,
            arrival.distance * KM_PER_DEGREE,
        )
        stations[name] = StationCoordinates(float(lat), float(lon))
        sigma = 0.1 if arrival.phase == "P" else 0.2  # the file gives none
        observations.append(Observation(name, arrival.phase, pick.time.timestamp, sigma))
    assert len(stations) == 4
    assert len(observations) in (6, 7)

    origin = locate(observations, stations, ak135)

    assert origin.status == "free"
    off = float(
        distance_km(reference.latitude, reference.longitude, origin.latitude, origin.longitude)
    )
    horizontal = reference.origin_uncertainty.min_horizontal_uncertainty
    assert off < horizontal
    assert abs(origin.depth_km - reference.depth / 1000) < reference.depth_errors.uncertainty / 1000
    assert abs(origin.time - reference.time.timestamp) < 1.0
    assert (origin.n_phases, origin.n_stations) == (len(observations), 4)
    assert origin.azimuthal_gap > 180
    assert reference.quality.azimuthal_gap > 180
    assert origin.quality == "D"  # HYPO71: fewer than 6 stations
