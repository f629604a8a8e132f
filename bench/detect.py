"""Throughput of Larza's streaming detector against its building blocks (prints, no asserts).

Run: ``.venv/bin/python bench/detect.py``. Ten minutes of 100-sps noise with a few local
quakes, fed to the whole chain record by record (~300 samples, a 512-byte Steim-2 record) and
as one block, next to ObsPy's C ``recursive_sta_lta`` and SciPy's ``sosfilt`` (4 sections)
alone on the same data. The fixed cost per call is the chunked time minus the block time,
divided by the number of calls.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import scipy.signal
from obspy.signal.trigger import recursive_sta_lta as obspy_recursive_sta_lta

from detection import DetectorConfig, StreamingDetector, design_bandpass
from detection._chain import PIECE
from detection._filter import sosfilt_rows_inplace
from detection._stalta import _recursive_sos

FS = 100.0
T0 = 1_748_779_200.0


def data(seconds: float = 600.0, seed: int = 1, *, with_quakes: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    x = rng.normal(0.0, 200.0, n)
    t = np.arange(int(8 * FS)) / FS
    for onset in (90.0, 250.0, 400.0, 520.0) if with_quakes else ():
        i = int(onset * FS)
        x[i : i + t.size] += 20_000 * np.exp(-t / 1.5) * np.sin(2 * np.pi * 5 * t)
    return (np.round(x) + 3000).astype(np.int32)


def best(fn: Callable[[], object], repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def two_passes(x: np.ndarray, sos: np.ndarray) -> None:
    """The bandpass and the recursive STA/LTA's two first-order sections over the squares,
    with SciPy's compiled kernel, in the chain's 8192-sample pieces: what no amount of
    Python-level work can undercut without a compiled STA/LTA of its own."""
    sta_lta = _recursive_sos(50, 1000)
    zi, zi2 = np.zeros((1, sos.shape[0], 2)), np.zeros((1, 2, 2))
    for start in range(0, x.size, PIECE):
        rows = x[None, start : start + PIECE] - x[0]
        sosfilt_rows_inplace(sos, rows, zi)
        np.multiply(rows, rows, out=rows)
        sosfilt_rows_inplace(sta_lta, rows, zi2)


def chain(x: np.ndarray, size: int, method: str = "recursive") -> Callable[[], int]:
    det = StreamingDetector(DetectorConfig(method=method), FS)  # type: ignore[arg-type]

    def run() -> int:
        det.reset()  # set-up (filter design, about 0.5 ms) is not part of the throughput
        found = 0
        for start in range(0, x.size, size):
            found += len(det.feed(x[start : start + size], T0 + start / FS))
        return found

    return run


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()  # no options: --help describes the benchmark instead of running it
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    x = data()
    n = x.size
    xf = x.astype(np.float64)
    sos = design_bandpass(1.0, 20.0, FS, 4)
    zi = np.zeros((sos.shape[0], 2))
    print(f"data: {n} samples ({n / FS:.0f} s at {FS:.0f} sps), {chain(x, n)()} triggers")

    rows: list[tuple[str, float, int]] = []
    t_sos = best(lambda: scipy.signal.sosfilt(sos, xf, zi=zi))
    rows.append(("scipy sosfilt alone (4 sections, block)", t_sos, 1))
    t_obspy = best(lambda: obspy_recursive_sta_lta(xf, 50, 1000))
    rows.append(("obspy recursive_sta_lta alone (C, block)", t_obspy, 1))
    t_floor = best(lambda: two_passes(xf, sos))
    rows.append(("floor: the chain's two compiled passes alone", t_floor, 1))
    quiet = data(with_quakes=False)
    t_quiet = best(chain(quiet, n))
    rows.append(("whole chain, recursive, one block, no quake", t_quiet, 1))
    t_block = best(chain(x, n))
    rows.append(("whole chain, recursive, one block", t_block, 1))
    t_block_cl = best(chain(x, n, "classic"))
    rows.append(("whole chain, classic, one block", t_block_cl, 1))
    timed: dict[int, float] = {}
    for size in (300, 64, 16):
        timed[size] = best(chain(x, size), repeat=3)
        rows.append((f"whole chain, recursive, {size}-sample records", timed[size], -(-n // size)))
    t_small = best(lambda: scipy.signal.sosfilt(sos, xf[:300], zi=zi), repeat=200)

    print(f"\n{'':44s} {'Msamples/s':>11s} {'ns/sample':>10s} {'x sosfilt':>10s}")
    for name, seconds, _ in rows:
        print(
            f"{name:44s} {n / seconds / 1e6:11.2f} {seconds / n * 1e9:10.2f} "
            f"{seconds / t_sos:10.2f}"
        )
    print("\nfixed cost per call (chunked minus block, over the number of calls):")
    for size, seconds in timed.items():
        calls = -(-n // size)
        print(f"  {size:4d}-sample records: {(seconds - t_block) / calls * 1e6:6.1f} us per record")
    print(f"  for scale: one public scipy sosfilt call on 300 samples: {t_small * 1e6:.1f} us")
    triggers = chain(x, n)()
    print(
        f"cost of a trigger (one block with and without the quakes, over {triggers} "
        f"triggers): {(t_block - t_quiet) / triggers * 1e6:.0f} us"
    )
    print(
        "\nthe chain makes two compiled recursive passes (the bandpass, then both STA/LTA\n"
        "averages in one 2-section pass); SciPy's kernel costs about as much per sample for\n"
        "2 sections as for 4, so those two passes alone are the floor printed above; each\n"
        "trigger adds the cost printed above (peaks, noise window, AIC onset)."
    )
    print(
        f"\nratios: chain block / sosfilt = {t_block / t_sos:.2f}; "
        f"floor / sosfilt = {t_floor / t_sos:.2f}; "
        f"chain block / obspy recursive = {t_block / t_obspy:.2f}; "
        f"chain 300 / chain block = {timed[300] / t_block:.2f}"
    )


if __name__ == "__main__":
    main()
