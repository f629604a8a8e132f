"""The associator against a direct implementation of its rules (the one it replaced, which
rebuilt every event from scratch for every pick): the same events, pick by pick, on random
streams of picks from a random network, with and without positions and weights."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

import numpy as np
import pytest

from detection import Associator, NetworkEvent, Pick


class Direct:
    """The rules of :class:`detection.Associator`, each computed from scratch."""

    def __init__(
        self,
        window: float,
        min_stations: int,
        weights: Mapping[str, float],
        positions: Mapping[str, tuple[float, float]],
        velocity: float,
        tolerance: float,
    ) -> None:
        self.window, self.threshold = window, float(min_stations)
        self.weights, self.positions = dict(weights), dict(positions)
        self.velocity, self.tolerance = velocity, tolerance
        self.groups: list[dict] = []
        self.next_key, self.horizon, self.keys = 1, -math.inf, set()

    def add(self, pick: Pick) -> list[NetworkEvent]:
        if pick.key in self.keys or pick.time + self.window < self.horizon:
            return []
        fits = [
            g
            for g in self.groups
            if max(g["last"], pick.time) - min(g["first"], pick.time) <= self.window
            and self.consistent(g, pick)
        ]
        group = min(fits, key=lambda g: (g["key"] < 0, g["first"])) if fits else None
        if group is None:
            group = {"first": pick.time, "last": pick.time, "picks": [], "onsets": {}, "key": -1}
            self.groups.append(group)
        bisect.insort(group["picks"], pick, key=lambda p: (p.time, p.key))
        group["first"], group["last"] = (
            min(group["first"], pick.time),
            max(group["last"], pick.time),
        )
        onsets = group["onsets"]
        onsets[pick.station] = min(onsets.get(pick.station, math.inf), pick.time)
        self.keys.add(pick.key)
        if group["key"] < 0:
            if self.total(group) < self.threshold:
                return []
            group["key"] = self.next_key
            self.next_key += 1
        return [self.event(group, "preliminary")]

    def close_before(self, time: float) -> list[NetworkEvent]:
        self.horizon = max(self.horizon, time)
        closed = [g for g in self.groups if g["first"] + self.window < time]
        self.groups = [g for g in self.groups if g["first"] + self.window >= time]
        for g in closed:
            self.keys.difference_update(p.key for p in g["picks"])
        return sorted(
            (self.event(g, "final") for g in closed if g["key"] >= 0), key=lambda e: e.event_key
        )

    def consistent(self, group: dict, pick: Pick) -> bool:
        if pick.station not in self.positions or pick.station in group["onsets"]:
            return True
        return all(
            abs(pick.time - t) <= self.distance(pick.station, s) / self.velocity + self.tolerance
            for s, t in group["onsets"].items()
            if s in self.positions
        )

    def distance(self, a: str, b: str) -> float:
        (lat1, lon1), (lat2, lon2) = self.positions[a], self.positions[b]
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))

    def total(self, group: dict) -> float:
        return sum(self.weights.get(s, 1.0) for s in group["onsets"])

    def event(self, group: dict, status: str) -> NetworkEvent:
        onsets = group["onsets"]
        return NetworkEvent(
            event_key=group["key"],
            time=min(onsets.values()),
            stations=tuple(sorted(onsets)),
            pick_keys=tuple(p.key for p in group["picks"]),
            coincidence_sum=self.total(group),
            duration=max(onsets.values()) - min(onsets.values()),
            status=status,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("seed", range(12))
def test_the_associator_equals_its_rules_computed_directly(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_stations = int(rng.integers(3, 40))
    stations = [f"XX.S{i:02d}" for i in range(n_stations)]
    positioned = stations[: int(rng.integers(0, n_stations + 1))]
    positions = {
        s: (float(rng.uniform(36.5, 39.5)), float(rng.uniform(70.5, 75.0))) for s in positioned
    }
    weights = {s: float(rng.uniform(0.5, 2.0)) for s in stations if rng.random() < 0.3}
    settings = {
        "window": float(rng.uniform(10.0, 60.0)),
        "min_stations": int(rng.integers(1, 5)),
        "weights": weights,
        "positions": positions,
        "velocity": float(rng.uniform(3.0, 8.0)),
        "tolerance": float(rng.uniform(0.0, 3.0)),
    }
    fast, slow = Associator(**settings), Direct(**settings)
    # quakes (picks at many stations, some twice, some out of order) and noise picks
    picks: list[Pick] = []
    key = 0
    for q in range(int(rng.integers(3, 12))):
        origin = 1.75e9 + q * float(rng.uniform(5.0, 90.0))
        for s in rng.permutation(stations)[: int(rng.integers(1, n_stations + 1))]:
            for _ in range(int(rng.integers(1, 3))):
                key += 1
                t = origin + float(rng.uniform(0.0, 30.0))
                picks.append(Pick(str(s), "HHZ", t, 5.0, key))
    picks.sort(key=lambda p: p.time + float(rng.uniform(-3.0, 3.0)))  # roughly in time order
    for i, p in enumerate(picks):
        assert fast.add(p) == slow.add(p), i
        if i % 7 == 0:
            horizon = p.time - float(rng.uniform(0.0, 60.0))
            assert fast.close_before(horizon) == slow.close_before(horizon), i
    assert fast.close_before(math.inf) == slow.close_before(math.inf)
