"""Coincidence of trigger windows, streamed, against ObsPy's ``coincidence_trigger``.

The data: ObsPy's own coincidence test recording, four stations of the BW network (UH1-UH4,
2010-05-27), band-passed 10-20 Hz as ObsPy's test does; ObsPy finds three events with a
recursive STA/LTA (0.5 s / 10 s, on 3.5, off 1) and a coincidence sum of 3.
"""

from __future__ import annotations

import pytest
from obspy import Stream, UTCDateTime, read
from obspy.signal.trigger import coincidence_trigger, recursive_sta_lta, trigger_onset

from detection import CoincidenceAssociator, CoincidenceEvent, TriggerWindow

from .conftest import OBSPY_DATA

FILES = [
    "BW.UH1._.SHZ.D.2010.147.cut.slist.gz",
    "BW.UH2._.SHZ.D.2010.147.cut.slist.gz",
    "BW.UH3._.SHZ.D.2010.147.cut.slist.gz",
    "BW.UH4._.EHZ.D.2010.147.cut.slist.gz",
]


@pytest.fixture(scope="module")
def stream() -> Stream:
    st = Stream()
    for name in FILES:
        st += read(str(OBSPY_DATA / name))
    st.filter("bandpass", freqmin=10, freqmax=20)
    return st


def windows(st: Stream) -> list[TriggerWindow]:
    """Each channel's triggers, as coincidence_trigger computes them, in the order they end
    (the order a streaming detector reports them)."""
    out = []
    for tr in st:
        sr = tr.stats.sampling_rate
        cft = recursive_sta_lta(tr.data, int(0.5 * sr), int(10 * sr))
        for on, off in trigger_onset(cft, 3.5, 1.0):
            start = tr.stats.starttime
            out.append(TriggerWindow(len(out), tr.id, start + on / sr, start + off / sr))  # type: ignore[arg-type]
    return sorted(out, key=lambda w: w.off)


def stream_through(
    assoc: CoincidenceAssociator, wins: list[TriggerWindow]
) -> tuple[list[CoincidenceEvent], list[TriggerWindow]]:
    events: list[CoincidenceEvent] = []
    left: list[TriggerWindow] = []
    for w in wins:
        assert assoc.add(w).events == ()
        update = assoc.close_before(w.off)
        events += update.events
        left += update.unassociated
    update = assoc.flush()
    return events + list(update.events), left + list(update.unassociated)


def test_the_same_events_as_obspy_on_its_own_recording(stream: Stream) -> None:
    reference = coincidence_trigger("recstalta", 3.5, 1, stream.copy(), 3, sta=0.5, lta=10)
    assert len(reference) == 3
    wins = windows(stream)
    events, left = stream_through(CoincidenceAssociator(3, max_trigger_length=60.0), wins)
    assert len(events) == len(reference)
    for mine, theirs in zip(events, reference, strict=True):
        assert abs(UTCDateTime(mine.time) - theirs["time"]) < 1.0
        assert mine.time == pytest.approx(float(theirs["time"]), abs=1e-6)
        assert list(mine.stations) == theirs["stations"]
        assert mine.duration == pytest.approx(theirs["duration"], abs=1e-6)
        assert mine.coincidence_sum == theirs["coincidence_sum"]
    used = {k for e in events for k in e.pick_keys}
    assert sorted(used | {w.key for w in left}) == sorted(w.key for w in wins)
    assert not used & {w.key for w in left}


def test_weights_and_thresholds_as_obspy(stream: Stream) -> None:
    weights = {"BW.UH1..SHZ": 0.4, "BW.UH2..SHZ": 0.35, "BW.UH3..SHZ": 4, "BW.UH4..EHZ": 0.4}
    reference = coincidence_trigger(
        "recstalta", 3.5, 1, stream.copy(), 4.5, trace_ids=weights, sta=0.5, lta=10
    )
    events, _ = stream_through(
        CoincidenceAssociator(4.5, weights=weights, max_trigger_length=60.0), windows(stream)
    )
    assert [round(e.time, 6) for e in events] == [round(float(r["time"]), 6) for r in reference]
    assert [e.coincidence_sum for e in events] == pytest.approx(
        [r["coincidence_sum"] for r in reference]
    )


def test_a_short_early_trigger_does_not_pull_the_event_time() -> None:
    """A noise trigger 9 s before the quake at one station (the issue's case) does not
    overlap the others' windows: it is left out and the event starts with the quake."""
    t = 1_000.0
    wins = [TriggerWindow(0, "XX.A..HHZ", t - 9.0, t - 8.5)]
    wins += [TriggerWindow(k, f"XX.{s}..HHZ", t + 0.3 * k, t + 4) for k, s in enumerate("BCD", 1)]
    events, left = stream_through(CoincidenceAssociator(3, max_trigger_length=30.0), wins)
    (event,) = events
    assert event.time == t + 0.3
    assert event.stations == ("B", "C", "D")
    assert left == [wins[0]]


def test_decisions_wait_for_triggers_still_running() -> None:
    assoc = CoincidenceAssociator(2, max_trigger_length=30.0)
    assoc.add(TriggerWindow(1, "XX.A..HHZ", 100.0, 101.0))
    assert assoc.close_before(120.0).events == ()  # B may still be triggered since 101
    assoc.add(TriggerWindow(2, "XX.B..HHZ", 100.5, 125.0))
    assert assoc.close_before(150.0).events == ()  # another may still run since 125
    (event,) = assoc.close_before(156.0).events
    assert event.pick_keys == (1, 2)
    assert event.duration == 25.0
    late = TriggerWindow(3, "XX.C..HHZ", 99.0, 140.0)
    assert assoc.add(late).unassociated == (late,)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CoincidenceAssociator(0)
    with pytest.raises(ValueError, match="weight"):
        CoincidenceAssociator(2, weights={"XX.A..HHZ": -1})
    with pytest.raises(ValueError, match="on <= off"):
        CoincidenceAssociator(2).add(TriggerWindow(1, "XX.A..HHZ", 5.0, 4.0))
