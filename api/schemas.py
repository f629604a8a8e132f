"""Response schemas, separate from the ORM rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from api.quake_schemas import ArrivalOut, GroundMotionOut, OriginOut, StationMagnitudeOut
from stations.operations import COMMENT_MAX

T = TypeVar("T")

StationState = Literal["OK", "DEGRADED", "DOWN", "UNKNOWN"]
TEXT_MAX = COMMENT_MAX
"""Longest acknowledgement comment or maintenance note."""
_CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f"
NO_CONTROLS = f"^[^{_CONTROLS}]*$"
"""Text without NUL (PostgreSQL cannot store it) nor other control characters but tab,
line feed and carriage return."""
VISIBLE = f"^[^{_CONTROLS}]*[^{_CONTROLS}\\t\\n\\r ][^{_CONTROLS}]*$"
"""The same, with at least one character that is not a space."""
_FORBIDDEN = frozenset(map(chr, [*range(9), 11, 12, *range(14, 32), 127]))


def _no_controls(value: object) -> object:
    if isinstance(value, str) and not _FORBIDDEN.isdisjoint(value):
        raise ValueError(
            "NUL and other control characters are not allowed (line breaks and tabs are)"
        )
    return value


VisibleText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TEXT_MAX, pattern=VISIBLE),
    BeforeValidator(_no_controls),
]
"""Text a client writes, with something in it: the OpenAPI schema shows the pattern, and
control characters get a clearer message than the pattern's. (The constraints are given
here, before the validator: given after it, they would drop the pattern from the schema.)"""
Secret = Annotated[
    str,
    StringConstraints(min_length=16, max_length=200, pattern=NO_CONTROLS),
    BeforeValidator(_no_controls),
]


class AcknowledgedOut(BaseModel):
    by: str = Field(description="name of the API key that acknowledged")
    at: datetime
    comment: str


class MaintenanceOut(BaseModel):
    on: bool = Field(description="the station is in maintenance (its state is still evaluated)")
    note: str | None
    by: str = Field(description="name of the API key that last changed it")
    since: datetime = Field(description="when the station went into (or out of) maintenance")
    updated_at: datetime = Field(description="when it was last changed")


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
    availability_pct: float | None = Field(
        None,
        description="availability over the health window ending now, the silence of a channel "
        "with no data (DOWN) counted as missing; null without a fresh evaluation",
    )
    metrics: dict[str, Any] = Field(
        description="availability_pct, gaps, rms, clipped_pct, timing_quality_min, "
        "clock_locked, noise_db_above_nlnm, ... over the worker's window, which ends at the "
        "newest sample"
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
    acknowledged: AcknowledgedOut | None = Field(
        description="an operator's acknowledgement of the current state; null when none"
    )
    maintenance: MaintenanceOut | None = Field(
        description="maintenance set by an operator; null when never set"
    )
    channels: list[ChannelOut]


class StationPatch(BaseModel):
    """A partial update: what is left out (or a null ``maintenance``) stays as it is."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={  # what the validator below asks, for the OpenAPI schema
            "anyOf": [
                {"required": ["note"]},
                {"required": ["maintenance"], "properties": {"maintenance": {"type": "boolean"}}},
            ]
        },
    )

    maintenance: bool | None = Field(
        None, description="true: in maintenance (e.g. a field visit); false: out of it"
    )
    note: VisibleText | None = Field(
        None,
        description="about the maintenance; null clears it",
    )

    @model_validator(mode="after")
    def _something(self) -> StationPatch:
        if self.maintenance is None and "note" not in self.model_fields_set:
            raise ValueError("send 'maintenance', 'note' or both")
        return self


class ImportOut(BaseModel):
    name: str = Field(description="the name the document is kept under")
    networks: int
    stations: int
    channels: int
    station_ids: list[str] = Field(description="NET.STA of each station imported")


class AcknowledgementIn(BaseModel):
    comment: VisibleText = Field(
        description="e.g. who is on it and what comes next",
    )


class AcknowledgementOut(BaseModel):
    id: int
    station: str = Field(description="NET.STA")
    state: StationState = Field(description="the state acknowledged")
    state_change_id: int = Field(description="the state change that began that state")
    comment: str
    by: str = Field(description="name of the API key that acknowledged")
    at: datetime


class StateChangeOut(BaseModel):
    id: int = Field(description="cursor: changes are numbered in the order they happened")
    station: str = Field(description="NET.STA")
    time: datetime
    from_state: StationState
    to_state: StationState
    reason: str
    acknowledged: AcknowledgedOut | None = Field(
        None, description="an operator's acknowledgement of the state it began; null when none"
    )


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
    phase: Literal["P", "S"] | None = Field(
        None,
        description="P (the vertical of a three-component sensor), S (its horizontals), or "
        "null: a channel without partners, whose detections carry no phase",
    )
    onset_uncertainty: float | None = Field(
        None, description="seconds: half the width of the onset's AIC minimum"
    )
    polarity: Literal["positive", "negative", "undecidable"] | None = Field(
        None, description="first motion of a P (positive: up); null for S"
    )
    bridged: bool = Field(False, description="a short gap was bridged in the pick's window")
    peak_ratio: float = Field(description="largest STA/LTA; for S, the energy ratio across it")
    snr: float | None = Field(description="signal-to-noise ratio; null when the noise was zero")
    peak_amplitude: float = Field(description="counts, raw mean removed")
    peak_physical: float | None = Field(
        description="peak amplitude in physical units (counts / sensitivity), when known"
    )
    physical_unit: str | None = Field(description="e.g. m/s (seismometer), m/s**2")
    profile: str
    event_id: int | None = Field(None, description="the event it belongs to (null: none)")
    arrival: ArrivalOut | None = Field(
        None, description="how the event's latest origin uses it (located events)"
    )
    status: Literal["preliminary", "final", "withdrawn"] = Field(
        "final",
        description="preliminary: stored at trigger-on (onset = trigger-on time, amplitudes 0), "
        "completed in place (same id) when the trigger ends; withdrawn: never completed",
    )


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
    latitude: float | None = Field(None, description="epicentre of the latest origin")
    longitude: float | None = None
    depth_km: float | None = Field(None, description="below sea level")
    place: str | None = Field(None, description='e.g. "42 km NE of Murghob"')
    magnitude: float | None = Field(None, description="network ML")
    magnitude_type: str | None = None
    magnitude_uncertainty: float | None = Field(None, description="station ML spread")
    magnitude_stations: int | None = None
    energy_class: float | None = Field(None, description="Rautian's K")
    origin: OriginOut | None = Field(None, description="the latest origin (located events)")
    origin_versions: int = Field(0, description="origins stored, one per update")
    station_magnitudes: list[StationMagnitudeOut] = Field(default_factory=list)
    ground_motion: list[GroundMotionOut] = Field(default_factory=list)


class GapOut(BaseModel):
    id: int
    stream: str = Field(description="NET.STA.LOC.CHA")
    network: str
    station: str
    location: str
    channel: str
    start: datetime = Field(description="the last sample before the gap")
    end: datetime = Field(description="the first sample after the gap")
    seconds: float = Field(description="time without samples")
    cause: Literal["resume", "stream"] = Field(
        description="resume: the span fell while Larza was not reading the stream (a restart, "
        "a reconnection; the server no longer held the data); stream: the data arrived "
        "without it"
    )
    detected_at: datetime


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = Field(description="URL of the next page, or null when there is none yet")


ChangeKindName = Literal["event", "detection", "state", "alert"]
ALL_CHANGE_KINDS: list[ChangeKindName] = ["event", "detection", "state", "alert"]


class WebhookIn(BaseModel):
    url: str = Field(
        max_length=2000,
        description="http or https URL that receives the changes as POSTs; its host must be "
        "a public address unless the operator allows its network",
    )
    kinds: list[ChangeKindName] = Field(
        default_factory=lambda: list(ALL_CHANGE_KINDS),
        min_length=1,
        description="the kinds of change to receive",
    )
    secret: Secret | None = Field(
        None,
        description="HMAC-SHA256 key of the X-Larza-Signature header; generated when omitted",
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    kinds: list[ChangeKindName]
    api_key_id: int | None = Field(description="the API key that registered it")
    created_at: datetime
    active: bool
    cursor: int = Field(description="the last change the receiver acknowledged")
    failures: int = Field(description="deliveries failed in a row")
    next_attempt_at: datetime | None = Field(description="when a failing delivery is retried")
    last_error: str | None = Field(description="why the last delivery failed")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="shown this once: check each delivery's signature with it")


class RunOut(BaseModel):
    """A catalogue run of ``larza reprocess``."""

    name: str
    status: Literal["running", "finished", "partial", "interrupted"] = Field(
        description="partial: some chunks failed (``larza reprocess --resume NAME`` retries "
        "them); interrupted: stopped before the end"
    )
    start: datetime = Field(description="the span reprocessed: picks with onsets from here ...")
    end: datetime = Field(description="... to here")
    stations: list[str]
    chunk_s: float = Field(description="seconds of data per task")
    chunks: int
    chunks_done: int = Field(description="chunks finished (those with no data among them)")
    chunks_failed: int = Field(description="chunks that failed after their retries")
    chunks_empty: int = Field(
        description="of chunks_done, those the source had no data in (no day file in the "
        "archive, or an FDSN service's 204): finished and empty, not failed"
    )
    detections: int
    events: int
    started_at: datetime
    finished_at: datetime | None
    source_kind: Literal["sds", "fdsn"] | None = Field(
        description="where the waveforms came from: an SDS archive, or an FDSN dataselect "
        "service; null for a run stored before Larza recorded it"
    )
    source: str | None = Field(
        description="the SDS archive's path (as the run's workers saw it), or the FDSN "
        "dataselect service's base URL"
    )
    station_selection: Literal["given", "all"] | None = Field(
        description="given: the stations were named (--stations); all: every station the "
        "source had over the span (the archive's day files, or the FDSN station service's "
        "list); ``stations`` lists them"
    )
    config: str = Field(description="the larza.toml the run used")
    config_digest: str = Field(
        description="the first 12 hex digits of the SHA-256 of ``config``: runs with the same "
        "settings have the same"
    )


class RunEventOut(BaseModel):
    """An event of a run (compared with another run's)."""

    id: int
    time: datetime
    stations: list[str]
    coincidence_sum: float


class RunMatchOut(BaseModel):
    a: RunEventOut
    b: RunEventOut
    seconds: float = Field(description="b's time minus a's")


class RunCompareOut(BaseModel):
    """Two runs' events: matched (first onsets within the tolerance, a station in common),
    only in A, only in B."""

    a: str
    b: str
    tolerance_s: float
    matched: list[RunMatchOut]
    only_a: list[RunEventOut]
    only_b: list[RunEventOut]
