"""Plots for the dashboard, rendered here as PNG: a station's latest minutes of waveform,
an event's waveforms around its onsets, and a station's health history.

An event's waveforms mark each pick with a solid line labelled with the phase the origin
uses it as ("P", "S"; "onset" for a pick no origin uses) and, for a located event, the
arrival times the origin predicts with a dashed line ("P pred", "S pred") and the residual.
Every station of a located event has its predicted P and S, picked or not: the worker
stores them with each origin, from the configured travel-time table and the station's
elevation, so the API reads what was stored and needs neither the table nor the locator
(origins stored before Larza kept them fall back to each pick's time minus its residual:
only the phases picked).

Waveforms come from the SDS archive through the dataselect service's reader (committed
records only), are decoded with ObsPy and drawn with matplotlib's Agg renderer. Each trace
is reduced to a minimum and a maximum per pixel column before drawing, so an image costs
the same to send whatever the sampling rate or window: a few tens of kilobytes.

An image is always answered for a known station or event, even with nothing to draw (no
archive, no data in the window): it then says so in words, which is what a person looking
at the page needs. Unknown stations and events are a 404; parameters out of range a 422.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, Path, Query, Response
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from obspy import Stream, UTCDateTime, read
from PIL import Image
from sqlalchemy.orm import Session

from api.deps import SessionDep, SettingsDep
from api.errors import BAD_REQUEST
from api.fdsn.dataselect import RequestLine, archived_records
from api.pagination import MAX_ID
from api.routers.events import event_with_quake
from api.schemas import EventOut
from stations.health import health_history
from stations.models import Channel, ChannelKind
from stations.queries import get_event, get_station

router = APIRouter(prefix="/api/v1", tags=["plots"], responses=BAD_REQUEST)

PNG = "image/png"
WIDTH_PX = 1000
DPI = 100
PALETTE = 32
ONSETS_APART_S = 0.5
ONSET_COLOUR = "#b00020"
PREDICTED_COLOUR = "#1a7f37"
KEPT_COLOURS = (ONSET_COLOUR, PREDICTED_COLOUR)
LABEL_BOX = {"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.0}
TRACE_COLOUR = "#1f3b57"
# Colour and dash pattern both differ between lines, so no line is told apart by colour alone.
LINE_STYLES: tuple[tuple[str, Any], ...] = (
    ("#1f77b4", "-"),
    ("#d62728", "--"),
    ("#2ca02c", ":"),
    ("#9467bd", "-."),
    ("#8c564b", (0, (5, 1, 1, 1))),
    ("#e377c2", (0, (1, 2))),
)

_RENDER = threading.Lock()
"""matplotlib's shared state (fonts, caches) is not promised to be thread-safe: one
figure is drawn at a time."""

StationId = Annotated[
    str,
    Path(description="NET.STA, e.g. TJ.SAREZ", pattern=r"^[A-Za-z0-9]{1,8}\.[A-Za-z0-9]{1,8}$"),
]
PNG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {PNG: {}}, "description": "a PNG image"},
    404: {"description": "no such station or event"},
}


@dataclass
class Panel:
    """One channel's trace pieces (seconds after the window start, values) and onsets."""

    label: str
    pieces: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = field(
        default_factory=list
    )
    onsets_s: list[float] = field(default_factory=list)
    onset_labels: list[str] = field(default_factory=list)  # "P", "S" or "onset", by onset
    predicted: list[tuple[float, str]] = field(default_factory=list)  # (seconds, label)


def _png(figure: Figure) -> bytes:
    """The figure as a palette PNG: plots need few colours, and so a fifth of the bytes.
    The marks' colours (``KEPT_COLOURS``) are in the palette as they are: thin lines are too
    few pixels to earn a colour of their own from the quantizer."""
    raw = io.BytesIO()
    figure.savefig(raw, format="rgba", dpi=DPI)
    size = (round(figure.get_figwidth() * DPI), round(figure.get_figheight() * DPI))
    image = Image.frombuffer("RGBA", size, raw.getvalue(), "raw", "RGBA", 0, 1).convert("RGB")
    found = image.quantize(colors=PALETTE - len(KEPT_COLOURS)).getpalette() or []
    kept = [int(c[i : i + 2], 16) for c in KEPT_COLOURS for i in (1, 3, 5)]
    palette = Image.new("P", (1, 1))
    palette.putpalette(found[: 3 * (PALETTE - len(KEPT_COLOURS))] + kept)
    buffer = io.BytesIO()
    image.quantize(palette=palette, dither=Image.Dither.NONE).save(
        buffer, format="PNG", optimize=True
    )
    return buffer.getvalue()


def _answer(body: bytes, max_age_s: int) -> Response:
    return Response(body, media_type=PNG, headers={"Cache-Control": f"max-age={max_age_s}"})


def message_png(text: str) -> bytes:
    """A small image that says ``text``: what a plot shows when there is nothing to draw."""
    with _RENDER:
        figure = Figure(figsize=(WIDTH_PX / DPI, 1.2), dpi=DPI)
        figure.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, wrap=True)
        return _png(figure)


def envelope(
    times: npt.NDArray[np.float64], values: npt.NDArray[np.float64], columns: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """At most ``2 * columns`` points that draw like the whole trace: each column's minimum
    and maximum, in time order. Traces already that short are returned as they are."""
    n = len(values)
    columns = max(1, columns)
    if n <= 2 * columns:
        return times, values
    per = n // columns
    used = per * columns
    blocks = values[:used].reshape(columns, per)
    stamps = times[:used].reshape(columns, per)
    low, high = blocks.argmin(axis=1), blocks.argmax(axis=1)
    rows = np.arange(columns)
    first = np.minimum(low, high)
    second = np.maximum(low, high)
    out_t = np.column_stack([stamps[rows, first], stamps[rows, second]]).ravel()
    out_v = np.column_stack([blocks[rows, first], blocks[rows, second]]).ravel()
    return out_t, out_v


def _decode(chunks: Iterable[bytes]) -> Stream:
    data = b"".join(chunks)
    if not data:
        return Stream()
    return read(io.BytesIO(data), format="MSEED")


def archive_panels(
    session: Session,
    archive_dir: str,
    streams: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[Panel]:
    """One panel per ``NET.STA.LOC.CHA`` stream with its archived data in the window,
    demeaned and reduced to what ``WIDTH_PX`` columns can show."""
    panels = [Panel(label=stream) for stream in streams]
    if not archive_dir:
        return panels
    root = FsPath(archive_dir)
    span = (end - start).total_seconds()
    t0 = start.timestamp()
    for stream, panel in zip(streams, panels, strict=True):
        net, sta, loc, cha = stream.split(".")
        line = RequestLine([net], [sta], [loc], [cha], start=start, end=end)
        traces = _decode(archived_records(session, root, [line]))
        if len(traces) == 0:
            continue
        traces.merge(method=0, fill_value=None)  # one trace, masked where data are missing
        traces.trim(starttime=_obspy_time(start), endtime=_obspy_time(end))
        values_all = [tr.data.astype(np.float64) for tr in traces.split() if tr.stats.npts]
        mean = float(np.mean(np.concatenate(values_all))) if values_all else 0.0
        for tr in traces.split():
            if tr.stats.npts == 0:
                continue
            times = tr.times() + (tr.stats.starttime.timestamp - t0)
            values = tr.data.astype(np.float64) - mean
            columns = int(WIDTH_PX * (times[-1] - times[0] + tr.stats.delta) / span) + 1
            panel.pieces.append(envelope(times, values, columns))
    return panels


def _obspy_time(value: datetime) -> Any:
    return UTCDateTime(value.timestamp())


def _peak(panel: Panel) -> float:
    return max((float(np.max(np.abs(v))) for _, v in panel.pieces if len(v)), default=0.0)


def waveform_png(panels: Sequence[Panel], span_s: float, xlabel: str, offset_s: float) -> bytes:
    """Stacked traces sharing one time axis (seconds, shifted by ``offset_s``), onsets marked
    by a labelled vertical line, predicted arrivals by a dashed one."""
    rows = max(1, len(panels))
    with _RENDER:
        figure = Figure(figsize=(WIDTH_PX / DPI, 0.35 + 0.85 * rows), dpi=DPI, layout="constrained")
        axes = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
        for ax, panel in zip(axes, panels, strict=False):
            _trace_axes(ax, panel, offset_s)
            _predicted_axes(ax, panel, offset_s)
        axes[-1].set_xlim(-offset_s, span_s - offset_s)
        axes[-1].set_xlabel(xlabel, fontsize=9)
        axes[-1].tick_params(axis="x", labelsize=8, labelbottom=True)
        return _png(figure)


def _trace_axes(ax: Axes, panel: Panel, offset_s: float) -> None:
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.text(
        0.0,
        1.0,
        panel.label,
        transform=ax.transAxes,
        fontsize=9,
        va="top",
        ha="left",
        fontweight="bold",
    )
    if not panel.pieces:
        ax.text(
            0.5,
            0.5,
            "no data in this window",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color="#555555",
        )
    else:
        for times, values in panel.pieces:
            ax.plot(times - offset_s, values, color=TRACE_COLOUR, linewidth=0.6)
        peak = _peak(panel)
        ax.text(
            1.0,
            1.0,
            f"peak {peak:.3g} counts",
            transform=ax.transAxes,
            fontsize=8,
            va="top",
            ha="right",
            color="#555555",
        )
        if peak > 0:
            ax.set_ylim(-peak * 1.05, peak * 1.05)
    labels = panel.onset_labels or ["onset"] * len(panel.onsets_s)
    for onset, label in zip(panel.onsets_s, labels, strict=True):
        ax.axvline(onset - offset_s, color=ONSET_COLOUR, linewidth=1.4, linestyle="-")
        ax.text(
            onset - offset_s,
            0.02,
            f" {label}",
            transform=ax.get_xaxis_transform(),
            color=ONSET_COLOUR,
            fontsize=8,
            va="bottom",
            ha="left",
            bbox=LABEL_BOX,
        )


def _predicted_axes(ax: Axes, panel: Panel, offset_s: float) -> None:
    """The origin's predicted arrivals: dashed, labelled above the picks' labels."""
    for k, (at, label) in enumerate(sorted(panel.predicted)):
        ax.axvline(at - offset_s, color=PREDICTED_COLOUR, linewidth=1.4, linestyle=(0, (5, 2)))
        ax.text(
            at - offset_s,
            0.62 - 0.22 * (k % 2),  # alternate heights: a P and an S close together both read
            f" {label}",
            transform=ax.get_xaxis_transform(),
            color=PREDICTED_COLOUR,
            fontsize=8,
            va="bottom",
            ha="left",
            bbox=LABEL_BOX,
        )


def _station(session: Session, station_id: str) -> tuple[str, list[Channel]]:
    network, code = station_id.upper().split(".")
    station = get_station(session, network=network, station=code)
    order = {ChannelKind.SEISMOMETER: 0, ChannelKind.ACCELEROMETER: 1, ChannelKind.SOH: 2}
    channels = sorted(station.channels, key=lambda c: (order[c.kind], c.location, c.code))
    return f"{network}.{code}", channels


@router.get(
    "/stations/{station_id}/waveforms.png",
    summary="A station's latest minutes of waveform, one panel per channel (PNG)",
    response_class=Response,
    responses=PNG_RESPONSES,
)
def station_waveforms(
    session: SessionDep,
    settings: SettingsDep,
    station_id: StationId,
    minutes: Annotated[float, Query(gt=0, le=60, description="minutes up to now")] = 5.0,
    kind: Annotated[
        Literal["all", "seismometer", "accelerometer"],
        Query(description="which channels: seismometer, accelerometer or both"),
    ] = "all",
) -> Response:
    sid, channels = _station(session, station_id)
    chosen = [
        c for c in channels if c.kind != ChannelKind.SOH and (kind == "all" or c.kind.value == kind)
    ]
    if not chosen:
        return _answer(message_png(f"{sid} has no {kind} channel in the inventory"), 60)
    if not settings.archive_dir:
        return _answer(message_png("This Larza keeps no waveform archive."), 60)
    end = datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    streams = [f"{sid}.{c.location}.{c.code}" for c in chosen]
    panels = archive_panels(session, settings.archive_dir, streams, start, end)
    if not any(p.pieces for p in panels):
        text = f"No data from {sid} archived in the last {minutes:g} min."
        return _answer(message_png(text), 5)
    xlabel = f"seconds before {end:%Y-%m-%d %H:%M:%S} UTC"
    span = (end - start).total_seconds()
    return _answer(waveform_png(panels, span, xlabel, offset_s=span), 5)


@router.get(
    "/events/{event_id}/waveforms.png",
    summary="Waveforms around an event's onsets, one panel per detecting station or channel, "
    "picks labelled with their phase and the origin's predicted arrivals (PNG)",
    response_class=Response,
    responses=PNG_RESPONSES,
)
def event_waveforms(
    session: SessionDep,
    settings: SettingsDep,
    event_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    before: Annotated[
        float, Query(ge=0, le=300, description="seconds before the first onset")
    ] = 10.0,
    after: Annotated[float, Query(gt=0, le=600, description="seconds after the last onset")] = 30.0,
    channels: Annotated[
        Literal["station", "all"],
        Query(
            description="station: one panel per station (its vertical channel, every onset "
            "of the station marked); all: one panel per detecting channel"
        ),
    ] = "station",
) -> Response:
    event = event_with_quake(session, get_event(session, event_id=event_id))
    if not event.detections:
        return _answer(message_png(f"Event {event_id} has no detections."), 30)
    if not settings.archive_dir:
        return _answer(message_png("This Larza keeps no waveform archive."), 60)
    onsets = panel_onsets([(d.stream, d.onset_time) for d in event.detections], channels)
    predicted = predicted_arrivals(event)
    times = [t for ts in onsets.values() for t in ts]
    times += [t for marks in predicted.values() for t, _ in marks]
    start = min(times) - timedelta(seconds=before)
    end = max(times) + timedelta(seconds=after)
    streams = sorted(onsets, key=lambda s: (min(onsets[s]), s))
    panels = archive_panels(session, settings.archive_dir, streams, start, end)
    phases = pick_phases(event)
    for panel in panels:
        net, sta = panel.label.split(".")[:2]
        panel.onsets_s = [(t - start).total_seconds() for t in onsets[panel.label]]
        panel.onset_labels = [phases.get((net, sta, t), "onset") for t in onsets[panel.label]]
        panel.predicted = [
            ((t - start).total_seconds(), label) for t, label in predicted.get(f"{net}.{sta}", [])
        ]
    if not any(p.pieces for p in panels):
        return _answer(message_png(f"No archived data around event {event_id} (yet)."), 10)
    offset = (event.time - start).total_seconds()
    xlabel = f"seconds after the event time {event.time:%Y-%m-%d %H:%M:%S.%f}"[:-4] + " UTC"
    return _answer(waveform_png(panels, (end - start).total_seconds(), xlabel, offset), 30)


def pick_phases(event: EventOut) -> dict[tuple[str, str, datetime], str]:
    """Each pick's label by (network, station, onset): the phase the origin uses it as,
    else the phase the picker gave it; picks with neither are left out ("onset")."""
    used = {a.detection_id: a.phase for a in event.origin.arrivals} if event.origin else {}
    out: dict[tuple[str, str, datetime], str] = {}
    for d in event.detections:
        phase = used.get(d.id) or d.phase
        if phase is not None:
            out[(d.network, d.station, d.onset_time)] = phase
    return out


def predicted_arrivals(event: EventOut) -> dict[str, list[tuple[datetime, str]]]:
    """The arrival times the event's origin predicts, by ``NET.STA``: the P and the S of
    every station of the event as the worker stored them, labelled "S pred", or
    "P pred (+0.12 s)" with the residual of the station's pick of that phase. An origin
    stored without them (before Larza kept them) gives each arrival's pick time minus its
    residual, so only the phases picked. Empty for an event not located."""
    origin = event.origin
    if origin is None or origin.latitude is None:
        return {}
    picks = {d.id: d for d in event.detections}
    residuals: dict[tuple[str, str], float] = {}
    out: dict[str, list[tuple[datetime, str]]] = {}
    for a in sorted(origin.arrivals, key=lambda a: (-a.weight, a.detection_id)):
        d = picks.get(a.detection_id)
        if d is None or a.residual is None:
            continue
        key = (f"{d.network}.{d.station}", a.phase)
        if key in residuals:
            continue
        residuals[key] = a.residual
        if not origin.predicted:
            at = d.onset_time - timedelta(seconds=a.residual)
            out.setdefault(key[0], []).append((at, _pred_label(a.phase, a.residual)))
    for p in origin.predicted:
        residual = residuals.get((p.station, p.phase))
        out.setdefault(p.station, []).append((p.time, _pred_label(p.phase, residual)))
    return {k: sorted(v) for k, v in out.items()}


def _pred_label(phase: str, residual: float | None) -> str:
    return f"{phase} pred" + ("" if residual is None else f" ({residual:+.2f} s)")


def _vertical_first(stream: str) -> tuple[bool, bool, str]:
    code = stream.rsplit(".", 1)[-1]
    return (not code.endswith("Z"), code[1:2] != "H", stream)


def panel_onsets(
    detections: Sequence[tuple[str, datetime]], channels: Literal["station", "all"]
) -> dict[str, list[datetime]]:
    """The streams to draw and the onsets to mark on each.

    ``all``: every detecting stream with its own onsets. ``station``: one stream per
    station, its detecting vertical channel if it has one (seismometer before
    accelerometer), marked with the onsets of all the station's channels; onsets closer
    than ``ONSETS_APART_S`` to one already marked are left out.
    """
    if channels == "all":
        mine: dict[str, list[datetime]] = {}
        for stream, onset in detections:
            mine.setdefault(stream, []).append(onset)
        return {stream: sorted(ts) for stream, ts in mine.items()}
    by_station: dict[str, list[tuple[str, datetime]]] = {}
    for stream, onset in detections:
        by_station.setdefault(".".join(stream.split(".")[:2]), []).append((stream, onset))
    chosen: dict[str, list[datetime]] = {}
    for found in by_station.values():
        stream = min((s for s, _ in found), key=_vertical_first)
        marked: list[datetime] = []
        for onset in sorted(t for _, t in found):
            if not marked or (onset - marked[-1]).total_seconds() >= ONSETS_APART_S:
                marked.append(onset)
        chosen[stream] = marked
    return chosen


@dataclass(frozen=True)
class Metric:
    """A panel of the health plot: metric key in the snapshots, title, unit, log scale."""

    key: str
    title: str
    unit: str
    log: bool = False


HEALTH_PANELS = (
    Metric("data_latency_s", "Data latency", "s", log=True),
    Metric("availability_pct", "Availability", "%"),
    Metric("rms", "RMS", "counts", log=True),
    Metric("noise_db_above_nlnm", "Noise above NLNM (dashed grey: NHNM)", "dB"),
)


Rows = list[tuple[float, dict[str, Any]]]
"""A channel's snapshots: (time on the plot's axis, metrics)."""


def _series(rows: Rows, key: str) -> tuple[list[float], list[float]]:
    times, values = [], []
    for time, metrics in rows:
        value = metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            times.append(time)
            values.append(float(value))
    return times, values


@router.get(
    "/stations/{station_id}/health.png",
    summary="A station's health history: latency, availability, RMS, noise vs NLNM/NHNM (PNG)",
    response_class=Response,
    responses=PNG_RESPONSES,
)
def station_health_plot(
    session: SessionDep,
    station_id: StationId,
    hours: Annotated[float, Query(gt=0, le=24 * 400, description="hours up to now")] = 24.0,
    kind: Annotated[
        Literal["seismometer", "accelerometer"], Query(description="which channels")
    ] = "seismometer",
) -> Response:
    sid, channels = _station(session, station_id)
    chosen = [c for c in channels if c.kind.value == kind]
    if not chosen:
        return _answer(message_png(f"{sid} has no {kind} channel in the inventory"), 60)
    end = datetime.now(UTC)
    start = end - timedelta(hours=hours)
    scale, unit = (24.0, "days") if hours > 72 else (1.0, "hours")
    history = {
        c.code if not c.location else f"{c.location}.{c.code}": [
            ((h.time - end).total_seconds() / 3600 / scale, h.metrics)
            for h in health_history(session, channel_id=c.id, start=start, end=end, limit=20_000)
        ]
        for c in chosen
    }
    if not any(history.values()):
        return _answer(message_png(f"No health history for {sid} in the last {hours:g} h."), 30)
    with _RENDER:
        figure = Figure(figsize=(WIDTH_PX / DPI, 6.4), dpi=DPI, layout="constrained")
        axes = figure.subplots(len(HEALTH_PANELS), 1, sharex=True)
        for ax, metric in zip(axes, HEALTH_PANELS, strict=True):
            _health_axes(ax, metric, history)
        axes[0].legend(
            loc="upper left",
            fontsize=8,
            ncols=len(history),
            frameon=False,
            bbox_to_anchor=(0.0, 1.45),
        )
        axes[-1].set_xlim(-hours / scale, 0.0)
        axes[-1].set_xlabel(f"{unit} before {end:%Y-%m-%d %H:%M} UTC", fontsize=9)
        body = _png(figure)
    return _answer(body, 30)


def _health_axes(ax: Axes, metric: Metric, history: dict[str, Rows]) -> None:
    ax.set_title(f"{metric.title} ({metric.unit})", fontsize=9, loc="left")
    ax.tick_params(labelsize=8)
    ax.grid(True, linewidth=0.3)
    drawn = False
    for (label, rows), (colour, dash) in zip(history.items(), LINE_STYLES * 4, strict=False):
        times, values = _series(rows, metric.key)
        if metric.log:
            times, values = _positive(times, values)
        if times:
            ax.plot(times, values, color=colour, linestyle=dash, linewidth=1.1, label=label)
            drawn = True
        if metric.key == "noise_db_above_nlnm":
            high_t, high = _nhnm_level(rows)
            if high_t:
                ax.plot(high_t, high, color="#888888", linestyle="--", linewidth=0.8)
    if metric.key == "noise_db_above_nlnm":
        ax.axhline(0.0, color="#444444", linewidth=0.8)
    if metric.log and drawn:
        ax.set_yscale("log")
    if not drawn:
        ax.text(
            0.5,
            0.5,
            "no values in this range",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
            color="#555555",
        )


def _positive(times: list[float], values: list[float]) -> tuple[list[float], list[float]]:
    kept = [(t, v) for t, v in zip(times, values, strict=True) if v > 0]
    return [t for t, _ in kept], [v for _, v in kept]


def _nhnm_level(rows: Rows) -> tuple[list[float], list[float]]:
    """Where the NHNM lies on the "dB above NLNM" axis: above_nlnm - above_nhnm."""
    times, levels = [], []
    for time, metrics in rows:
        low, high = metrics.get("noise_db_above_nlnm"), metrics.get("noise_db_above_nhnm")
        if isinstance(low, int | float) and isinstance(high, int | float):
            times.append(time)
            levels.append(float(low) - float(high))
    return times, levels
