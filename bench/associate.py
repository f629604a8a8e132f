"""Association of network-wide quakes: the cost of a pick when thousands of stations pick one.

Stations on a square grid 40 km apart (as ``bench/ingest.py --live``), two quakes a minute
apart that every station within the travel-time table's reach picks (P and S at the default
model's times, 0.05 s of noise), fed in time order to the QuakeAssociator the worker uses.
Prints the cost of a pick, the time of the final relocations, the events found (they should
be the two quakes, with every pick) and the epicentre and depth errors.

Usage: python bench/associate.py [--stations 1700]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# ``ingest`` package: take the folder off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import argparse
import math
import resource
import time

import numpy as np

from detection import PhasePick, Quake, QuakeAssociator, StationCoordinates, distance_km
from ingest.config import LarzaConfig
from ingest.quakes.model import associator_config, travel_time_table

QUAKES = ((37.5, 69.0, 10.0), (35.0, 65.0, 100.0))  # latitude, longitude, depth km
START = 1_700_000_000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stations", type=int, default=1700)
    args = parser.parse_args()
    side = math.ceil(math.sqrt(args.stations))
    stations = {
        f"XX.S{i:04d}": StationCoordinates(30.0 + 0.36 * (i // side), 60.0 + 0.45 * (i % side), 2.0)
        for i in range(args.stations)
    }
    config = LarzaConfig()
    table = travel_time_table(config)
    assoc = QuakeAssociator(stations, table, associator_config(config.location))
    rng = np.random.default_rng(1)
    picks: list[PhasePick] = []
    truth: dict[int, int] = {}
    for q, (lat, lon, depth) in enumerate(QUAKES):
        for name, c in stations.items():
            d = float(distance_km(lat, lon, c.latitude, c.longitude))
            if d > table.max_distance_km:
                continue
            for is_s, phase in ((False, "P"), (True, "S")):
                t = (
                    START
                    + 60.0 * q
                    + float(table.time(is_s, d, depth))
                    + float(table.elevation_delay(is_s, c.elevation_km))
                )
                picks.append(PhasePick(len(picks), name, t + rng.normal(0, 0.05), phase, 0.05))  # type: ignore[arg-type]
                truth[len(picks) - 1] = q
    picks.sort(key=lambda p: p.time)
    print(
        f"{len(stations)} stations, {len(picks)} picks of {len(QUAKES)} quakes "
        f"{picks[-1].time - picks[0].time:.0f} s of data"
    )
    finals: list[Quake] = []
    started = time.process_time()
    for pick in picks:
        assoc.add(pick)
        finals += assoc.close_before(pick.time).events
    took = time.process_time() - started
    started = time.process_time()
    finals += assoc.flush().events
    closing = time.process_time() - started
    print(f"a pick: {1000 * took / len(picks):.2f} ms CPU ({took:.1f} s for all)")
    print(f"final relocations (at the end of data): {closing:.1f} s CPU")
    for quake in finals:
        o = quake.origin
        q = max({truth[k] for k in quake.pick_keys}, key=[truth[k] for k in quake.pick_keys].count)
        lat, lon, depth = QUAKES[q]
        own = sum(1 for k in quake.pick_keys if truth[k] == q)
        print(
            f"  event {quake.event_key}: {len(quake.picks)} picks ({own} of quake {q + 1}, "
            f"which has {sum(1 for v in truth.values() if v == q)}); epicentre off "
            f"{float(distance_km(lat, lon, o.latitude, o.longitude)):.2f} km, depth "
            f"{o.depth_km - depth:+.1f} km"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
