"""The dashboard's plots (PNG from the archive and the health history) and its pages."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import obspy
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from api.deps import get_session
from api.routers.events import event_with_quake
from api.routers.plots import envelope, panel_onsets, pick_phases, predicted_arrivals
from api.settings import ApiSettings
from stations.models import EventStatus, HealthSnapshot, LocationStatus
from stations.quakes import NewArrival, NewOrigin, NewPrediction, store_origin
from stations.queries import (
    ChannelKey,
    add_archived_records,
    channel_index,
    get_event,
    list_stations,
    store_detection,
    store_event,
)
from stations.sds import sds_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEBUG_PNG = ""  # a path here keeps the phase plot of the test below, to look at
NOW = datetime.now(UTC)
RECLEN = 512


def _archive(session: Session, root: Path, codes: tuple[str, ...], end: datetime) -> None:
    """Two minutes of noise up to ``end`` for TJ.SAREZ's ``codes``, archived and committed
    as the worker does it: 512-byte records, each in the day file of its start."""
    rng = np.random.default_rng(3)
    files: dict[str, bytearray] = {}
    for code in codes:
        trace = obspy.Trace(
            rng.normal(0, 500, 12_000).astype(np.int32),
            header={
                "network": "TJ",
                "station": "SAREZ",
                "channel": code,
                "sampling_rate": 100.0,
                "starttime": obspy.UTCDateTime(end.timestamp() - 120.0),
            },
        )
        buffer = io.BytesIO()
        trace.write(buffer, format="MSEED", reclen=RECLEN, encoding="STEIM2")
        data = buffer.getvalue()
        key = ChannelKey("TJ", "SAREZ", "", code)
        for offset in range(0, len(data), RECLEN):
            record = data[offset : offset + RECLEN]
            start = obspy.read(io.BytesIO(record))[0].stats.starttime.timestamp
            files.setdefault(sds_path(key, start), bytearray()).extend(record)
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(bytes(data))
    sizes = {path: (len(data), len(data) // RECLEN) for path, data in files.items()}
    add_archived_records(session, files=sizes, now=end)
    session.flush()


@pytest.fixture
def archived(inventory: Session, tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    # Up to now, not to when the module was imported: "the latest minutes" are read from
    # the clock, and a long run reaches this test minutes after the import.
    _archive(inventory, root, ("HHZ", "HHN"), datetime.now(UTC))
    return root


def _client(engine: Engine, session: Session, archive_dir: str) -> TestClient:
    settings = ApiSettings(database_url="sqlite://", archive_dir=archive_dir)
    app = create_app(settings, engine=engine)
    app.dependency_overrides[get_session] = lambda: session
    return TestClient(app)


@pytest.fixture
def plots(engine: Engine, inventory: Session, archived: Path) -> Iterator[TestClient]:
    with _client(engine, inventory, str(archived)) as client:
        yield client


def _image(response: object) -> Image.Image:
    body: bytes = response.content  # type: ignore[attr-defined]
    assert body.startswith(PNG_SIGNATURE)
    return Image.open(io.BytesIO(body))


def _event(session: Session, onsets: dict[str, datetime]) -> int:
    channels = channel_index(session)
    ids = []
    for stream, onset in onsets.items():
        net, sta, loc, cha = stream.split(".")
        ids.append(
            store_detection(
                session,
                channel_id=channels[ChannelKey(net, sta, loc, cha)].id,
                on_time=onset + timedelta(seconds=0.5),
                off_time=onset + timedelta(seconds=4),
                onset_time=onset,
                peak_ratio=8.0,
                snr=10.0,
                peak_amplitude=2000.0,
                profile="default",
                now=NOW,
            ).id
        )
    event = store_event(
        session,
        event_id=None,
        time=min(onsets.values()),
        status=EventStatus.FINAL,
        n_stations=len({s.split(".")[1] for s in onsets}),
        coincidence_sum=float(len(onsets)),
        duration=4.0,
        detection_ids=ids,
        now=NOW,
    )
    return event.id


def test_station_waveforms_are_a_png_a_panel_per_channel(plots: TestClient) -> None:
    response = plots.get("/api/v1/stations/TJ.SAREZ/waveforms.png?minutes=1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    image = _image(response)
    assert image.width == 1000
    assert image.height > 400  # six channels of seismometer and accelerometer
    assert len(response.content) < 150_000


def test_station_waveforms_say_when_nothing_was_archived(plots: TestClient) -> None:
    response = plots.get("/api/v1/stations/TJ.MURGH/waveforms.png")
    assert response.status_code == 200
    assert _image(response).height < 200  # one line of text, no panels


def test_without_an_archive_the_image_says_so(engine: Engine, inventory: Session) -> None:
    with _client(engine, inventory, "") as client:
        response = client.get("/api/v1/stations/TJ.SAREZ/waveforms.png")
    assert response.status_code == 200
    assert _image(response).height < 200


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/stations/TJ.NOPE/waveforms.png",
        "/api/v1/stations/TJ.NOPE/health.png",
        "/api/v1/events/999999/waveforms.png",
    ],
)
def test_unknown_station_or_event_is_404(plots: TestClient, path: str) -> None:
    assert plots.get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/stations/TJ.SAREZ/waveforms.png?minutes=0",
        "/api/v1/stations/TJ.SAREZ/waveforms.png?minutes=61",
        "/api/v1/stations/TJ.SAREZ/waveforms.png?minutes=five",
        "/api/v1/stations/TJ.SAREZ/waveforms.png?kind=soh",
        "/api/v1/stations/TJSAREZ/waveforms.png",
        "/api/v1/stations/TJ.SAREZ/health.png?hours=0",
        "/api/v1/stations/TJ.SAREZ/health.png?hours=1e9",
        "/api/v1/events/0/waveforms.png",
        "/api/v1/events/1/waveforms.png?before=-1",
        "/api/v1/events/1/waveforms.png?channels=some",
        f"/api/v1/events/{2**64}/waveforms.png",
    ],
)
def test_bad_parameters_are_422(plots: TestClient, path: str) -> None:
    assert plots.get(path).status_code == 422


def test_event_waveforms_around_the_onsets(plots: TestClient, inventory: Session) -> None:
    onset = datetime.now(UTC) - timedelta(seconds=40)  # inside the archive made just now
    event_id = _event(
        inventory,
        {"TJ.SAREZ..HHZ": onset, "TJ.SAREZ..HHN": onset + timedelta(seconds=0.1)},
    )
    station = plots.get(f"/api/v1/events/{event_id}/waveforms.png")
    assert station.status_code == 200
    every = plots.get(f"/api/v1/events/{event_id}/waveforms.png?channels=all&after=10")
    assert every.status_code == 200
    assert _image(every).height > _image(station).height  # two panels against one


def test_event_without_archived_data_says_so(plots: TestClient, inventory: Session) -> None:
    event_id = _event(inventory, {"TJ.MURGH..HHZ": NOW - timedelta(hours=3)})
    response = plots.get(f"/api/v1/events/{event_id}/waveforms.png")
    assert response.status_code == 200
    assert _image(response).height < 200


def test_health_history_plot(plots: TestClient, inventory: Session) -> None:
    hhz = channel_index(inventory)[ChannelKey("TJ", "SAREZ", "", "HHZ")]
    for minutes in range(30, 0, -1):
        metrics = {
            "state": "OK",
            "data_latency_s": 1.0 + minutes % 3,
            "availability_pct": 100.0 - minutes % 2,
            "rms": 300.0 + minutes,
            "noise_db_above_nlnm": 40.0,
            "noise_db_above_nhnm": -20.0,
        }
        inventory.add(
            HealthSnapshot(
                channel_id=hhz.id,
                time=NOW - timedelta(minutes=minutes),
                interval_s=60,
                metrics=metrics,
            )
        )
    inventory.flush()
    response = plots.get("/api/v1/stations/TJ.SAREZ/health.png?hours=1")
    assert response.status_code == 200
    assert _image(response).height > 400
    empty = plots.get("/api/v1/stations/TJ.SAREZ/health.png?hours=1&kind=accelerometer")
    assert empty.status_code == 200
    assert _image(empty).height < 200


def test_envelope_keeps_each_columns_extremes() -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal(10_000)
    times = np.arange(10_000) / 100.0
    t, v = envelope(times, values, 100)
    assert len(v) == 200
    assert np.all(np.diff(t) >= 0)
    assert v.max() == values.max()
    assert v.min() == values.min()
    short_t, short_v = envelope(times[:50], values[:50], 100)
    assert np.array_equal(short_v, values[:50])
    assert np.array_equal(short_t, times[:50])


def test_one_panel_per_station_with_its_distinct_onsets() -> None:
    t = datetime(2025, 6, 15, 12, tzinfo=UTC)
    chosen = panel_onsets(
        [
            ("TJ.SAREZ..HNZ", t),
            ("TJ.SAREZ..HHE", t + timedelta(seconds=0.2)),
            ("TJ.SAREZ..HHZ", t + timedelta(seconds=0.1)),
            ("TJ.SAREZ..HHZ", t + timedelta(seconds=6)),
            ("TJ.MURGH..HNE", t + timedelta(seconds=3)),
        ],
        "station",
    )
    assert chosen == {
        "TJ.SAREZ..HHZ": [t, t + timedelta(seconds=6)],
        "TJ.MURGH..HNE": [t + timedelta(seconds=3)],
    }
    every = panel_onsets([("TJ.SAREZ..HNZ", t), ("TJ.SAREZ..HHZ", t)], "all")
    assert set(every) == {"TJ.SAREZ..HNZ", "TJ.SAREZ..HHZ"}


@pytest.mark.parametrize("path", ["/", "/stations/TJ.SAREZ", "/events/12"])
def test_dashboard_pages_are_one_html_shell(plots: TestClient, path: str) -> None:
    response = plots.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in response.text
    assert 'role="alert"' in response.text  # the connection-lost banner


def test_dashboard_assets_are_served_and_need_no_internet(plots: TestClient) -> None:
    for name in ("app.js", "style.css", "outline.json"):
        response = plots.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert "http://" not in response.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in response.text
    outline = json.loads(plots.get("/static/outline.json").text)
    assert "Natural Earth" in outline["source"]
    assert "TJK" in {c["iso_a3"] for c in outline["countries"]}


def test_dashboard_pages_are_not_api_operations(plots: TestClient) -> None:
    paths = plots.get("/openapi.json").json()["paths"]
    assert "/" not in paths
    assert "/stations/{station_id}" not in paths
    assert "/api/v1/events/{event_id}/waveforms.png" in paths
    assert plots.get("/events/0").status_code == 422


def _locate(
    session: Session,
    event_id: int,
    residuals: dict[str, tuple[str, float]],
    predicted: tuple[NewPrediction, ...] = (),
) -> None:
    """An origin for the event whose arrivals use its picks (by ``NET.STA.LOC.CHA``) as the
    given phase with the given residual, and the arrivals it predicts."""
    event = get_event(session, event_id=event_id)
    by_stream = {
        f"TJ.{d.channel.station.code}.{d.channel.location}.{d.channel.code}": d.id
        for d in event.detections
    }
    store_origin(
        session,
        event=event,
        origin=NewOrigin(
            status=LocationStatus.FREE,
            reason="",
            time=event.time - timedelta(seconds=8),
            latitude=38.3,
            longitude=72.9,
            depth_km=20.0,
            rms=0.3,
            n_phases=len(residuals),
            n_stations=1,
            azimuthal_gap=300.0,
            min_distance_km=30.0,
            max_distance_km=30.0,
            time_error_s=0.5,
            latitude_error_km=3.0,
            longitude_error_km=3.0,
            depth_error_km=5.0,
            semi_major_km=3.5,
            semi_minor_km=2.0,
            ellipse_azimuth=10.0,
            quality="C",
            arrivals=tuple(
                NewArrival(by_stream[stream], phase, residual, 1.0, 30.0, 90.0)
                for stream, (phase, residual) in residuals.items()
            ),
            predicted=predicted,
        ),
        now=NOW,
    )


def test_event_waveforms_mark_picks_by_phase_and_the_predicted_arrivals(
    plots: TestClient, inventory: Session
) -> None:
    """Picks labelled "P" and "S" (the phase the origin uses each as, even where the picker
    gave none), and the predicted arrivals at pick time minus residual, "P pred"/"S pred"."""
    p = datetime.now(UTC) - timedelta(seconds=40)
    s = p + timedelta(seconds=4.5)
    event_id = _event(inventory, {"TJ.SAREZ..HHZ": p, "TJ.SAREZ..HHN": s})
    _locate(inventory, event_id, {"TJ.SAREZ..HHZ": ("P", 0.3), "TJ.SAREZ..HHN": ("S", -0.5)})
    event = event_with_quake(inventory, get_event(inventory, event_id=event_id))
    assert predicted_arrivals(event) == {
        "TJ.SAREZ": [
            (p - timedelta(seconds=0.3), "P pred (+0.30 s)"),
            (s + timedelta(seconds=0.5), "S pred (-0.50 s)"),
        ]
    }
    assert pick_phases(event) == {("TJ", "SAREZ", p): "P", ("TJ", "SAREZ", s): "S"}
    answer = plots.get(f"/api/v1/events/{event_id}/waveforms.png?before=5&after=5")
    image = _image(answer)
    if DEBUG_PNG:
        Path(DEBUG_PNG).write_bytes(answer.content)
    assert image.height > 100
    # Where the lines are drawn: the picks' (solid red) 4.5 s apart give the time scale,
    # and the predicted ones (dashed green) are 0.3 s before the P and 0.5 s after the S.
    rgb = np.asarray(image.convert("RGB")).astype(int)
    p_pick, s_pick = _line_columns(rgb, (0xB0, 0x00, 0x20))
    p_pred, s_pred = _line_columns(rgb, (0x1A, 0x7F, 0x37))
    px_per_s = (s_pick - p_pick) / 4.5
    assert px_per_s > 20
    assert p_pred == pytest.approx(p_pick - 0.3 * px_per_s, abs=1.5)
    assert s_pred == pytest.approx(s_pick + 0.5 * px_per_s, abs=1.5)


def test_a_station_with_only_its_p_picked_shows_the_predicted_s_too(
    plots: TestClient, inventory: Session
) -> None:
    """The worker stores the P and S times a located origin predicts at each station of
    the event: a station whose S was not picked still shows "S pred", where predicted, and
    its P pred carries the residual of its P pick."""
    p = datetime.now(UTC) - timedelta(seconds=40)
    s_due = p + timedelta(seconds=6.0)
    event_id = _event(inventory, {"TJ.SAREZ..HHZ": p})
    sarez = next(st for st in list_stations(inventory) if st.code == "SAREZ")
    predicted = (
        NewPrediction(sarez.id, "P", p - timedelta(seconds=1.0), 30.0),
        NewPrediction(sarez.id, "S", s_due, 30.0),
    )
    _locate(inventory, event_id, {"TJ.SAREZ..HHZ": ("P", 1.0)}, predicted)
    event = event_with_quake(inventory, get_event(inventory, event_id=event_id))
    assert event.origin is not None
    assert [(a.station, a.phase, a.time) for a in event.origin.predicted] == [
        ("TJ.SAREZ", "P", p - timedelta(seconds=1.0)),
        ("TJ.SAREZ", "S", s_due),
    ]
    assert predicted_arrivals(event) == {
        "TJ.SAREZ": [(p - timedelta(seconds=1.0), "P pred (+1.00 s)"), (s_due, "S pred")]
    }
    answer = plots.get(f"/api/v1/events/{event_id}/waveforms.png?before=5&after=5")
    rgb = np.asarray(_image(answer).convert("RGB")).astype(int)
    (p_pick,) = _line_columns(rgb, (0xB0, 0x00, 0x20))
    p_pred, s_pred = _line_columns(rgb, (0x1A, 0x7F, 0x37))
    px_per_s = (p_pick - p_pred) / 1.0  # within 1.5 px of its width
    assert px_per_s > 20
    assert s_pred - p_pick == pytest.approx(6.0 * px_per_s, abs=6 * 1.5)


def _line_columns(rgb: np.ndarray, colour: tuple[int, int, int]) -> list[float]:
    """The x of each vertical line of ``colour``: the middles of the runs of columns with
    at least half as many pixels of it as the fullest column (labels have fewer)."""
    counts = np.all(rgb == colour, axis=2).sum(axis=0)
    columns = np.flatnonzero(counts >= 0.5 * counts.max())
    runs = np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)
    return [float(run.mean()) for run in runs]


def test_an_event_not_located_has_no_predicted_arrivals(inventory: Session) -> None:
    event_id = _event(inventory, {"TJ.SAREZ..HHZ": NOW})
    event = event_with_quake(inventory, get_event(inventory, event_id=event_id))
    assert predicted_arrivals(event) == {}
    assert pick_phases(event) == {}
