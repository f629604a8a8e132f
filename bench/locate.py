"""Association, location and ML on a synthetic Pamir catalogue with known truth (prints).

Run: ``.venv/bin/python bench/locate.py [--events 240] [--seed 1]``.

The network: 12 stations in the Pamirs around SAREZ, MURGH and MANEM (real place names,
approximate coordinates, elevations 1.9-3.9 km). The catalogue: quakes with known hypocentres,
two thirds in the intermediate-depth zone (70-250 km) along the Pamir-Hindu Kush arc, one
third in the crust (5-40 km); magnitudes uniform in 1.5-6; a quake every 90 s on average
(``--spacing``: a deep quake's arrivals last about a minute, so neighbours often overlap), and
one in twenty followed by another 2-8 s later. P and S
arrive as the configured velocity model's tables say (the table matches TauP within a few
hundredths of a second), plus the elevation delay; a station picks an arrival when the
Wood-Anderson amplitude there (Hutton & Boore's ML turned around, plus a station term and
scatter) stands above its noise. Picks are late or early by their uncertainty (0.03-0.15 s
for P, 0.08-0.3 s for S), 3 % by up to 2 s; 3 % of S picks are labelled P and 2 % of P picks S.

Injected faults: a noisy station (false picks every ~20 s on average, and a noise level that
hides small quakes), a dead station (no picks), single-station glitches (about one every three
minutes a station), and network glitches (5-8 stations at the same instant).

Everything is fed in time order to the associator (``close_before`` after every pick), the
final events are matched to the truth by their picks, and ML is computed from the synthetic
amplitudes at the located hypocentre. Prints the figures of the README's "Earthquakes" section.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path; Larza's packages must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

import argparse
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.spatial import Delaunay

from detection import (
    Origin,
    PhasePick,
    Quake,
    QuakeAssociator,
    StationCoordinates,
    TravelTimeTable,
    azimuth_deg,
    distance_km,
    hutton_boore_minus_log_a0,
    network_magnitude,
    station_magnitude,
)
from ingest.config import LarzaConfig
from ingest.quakes.model import associator_config, magnitude_calibration, travel_time_table

Phase = Literal["P", "S"]
T0 = 1_748_779_200.0
STATIONS = {  # name: (lat, lon, elevation km)
    "TJ.SAREZ": (38.27, 72.60, 3.30),
    "TJ.MURGH": (38.17, 73.96, 3.62),
    "TJ.MANEM": (37.49, 71.55, 2.10),
    "TJ.RUSHN": (37.95, 71.55, 2.00),
    "TJ.VANJ": (38.37, 71.45, 1.90),
    "TJ.KARAK": (39.02, 73.55, 3.90),
    "TJ.ALICH": (37.75, 73.65, 3.90),
    "TJ.ISHKA": (36.73, 71.61, 2.60),
    "TJ.LANGR": (37.04, 72.65, 2.80),
    "TJ.JIRGA": (39.22, 71.20, 1.90),
    "TJ.BULUN": (37.70, 72.95, 3.70),
    "TJ.KALAI": (38.45, 70.78, 1.90),
}
DEFAULT_NETWORK = ("TJ.SAREZ", "TJ.MURGH", "TJ.MANEM")
"""``--network default``: the three stations of the default inventory."""
NOISY = "TJ.RUSHN"
DEAD = "TJ.LANGR"
ARC = [
    (36.55, 70.70),
    (36.9, 71.2),
    (37.3, 71.7),
    (37.7, 72.3),
    (38.1, 72.9),
    (38.5, 73.5),
    (38.8, 74.1),
]
"""Centre line of the intermediate-depth zone (Hindu Kush to the eastern Pamir)."""


@dataclass
class Truth:
    eid: int
    time: float
    lat: float
    lon: float
    depth: float
    ml: float
    p_stations: set[str] = field(default_factory=set)
    amplitudes: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class Offered:
    pick: PhasePick
    eid: int | None  # None: a fault
    true_phase: Phase | None


def catalogue(rng: np.random.Generator, n: int, spacing: float) -> list[Truth]:
    times: list[float] = []
    t = T0 + 60.0
    while len(times) < n:
        t += rng.exponential(spacing - 5.0) + 5.0
        times.append(t)
        if len(times) < n and rng.random() < 0.05:  # a second quake a few seconds later
            t += rng.uniform(2.0, 8.0)
            times.append(t)
    out = []
    for eid, t in enumerate(times):
        if rng.random() < 2 / 3:
            i = rng.integers(0, len(ARC) - 1)
            u = rng.random()
            lat = ARC[i][0] + u * (ARC[i + 1][0] - ARC[i][0]) + rng.normal(0, 0.12)
            lon = ARC[i][1] + u * (ARC[i + 1][1] - ARC[i][1]) + rng.normal(0, 0.15)
            depth = rng.uniform(70.0, 250.0)
        else:
            lat, lon, depth = rng.uniform(36.8, 39.4), rng.uniform(70.8, 75.0), rng.uniform(5, 40)
        ml = float(rng.uniform(1.5, 6.0))
        out.append(Truth(eid, t, float(lat), float(lon), float(depth), ml))
    return out


def picks_of(
    rng: np.random.Generator,
    quake: Truth,
    table: TravelTimeTable,
    station_terms: dict[str, float],
    noise_mm: dict[str, float],
) -> list[Offered]:
    out: list[Offered] = []
    for name, (lat, lon, elev) in STATIONS.items():
        if name == DEAD:
            continue
        epi = float(distance_km(quake.lat, quake.lon, lat, lon))
        r = math.hypot(epi, quake.depth)
        log_a = quake.ml - float(hutton_boore_minus_log_a0(r)) + station_terms[name]
        log_a += rng.normal(0.0, 0.2)
        amps = (10 ** (log_a + rng.normal(0, 0.05)), 10 ** (log_a + rng.normal(0, 0.05)))
        s_snr = 10**log_a / noise_mm[name]
        p_snr = s_snr / 3.0
        quake.amplitudes[name] = amps
        arrivals: tuple[tuple[Phase, float, tuple[float, float], float], ...] = (
            ("P", p_snr, (0.03, 0.15), 0.95),
            ("S", s_snr, (0.08, 0.30), 0.80),
        )
        for phase, snr, sigma_range, p_pick in arrivals:
            if snr < 3.0 or rng.random() > p_pick:
                continue
            is_s = phase == "S"
            t = quake.time + float(table.time(is_s, epi, quake.depth))
            t += float(table.elevation_delay(is_s, elev))
            sigma = float(rng.uniform(*sigma_range))
            error = rng.uniform(-2.0, 2.0) if rng.random() < 0.03 else rng.normal(0.0, sigma)
            label: Phase = phase
            if phase == "S" and rng.random() < 0.03:
                label = "P"
            elif phase == "P" and rng.random() < 0.02:
                label = "S"
            if phase == "P":
                quake.p_stations.add(name)
            pick = PhasePick(-1, name, t + float(error), label, sigma)
            out.append(Offered(pick, quake.eid, phase))
    return out


def faults(rng: np.random.Generator, start: float, end: float) -> list[Offered]:
    out: list[Offered] = []
    t = start
    while True:  # the noisy station
        t += rng.exponential(20.0)
        if t > end:
            break
        phase: Phase = "P" if rng.random() < 0.7 else "S"
        sigma = float(rng.uniform(0.1, 0.3))
        out.append(Offered(PhasePick(-1, NOISY, t, phase, sigma), None, None))
    for name in STATIONS:  # single-station glitches
        if name == DEAD:
            continue
        t = start
        while True:
            t += rng.exponential(180.0)
            if t > end:
                break
            out.append(Offered(PhasePick(-1, name, t, "P", 0.05), None, None))
    live = [s for s in STATIONS if s != DEAD]
    for t in rng.uniform(start, end, 8):  # network glitches
        size = min(int(rng.integers(5, 9)), len(live))
        for name in rng.choice(live, size=size, replace=False):
            jitter = float(rng.uniform(-0.005, 0.005))
            out.append(Offered(PhasePick(-1, str(name), float(t) + jitter, "P", 0.05), None, None))
    return out


def within_ellipse(origin: Origin, q: Truth) -> bool:
    """Whether the true epicentre lies inside the origin's 68 % confidence ellipse."""
    if origin.semi_major_km is None or origin.semi_minor_km is None:
        return False
    d = float(distance_km(origin.latitude, origin.longitude, q.lat, q.lon))
    az = math.radians(float(azimuth_deg(origin.latitude, origin.longitude, q.lat, q.lon)))
    axis = math.radians(origin.ellipse_azimuth or 0.0)
    along, across = d * math.cos(az - axis), d * math.sin(az - axis)
    major, minor = max(origin.semi_major_km, 1e-6), max(origin.semi_minor_km, 1e-6)
    return (along / major) ** 2 + (across / minor) ** 2 <= 1.0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=240)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--spacing", type=float, default=90.0, help="mean seconds between quakes (90)"
    )
    parser.add_argument(
        "--network",
        choices=("wide", "default"),
        default="wide",
        help="the 12 stations (wide, default) or the default inventory's three",
    )
    parser.add_argument("--no-faults", action="store_true", help="inject no faults")
    args = parser.parse_args()
    if args.network == "default":
        for name in [n for n in STATIONS if n not in DEFAULT_NETWORK]:
            del STATIONS[name]
    rng = np.random.default_rng(args.seed)
    config = LarzaConfig()
    started = time.perf_counter()
    table = travel_time_table(config)
    print(
        f"travel-time table of model '{config.velocity_model.model}': "
        f"{time.perf_counter() - started:.1f} s (built or read from the cache)"
    )
    stations = {n: StationCoordinates(*v) for n, v in STATIONS.items()}
    station_terms = {n: float(rng.normal(0.0, 0.15)) for n in STATIONS}
    noise_mm = {n: float(rng.uniform(0.0015, 0.003)) for n in STATIONS}
    noise_mm[NOISY] = 0.03
    truth = catalogue(rng, args.events, args.spacing)
    offered: list[Offered] = []
    for quake in truth:
        offered += picks_of(rng, quake, table, station_terms, noise_mm)
    if not args.no_faults:
        offered += faults(rng, T0, truth[-1].time + 120.0)
    offered.sort(key=lambda o: o.pick.time)
    offered = [
        Offered(
            PhasePick(k, o.pick.station, o.pick.time, o.pick.phase, o.pick.uncertainty),
            o.eid,
            o.true_phase,
        )
        for k, o in enumerate(offered)
    ]
    by_key = {o.pick.key: o for o in offered}

    assoc = QuakeAssociator(stations, table, associator_config(config.location, len(stations)))
    need = min(4, len(stations))  # P stations a quake needs to count in the recall
    finals: dict[int, Quake] = {}
    first_seen: dict[int, tuple[float, float]] = {}  # event -> (data time, call seconds)
    slowest_call = 0.0
    t_start = time.perf_counter()
    for o in offered:
        call = time.perf_counter()
        update = assoc.add(o.pick)
        spent = time.perf_counter() - call
        slowest_call = max(slowest_call, spent)
        for e in update.events:
            if e.origin.located:
                first_seen.setdefault(e.event_key, (o.pick.time - e.origin.time, spent))
        for e in assoc.close_before(o.pick.time).events:
            finals[e.event_key] = e
    for e in assoc.flush().events:
        finals[e.event_key] = e
    elapsed = time.perf_counter() - t_start

    truth_by_id = {q.eid: q for q in truth}
    seen4 = {q.eid for q in truth if len(q.p_stations) >= need}
    matched: dict[int, Quake] = {}
    false_fault = false_located = split = merged = 0
    right_picks = all_picks = 0
    for e in sorted(finals.values(), key=lambda e: -len(e.picks)):
        ids = Counter(by_key[p.key].eid for p in e.picks)
        (top, n_top), *rest = ids.most_common()
        all_picks += len(e.picks)
        right_picks += n_top if top is not None else 0
        if rest and rest[0][0] is not None and rest[0][1] >= 3 and top is not None:
            merged += 1
        if top is None:
            false_fault += 1
            false_located += e.origin.located
        elif top in matched:
            split += 1
        else:
            matched[top] = e
    precision = len(matched) / len(finals) if finals else math.nan
    recall = len(seen4 & matched.keys()) / len(seen4) if seen4 else math.nan

    live = np.array([STATIONS[s][:2] for s in STATIONS if s != DEAD])
    hull = Delaunay(live[:, ::-1])
    inside_epi: list[float] = []
    inside_depth: list[float] = []
    all_epi: list[float] = []
    all_depth: list[float] = []
    t_err: list[float] = []
    ml_err: list[float] = []
    cal = magnitude_calibration(config.magnitude)
    fixed = unlocated = 0
    in_ellipse: list[bool] = []
    in_depth: list[bool] = []
    for eid, e in matched.items():
        q = truth_by_id[eid]
        origin = e.origin
        if not origin.located:
            unlocated += 1
            continue
        fixed += origin.status == "fixed_depth"
        epi = float(distance_km(q.lat, q.lon, origin.latitude, origin.longitude))
        dz = abs(origin.depth_km - q.depth)
        in_ellipse.append(within_ellipse(origin, q))
        if origin.depth_error_km is not None:
            in_depth.append(dz <= origin.depth_error_km)
        all_epi.append(epi)
        all_depth.append(dz)
        t_err.append(abs(origin.time - q.time))
        if hull.find_simplex([q.lon, q.lat]) >= 0:
            inside_epi.append(epi)
            inside_depth.append(dz)
        mags = []
        for name in sorted({p.station for p in e.picks}):
            c = stations[name]
            d = float(distance_km(origin.latitude, origin.longitude, c.latitude, c.longitude))
            if name not in q.amplitudes:
                continue
            sm = station_magnitude(name, q.amplitudes[name], d, origin.depth_km, cal)
            if sm is not None:
                mags.append(sm)
        net = network_magnitude(mags, cal.trim)
        if net is not None:
            ml_err.append(net.magnitude - q.ml)

    latency = [v[0] for v in first_seen.values()]
    calls = [v[1] for v in first_seen.values()]
    n_faults = sum(o.eid is None for o in offered)
    print(
        f"{len(truth)} quakes ({len(seen4)} with P at >= {need} stations), {len(offered)} picks "
        f"({n_faults} from injected faults), {len(STATIONS)} stations ({NOISY} noisy, "
        f"{DEAD} dead)"
    )
    rows = [
        ("events found (final)", f"{len(finals)}"),
        ("association precision", f"{precision:.3f}  (target >= 0.98)"),
        (f"recall, quakes with P at >= {need} stations", f"{recall:.3f}  (target >= 0.95)"),
        (f"quakes with < {need} P stations found too", f"{len(matched.keys() - seen4)}"),
        ("events split / merged", f"{split} / {merged}"),
        (
            "events from injected faults (located)",
            f"{false_fault} ({false_located})  (target 0)",
        ),
        ("picks in events that belong to them", f"{right_picks / max(all_picks, 1):.3f}"),
        (
            "epicentre error inside the network, median / 90 %",
            f"{pct(inside_epi, 50):.2f} / {pct(inside_epi, 90):.2f} km  (targets 2 / 5; "
            f"{len(inside_epi)} events)",
        ),
        (
            "depth error inside the network, median / 90 %",
            f"{pct(inside_depth, 50):.2f} / {pct(inside_depth, 90):.2f} km  (target median 5)",
        ),
        (
            "epicentre error, all, median / 90 %",
            f"{pct(all_epi, 50):.2f} / {pct(all_epi, 90):.2f} km ({len(all_epi)} events)",
        ),
        (
            "depth error, all, median / 90 %",
            f"{pct(all_depth, 50):.2f} / {pct(all_depth, 90):.2f} km",
        ),
        ("origin time error, median", f"{pct(t_err, 50):.3f} s"),
        ("fixed-depth / not located among found", f"{fixed} / {unlocated}"),
        (
            "truth inside the 68 % ellipse / within the depth error (1 sigma)",
            f"{np.mean(in_ellipse):.2f} / {np.mean(in_depth):.2f}  (expected 0.68 / 0.68)",
        ),
        (
            "ML error, median / spread (std)",
            f"{pct(ml_err, 50):+.3f} / {float(np.std(ml_err)):.3f}  (targets |0.1| / 0.2)",
        ),
        (
            "first origin after the origin time, median / 90 %",
            f"{pct(latency, 50):.1f} / {pct(latency, 90):.1f} s of data",
        ),
        (
            "the call that made the first origin, median / max",
            f"{1000 * pct(calls, 50):.1f} / {1000 * max(calls, default=0):.1f} ms",
        ),
        (
            "time per event (all picks fed / events)",
            f"{1000 * elapsed / max(len(finals), 1):.1f} ms  ({1e6 * elapsed / len(offered):.0f} "
            f"µs a pick; slowest call {1000 * slowest_call:.0f} ms)",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
