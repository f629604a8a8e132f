"""``/metrics``: station and channel figures in the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from api.cache import Built, built, cached_response
from api.deps import SessionOpener, app_settings, round_cache, session_opener
from api.routers.stations import StationList, station_list
from api.schemas import StationOut
from stations.alerts import alert_step_latencies
from stations.gaps import gap_totals
from stations.queries import detection_counts

router = APIRouter(tags=["service"])

STATES = ("OK", "DEGRADED", "DOWN", "UNKNOWN")
ALERT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _AlertLatency(Collector):
    """Seconds of each worker step from a record's arrival to an alert message stored, over
    the newest alert messages (each message carries its own timings)."""

    def __init__(self, steps: dict[str, list[float]]) -> None:
        self.steps = steps

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            "larza_alert_step_seconds",
            "Worker steps from a record's arrival to an alert message stored, newest 1000",
            labels=["step"],
        )
        for step, values in self.steps.items():
            counts = [sum(1 for v in values if v <= b) for b in ALERT_BUCKETS]
            buckets = [(str(b), float(c)) for b, c in zip(ALERT_BUCKETS, counts, strict=True)]
            buckets.append(("+Inf", float(len(values))))
            family.add_metric([step], buckets, sum_value=float(sum(values)))
        yield family


class _Snapshot(Collector):
    """The figures of one scrape, from the station list of the current round."""

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


def build_metrics(open_session: SessionOpener, stations: StationList) -> Built:
    with open_session() as session:
        counts = detection_counts(session)
        gaps = {".".join(codes): totals for codes, totals in gap_totals(session).items()}
        steps = alert_step_latencies(session)
    by_stream = {stream: counts.get(c, 0) for c, stream in stations.streams.items()}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(stations.views, by_stream, gaps))
    registry.register(_AlertLatency(steps))
    return built(generate_latest(registry), CONTENT_TYPE_LATEST)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Built once per health evaluation round, with the station list.",
    response_class=Response,
)
async def metrics(request: Request) -> Response:
    cache, open_session = round_cache(request), session_opener(request)
    settings = app_settings(request)

    async def build() -> Built:
        stations = await station_list(cache, open_session, settings, current=True)
        return await run_in_threadpool(build_metrics, open_session, stations.value)

    return cached_response(request, await cache.get("metrics", build))
