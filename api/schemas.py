"""Response schemas, separate from the ORM rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

StationState = Literal["OK", "DEGRADED", "DOWN", "UNKNOWN"]


class ChannelOut(BaseModel):
    id: str = Field(description="NET.STA.LOC.CHA")
    location: str
    code: str
    kind: str
    sampling_rate: float
    last_sample_time: datetime | None = Field(description="time of the newest sample received")
    last_arrival_time: datetime | None = Field(description="arrival time of the newest record")
    data_latency_s: float | None = Field(description="now - time of the newest sample")
    feed_latency_s: float | None = Field(description="now - arrival time of the newest record")
    records: int
    state: StationState = Field(description="from the worker's latest health evaluation")
    reason: str = Field(description="why the state is not OK, in words")
    evaluated_at: datetime | None = Field(description="when the worker last evaluated it")
    metrics: dict[str, Any] = Field(
        description="availability_pct, gaps, rms, clipped_pct, timing_quality_min, "
        "clock_locked, noise_db_above_nlnm, ... over the worker's window"
    )


class StationOut(BaseModel):
    id: str = Field(description="NET.STA")
    network: str
    code: str
    latitude: float
    longitude: float
    elevation: float
    site_name: str | None
    state: StationState
    reason: str
    since: datetime | None = Field(description="when the station entered this state")
    evaluated_at: datetime | None = Field(description="when the worker last evaluated it")
    stale: bool = Field(
        description="no worker has evaluated the station lately: the state is from latency only"
    )
    last_sample_time: datetime | None
    data_latency_s: float | None
    channels: list[ChannelOut]


class StateChangeOut(BaseModel):
    id: int = Field(description="cursor: changes are numbered in the order they happened")
    station: str = Field(description="NET.STA")
    time: datetime
    from_state: StationState
    to_state: StationState
    reason: str


class SnapshotOut(BaseModel):
    id: int
    time: datetime
    interval_s: int = Field(description="60: one snapshot; 3600: an hour's mean")
    metrics: dict[str, Any]


class DetectionOut(BaseModel):
    id: int
    stream: str = Field(description="NET.STA.LOC.CHA")
    network: str
    station: str
    location: str
    channel: str
    on_time: datetime
    off_time: datetime
    onset_time: datetime
    peak_ratio: float
    snr: float | None = Field(description="signal-to-noise ratio; null when the noise was zero")
    peak_amplitude: float
    profile: str


class EventOut(BaseModel):
    id: int
    time: datetime
    status: str
    n_stations: int
    stations: list[str]
    coincidence_sum: float
    duration: float
    created_at: datetime
    updated_at: datetime
    detections: list[DetectionOut]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="URL of the next page, or null when there is none yet")
