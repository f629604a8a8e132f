"""Three-component picking: the channels of one sensor give one P and at most one S per arrival.

A sensor is a station's channels that share a location and the first two letters of their
codes (``HHZ``, ``HHN``, ``HHE``). Its vertical (``?Z`` or ``?3``) detects and picks the P;
its horizontals (``?N``, ``?E``, ``?1``, ``?2``) give the S (:mod:`detection._spick`),
searched from the P onset to ``s_window`` seconds after it. Triggers of the horizontals are
not reported while the sensor has a vertical: they are the same arrival seen again.

The S often triggers the vertical again. A vertical onset within an arrival's S window is
held until that S is known: within :data:`S_AS_P_S` of it, it is that S seen on the vertical
and is not reported (``stats["s_on_vertical"]``); otherwise it stands as the next P, and the
first arrival's S is searched again, in its window cut :data:`NEXT_P_MARGIN_S` before it.

A channel without a partner keeps a phase-less detection: a vertical without horizontals
(one cannot tell its P from its S), horizontals without a vertical, and channels of other
orientations.

An S window is taken from a horizontal once it has processed the window's end and the
vertical has processed that much and its :attr:`~detection.StreamingDetector.onset_delay`
more (so any later P that cuts the window is known): what is searched does not depend on how
the channels' records interleave, and feeding the sensor in any pieces gives the same picks.
Horizontals are fed in pieces of at most :data:`CHUNK_S` seconds (which changes nothing in
what they detect) and keep :data:`LEAD_S` more history, so a window can be taken while their
history still holds its start if they run up to that far ahead of the vertical. An S found
before its P is reported (the P's trigger ends later) waits for it; P always comes first.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detection._chain import StreamingDetector, Trigger
from detection._config import DetectorConfig
from detection._onset import filtered, zero_phase_sos
from detection._spick import S_PRE, pick_s

__all__ = ["CHUNK_S", "Role", "SensorPicker", "role_of"]

Float64Array = NDArray[np.float64]
Role = Literal["vertical", "horizontal", "single"]

CHUNK_S = 8.0
"""Seconds: the longest piece a horizontal is fed at once."""
LEAD_S = 6.0
"""Seconds a horizontal may run ahead of its vertical and still give its S windows whole."""
S_WAIT_S = 30.0
"""Seconds of the vertical's data past an S window's end after which a horizontal that has
not reached it is no longer waited for."""
NEXT_P_MARGIN_S = 0.2
"""An S window cut by the next P ends this long before it."""
S_AS_P_S = 0.5
"""A vertical onset this close to the S of the arrival before it is that S ..."""
S_HV = 2.0
"""... if the horizontals shake more than the vertical after it: the energy per horizontal
component over the vertical's, in the :data:`HV_WINDOW_S` after the onset (a P is steep,
vertical; an S shakes the horizontals)."""
HV_WINDOW_S = 0.4


def _horizontal_to_vertical(
    arrival: _Arrival, later: _Arrival, vertical: _Member, horizontals: list[_Member]
) -> float:
    """Energy per horizontal component over the vertical's in the :data:`HV_WINDOW_S` after
    the later arrival's onset, zero-phase filtered: the horizontals from the first arrival's
    S windows, the vertical from what was kept of it at the later onset; 0 if either is
    missing."""
    at = later.p_time
    parts = [later.vertical] + [arrival.windows.get(m.code) for m in horizontals]
    energies = []
    for member, part in zip((vertical, *horizontals), parts, strict=True):
        if part is None:
            return 0.0
        t0, raw = part
        config = member.config
        fs = member.detector.sampling_rate
        i = round((at - t0) * fs)
        j = i + max(2, round(HV_WINDOW_S * fs))
        if i < 1 or j > raw.size:
            return 0.0
        sos = zero_phase_sos(config.freqmin, config.freqmax, fs, config.corners)
        f = filtered(raw, sos, i)[i:j]
        energies.append(float(np.dot(f, f)))
    down, across = energies[0], energies[1:]
    if not across:
        return 0.0
    per_component = sum(across) / len(across)
    return per_component / down if down > 0 else float("inf")


def role_of(code: str) -> Role:
    """A channel's part in its sensor, from the last letter of its code."""
    last = code[-1:].upper()
    if last in ("Z", "3"):
        return "vertical"
    if last in ("N", "E", "1", "2"):
        return "horizontal"
    return "single"


@dataclass
class _Member:
    code: str
    role: Role
    config: DetectorConfig
    detector: StreamingDetector


@dataclass
class _Arrival:
    """A P onset on the vertical, and the search for its S."""

    p_time: float
    end: float  # the S window's end
    windows: dict[str, tuple[float, Float64Array] | None] = field(default_factory=dict)
    searched: bool = False
    s: tuple[str, Trigger] | None = None
    p_reported: bool = False  # reported, or found to be the S before and dropped
    s_reported: bool = False
    next_p: float | None = None  # the next vertical onset, if within the S window
    before: _Arrival | None = None  # the arrival whose S window holds this P
    held: Trigger | None = None  # this P, waiting for the S of the arrival before
    s_before: bool = False  # this "P" is the S of the arrival before
    vertical: tuple[float, Float64Array] | None = None  # the vertical around the onset


class SensorPicker:
    """The channels of one sensor, fed record by record; reports picks as ``(code, Trigger)``.

    Add each channel with :meth:`add` before feeding it. ``stats`` adds up the detectors'
    counts and its own: ``folded`` (horizontal triggers not reported, the sensor having a
    vertical), ``s_picks`` and ``s_on_vertical`` (vertical triggers that were the S of the
    arrival before, not reported).
    """

    def __init__(self) -> None:
        self._members: dict[str, _Member] = {}
        self._arrivals: list[_Arrival] = []
        self._stats: Counter[str] = Counter()
        self._started: list[tuple[str, Trigger]] = []

    @property
    def codes(self) -> tuple[str, ...]:
        """The channels set up, in the order they were added."""
        return tuple(self._members)

    @property
    def stats(self) -> Counter[str]:
        """Counts over the sensor's life (see the class)."""
        total = Counter(self._stats)
        for member in self._members.values():
            total.update(member.detector.stats)
        return total

    def detector(self, code: str) -> StreamingDetector:
        """The detector of channel ``code``."""
        return self._members[code].detector

    def add(self, code: str, config: DetectorConfig, sampling_rate: float) -> None:
        """Set up channel ``code`` with settings that fit its rate (see
        :meth:`DetectorConfig.fitted`); a horizontal keeps ``s_window`` of history more."""
        role = role_of(code)
        history = config.s_window + S_PRE + CHUNK_S + LEAD_S if role == "horizontal" else 0.0
        detector = StreamingDetector(config, sampling_rate, history=history)
        self._members[code] = _Member(code, role, config, detector)
        self._fold()

    def _fold(self) -> None:
        """The horizontals' triggers are not reported while there is a vertical: they need
        no onset of their own."""
        vertical = self._vertical() is not None
        for member in self._members.values():
            if member.role == "horizontal":
                member.detector.refine = not vertical

    def remove(self, code: str) -> list[tuple[str, Trigger]]:
        """Flush channel ``code`` and forget it; returns the picks that ends."""
        member = self._members.get(code)
        if member is None:
            return []
        out = self._report(member, member.detector.finish())
        self._note_starts(member)
        if member.role == "vertical":
            self._note_onsets(member)
            out += self._advance(final=True)
            self._arrivals = []
        self._stats.update(member.detector.stats)
        del self._members[code]
        self._fold()
        if self._arrivals:
            out += self._advance()
        return out

    def feed(self, code: str, samples: ArrayLike, starttime: float) -> list[tuple[str, Trigger]]:
        """Feed the next samples of channel ``code``; return the picks completed, in order.

        Raises
        ------
        KeyError
            If the channel was not added.
        """
        member = self._members[code]
        detector = member.detector
        changed = False
        if member.role != "horizontal" or self._vertical() is None:
            triggers = detector.feed(samples, starttime)
        else:
            x = np.asarray(samples)
            step = max(1, round(CHUNK_S * detector.sampling_rate))
            triggers = []
            changed = False
            for a in range(0, max(1, x.size), step):
                triggers += detector.feed(x[a : a + step], starttime + a / detector.sampling_rate)
                if self._arrivals:
                    changed |= self._collect()
        if member.role == "vertical":
            changed = self._note_onsets(member)
            if self._arrivals:
                changed |= self._collect()
        self._note_starts(member)
        out = self._report(member, triggers)
        if self._arrivals and (changed or triggers or self._overdue()):
            out += self._advance()
        return out

    def take_preliminary(self) -> list[tuple[str, Trigger]]:
        """Preliminary picks of the triggers that began since the last call, as
        ``(code, Trigger)`` with ``preliminary`` set: the vertical's (phase P when the sensor
        has horizontals) or a partnerless channel's, at trigger-on. The pick reported when
        the trigger ends has the same ``on_time``; a trigger found to be the S of the arrival
        before, or too short, is never reported, and its preliminary pick stands alone."""
        found, self._started = self._started, []
        return found

    def _note_starts(self, member: _Member) -> None:
        starts = member.detector.take_starts()
        if not starts or (member.role == "horizontal" and self._vertical() is not None):
            return
        detector = member.detector
        phase = "P" if member.role == "vertical" and self._horizontals() else None
        for t in starts:
            index = detector.index_at(t)
            self._started.append(
                (
                    member.code,
                    Trigger(
                        on_time=t,
                        off_time=t,
                        onset_time=t,
                        peak_ratio=member.config.trigger_on,
                        snr=math.nan,
                        peak_amplitude=0.0,
                        on_index=index,
                        off_index=index,
                        onset_index=index,
                        onset_uncertainty=2 * detector.nsta / detector.sampling_rate,
                        phase=phase,
                        preliminary=True,
                    ),
                )
            )

    def flush(self) -> list[tuple[str, Trigger]]:
        """End every channel's segment: report what is on or waiting (S searched on the data
        there are), then reset the detectors."""
        out: list[tuple[str, Trigger]] = []
        ordered = sorted(self._members.values(), key=lambda m: m.role != "vertical")
        for member in ordered:
            out += self._report(member, member.detector.finish())
            self._note_starts(member)
            if member.role == "vertical":
                self._note_onsets(member)
        out += self._advance(final=True)
        for member in ordered:
            member.detector.reset()
        self._arrivals = []
        return out

    # -- internals ----------------------------------------------------------------------------

    def _vertical(self) -> _Member | None:
        for member in self._members.values():
            if member.role == "vertical":
                return member
        return None

    def _horizontals(self) -> list[_Member]:
        return [m for m in self._members.values() if m.role == "horizontal"]

    def _report(self, member: _Member, triggers: list[Trigger]) -> list[tuple[str, Trigger]]:
        """Label (or fold) a channel's triggers; P picks are followed by an S found already,
        and wait for the S of an arrival whose window holds them."""
        if not triggers:
            return []
        if member.role == "horizontal" and self._vertical() is not None:
            self._stats["folded"] += len(triggers)
            return []
        if member.role != "vertical" or not self._horizontals():
            return [(member.code, t) for t in triggers]
        tolerance = 0.5 / member.detector.sampling_rate
        for trigger in triggers:
            arrival = next(
                (a for a in self._arrivals if abs(a.p_time - trigger.onset_time) <= tolerance),
                None,
            )
            if arrival is None:  # measured as its segment ended: search its S now
                arrival = self._open(member, trigger.onset_time)
            arrival.held = replace(trigger, phase="P")
        return self._release(member.code)

    def _release(self, code: str) -> list[tuple[str, Trigger]]:
        """Report, in order, the P no longer waiting and the S of P reported."""
        out: list[tuple[str, Trigger]] = []
        for arrival in self._arrivals:
            waiting = arrival.before is not None and not arrival.before.searched
            if arrival.held is not None and not waiting:
                if arrival.s_before:
                    self._stats["s_on_vertical"] += 1
                else:
                    out.append((code, arrival.held))
                arrival.held = None
                arrival.p_reported = True
            if arrival.p_reported and arrival.s is not None and not arrival.s_reported:
                arrival.s_reported = True
                self._stats["s_picks"] += 1
                out.append(arrival.s)
        return out

    def _open(self, vertical: _Member, p_time: float) -> _Arrival:
        """A new arrival, its S window ``s_window`` long; one whose P lies in the S window of
        the arrival before waits for that arrival's S."""
        for known in self._arrivals:
            if abs(known.p_time - p_time) <= 1e-6:
                return known
        arrival = _Arrival(p_time, p_time + vertical.config.s_window)
        arrival.vertical = vertical.detector.raw_window(p_time - 1.0, p_time + 1.0)
        for earlier in self._arrivals:
            if earlier.p_time < p_time < earlier.end and not earlier.searched:
                if earlier.next_p is None or p_time < earlier.next_p:
                    earlier.next_p = p_time
                arrival.before = earlier
        self._arrivals.append(arrival)
        return arrival

    def _note_onsets(self, vertical: _Member) -> bool:
        """Open an arrival for each onset the vertical measured; whether there was one."""
        onsets = vertical.detector.take_onsets()
        if onsets and self._horizontals():
            for p_time in onsets:
                self._open(vertical, p_time)
        return bool(onsets)

    def _overdue(self) -> bool:
        """Whether the vertical has passed an unsearched S window's end by :data:`S_WAIT_S`:
        a horizontal that lags is no longer waited for."""
        vertical = self._vertical()
        now = vertical.detector.processed_time if vertical is not None else None
        if now is None:
            return False
        return any(not a.searched and now >= a.end + S_WAIT_S for a in self._arrivals)

    def _collect(self) -> bool:
        """Take the S windows the horizontals and the vertical are now past the end of;
        whether one was taken."""
        vertical = self._vertical()
        known = None
        if vertical is not None:
            reached = vertical.detector.processed_time
            if reached is None:
                return False
            known = reached - vertical.detector.onset_delay  # every P before it is noted
        due = min((a.end for a in self._arrivals if not a.searched), default=math.inf)
        if known is not None and known < due:
            return False
        taken = False
        for member in self._horizontals():
            done = member.detector.processed_time
            if done is None or done < due:
                continue
            for arrival in self._arrivals:
                if (
                    not arrival.searched
                    and member.code not in arrival.windows
                    and done >= arrival.end
                    and (known is None or known >= arrival.end)
                ):
                    arrival.windows[member.code] = member.detector.raw_window(
                        arrival.p_time - S_PRE, arrival.end
                    )
                    taken = True
        return taken

    def _advance(self, final: bool = False) -> list[tuple[str, Trigger]]:
        """Search the S of arrivals whose windows are in; report what that releases; drop
        arrivals done, or whose P never came (a trigger too short)."""
        vertical = self._vertical()
        now = vertical.detector.processed_time if vertical is not None else None
        horizontals = self._horizontals()
        code = vertical.code if vertical is not None else ""
        for arrival in self._arrivals:
            if arrival.searched:
                continue
            waited = now is not None and now >= arrival.end + S_WAIT_S
            if final or waited or all(h.code in arrival.windows for h in horizontals):
                for h in horizontals:
                    if h.code not in arrival.windows:
                        arrival.windows[h.code] = h.detector.raw_window(
                            arrival.p_time - S_PRE, arrival.end
                        )
                self._decide(arrival, horizontals, vertical)
        out = self._release(code)
        keep: list[_Arrival] = []
        for arrival in self._arrivals:
            too_late = (
                vertical is not None
                and now is not None
                and now > arrival.p_time + vertical.config.max_duration + 2 * S_WAIT_S
            )
            done = arrival.searched and (arrival.p_reported or final or too_late)
            later = any(a.before is arrival and not a.p_reported for a in self._arrivals)
            if not done or later:
                keep.append(arrival)
        self._arrivals = keep
        return out

    def _decide(
        self, arrival: _Arrival, horizontals: list[_Member], vertical: _Member | None
    ) -> None:
        """The S of an arrival, and whether the next vertical onset in its window is it."""
        arrival.s = self._search(arrival, horizontals, vertical, arrival.end)
        next_p = arrival.next_p
        if next_p is not None:
            onset = arrival.s[1].onset_time if arrival.s is not None else None
            later = next((a for a in self._arrivals if abs(a.p_time - next_p) <= 1e-6), None)
            if (
                onset is not None
                and later is not None
                and vertical is not None
                and abs(onset - next_p) <= S_AS_P_S
                and _horizontal_to_vertical(arrival, later, vertical, horizontals) > S_HV
            ):
                later.s_before = True
                later.searched = True  # its own S search would find the coda
            elif onset is None or onset > next_p - NEXT_P_MARGIN_S:
                cut = max(arrival.p_time, next_p - NEXT_P_MARGIN_S)
                arrival.s = self._search(arrival, horizontals, vertical, cut)
        arrival.searched = True
        arrival.windows = {}

    def _search(
        self,
        arrival: _Arrival,
        horizontals: list[_Member],
        vertical: _Member | None,
        stop: float,
    ) -> tuple[str, Trigger] | None:
        """The S pick of an arrival, on the windows taken from the horizontals, up to
        ``stop``."""
        taken = [(m, w) for m in horizontals if (w := arrival.windows.get(m.code)) is not None]
        if not taken or vertical is None:
            return None
        fs = taken[0][0].detector.sampling_rate
        start = max(t0 for _, (t0, _) in taken)
        parts = []
        for _, (t0, raw) in taken:
            skip = round((start - t0) * fs)
            parts.append(raw[skip : skip + round((stop - start) * fs) + 1])
        p_index = round((arrival.p_time - start) * fs)
        if p_index < 1:
            return None
        cfg = taken[0][0].config
        sos = zero_phase_sos(cfg.freqmin, cfg.freqmax, fs, cfg.corners)
        found = pick_s(parts, fs, p_index, sos, vertical.config.s_ratio)
        if found is None:
            return None
        member = taken[found.component][0]
        detector = member.detector
        onset = start + found.index / fs
        peak = start + found.peak / fs
        index = detector.index_at(onset)
        trigger = Trigger(
            on_time=onset,
            off_time=max(onset, peak),
            onset_time=onset,
            peak_ratio=found.ratio,
            snr=found.snr,
            peak_amplitude=found.amplitude,
            on_index=index,
            off_index=max(index, detector.index_at(peak)),
            onset_index=index,
            onset_uncertainty=found.uncertainty,
            polarity=None,
            bridged=detector.bridged_within(arrival.p_time - S_PRE, stop),
            phase="S",
        )
        return member.code, trigger
