"""The operator's configuration file, ``larza.toml``: detector profiles, association and
health thresholds, with defaults and per-station / per-channel overrides.

Example::

    [detector]                    # defaults for every channel
    method = "recursive"
    trigger_on = 3.5
    [detector."TJ.SAREZ"]         # a station override
    freqmin = 2.0
    [detector."TJ.SAREZ..HHZ"]    # a channel override (wildcards ? and * allowed)
    trigger_on = 4.0

    [association]
    min_stations = 3
    window = 40.0
    weights = { "TJ.SAREZ" = 2.0 }

    [health]                      # thresholds of the station states
    latency_degraded_s = 60
    [health."TJ.*..HN?"]
    clip_level = 8000000          # counts: the accelerometer's full scale

    [velocity_model]              # earthquakes: travel times (see docs/quakes.md)
    model = "pamir"               # or file = "tipage.nd", or layers = [...]
    [location]                    # phase association and location
    min_stations = 4
    [magnitude]                   # ML calibration and energy class K
    station_corrections = { "TJ.SAREZ" = 0.1 }

Overrides apply in order: the defaults, then every matching station key (``NET.STA``), then
every matching channel key (``NET.STA.LOC.CHA``), each in file order. The file is checked
whole at start-up; a bad key or value is a :class:`ConfigurationError` naming the file, the
table and the key. A missing file means the defaults.
"""

from __future__ import annotations

import fnmatch
import itertools
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detection import DetectorConfig
from ingest.alerts.config import AlertsTable
from stations.errors import ConfigurationError
from stations.queries import ChannelKey

DEFAULT_PATH = Path("larza.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorTable(_Strict):
    """``[detector]``: every field of :class:`detection.DetectorConfig`."""

    enabled: bool = Field(True, description="false: the channel is not detected on")
    method: Literal["recursive", "classic"] = "recursive"
    freqmin: float = Field(1.0, gt=0, description="Hz")
    freqmax: float = Field(20.0, gt=0, description="Hz")
    corners: int = Field(4, ge=1, le=10)
    sta: float = Field(0.5, gt=0, description="seconds")
    lta: float = Field(10.0, gt=0, description="seconds")
    trigger_on: float = Field(3.5, gt=0)
    trigger_off: float = Field(1.0, gt=0)
    min_duration: float = Field(0.0, ge=0, description="seconds")
    max_duration: float = Field(60.0, gt=0, description="seconds")
    max_gap: float = Field(1.0, ge=0, description="seconds: shorter gaps are bridged")
    despike: bool = Field(True, description="mask spikes before the band-pass")
    s_window: float = Field(25.0, gt=0, description="seconds after a P searched for its S")
    s_ratio: float = Field(3.0, gt=0, description="S threshold: energy ratio across the onset")

    @model_validator(mode="after")
    def _consistent(self) -> DetectorTable:
        self.detector()  # sta < lta, freqmin < freqmax, ... (a ValueError naming the values)
        return self

    def detector(self) -> DetectorConfig:
        return DetectorConfig(**self.model_dump())


class AssociationTable(_Strict):
    """``[association]``: how detections at several stations become one event."""

    min_stations: int = Field(3, ge=1)
    window: float = Field(40.0, gt=0, description="seconds between first and last onset")
    weights: dict[str, float] = Field(default_factory=dict)
    velocity_km_s: float = Field(
        6.0, gt=0, description="slowest first-arrival speed across the network (travel times)"
    )
    tolerance_s: float = Field(2.0, ge=0, description="added to each travel-time bound")
    travel_times: bool = Field(True, description="check onsets against station distances")

    @model_validator(mode="after")
    def _positive_weights(self) -> AssociationTable:
        for station, weight in self.weights.items():
            if weight <= 0 or station.count(".") != 1:
                raise ValueError(f"weights: need NET.STA = weight > 0, got {station} = {weight}")
        return self


class HealthTable(_Strict):
    """``[health]``: the metrics window and the thresholds of the station states."""

    window_s: float = Field(600.0, gt=0, description="sliding window of the metrics")
    state_interval_s: float = Field(10.0, gt=0, description="station states this often")
    interval_s: float = Field(60.0, gt=0, description="metric snapshots stored this often")
    latency_degraded_s: float = Field(60.0, gt=0, description="data latency above: DEGRADED")
    latency_down_s: float = Field(600.0, gt=0, description="data latency above: DOWN")
    availability_pct: float = Field(99.0, ge=0, le=100, description="below: DEGRADED")
    timing_quality_degraded: float = Field(90.0, ge=0, le=100, description="below: DEGRADED")
    clipping_pct: float = Field(1.0, ge=0, le=100, description="clipped samples above: DEGRADED")
    clip_level: float | None = Field(
        8_388_607.0, gt=0, description="counts at or above which a sample is clipped (24 bit)"
    )
    spikes: int = Field(10, ge=0, description="spikes in the window above: DEGRADED")
    noise_band_hz: tuple[float, float] = Field((1.0, 5.0), description="band of the noise level")
    noise_interval_s: float = Field(600.0, gt=0, description="one noise PSD this often")
    noise_segment_s: float = Field(60.0, gt=0, description="seconds of data in one PSD")
    noise_above_nhnm_db: float | None = Field(
        10.0, description="seismometer noise this far above the NHNM in the band: DEGRADED"
    )
    soh_latency_s: float = Field(
        1800.0, gt=0, description="state-of-health data older than this: DEGRADED"
    )
    raw_retention_days: float = Field(1.0, gt=0, description="snapshots at full rate kept")
    retention_days: float = Field(400.0, gt=0, description="hourly snapshots kept")

    @model_validator(mode="after")
    def _ordered(self) -> HealthTable:
        if self.latency_down_s <= self.latency_degraded_s:
            raise ValueError(
                "need latency_degraded_s < latency_down_s, got "
                f"{self.latency_degraded_s} and {self.latency_down_s}"
            )
        low, high = self.noise_band_hz
        if not 0 < low < high:
            raise ValueError(f"noise_band_hz: need 0 < low < high, got {low}, {high}")
        return self


class LayerEntry(_Strict):
    """One layer of ``[velocity_model] layers``: its top, Vp, and Vs or Vp/Vs."""

    top_km: float = Field(ge=0, description="depth of the layer's top below sea level")
    vp: float = Field(gt=0, description="km/s")
    vs: float | None = Field(None, gt=0, description="km/s (or give vp_vs)")
    vp_vs: float | None = Field(None, gt=1, description="Vp/Vs ratio (or give vs)")

    @model_validator(mode="after")
    def _one_of_vs(self) -> LayerEntry:
        if self.vs is not None and self.vp_vs is not None:
            raise ValueError(f"layer at {self.top_km} km: give vs or vp_vs, not both")
        return self


class VelocityModelTable(_Strict):
    """``[velocity_model]``: the 1-D model of the travel-time tables (see docs/quakes.md).

    One of ``model`` (a named model), ``file`` (``.nd``/``.tvel``) or ``layers``.
    """

    model: Literal["pamir", "iasp91", "ak135"] = "pamir"
    file: str | None = Field(None, description=".nd or .tvel file, relative to larza.toml")
    layers: tuple[LayerEntry, ...] | None = Field(None, description="constant-velocity layers")
    moho_km: float | None = Field(None, gt=0, description="with layers: where the crust ends")
    base: Literal["iasp91", "ak135"] = Field(
        "iasp91", description="the global model below layers or a file that stops above the core"
    )
    vp_vs: float = Field(1.73, gt=1, description="with layers: for a layer without vs/vp_vs")
    max_distance_km: float = Field(1000.0, gt=0, description="largest epicentral distance")
    max_depth_km: float = Field(300.0, gt=0, description="deepest source")
    distance_step_km: float = Field(1.0, gt=0)
    depth_step_km: float = Field(2.0, gt=0)
    cache_dir: str = Field("var/traveltimes", description="tables built are kept here")

    @model_validator(mode="after")
    def _one_source(self) -> VelocityModelTable:
        given = [k for k in ("model", "file", "layers") if k in self.model_fields_set]
        if len(given) > 1:
            raise ValueError(f"give one of model, file or layers, got {' and '.join(given)}")
        if self.layers is not None and self.moho_km is None:
            raise ValueError("layers need moho_km (where the base model's mantle begins)")
        if self.moho_km is not None and self.layers is None:
            raise ValueError("moho_km goes with layers")
        for axis in ("distance", "depth"):
            top, step = getattr(self, f"max_{axis}_km"), getattr(self, f"{axis}_step_km")
            if abs(top / step - round(top / step)) > 1e-9:
                raise ValueError(f"max_{axis}_km must be a whole number of {axis}_step_km")
        return self

    def layer_values(self) -> tuple[tuple[float, float, float], ...]:
        """(top km, Vp, Vs) of each layer, Vs from vp_vs where it is not given."""
        out = []
        for layer in self.layers or ():
            ratio = layer.vp_vs or self.vp_vs
            out.append((layer.top_km, layer.vp, layer.vs or layer.vp / ratio))
        return tuple(out)


class LocationTable(_Strict):
    """``[location]``: phase association and the locator (see docs/quakes.md)."""

    min_stations: int = Field(4, ge=3, description="stations with P an event needs")
    min_phases: int = Field(7, ge=5, description="phases an event needs")
    p_model_error_s: float = Field(0.2, ge=0, description="how far model P times may be off")
    s_model_error_s: float = Field(0.35, ge=0, description="how far model S times may be off")
    tolerance_sigmas: float = Field(
        3.0, gt=0, description="largest residual, in sqrt(pick sigma^2 + model error^2)"
    )
    confidence: float = Field(0.99, ge=0.5, lt=1, description="chi-square test of a new event")
    min_coverage: float = Field(0.6, ge=0, le=1, description="near live stations that picked")
    min_moveout_s: float = Field(0.05, ge=0, description="P picks closer together: a glitch")
    relabel: bool = Field(True, description="a pick may join as the other phase")
    min_phases_located: int = Field(5, ge=3, description="fewer: stored not located")
    min_phases_free_depth: int = Field(5, ge=4, description="fewer: the depth is fixed")
    fixed_depth_km: float = Field(10.0, ge=0, description="depth of a fixed-depth solution")
    search_margin_km: float = Field(200.0, ge=0, description="search beyond the stations' box")
    grid_spacing_km: float = Field(20.0, gt=0, description="coarse grid, horizontally")
    depth_spacing_km: float = Field(20.0, gt=0, description="coarse grid, in depth")
    huber: float = Field(1.5, gt=0, description="residuals beyond this many sigma weigh less")

    @model_validator(mode="after")
    def _ordered(self) -> LocationTable:
        if self.min_phases < self.min_stations:
            raise ValueError("need min_phases >= min_stations")
        return self


class MagnitudeTable(_Strict):
    """``[magnitude]``: ML calibration and the energy class K (see docs/quakes.md)."""

    distance: Literal["hypocentral", "epicentral"] = "hypocentral"
    log_a0: tuple[tuple[float, float], ...] | None = Field(
        None, description="[[km, log A0], ...] (SeisComP sign); default Hutton & Boore 1987"
    )
    wood_anderson_gain: float = Field(2080.0, gt=0, description="2080 (default) or 2800")
    station_corrections: dict[str, float] = Field(default_factory=dict)
    trim: float = Field(0.25, ge=0, lt=1, description="share of station magnitudes dropped")
    min_distance_km: float = Field(0.0, ge=0)
    max_distance_km: float = Field(1000.0, gt=0)
    k_slope: float = Field(1.8, description="energy class K = k_slope * ML + k_intercept")
    k_intercept: float = Field(4.6)

    @model_validator(mode="after")
    def _checked(self) -> MagnitudeTable:
        for station in self.station_corrections:
            if station.count(".") != 1:
                raise ValueError(f"station_corrections: need NET.STA, got {station!r}")
        if self.log_a0 is not None:
            distances = [d for d, _ in self.log_a0]
            if len(distances) < 2 or any(b <= a for a, b in itertools.pairwise(distances)):
                raise ValueError(f"log_a0: need two or more increasing distances, got {distances}")
        if self.max_distance_km <= self.min_distance_km:
            raise ValueError("need min_distance_km < max_distance_km")
        return self


class StationSource(_Strict):
    """``[stations."NET.STA"]``: where a station's data come from and which streams."""

    server: str | None = Field(
        None, description="SeedLink server host:port (default: the worker's)"
    )
    selectors: str | None = Field(None, description="SeedLink selectors, e.g. 'HH? HN? VEI'")

    @model_validator(mode="after")
    def _host_port(self) -> StationSource:
        if self.server is not None:
            host, sep, port = self.server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"server must be host:port, got {self.server!r}")
        if self.selectors is not None and not self.selectors.split():
            raise ValueError("selectors: give at least one, e.g. 'HH?'")
        return self


class SohChannel(_Strict):
    """One state-of-health channel of ``[soh."NET.STA"]``: what it is and its limits.

    ``value = counts * scale`` in ``unit``; outside ``[min, max]`` the station is DEGRADED.
    """

    name: str = Field(min_length=1, description="what the channel measures, in words")
    unit: str = ""
    scale: float = Field(1.0, description="physical value per count")
    min: float | None = None
    max: float | None = None
    location: str = Field("", max_length=2)
    sampling_rate: float = Field(1.0, gt=0, description="Hz, as the digitizer sends it")


_TABLES: dict[str, type[_Strict]] = {
    "detector": DetectorTable,
    "health": HealthTable,
}
_FIELDS = {name: set(table.model_fields) for name, table in _TABLES.items()}


@dataclass(frozen=True)
class Override:
    """One ``[table."pattern"]`` of the file: the keys it sets, for the streams it matches."""

    pattern: str
    values: dict[str, Any]

    @property
    def is_channel(self) -> bool:
        return self.pattern.count(".") == 3

    def matches(self, key: ChannelKey) -> bool:
        station = f"{key.network}.{key.station}"
        if self.is_channel:
            return fnmatch.fnmatchcase(f"{station}.{key.location}.{key.channel}", self.pattern)
        return fnmatch.fnmatchcase(station, self.pattern)


@dataclass(frozen=True)
class LarzaConfig:
    """The validated file. ``detector_for`` and ``health_for`` resolve the overrides."""

    detector: DetectorTable = field(default_factory=DetectorTable)
    association: AssociationTable = field(default_factory=AssociationTable)
    health: HealthTable = field(default_factory=HealthTable)
    overrides: dict[str, tuple[Override, ...]] = field(default_factory=dict)
    soh: dict[str, dict[str, SohChannel]] = field(default_factory=dict)
    stations: dict[str, StationSource] = field(default_factory=dict)
    """Station pattern (``NET.STA``, wildcards) -> its server and streams."""
    velocity_model: VelocityModelTable = field(default_factory=VelocityModelTable)
    location: LocationTable = field(default_factory=LocationTable)
    magnitude: MagnitudeTable = field(default_factory=MagnitudeTable)
    alerts: AlertsTable = field(default_factory=AlertsTable)
    base_dir: Path = Path(".")
    """Directory relative paths of the file (a velocity model, the table cache) start from."""
    """Station pattern (``NET.STA``, wildcards) -> channel code -> its description."""
    source: str = "defaults"

    def detector_for(self, key: ChannelKey) -> tuple[DetectorConfig, str]:
        """The detector settings of one stream and the profile name stored with detections:
        ``default``, or the override patterns applied, joined by ``+``."""
        table, applied = self._resolve("detector", self.detector, key)
        assert isinstance(table, DetectorTable)
        return self._detectors[table], "+".join(applied) or "default"

    def health_for(self, key: ChannelKey) -> HealthTable:
        table, _ = self._resolve("health", self.health, key)
        assert isinstance(table, HealthTable)
        return table

    def source_of(
        self, network: str, station: str, *, server: str, selectors: str
    ) -> tuple[str, str]:
        """The SeedLink server and selectors of a station: the given defaults, overridden by
        every matching ``[stations."NET.STA"]`` table in file order."""
        for pattern, source in self.stations.items():
            if fnmatch.fnmatchcase(f"{network}.{station}", pattern):
                server = source.server or server
                selectors = source.selectors or selectors
        return server, selectors

    def soh_channels(self, network: str, station: str) -> dict[str, SohChannel]:
        """The state-of-health channels configured for one station, by channel code (later
        tables of the file win for the same code)."""
        out: dict[str, SohChannel] = {}
        for pattern, channels in self.soh.items():
            if fnmatch.fnmatchcase(f"{network}.{station}", pattern):
                out.update(channels)
        return out

    def soh_for(self, key: ChannelKey) -> SohChannel | None:
        found = self.soh_channels(key.network, key.station).get(key.channel)
        return found if found is not None and found.location == key.location else None

    def _resolve(self, name: str, base: _Strict, key: ChannelKey) -> tuple[_Strict, list[str]]:
        """The settings for a stream: the overrides matching it applied (kept: the health
        evaluation and the detector ask for every stream again and again)."""
        known = self._resolved.get((name, key))
        if known is None:
            known = self._resolved[(name, key)] = self._merge(name, base, key)
        return known

    def _merge(self, name: str, base: _Strict, key: ChannelKey) -> tuple[_Strict, list[str]]:
        found = [o for o in self.overrides.get(name, ()) if o.matches(key)]
        ordered = [o for o in found if not o.is_channel] + [o for o in found if o.is_channel]
        if not ordered:
            return base, []
        merged = base.model_dump()
        for override in ordered:
            merged.update(override.values)
        return type(base).model_validate(merged), [o.pattern for o in ordered]

    @cached_property
    def _resolved(self) -> dict[tuple[str, ChannelKey], tuple[_Strict, list[str]]]:
        return {}

    @cached_property
    def _detectors(self) -> _DetectorCache:
        return _DetectorCache()


class _DetectorCache(dict[DetectorTable, DetectorConfig]):
    """One :class:`DetectorConfig` per distinct table (they are compared by value)."""

    def __missing__(self, table: DetectorTable) -> DetectorConfig:
        made = self[table] = table.detector()
        return made


def load_config(path: Path | None = None) -> LarzaConfig:
    """Read and check the configuration file; ``None``: ``larza.toml`` here if it exists.

    Raises
    ------
    ConfigurationError
        If a named file is missing, is not TOML, or has an unknown table, key or bad value.
    """
    if path is None:
        if not DEFAULT_PATH.exists():
            return LarzaConfig()
        path = DEFAULT_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(str(path), f"cannot read the configuration: {e.strerror}") from e
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigurationError(str(path), f"not valid TOML: {e}") from e
    return parse_config(document, source=str(path), base_dir=path.parent)


_KNOWN = (
    "detector",
    "association",
    "health",
    "soh",
    "stations",
    "velocity_model",
    "location",
    "magnitude",
    "alerts",
)


def parse_config(
    document: dict[str, Any], *, source: str = "larza.toml", base_dir: Path | None = None
) -> LarzaConfig:
    """Check a parsed TOML document; see :func:`load_config`. ``base_dir`` is where relative
    paths start (the file's directory; default the current one)."""
    unknown = set(document) - set(_KNOWN)
    if unknown:
        raise ConfigurationError(
            source,
            f"unknown table [{sorted(unknown)[0]}]; known: "
            + ", ".join(f"[{name}]" for name in _KNOWN),
        )
    tables: dict[str, Any] = {}
    overrides: dict[str, tuple[Override, ...]] = {}
    for name, model in _TABLES.items():
        raw = dict(document.get(name, {}))
        found: list[Override] = []
        for key in [k for k, v in raw.items() if isinstance(v, dict)]:
            values = raw.pop(key)
            _check_pattern(source, name, key)
            found.append(Override(key, values))
        tables[name] = _validated(source, f"[{name}]", model, raw)
        for override in found:
            # Check each override on top of the defaults, so a bad value names its own table.
            merged = {**tables[name].model_dump(), **override.values}
            _validated(source, f'[{name}."{override.pattern}"]', model, merged)
        overrides[name] = tuple(found)
    association = _validated(
        source, "[association]", AssociationTable, dict(document.get("association", {}))
    )
    assert isinstance(association, AssociationTable)
    soh: dict[str, dict[str, SohChannel]] = {}
    for pattern, channels in dict(document.get("soh", {})).items():
        if pattern.count(".") != 1 or not isinstance(channels, dict):
            raise ConfigurationError(
                source, f'[soh."{pattern}"]: name a station NET.STA (wildcards ? and *)'
            )
        soh[pattern] = {}
        for code, raw in channels.items():
            if not (len(code) == 3 and code.isalnum() and isinstance(raw, dict)):
                raise ConfigurationError(
                    source,
                    f'[soh."{pattern}"]: {code!r}: need CHA = {{ name = "...", ... }} '
                    "with a 3-character channel code",
                )
            described = _validated(source, f'[soh."{pattern}"].{code}', SohChannel, raw)
            assert isinstance(described, SohChannel)
            soh[pattern][code.upper()] = described
    stations: dict[str, StationSource] = {}
    for pattern, raw in dict(document.get("stations", {})).items():
        if pattern.count(".") != 1 or not isinstance(raw, dict):
            raise ConfigurationError(
                source, f'[stations."{pattern}"]: name a station NET.STA (wildcards ? and *)'
            )
        found_source = _validated(source, f'[stations."{pattern}"]', StationSource, raw)
        assert isinstance(found_source, StationSource)
        stations[pattern] = found_source
    quake_tables: dict[str, _Strict] = {}
    for name, model in (
        ("velocity_model", VelocityModelTable),
        ("location", LocationTable),
        ("magnitude", MagnitudeTable),
    ):
        quake_tables[name] = _validated(source, f"[{name}]", model, dict(document.get(name, {})))
    velocity = quake_tables["velocity_model"]
    assert isinstance(velocity, VelocityModelTable)
    base = base_dir if base_dir is not None else Path(".")
    if "velocity_model" in document:
        _check_velocity_model(source, velocity, base)
    location = quake_tables["location"]
    magnitude = quake_tables["magnitude"]
    assert isinstance(location, LocationTable)
    assert isinstance(magnitude, MagnitudeTable)
    alerts = _validated(source, "[alerts]", AlertsTable, dict(document.get("alerts", {})))  # type: ignore[arg-type]
    assert isinstance(alerts, AlertsTable)
    return LarzaConfig(
        detector=tables["detector"],
        association=association,
        health=tables["health"],
        overrides=overrides,
        soh=soh,
        stations=stations,
        velocity_model=velocity,
        location=location,
        magnitude=magnitude,
        alerts=alerts,
        base_dir=base,
        source=source,
    )


def _check_velocity_model(source: str, table: VelocityModelTable, base_dir: Path) -> None:
    """Read the model now, so a file that does not parse stops start-up naming its line."""
    from ingest.quakes.model import velocity_model  # here: reads ObsPy's model files

    try:
        velocity_model(table, base_dir)
    except ConfigurationError as e:
        raise ConfigurationError(source, f"[velocity_model]: {e}") from None


def _check_pattern(source: str, table: str, pattern: str) -> None:
    parts = pattern.split(".")
    if len(parts) not in (2, 4) or not parts[0] or not parts[1]:
        raise ConfigurationError(
            source,
            f'[{table}."{pattern}"]: an override is named NET.STA or '
            "NET.STA.LOC.CHA (wildcards ? and * allowed)",
        )


def _validated(source: str, where: str, model: type[_Strict], raw: dict[str, Any]) -> _Strict:
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(table)"
        if first["type"] == "extra_forbidden":
            raise ConfigurationError(source, f"{where}: unknown key {key!r}") from None
        value = f" (got {first['input']!r})" if first["type"] != "missing" else ""
        raise ConfigurationError(source, f"{where}: {key}: {first['msg']}{value}") from None
    except ValueError as e:
        raise ConfigurationError(source, f"{where}: {e}") from None
