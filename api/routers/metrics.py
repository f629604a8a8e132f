"""``/metrics``: station and channel figures in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.deps import SessionDep, SettingsDep
from api.routers.stations import known_health, station_view
from api.schemas import StationOut
from stations.gaps import gap_totals
from stations.queries import detection_counts, list_stations

router = APIRouter(tags=["service"])

STATES = ("OK", "DEGRADED", "DOWN", "UNKNOWN")


class _Snapshot(Collector):
    """The figures of one scrape, read from the database when the scrape comes."""

    def __init__(
        self,
        stations: Sequence[StationOut],
        detections: dict[str, int],
        gaps: dict[str, tuple[int, float]],
    ) -> None:
        self.stations = stations
        self.detections = detections
        self.gaps = gaps

    def collect(self) -> Iterator[Metric]:
        latency = GaugeMetricFamily(
            "larza_station_data_latency_seconds",
            "Now minus the time of the newest sample of the station",
            labels=["station"],
        )
        state = GaugeMetricFamily(
            "larza_station_state", "1 for the station's current state", labels=["station", "state"]
        )
        channel_latency = GaugeMetricFamily(
            "larza_channel_data_latency_seconds",
            "Now minus the time of the newest sample of the channel",
            labels=["stream"],
        )
        records = CounterMetricFamily(
            "larza_channel_records", "Records received", labels=["stream"]
        )
        detections = CounterMetricFamily(
            "larza_channel_detections", "Detections stored", labels=["stream"]
        )
        availability = GaugeMetricFamily(
            "larza_channel_availability_percent",
            "Share of the worker's health window covered by data",
            labels=["stream"],
        )
        stale = GaugeMetricFamily(
            "larza_station_state_stale",
            "1 when no worker has evaluated the station's health lately",
            labels=["station"],
        )
        for s in self.stations:
            if s.data_latency_s is not None:
                latency.add_metric([s.id], s.data_latency_s)
            for name in STATES:
                state.add_metric([s.id, name], 1.0 if s.state == name else 0.0)
            stale.add_metric([s.id], 1.0 if s.stale else 0.0)
            for c in s.channels:
                if c.data_latency_s is not None:
                    channel_latency.add_metric([c.id], c.data_latency_s)
                records.add_metric([c.id], c.records)
                detections.add_metric([c.id], self.detections.get(c.id, 0))
                if c.metrics.get("availability_pct") is not None:
                    availability.add_metric([c.id], c.metrics["availability_pct"])
        gaps = CounterMetricFamily(
            "larza_channel_gaps",
            "Spans missing from the data received (restarts, server overruns, the stream)",
            labels=["stream"],
        )
        gap_seconds = CounterMetricFamily(
            "larza_channel_gap_seconds", "Time missing from the data received", labels=["stream"]
        )
        for stream, (count, seconds) in sorted(self.gaps.items()):
            gaps.add_metric([stream], count)
            gap_seconds.add_metric([stream], seconds)
        yield from (latency, state, stale, channel_latency, records, detections, availability)
        yield from (gaps, gap_seconds)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(session: SessionDep, settings: SettingsDep) -> Response:
    found = list(list_stations(session))
    known = known_health(session, found)
    counts = detection_counts(session)
    now = datetime.now(UTC)
    views = [station_view(s, known, now, settings) for s in found]
    by_stream = {
        f"{s.network.code}.{s.code}.{c.location}.{c.code}": counts.get(c.id, 0)
        for s in found
        for c in s.channels
    }
    registry = CollectorRegistry(auto_describe=False)
    gaps = {".".join(codes): totals for codes, totals in gap_totals(session).items()}
    registry.register(_Snapshot(views, by_stream, gaps))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
