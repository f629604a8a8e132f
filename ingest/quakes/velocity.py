"""Velocity models: the named ones, ``.nd``/``.tvel`` files and layers from ``larza.toml``.

Every model ends up as one ``.nd`` text (depth, Vp, Vs rows and the named discontinuities
``mantle``, ``outer-core``, ``inner-core``) that TauP builds. A model that stops above the
core (layers, or a file of the crust and upper mantle) is completed below by a global model
(``base``: iasp91 or ak135, read from the ``.tvel`` files ObsPy ships).

The default, ``pamir``: the crust of iasp91 (Kennett & Engdahl 1991: 5.80 / 3.36 km/s above,
6.50 / 3.75 km/s below) thickened to a 70 km Moho, the depth Roecker (1982) found from the
P and S times of local Pamir-Hindu Kush earthquakes (70 +- 5 km) and within the 65-75 km that
receiver functions give under the Pamir plateau (Schneider et al. 2019), with iasp91's mantle
below. Its crustal Vp/Vs (1.73) lies between the 1.70 of the south-central and the > 1.77 of
the northern Pamir (Murodov et al. 2022). It is a starting point built from published numbers,
not a minimum 1-D model inverted for the region: set the Service's own model (e.g. the TIPAGE
model of Sippl et al. 2013) as ``file`` or ``layers`` when it is at hand. docs/quakes.md has
the references.

Parsing is plain Python (no ObsPy): a bad file stops the configuration with its name and line.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

from stations.errors import ConfigurationError

__all__ = [
    "BASE_MODELS",
    "NAMED_MODELS",
    "PAMIR_LAYERS",
    "PAMIR_MOHO_KM",
    "Layer",
    "ModelRows",
    "base_rows",
    "layered_model",
    "named_model",
    "read_model_file",
]

NAMED_MODELS = ("pamir", "iasp91", "ak135")
BASE_MODELS = ("iasp91", "ak135")

PAMIR_LAYERS: tuple[tuple[float, float, float], ...] = ((0.0, 5.80, 3.36), (35.0, 6.50, 3.75))
"""(top km, Vp, Vs) of the default Pamir crust: iasp91's two crustal layers, each doubled."""
PAMIR_MOHO_KM = 70.0
_BASE_MOHO_KM = 35.0
"""Moho of iasp91 and ak135 (both put it at 35 km)."""
_CORE_KM = 2889.0
"""Models that stop above this depth are completed by the base model."""
_DISCONTINUITIES = {
    "mantle": "mantle",
    "moho": "mantle",
    "outer-core": "outer-core",
    "cmb": "outer-core",
    "inner-core": "inner-core",
    "icocb": "inner-core",
}

Row = tuple[float, float, float, float]
"""Depth (km), Vp, Vs (km/s), density (g/cm3; TauP reads it, travel times do not use it)."""


def _density(vp: float) -> float:
    """Gardner's rule, a placeholder where a model gives no density."""
    density: float = round(1.74 * vp**0.25, 4)
    return density


@dataclass(frozen=True)
class Layer:
    """One constant-velocity layer: its top depth (km), Vp and Vs (km/s)."""

    top_km: float
    vp: float
    vs: float


@dataclass(frozen=True)
class ModelRows:
    """A whole-Earth model as TauP reads it: (depth, Vp, Vs, density) rows from the surface to the
    centre, linear between rows, a repeated depth being a discontinuity; ``names`` maps
    ``mantle``/``outer-core``/``inner-core`` to the row index the name follows."""

    name: str
    rows: tuple[Row, ...]
    names: tuple[tuple[str, int], ...] = ()

    @property
    def surface(self) -> tuple[float, float]:
        """Vp and Vs at the top of the model."""
        return self.rows[0][1], self.rows[0][2]

    def nd_text(self) -> str:
        """The model as an ``.nd`` file (what TauP builds)."""
        after = {index: name for name, index in self.names}
        lines = [f"# Larza velocity model {self.name}: depth km, Vp km/s, Vs km/s, density"]
        for i, (depth, vp, vs, rho) in enumerate(self.rows):
            lines.append(f"{depth:.4f} {vp:.5f} {vs:.5f} {rho:.4f}")
            if i in after:
                lines.append(after[i])
        return "\n".join(lines) + "\n"

    @property
    def digest(self) -> str:
        """Hash of the model's ``.nd`` text: the key of its cached travel-time tables."""
        return hashlib.sha256(self.nd_text().encode()).hexdigest()[:16]


def _obspy_taup_data() -> Path:
    spec = importlib.util.find_spec("obspy.taup")
    if spec is None or spec.origin is None:  # pragma: no cover - obspy is a dependency
        raise ConfigurationError("velocity_model", "ObsPy's TauP is not installed")
    return Path(spec.origin).parent / "data"


def base_rows(name: str) -> tuple[Row, ...]:
    """The rows of ObsPy's ``iasp91.tvel`` or ``ak135.tvel`` (surface to centre)."""
    if name not in BASE_MODELS:
        raise ConfigurationError(
            "velocity_model", f"base must be one of {BASE_MODELS}, got {name!r}"
        )
    return _parse(_obspy_taup_data() / f"{name}.tvel").rows


def _named_core(rows: tuple[Row, ...]) -> tuple[tuple[str, int], ...]:
    """Name the outer and inner core where S vanishes and reappears at a discontinuity."""
    names: list[tuple[str, int]] = []
    for i in range(len(rows) - 1):
        (d1, _, s1, _), (d2, _, s2, _) = rows[i], rows[i + 1]
        if d1 == d2 and s1 > 0 and s2 == 0:
            names.append(("outer-core", i))
        elif d1 == d2 and s1 == 0 and s2 > 0 and d1 > 1000:
            names.append(("inner-core", i))
    return tuple(names)


def _value_at(rows: tuple[Row, ...], depth: float) -> Row:
    """The deepest-side value of the base model at ``depth`` (below a discontinuity there)."""
    for (d1, p1, s1, r1), (d2, p2, s2, r2) in itertools.pairwise(rows):
        if d1 <= depth < d2:
            u = (depth - d1) / (d2 - d1)
            return depth, p1 + u * (p2 - p1), s1 + u * (s2 - s1), r1 + u * (r2 - r1)
    raise ConfigurationError("velocity_model", f"depth {depth} km is outside the base model")


def _splice(top: list[Row], names: list[tuple[str, int]], bottom_km: float, base: str) -> ModelRows:
    """Complete ``top`` (rows down to ``bottom_km``) with the base model below it."""
    rows = base_rows(base)
    start = max(bottom_km, _BASE_MOHO_KM)  # the base's crust is never used
    first = _value_at(rows, start)
    below = [(bottom_km, first[1], first[2], first[3])]
    below += [r for r in rows if r[0] > start]
    out = tuple(top + below)
    return ModelRows(name="", rows=out, names=tuple(names) + _named_core(out))


def layered_model(
    name: str, layers: tuple[Layer, ...], moho_km: float, base: str = "iasp91"
) -> ModelRows:
    """Constant-velocity layers down to the Moho, the ``base`` model's mantle and core below.

    Raises
    ------
    ConfigurationError
        If the layers do not start at 0, are not in depth order, reach the Moho, or have
        Vs >= Vp.
    """
    if not layers or layers[0].top_km != 0.0:
        raise ConfigurationError("velocity_model", "layers: the first layer's top_km must be 0")
    for upper, lower in itertools.pairwise(layers):
        if lower.top_km <= upper.top_km:
            raise ConfigurationError(
                "velocity_model",
                f"layers: top_km must increase, got {upper.top_km} then {lower.top_km}",
            )
    if not math.isfinite(moho_km) or moho_km <= layers[-1].top_km:
        raise ConfigurationError(
            "velocity_model",
            f"moho_km ({moho_km}) must be below the last layer's top ({layers[-1].top_km})",
        )
    top: list[Row] = []
    bottoms = [layer.top_km for layer in layers[1:]] + [moho_km]
    for layer, bottom in zip(layers, bottoms, strict=True):
        if not (0 < layer.vs < layer.vp):
            raise ConfigurationError(
                "velocity_model",
                f"layers: need 0 < vs < vp, got vp={layer.vp}, vs={layer.vs} at {layer.top_km} km",
            )
        rho = _density(layer.vp)
        top += [(layer.top_km, layer.vp, layer.vs, rho), (bottom, layer.vp, layer.vs, rho)]
    spliced = _splice(top, [("mantle", len(top) - 1)], moho_km, base)
    return ModelRows(name=name, rows=spliced.rows, names=spliced.names)


def named_model(name: str) -> ModelRows:
    """``pamir``, ``iasp91`` or ``ak135``."""
    if name == "pamir":
        layers = tuple(Layer(top, vp, vs) for top, vp, vs in PAMIR_LAYERS)
        return layered_model("pamir", layers, PAMIR_MOHO_KM, "iasp91")
    if name in BASE_MODELS:
        rows = base_rows(name)
        moho = max(i for i, r in enumerate(rows) if r[0] == _BASE_MOHO_KM and r[1] < 7.0)
        return ModelRows(name, rows, (("mantle", moho), *_named_core(rows)))
    raise ConfigurationError(
        "velocity_model",
        f"model must be one of {NAMED_MODELS} (or give file or layers), got {name!r}",
    )


def read_model_file(path: Path, base: str = "iasp91") -> ModelRows:
    """Read an ``.nd`` or ``.tvel`` file; a model that stops above the core is completed by
    ``base``.

    Raises
    ------
    ConfigurationError
        Naming the file and the line: unreadable file, unknown suffix, a line that is not
        ``depth vp vs ...`` numbers or a discontinuity name, depths out of order, a velocity
        that is not positive, or Vs >= Vp.
    """
    parsed = _parse(path)
    if parsed.rows[-1][0] >= _CORE_KM:
        names = list(parsed.names)
        if not any(n == "outer-core" for n, _ in names):
            names += [n for n in _named_core(parsed.rows) if n[0] not in dict(names)]
        return ModelRows(path.stem, parsed.rows, tuple(names))
    spliced = _splice(list(parsed.rows), list(parsed.names), parsed.rows[-1][0], base)
    return ModelRows(path.stem, spliced.rows, spliced.names)


def _parse(path: Path) -> ModelRows:
    where = str(path)
    if path.suffix not in (".nd", ".tvel"):
        raise ConfigurationError(where, "a velocity model file ends in .nd or .tvel")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(where, f"cannot read the velocity model: {e}") from e
    tvel = path.suffix == ".tvel"
    rows: list[Row] = []
    names: list[tuple[str, int]] = []
    for number, raw in enumerate(lines, start=1):
        if tvel and number <= 2:
            continue  # two header lines
        text = raw.split("#")[0].strip()
        if not text:
            continue
        at = f"{where}:{number}"
        fields = text.split()
        if len(fields) == 1 and not tvel and fields[0].lower() in _DISCONTINUITIES:
            if not rows:
                raise ConfigurationError(at, f"{fields[0]!r} before any depth")
            names.append((_DISCONTINUITIES[fields[0].lower()], len(rows) - 1))
            continue
        most = 4 if tvel else 6
        try:
            values = [float(f) for f in fields]
        except ValueError:
            values = []
        if not 3 <= len(values) <= most or not all(math.isfinite(v) for v in values):
            shape = "depth vp vs [density]" if tvel else "depth vp vs [density qp qs]"
            known = "" if tvel else " or a discontinuity (mantle, outer-core, inner-core)"
            raise ConfigurationError(at, f"expected '{shape}'{known}, got {raw.strip()!r}")
        depth, vp, vs = values[:3]
        rho = values[3] if len(values) > 3 and values[3] > 0 else _density(vp)
        if not rows and depth != 0.0:
            raise ConfigurationError(at, f"the first depth must be 0, got {depth}")
        if rows and depth < rows[-1][0]:
            raise ConfigurationError(at, f"depth {depth} is above the previous {rows[-1][0]}")
        if len(rows) >= 2 and rows[-1][0] == rows[-2][0] == depth:
            raise ConfigurationError(at, f"depth {depth} appears three times")
        if vp <= 0 or vs < 0 or vs >= vp:
            raise ConfigurationError(at, f"need 0 < vp and 0 <= vs < vp, got vp={vp}, vs={vs}")
        rows.append((depth, vp, vs, rho))
    if len(rows) < 2:
        raise ConfigurationError(where, "a velocity model needs at least two depths")
    if rows[-1][0] <= 0:
        raise ConfigurationError(where, "the model must reach below the surface")
    return ModelRows(path.stem, tuple(rows), tuple(names))
