"""An event's epicentre map as SVG, drawn here without tiles or internet: the network's
stations (filled where the origin used their arrivals, hollow where not), the epicentre with
its 68 % confidence ellipse (or an error circle of the larger of its latitude and longitude
errors when the locator gave no ellipse), a graticule with latitude and longitude ticks, and
a scale bar.

The projection is azimuthal equidistant about the map's centre (the epicentre when there is
one) on the sphere the locator measures on (radius 6371 km): every station is at its true
great-circle distance and bearing from the epicentre, so the ellipse, given in km about the
epicentre, is drawn to the same scale. Over the few hundred kilometres of a local network
the scale elsewhere on the map differs from the bar's by less than 0.1 %.

No coastline or borders are drawn: the map shows where the stations and the epicentre are
relative to one another and to the graticule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import numpy.typing as npt

__all__ = ["EARTH_RADIUS_KM", "Epicentre", "MapFrame", "MapStation", "event_map_svg"]

EARTH_RADIUS_KM = 6371.0
WIDTH_PX = 640
MAX_HEIGHT_PX = 640
MIN_SPAN_KM = 40.0
MARGIN = {"left": 64.0, "right": 14.0, "top": 14.0, "bottom": 40.0}
STEPS_DEG = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
BAR_KM = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MapStation:
    """A station of the network; ``used``: the origin used one of its arrivals."""

    id: str
    latitude: float
    longitude: float
    used: bool
    note: str = ""


@dataclass(frozen=True)
class Epicentre:
    """Where the origin is, and its horizontal uncertainty in km (ellipse azimuth: of the
    major axis, degrees clockwise from north)."""

    latitude: float
    longitude: float
    semi_major_km: float | None = None
    semi_minor_km: float | None = None
    azimuth: float | None = None
    error_km: float | None = None

    @property
    def has_ellipse(self) -> bool:
        return (
            self.semi_major_km is not None
            and self.semi_minor_km is not None
            and self.azimuth is not None
            and self.semi_major_km > 0
        )

    @property
    def reach_km(self) -> float:
        """How far from the epicentre its uncertainty is drawn."""
        if self.has_ellipse:
            assert self.semi_major_km is not None
            return self.semi_major_km
        return self.error_km or 0.0


def offsets_km(
    lat0: float, lon0: float, lat: npt.ArrayLike, lon: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """East and north of (``lat``, ``lon``) from (``lat0``, ``lon0``) on the azimuthal
    equidistant projection about it: great-circle distance along the initial bearing."""
    p0, l0 = math.radians(lat0), math.radians(lon0)
    p, dl = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float)) - l0
    h = np.sin((p - p0) / 2) ** 2 + math.cos(p0) * np.cos(p) * np.sin(dl / 2) ** 2
    d = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    az = np.arctan2(
        np.sin(dl) * np.cos(p), math.cos(p0) * np.sin(p) - math.sin(p0) * np.cos(p) * np.cos(dl)
    )
    return d * np.sin(az), d * np.cos(az)


def place_of(lat0: float, lon0: float, east_km: float, north_km: float) -> tuple[float, float]:
    """The inverse of :func:`offsets_km`: latitude and longitude of a projected point."""
    delta = math.hypot(east_km, north_km) / EARTH_RADIUS_KM
    theta = math.atan2(east_km, north_km)
    p0, l0 = math.radians(lat0), math.radians(lon0)
    p = math.asin(math.sin(p0) * math.cos(delta) + math.cos(p0) * math.sin(delta) * math.cos(theta))
    lon = l0 + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(p0),
        math.cos(delta) - math.sin(p0) * math.sin(p),
    )
    return math.degrees(p), (math.degrees(lon) + 540.0) % 360.0 - 180.0


@dataclass(frozen=True)
class MapFrame:
    """The projection's centre, the km each side of it shown, and the pixels per km."""

    latitude: float
    longitude: float
    west_km: float
    east_km: float
    south_km: float
    north_km: float
    px_per_km: float

    @property
    def width(self) -> float:
        return MARGIN["left"] + (self.east_km - self.west_km) * self.px_per_km + MARGIN["right"]

    @property
    def height(self) -> float:
        return MARGIN["top"] + (self.north_km - self.south_km) * self.px_per_km + MARGIN["bottom"]

    @property
    def plot_box(self) -> tuple[float, float, float, float]:
        """Left, top, right, bottom of the mapped area, pixels."""
        return (
            MARGIN["left"],
            MARGIN["top"],
            self.width - MARGIN["right"],
            self.height - MARGIN["bottom"],
        )

    def xy_km(self, east: FloatArray, north: FloatArray) -> tuple[FloatArray, FloatArray]:
        x = MARGIN["left"] + (east - self.west_km) * self.px_per_km
        y = MARGIN["top"] + (self.north_km - north) * self.px_per_km
        return x, y

    def xy(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        return self.xy_km(*offsets_km(self.latitude, self.longitude, lat, lon))


def frame_for(stations: Sequence[MapStation], epicentre: Epicentre | None) -> MapFrame:
    """A frame about the epicentre (else the stations' middle) that holds every station and
    the epicentre's uncertainty, with room for the labels."""
    if epicentre is not None:
        lat0, lon0 = epicentre.latitude, epicentre.longitude
    elif stations:
        lats = [s.latitude for s in stations]
        lons = [s.longitude for s in stations]
        lat0, lon0 = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
    else:
        lat0, lon0 = 38.8, 71.3  # Tajikistan, with nothing to place
    east, north = offsets_km(
        lat0, lon0, [s.latitude for s in stations], [s.longitude for s in stations]
    )
    reach = epicentre.reach_km if epicentre is not None else 0.0
    xs = [*east.tolist(), -reach, reach]
    ys = [*north.tolist(), -reach, reach]
    span_x = max(max(xs) - min(xs), MIN_SPAN_KM)
    span_y = max(max(ys) - min(ys), MIN_SPAN_KM)
    pad_x, pad_y = 0.12 * span_x + 5, 0.12 * span_y + 5
    west, east_edge = min(xs) - pad_x, max(xs) + pad_x
    south, north_edge = min(ys) - pad_y, max(ys) + pad_y
    # Widen the narrower side so the drawing is at most 3:2 either way.
    width_km, height_km = east_edge - west, north_edge - south
    if width_km < height_km / 1.5:
        grow = (height_km / 1.5 - width_km) / 2
        west, east_edge = west - grow, east_edge + grow
    elif height_km < width_km / 1.5:
        grow = (width_km / 1.5 - height_km) / 2
        south, north_edge = south - grow, north_edge + grow
    inner_w = WIDTH_PX - MARGIN["left"] - MARGIN["right"]
    inner_h = MAX_HEIGHT_PX - MARGIN["top"] - MARGIN["bottom"]
    scale = min(inner_w / (east_edge - west), inner_h / (north_edge - south))
    return MapFrame(lat0, lon0, west, east_edge, south, north_edge, scale)


def _fmt(value: float) -> str:
    return f"{value:.2f}"


def _degrees(value: float, positive: str, negative: str) -> str:
    text = f"{abs(value):.2f}".rstrip("0").rstrip(".")
    return f"{text}°{positive if value >= 0 else negative}"


def _graticule(frame: MapFrame) -> list[str]:
    """Meridians and parallels at a round step, clipped to the map, each labelled where it
    leaves the map: meridians at the bottom edge, parallels at the left edge."""
    corners = [
        place_of(frame.latitude, frame.longitude, e, n)
        for e in (frame.west_km, 0.0, frame.east_km)
        for n in (frame.south_km, 0.0, frame.north_km)
    ]
    lats = [c[0] for c in corners]
    lons = [c[1] for c in corners]
    lat_range, lon_range = max(lats) - min(lats), max(lons) - min(lons)
    step = next((s for s in STEPS_DEG if max(lat_range, lon_range) / s <= 6), STEPS_DEG[-1])
    left, top, right, bottom = frame.plot_box
    parts: list[str] = []
    labels: list[str] = []
    samples = np.linspace(-0.1, 1.1, 73)  # past the frame's corners: every line crosses its edge
    for axis in ("lon", "lat"):
        low, high = (min(lons), max(lons)) if axis == "lon" else (min(lats), max(lats))
        for k in range(math.ceil(low / step), math.floor(high / step) + 1):
            value = round(k * step, 6)
            if axis == "lon":
                line_lat = min(lats) + samples * (max(lats) - min(lats))
                x, y = frame.xy(line_lat, np.full_like(line_lat, value))
            else:
                line_lon = min(lons) + samples * (max(lons) - min(lons))
                x, y = frame.xy(np.full_like(line_lon, value), line_lon)
            points = " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in zip(x, y, strict=True))
            parts.append(f'<polyline class="grat" data-{axis}="{value:g}" points="{points}"/>')
            edge = (
                _crossing(x, y, bottom, vertical=False)
                if axis == "lon"
                else _crossing(x, y, left, vertical=True)
            )
            if edge is None or not (
                (left <= edge <= right) if axis == "lon" else (top <= edge <= bottom)
            ):
                continue
            if axis == "lon":
                text = _degrees(value, "E", "W")
                labels.append(
                    f'<line class="tick" data-lon="{value:g}" x1="{_fmt(edge)}" y1="{_fmt(bottom)}"'
                    f' x2="{_fmt(edge)}" y2="{_fmt(bottom + 5)}"/>'
                    f'<text class="tick-label" x="{_fmt(edge)}" y="{_fmt(bottom + 17)}"'
                    f' text-anchor="middle">{text}</text>'
                )
            else:
                text = _degrees(value, "N", "S")
                labels.append(
                    f'<line class="tick" data-lat="{value:g}" x1="{_fmt(left - 5)}"'
                    f' y1="{_fmt(edge)}" x2="{_fmt(left)}" y2="{_fmt(edge)}"/>'
                    f'<text class="tick-label" x="{_fmt(left - 7)}" y="{_fmt(edge + 4)}"'
                    f' text-anchor="end">{text}</text>'
                )
    return ['<g clip-path="url(#event-map-area)">', *parts, "</g>", *labels]


def _crossing(x: FloatArray, y: FloatArray, at: float, *, vertical: bool) -> float | None:
    """Where the polyline crosses ``x = at`` (``vertical``) or ``y = at``: the other
    coordinate, interpolated; ``None`` if it does not."""
    a, b = (x, y) if vertical else (y, x)
    for i in range(len(a) - 1):
        if (a[i] - at) * (a[i + 1] - at) <= 0 and a[i] != a[i + 1]:
            f = (at - a[i]) / (a[i + 1] - a[i])
            return float(b[i] + f * (b[i + 1] - b[i]))
    return None


def _scale_bar(frame: MapFrame) -> str:
    left, _top, right, bottom = frame.plot_box
    wanted = 0.25 * (right - left) / frame.px_per_km
    km = max((b for b in BAR_KM if b <= wanted), default=BAR_KM[0])
    x0, y0 = left + 12, bottom - 14
    x1 = x0 + km * frame.px_per_km
    return (
        f'<g class="scale-bar"><rect class="scale-back" x="{_fmt(x0 - 6)}" y="{_fmt(y0 - 18)}"'
        f' width="{_fmt(x1 - x0 + 12)}" height="26"/>'
        f'<line id="scale-bar" data-km="{km}" x1="{_fmt(x0)}" y1="{_fmt(y0)}" x2="{_fmt(x1)}"'
        f' y2="{_fmt(y0)}"/>'
        f'<line x1="{_fmt(x0)}" y1="{_fmt(y0 - 5)}" x2="{_fmt(x0)}" y2="{_fmt(y0 + 3)}"/>'
        f'<line x1="{_fmt(x1)}" y1="{_fmt(y0 - 5)}" x2="{_fmt(x1)}" y2="{_fmt(y0 + 3)}"/>'
        f'<text x="{_fmt((x0 + x1) / 2)}" y="{_fmt(y0 - 6)}" text-anchor="middle">{km} km</text>'
        "</g>"
    )


def _uncertainty(frame: MapFrame, epicentre: Epicentre, x: float, y: float) -> str:
    if epicentre.has_ellipse:
        assert epicentre.semi_major_km is not None
        assert epicentre.semi_minor_km is not None
        assert epicentre.azimuth is not None
        # The major axis along +x (east) turned clockwise on the screen to its azimuth.
        turn = epicentre.azimuth - 90.0
        return (
            f'<ellipse id="ellipse" class="uncertainty" data-azimuth="{epicentre.azimuth:g}"'
            f' cx="{_fmt(x)}" cy="{_fmt(y)}" rx="{_fmt(epicentre.semi_major_km * frame.px_per_km)}"'
            f' ry="{_fmt(epicentre.semi_minor_km * frame.px_per_km)}"'
            f' transform="rotate({turn:g} {_fmt(x)} {_fmt(y)})"/>'
        )
    if epicentre.error_km:
        return (
            f'<circle id="error-circle" class="uncertainty" cx="{_fmt(x)}" cy="{_fmt(y)}"'
            f' r="{_fmt(epicentre.error_km * frame.px_per_km)}"/>'
        )
    return ""


def _star(x: float, y: float, outer: float = 9.0, inner: float = 3.8) -> str:
    points = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        a = math.pi * k / 5
        points.append(f"{_fmt(x + r * math.sin(a))},{_fmt(y - r * math.cos(a))}")
    return " ".join(points)


STYLE = """
#event-map-svg { font: 12px system-ui, sans-serif; background: #fff; }
#event-map-svg .frame { fill: #f4f7fa; stroke: #555; stroke-width: 1; }
#event-map-svg .grat { fill: none; stroke: #b8c4d0; stroke-width: 0.8; }
#event-map-svg .tick { stroke: #555; }
#event-map-svg .tick-label { fill: #333; font-size: 11px; }
#event-map-svg .station.used polygon { fill: #1f5fa8; stroke: #0d2f57; stroke-width: 1.2; }
#event-map-svg .station.unused polygon { fill: #fff; stroke: #777; stroke-width: 1.5; }
#event-map-svg .station text { fill: #222; font-size: 11px; }
#event-map-svg .station.unused text { fill: #666; }
#event-map-svg .uncertainty { fill: rgba(176, 0, 32, 0.15); stroke: #b00020; stroke-width: 1.5; }
#event-map-svg #epicentre polygon { fill: #b00020; stroke: #fff; stroke-width: 1; }
#event-map-svg .scale-back { fill: rgba(255, 255, 255, 0.85); }
#event-map-svg .scale-bar line { stroke: #222; stroke-width: 2; }
#event-map-svg .scale-bar text { fill: #222; }
#event-map-svg .note { fill: #444; font-size: 12px; }
"""
"""Scoped to the map's own id: the dashboard puts the SVG inline in its page."""


def event_map_svg(
    title: str,
    stations: Sequence[MapStation],
    epicentre: Epicentre | None,
    note: str = "",
) -> str:
    """The map as an SVG document (see the module)."""
    frame = frame_for(stations, epicentre)
    left, top, right, bottom = frame.plot_box
    w, h = frame.width, frame.height
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="event-map-svg" width="{_fmt(w)}"'
        f' height="{_fmt(h)}" viewBox="0 0 {_fmt(w)} {_fmt(h)}" role="img"'
        ' aria-labelledby="event-map-title"'
        f' data-centre="{frame.latitude:.6f},{frame.longitude:.6f}">',
        f'<title id="event-map-title">{escape(title)}</title>',
        f"<style>{STYLE}</style>",
        f'<defs><clipPath id="event-map-area"><rect x="{_fmt(left)}" y="{_fmt(top)}"'
        f' width="{_fmt(right - left)}" height="{_fmt(bottom - top)}"/></clipPath></defs>',
        f'<rect class="frame" x="{_fmt(left)}" y="{_fmt(top)}" width="{_fmt(right - left)}"'
        f' height="{_fmt(bottom - top)}"/>',
        *_graticule(frame),
    ]
    if epicentre is not None:
        ex, ey = (float(v) for v in frame.xy(epicentre.latitude, epicentre.longitude))
        out.append(_uncertainty(frame, epicentre, ex, ey))
    lats = [s.latitude for s in stations]
    lons = [s.longitude for s in stations]
    xs, ys = frame.xy(lats, lons)
    for s, x, y in zip(stations, xs.tolist(), ys.tolist(), strict=True):
        kind = "used" if s.used else "unused"
        code = s.id.split(".")[-1]
        tip = f"{s.id}: {'arrivals used' if s.used else 'no arrival used'}"
        tip += f" · {s.note}" if s.note else ""
        out.append(
            f'<g class="station {kind}" data-station="{escape(s.id)}"'
            f' transform="translate({_fmt(x)} {_fmt(y)})"><title>{escape(tip)}</title>'
            '<polygon points="0,-8 7,5 -7,5"/>'
            f'<text x="0" y="-11" text-anchor="middle">{escape(code)}</text></g>'
        )
    if epicentre is not None:
        out.append(
            f'<g id="epicentre" data-x="{_fmt(ex)}" data-y="{_fmt(ey)}">'
            f"<title>epicentre {epicentre.latitude:.3f}°, {epicentre.longitude:.3f}°</title>"
            f'<polygon points="{_star(ex, ey)}"/></g>'
        )
    out.append(_scale_bar(frame))
    if note:
        out.append(
            f'<text class="note" x="{_fmt(right - 6)}" y="{_fmt(top + 16)}"'
            f' text-anchor="end">{escape(note)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
