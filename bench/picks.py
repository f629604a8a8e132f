"""Larza's picks against analysts' on real local earthquakes, beside an ObsPy baseline.

The data: the 154 example recordings that ship with PhaseNet (Zhu & Beroza 2019, GJI 216;
github.com/AI4EPS/PhaseNet, ``dataset/``, MIT licence): 90 s of one or three components at
100 sps around local earthquakes in northern California and Nevada (networks BG, BK, CI, NC,
NN, NP, PB, PG, TA), each with the P and S onsets picked by the network's analysts
(``dataset/waveform.csv``: sample indices; the P is at 30 s in every recording). 115 have three
components, 39 a vertical only. The recordings fill missing data with a constant value; runs
of at least 0.5 s of one value are taken as the gaps they stand for, by both sides.

Get them once (45 MB) and run::

    git clone --depth 1 https://github.com/AI4EPS/PhaseNet var/phasenet
    .venv/bin/python bench/picks.py [--data var/phasenet/dataset]

Larza: its defaults (``LarzaConfig()``), the worker's code path (``ingest.detect.chain``),
records of 400 samples in the order of their end times. The baseline, written here with
ObsPy: a causal 1-20 Hz 4-pole band-pass, recursive (or classic) STA/LTA 0.5/10 s,
``trigger_onset`` at 3.5/1.0, and the onset at the minimum of ObsPy's ``aic_simple`` over the
filtered samples from 1 s before to 0.5 s after the trigger; on every channel, as one runs a
trigger per channel, and on the verticals alone.

A pick matches a reference onset within 0.5 s. Printed: P and S recall, the onset errors of
the matched picks (mean absolute, mean = bias, median), the share of references picked within
0.1 s, and the picks that match no reference (some are other, smaller earthquakes that the
analysts did not pick). For Larza, P recall counts P picks and, on vertical-only recordings,
picks without a phase; S recall counts S-labelled picks on the three-component recordings.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# ``ingest`` package: take the folder off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import csv
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from obspy.signal.filter import bandpass
from obspy.signal.trigger import aic_simple, classic_sta_lta, recursive_sta_lta, trigger_onset

from ingest.config import LarzaConfig
from ingest.detect.chain import Detecting, Found
from ingest.seedlink.decode import Record
from stations.queries import ChannelKey

FS = 100.0
MATCH_S = 0.5
CLOSE_S = 0.1
FILL = 50  # samples of one value that make a gap
RECORD = 400  # samples per record fed to Larza
T0 = 1_700_000_000.0
LARZA_STATS: Counter[str] = Counter()


@dataclass
class Recording:
    name: str
    network: str
    station: str
    channels: dict[str, np.ndarray]
    p: float  # seconds after the start
    s: float

    @property
    def three_component(self) -> bool:
        return len(self.channels) == 3


@dataclass(frozen=True)
class OnePick:
    time: float  # seconds after the start
    phase: str | None
    channel: str
    uncertainty: float | None = None


@dataclass
class Score:
    name: str
    p_errors: list[float] = field(default_factory=list)
    s_errors: list[float] = field(default_factory=list)
    s_any: int = 0  # S references matched by a pick of any label
    p_within: list[tuple[float, float]] = field(default_factory=list)  # (error, uncertainty)
    unmatched: int = 0
    picks: int = 0
    seconds: float = 0.0


def load(folder: Path) -> list[Recording]:
    out = []
    with (folder / "waveform.csv").open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        z = np.load(folder / "waveform_train" / row["fname"])
        codes = row["channels"].split("_")
        data = z["data"]
        if len(codes) == 1:
            channels = {codes[0]: data[:, 2].astype(np.float64)}
        else:
            channels = {c: data[:, i].astype(np.float64) for i, c in enumerate(codes)}
        network, station = row["fname"].split("_")[:2]
        out.append(
            Recording(
                row["fname"][:-4],
                network,
                station,
                channels,
                int(row["itp"]) / FS,
                int(row["its"]) / FS,
            )
        )
    return out


def runs(x: np.ndarray) -> list[tuple[int, int]]:
    """The runs of real data: stretches of at least ``FILL`` equal values are gaps."""
    same = np.concatenate(([False], np.diff(x) == 0)).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], same, [0]))))
    gap = np.zeros(x.size, dtype=bool)
    for a, b in edges.reshape(-1, 2).tolist():
        if b - a >= FILL:
            gap[a - 1 : b] = True
    good = np.concatenate(([0], (~gap).astype(np.int8), [0]))
    bounds = np.flatnonzero(np.diff(good)).reshape(-1, 2)
    return [(int(a), int(b)) for a, b in bounds]


def larza(rec: Recording) -> list[OnePick]:
    records = []
    for code, x in rec.channels.items():
        key = ChannelKey(rec.network, rec.station, "", code)
        for a, b in runs(x):
            for i in range(a, b, RECORD):
                data = x[i : min(i + RECORD, b)]
                records.append(Record(key, T0 + i / FS, FS, data))
    records.sort(key=lambda r: (r.endtime, str(r.key)))
    detecting = Detecting(LarzaConfig())
    found: list[Found] = []

    def keep(f: Found) -> int:
        found.append(f)
        return len(found)

    for record in records:
        detecting.feed(record, keep)
    detecting.finish(keep)
    LARZA_STATS.update(detecting.stats())
    return [
        OnePick(
            f.trigger.onset_time - T0, f.trigger.phase, f.key.channel, f.trigger.onset_uncertainty
        )
        for f in found
    ]


def baseline(method: str, verticals_only: bool) -> Callable[[Recording], list[OnePick]]:
    sta_lta = recursive_sta_lta if method == "recursive" else classic_sta_lta

    def run(rec: Recording) -> list[OnePick]:
        out = []
        for code, x in rec.channels.items():
            if verticals_only and not code.endswith("Z"):
                continue
            for a, b in runs(x):
                seg = x[a:b]
                if seg.size <= 1000:
                    continue
                f = bandpass(seg - seg[0], 1.0, 20.0, FS, corners=4)
                cf = sta_lta(f, 50, 1000)
                for on, _off in trigger_onset(cf, 3.5, 1.0, max_len=6000):
                    lo, hi = max(0, on - 100), min(f.size, on + 50)
                    onset = lo + int(np.argmin(aic_simple(f[lo:hi]))) if hi - lo > 4 else on
                    out.append(OnePick((a + onset) / FS, None, code))
        return out

    return run


def score(
    name: str, recordings: list[Recording], picker: Callable[[Recording], list[OnePick]]
) -> Score:
    result = Score(name)
    started = time.perf_counter()
    for rec in recordings:
        picks = picker(rec)
        result.picks += len(picks)
        is_larza = name.startswith("Larza")
        p_like = [p for p in picks if not is_larza or p.phase in ("P", None)]
        matched = [p for p in p_like if abs(p.time - rec.p) <= MATCH_S]
        if matched:
            best = min(matched, key=lambda p: abs(p.time - rec.p))
            result.p_errors.append(best.time - rec.p)
            if best.uncertainty is not None:
                result.p_within.append((best.time - rec.p, best.uncertainty))
        if rec.three_component:
            s_like = [p for p in picks if p.phase == "S"]
            near = [p for p in s_like if abs(p.time - rec.s) <= MATCH_S]
            if near:
                result.s_errors.append(min((p.time - rec.s for p in near), key=abs))
            result.s_any += any(abs(p.time - rec.s) <= MATCH_S for p in picks)
        result.unmatched += sum(
            1 for p in picks if abs(p.time - rec.p) > MATCH_S and abs(p.time - rec.s) > MATCH_S
        )
    result.seconds = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("var/phasenet/dataset"))
    args = parser.parse_args()
    if not (args.data / "waveform.csv").is_file():
        sys.exit(
            f"{args.data}: no PhaseNet dataset here. Get it with\n"
            "  git clone --depth 1 https://github.com/AI4EPS/PhaseNet var/phasenet"
        )
    recordings = load(args.data)
    n = len(recordings)
    n3 = sum(r.three_component for r in recordings)
    hours = sum(next(iter(r.channels.values())).size for r in recordings) / FS / 3600
    print(
        f"{n} recordings ({n3} three-component, {n - n3} vertical only), "
        f"{hours:.1f} h of data; a pick matches a reference within {MATCH_S} s\n"
    )
    scores = [
        score("Larza (defaults)", recordings, larza),
        score("ObsPy recursive, every channel", recordings, baseline("recursive", False)),
        score("ObsPy recursive, verticals", recordings, baseline("recursive", True)),
        score("ObsPy classic, every channel", recordings, baseline("classic", False)),
        score("ObsPy classic, verticals", recordings, baseline("classic", True)),
    ]
    head = (
        f"{'':32s} {'P recall':>8s} {'MAE s':>6s} {'bias s':>7s} {'median':>7s} "
        f"{'<=0.1 s':>7s} | {'S recall':>8s} {'MAE s':>6s} {'bias s':>7s} {'<=0.1 s':>7s} "
        f"| {'picks':>5s} {'unmatched':>9s} {'time s':>6s}"
    )
    print(head)
    for sc in scores:
        p = np.array(sc.p_errors)
        s = np.array(sc.s_errors)
        s_part = (
            f"{len(s) / n3:8.3f} {np.abs(s).mean():6.3f} {s.mean():+7.3f} "
            f"{np.sum(np.abs(s) <= CLOSE_S) / n3:7.3f}"
            if s.size
            else f"{'-':>8s} {'-':>6s} {'-':>7s} {'-':>7s}"
        )
        print(
            f"{sc.name:32s} {len(p) / n:8.3f} {np.abs(p).mean():6.3f} {p.mean():+7.3f} "
            f"{np.median(p):+7.3f} {np.sum(np.abs(p) <= CLOSE_S) / n:7.3f} | {s_part} | "
            f"{sc.picks:5d} {sc.unmatched:9d} {sc.seconds:6.1f}"
        )
    print(
        "\nS picks of any label (the baseline has none) within 0.5 s of the analysts' S, "
        "three-component recordings: "
        + ", ".join(f"{sc.name.split(',')[0]}: {sc.s_any / n3:.2f}" for sc in scores[:2])
    )
    ours = scores[0]
    calib = np.array(ours.p_within)
    if calib.size:
        inside = np.mean(np.abs(calib[:, 0]) <= calib[:, 1])
        twice = np.mean(np.abs(calib[:, 0]) <= 2 * calib[:, 1])
        print(
            f"Larza's P onset uncertainty: median {np.median(calib[:, 1]):.3f} s; the error is "
            f"within it for {inside:.0%} of the matched P, within twice it for {twice:.0%}"
        )
    said = ("records", "s_picks", "folded", "s_on_vertical", "bridged", "restarts", "spikes")
    print("Larza's counts: " + ", ".join(f"{k} {LARZA_STATS[k]}" for k in said))
    p = np.array(ours.p_errors)
    s = np.array(ours.s_errors)
    fewest = min(sc.unmatched for sc in scores[1:])
    print("\ntargets (Larza's defaults):")
    checks = [
        (f"P recall >= 0.9: {len(p) / n:.3f}", len(p) / n >= 0.9),
        (
            f"fewer unmatched picks than the baseline: {ours.unmatched} against {fewest} "
            "(its best row)",
            ours.unmatched < fewest,
        ),
        (f"P onset MAE <= 0.07 s: {np.abs(p).mean():.3f} s", np.abs(p).mean() <= 0.07),
        (f"|P bias| <= 0.02 s: {p.mean():+.3f} s", abs(p.mean()) <= 0.02),
        (f"S recall >= 0.7, labelled S: {len(s) / n3:.3f}", len(s) / n3 >= 0.7),
    ]
    for text, met in checks:
        print(f"  {'met    ' if met else 'NOT met'}  {text}")


if __name__ == "__main__":
    main()
