"""An event's epicentre map (SVG): stations and the epicentre where their coordinates put
them, the uncertainty ellipse or error circle to scale, ticks on the right meridians and
parallels; checked against ObsPy's geodesy, not against the map's own projection."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from obspy.geodetics import gps2dist_azimuth, locations2degrees
from sqlalchemy.orm import Session

from api.event_map import EARTH_RADIUS_KM, Epicentre, MapStation, event_map_svg
from stations.models import LocationStatus
from stations.quakes import NewArrival, NewOrigin, event_quakes, store_origin
from stations.queries import get_event

from .test_quakes_api import QUAKES, store_quakes

NS = {"svg": "http://www.w3.org/2000/svg"}
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0
TJ = {"TJ.SAREZ": (38.27, 72.60), "TJ.MURGH": (38.17, 73.96), "TJ.MANEM": (37.49, 71.55)}


def _svg(client: TestClient, event_id: int) -> ET.Element:
    answer = client.get(f"/api/v1/events/{event_id}/map.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    return ET.fromstring(answer.content)


def _translate(node: ET.Element) -> tuple[float, float]:
    found = re.fullmatch(r"translate\(([-\d.]+) ([-\d.]+)\)", node.attrib["transform"])
    assert found is not None
    return float(found[1]), float(found[2])


def _px_per_km(root: ET.Element) -> float:
    bar = root.find(".//svg:line[@id='scale-bar']", NS)
    assert bar is not None
    km = float(bar.attrib["data-km"])
    label = [t.text for t in root.iterfind(".//svg:g[@class='scale-bar']/svg:text", NS)]
    assert label == [f"{km:g} km"]
    return (float(bar.attrib["x2"]) - float(bar.attrib["x1"])) / km


def _epicentre(root: ET.Element) -> tuple[float, float]:
    star = root.find(".//svg:g[@id='epicentre']", NS)
    assert star is not None
    return float(star.attrib["data-x"]), float(star.attrib["data-y"])


def _stations(root: ET.Element) -> dict[str, tuple[tuple[float, float], str]]:
    return {
        g.attrib["data-station"]: (_translate(g), g.attrib["class"].split()[1])
        for g in root.iterfind(".//svg:g[@data-station]", NS)
    }


def _assert_placed(
    at: tuple[float, float],
    epicentre_px: tuple[float, float],
    epicentre: tuple[float, float],
    place: tuple[float, float],
    px_per_km: float,
) -> None:
    """``at`` is where ``place`` is seen from the epicentre: at its great-circle distance
    (ObsPy, on the locator's sphere) and bearing (ObsPy, on the ellipsoid; they differ by
    hundredths of a degree here), screen y pointing south."""
    distance = locations2degrees(*epicentre, *place) * KM_PER_DEGREE
    _, bearing, _ = gps2dist_azimuth(*epicentre, *place)
    dx, dy = at[0] - epicentre_px[0], at[1] - epicentre_px[1]
    assert math.hypot(dx, dy) / px_per_km == pytest.approx(distance, rel=1e-3, abs=0.05)
    seen = math.degrees(math.atan2(dx, -dy)) % 360.0
    assert abs((seen - bearing + 180.0) % 360.0 - 180.0) < 0.3


def test_epicentre_stations_and_ellipse_are_where_their_coordinates_say(
    client: TestClient, inventory: Session
) -> None:
    ids = store_quakes(inventory)
    _minutes, lat, lon, _depth, _ml = QUAKES["deep near Murghob"]
    root = _svg(client, ids["deep near Murghob"])
    k = _px_per_km(root)
    centre = _epicentre(root)
    stations = _stations(root)
    assert set(stations) == set(TJ)
    for sid, (at, kind) in stations.items():
        assert kind == "used"  # every arrival has weight 1
        _assert_placed(at, centre, (lat, lon), TJ[sid], k)
    ellipse = root.find(".//svg:ellipse[@id='ellipse']", NS)
    assert ellipse is not None
    assert (float(ellipse.attrib["cx"]), float(ellipse.attrib["cy"])) == pytest.approx(centre)
    assert float(ellipse.attrib["rx"]) / k == pytest.approx(3.5, rel=1e-3)
    assert float(ellipse.attrib["ry"]) / k == pytest.approx(1.8, rel=1e-3)
    # The major axis at azimuth 60 (clockwise from north): rx along +x turned by 60 - 90.
    turn = re.fullmatch(r"rotate\(([-\d.]+) [-\d.]+ [-\d.]+\)", ellipse.attrib["transform"])
    assert turn is not None
    angle = math.radians(float(turn[1]))
    end = (math.cos(angle), math.sin(angle))  # the major axis's end, screen y down
    assert math.degrees(math.atan2(end[0], -end[1])) % 180.0 == pytest.approx(60.0)
    assert root.find(".//svg:circle[@id='error-circle']", NS) is None
    title = root.find("svg:title", NS)
    assert title is not None
    assert title.text is not None
    assert "3 of 3 stations used" in title.text


def test_ticks_lie_on_their_meridians_and_parallels() -> None:
    """A station exactly on 38.5°N and one on 72.5°E: the parallel and the meridian drawn
    for them pass through their markers, and each tick is where its line leaves the map."""
    stations = [
        MapStation("XX.ONLAT", 38.5, 72.13, True),
        MapStation("XX.ONLON", 38.02, 72.5, False),
        MapStation("XX.OTHER", 37.6, 73.3, True),
    ]
    root = ET.fromstring(event_map_svg("t", stations, Epicentre(38.1, 72.7, error_km=4.0)))
    placed = _stations(root)
    for axis, value, sid in (("lat", "38.5", "XX.ONLAT"), ("lon", "72.5", "XX.ONLON")):
        line = root.find(f".//svg:polyline[@data-{axis}='{value}']", NS)
        assert line is not None, f"no {axis} {value} drawn"
        points = [tuple(map(float, p.split(","))) for p in line.attrib["points"].split()]
        x, y = placed[sid][0]
        assert min(_to_segment((x, y), a, b) for a, b in _pairs(points)) < 0.3
        tick = root.find(f".//svg:line[@class='tick'][@data-{axis}='{value}']", NS)
        assert tick is not None
        edge = float(tick.attrib["x1"]) if axis == "lon" else float(tick.attrib["y2"])
        bottom = float(tick.attrib["y1"]) if axis == "lon" else float(tick.attrib["x2"])
        crossing = [
            _at(a, b, bottom, vertical=axis == "lat")
            for a, b in _pairs(points)
            if (a[1] - bottom if axis == "lon" else a[0] - bottom)
            * (b[1] - bottom if axis == "lon" else b[0] - bottom)
            <= 0
        ]
        assert crossing
        assert crossing[0] == pytest.approx(edge, abs=0.05)
    assert placed["XX.ONLON"][1] == "unused"
    circle = root.find(".//svg:circle[@id='error-circle']", NS)
    assert circle is not None
    assert float(circle.attrib["r"]) / _px_per_km(root) == pytest.approx(4.0, rel=1e-3)
    labels = {t.text for t in root.iterfind(".//svg:text[@class='tick-label']", NS)}
    assert {"38.5°N", "72.5°E"} <= labels


def _pairs(
    points: list[tuple[float, ...]],
) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    return list(itertools.pairwise(points))


def _to_segment(p: tuple[float, float], a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, bx, by = a[0], a[1], b[0], b[1]
    t = ((p[0] - ax) * (bx - ax) + (p[1] - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)
    t = min(1.0, max(0.0, t))
    return math.hypot(p[0] - ax - t * (bx - ax), p[1] - ay - t * (by - ay))


def _at(a: tuple[float, ...], b: tuple[float, ...], at: float, *, vertical: bool) -> float:
    i, j = (0, 1) if vertical else (1, 0)
    f = (at - a[i]) / (b[i] - a[i])
    return a[j] + f * (b[j] - a[j])


def test_an_origin_without_ellipse_has_an_error_circle_and_unused_stations_are_hollow(
    client: TestClient, inventory: Session
) -> None:
    ids = store_quakes(inventory)
    event = get_event(inventory, event_id=ids["shallow near Sarez"])
    quake = event_quakes(inventory, event_ids=[event.id])[event.id]
    assert quake.origin is not None
    last = quake.origin
    detections = {d.id: d.channel.station.code for d in event.detections}
    store_origin(
        inventory,
        event=event,
        origin=NewOrigin(
            status=LocationStatus.FREE,
            reason="",
            time=last.time,
            latitude=38.25,
            longitude=72.65,
            depth_km=12.0,
            rms=0.1,
            n_phases=3,
            n_stations=2,
            azimuthal_gap=200.0,
            min_distance_km=5.0,
            max_distance_km=120.0,
            time_error_s=0.5,
            latitude_error_km=2.5,
            longitude_error_km=6.0,
            depth_error_km=8.0,
            semi_major_km=None,
            semi_minor_km=None,
            ellipse_azimuth=None,
            quality="C",
            arrivals=tuple(
                NewArrival(
                    d, a.phase, a.residual, 0.0 if detections[d] == "MANEM" else 1.0, None, None
                )
                for a in last.arrivals
                for d in [a.detection_id]
            ),
        ),
        now=event.updated_at + timedelta(minutes=5),
    )
    root = _svg(client, event.id)
    k = _px_per_km(root)
    assert root.find(".//svg:ellipse", NS) is None
    circle = root.find(".//svg:circle[@id='error-circle']", NS)
    assert circle is not None
    assert float(circle.attrib["r"]) / k == pytest.approx(6.0, rel=1e-3)  # the larger error
    stations = _stations(root)
    assert {sid: kind for sid, (_, kind) in stations.items()} == {
        "TJ.SAREZ": "used",
        "TJ.MURGH": "used",
        "TJ.MANEM": "unused",
    }
    for sid, (at, _) in stations.items():
        _assert_placed(at, _epicentre(root), (38.25, 72.65), TJ[sid], k)


def test_an_event_not_located_shows_the_stations_that_detected_it(
    client: TestClient, inventory: Session
) -> None:
    from .test_plots import NOW, _event

    event_id = _event(inventory, {"TJ.SAREZ..HHZ": NOW, "TJ.MURGH..HHZ": NOW})
    root = _svg(client, event_id)
    assert root.find(".//svg:g[@id='epicentre']", NS) is None
    kinds = {sid: kind for sid, (_, kind) in _stations(root).items()}
    assert kinds == {"TJ.SAREZ": "used", "TJ.MURGH": "used", "TJ.MANEM": "unused"}
    assert "not located" in ET.tostring(root, encoding="unicode")
    assert client.get("/api/v1/events/999999/map.svg").status_code == 404
