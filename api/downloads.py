"""Downloads researchers expect: lists as CSV, events as QuakeML 1.2 (written by ObsPy), and
miniSEED snippets from the archive around a detection or an event.

Lists keep their pagination in every format: a page of CSV or QuakeML carries the next
page's URL in a ``Link: <...>; rel="next"`` header, as the JSON pages carry ``next``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, Literal

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from api.fdsn.dataselect import MEDIA_TYPE, RequestLine, archived_records
from api.quakeml import catalog_from_events, quakeml_document
from api.schemas import DetectionOut, EventOut
from stations.event_search import EventRecord
from stations.models import Event
from stations.quakes import EventQuake

Format = Literal["json", "csv", "quakeml"]
MSEED_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": "miniSEED records", "content": {MEDIA_TYPE: {}}},
    204: {"description": "no archived data"},
}
"""The OpenAPI answers of a miniSEED download."""


def list_formats(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI 200 answer of a list that also comes as ``media_types`` (``format=``)."""
    return {200: {"content": {m: {"schema": {"type": "string"}} for m in media_types}}}


DETECTION_COLUMNS = [
    "id", "stream", "on_time", "off_time", "onset_time", "phase", "onset_uncertainty",
    "polarity", "bridged", "peak_ratio", "snr", "peak_amplitude", "peak_physical",
    "physical_unit", "profile",
]  # fmt: skip
EVENT_COLUMNS = [
    "id", "time", "latitude", "longitude", "depth_km", "magnitude", "magnitude_type",
    "magnitude_uncertainty", "magnitude_stations", "energy_class", "horizontal_error_km",
    "depth_error_km", "time_error_s", "rms", "azimuthal_gap", "n_phases", "quality", "place",
    "status", "n_stations", "stations", "coincidence_sum", "duration", "created_at",
    "updated_at", "detections",
]  # fmt: skip
"""The catalogue's usual columns first (time, place, depth, magnitude, uncertainties), then
Larza's own."""


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """A CSV cell no spreadsheet runs as a formula: text starting with ``= + - @``, a tab or
    a carriage return gets a leading apostrophe (OWASP's advice). Numbers are left alone:
    a negative amplitude stays a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _row(row: dict[str, object]) -> dict[str, object]:
    return {name: _cell(value) for name, value in row.items()}


def _link(next_url: str | None) -> dict[str, str]:
    return {"Link": f'<{next_url}>; rel="next"'} if next_url else {}


def detections_csv(items: Sequence[DetectionOut], next_url: str | None) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=DETECTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for d in items:
        row = d.model_dump(mode="json", include=set(DETECTION_COLUMNS))
        writer.writerow(_row(row))
    return Response(out.getvalue(), media_type="text/csv", headers=_link(next_url))


def events_csv(items: Sequence[EventOut], next_url: str | None) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EVENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for e in items:
        row = e.model_dump(mode="json", include=set(EVENT_COLUMNS) - {"stations", "detections"})
        o = e.origin
        horizontal = None
        if o is not None and o.latitude_error_km is not None and o.longitude_error_km is not None:
            horizontal = round(math.hypot(o.latitude_error_km, o.longitude_error_km), 3)
        row.update(
            horizontal_error_km=horizontal,
            depth_error_km=o.depth_error_km if o else None,
            time_error_s=o.time_error_s if o else None,
            rms=o.rms if o else None,
            azimuthal_gap=o.azimuthal_gap if o else None,
            n_phases=o.n_phases if o else None,
            quality=o.quality if o else None,
        )
        row["stations"] = " ".join(e.stations)
        row["detections"] = " ".join(str(d.id) for d in e.detections)
        writer.writerow(_row(row))
    return Response(out.getvalue(), media_type="text/csv", headers=_link(next_url))


def events_quakeml(
    events: Iterable[Event], quakes: Mapping[int, EventQuake], next_url: str | None
) -> Response:
    buf = io.BytesIO()
    catalog_from_events(events, "smi:larza", quakes).write(buf, format="QUAKEML")
    return Response(buf.getvalue(), media_type="application/xml", headers=_link(next_url))


def records_quakeml(
    records: Sequence[EventRecord], base_id: str, next_url: str | None, comment: str | None = None
) -> Response:
    """QuakeML 1.2 of events read as records (a catalogue run's): the document the FDSN
    event service answers for them, which is ObsPy's for the same events; ``comment`` the
    catalogue's (where a run's data came from)."""
    return Response(
        quakeml_document(records, base_id, comment=comment),
        media_type="application/xml",
        headers=_link(next_url),
    )


def snippet(
    session: Session,
    archive_dir: str,
    *,
    streams: Iterable[tuple[str, str, str, str]],
    start: datetime,
    end: datetime,
    filename: str,
) -> Response:
    """The archived records of ``streams`` (net, sta, loc, cha) overlapping ``[start, end]``,
    byte for byte; 204 when the archive holds none."""
    lines = [
        RequestLine([net], [sta], [loc], [cha], start, end)
        for net, sta, loc, cha in sorted(set(streams))
    ]
    if not archive_dir or not lines:
        return Response(status_code=204)
    chunks = archived_records(session, Path(archive_dir), lines)
    first = next(chunks, None)
    if first is None:
        return Response(status_code=204)
    return StreamingResponse(
        chain([first], chunks),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def around(
    first: datetime, last: datetime, before: float, after: float
) -> tuple[datetime, datetime]:
    return first - timedelta(seconds=before), last + timedelta(seconds=after)
