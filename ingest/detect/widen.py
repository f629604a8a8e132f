"""Stations added to a running :class:`detection.QuakeAssociator`.

The associator's stations are fixed when it is built: what it derives from them (the
stations' index, coordinates, distances apart, the longest wait of a pick and the voting
grid's travel times) is computed once in its constructor. A station imported while the
worker runs joins the association by building a new associator over the old stations and
the new ones and handing it the old one's streaming state: the picks waiting, the open
events and candidates (with their versions and event keys), the next event key, the data
time reached, the stations' latest picks and the glitch picks. Nothing open is lost, no
event is renumbered, and an event still open takes the new station's picks.

Limitations: this reads the associator's private state, listed in :data:`STATE`; a state
attribute added to the associator must be listed here too (a test compares the lists), or
:func:`widened` refuses to run rather than drop it.
"""

from __future__ import annotations

from collections.abc import Mapping

from detection import QuakeAssociator, QuakeAssociatorConfig, StationCoordinates, TravelTimeTable

__all__ = ["DERIVED", "STATE", "widened"]

STATE = frozenset(
    {
        "_pool",
        "_events",
        "_candidates",
        "_next_key",
        "_horizon",
        "_last_pick",
        "_glitches",
    }
)
"""What the associator learnt from the picks: carried over to the widened one."""

DERIVED = frozenset(
    {
        "_cfg",
        "_stations",
        "_table",
        "_work_cfg",
        "_index",
        "_lat",
        "_lon",
        "_elev",
        "_apart",
        "_wait",
        "_node",
        "_node_tt",
        "_node_grad",
    }
)
"""What the associator builds from its stations, table and settings: built anew."""


def widened(
    old: QuakeAssociator,
    stations: Mapping[str, StationCoordinates],
    table: TravelTimeTable,
    config: QuakeAssociatorConfig,
) -> QuakeAssociator:
    """A new associator over ``old``'s stations and ``stations`` (a station in both takes
    the new coordinates), continuing ``old``'s picks and events.

    Raises
    ------
    RuntimeError
        If ``old`` holds state this module does not know how to carry over.
    """
    unknown = set(vars(old)) - STATE - DERIVED
    if unknown:
        raise RuntimeError(
            f"QuakeAssociator has state {sorted(unknown)} that widening would lose: "
            "list it in ingest.detect.widen"
        )
    known: dict[str, StationCoordinates] = old._stations
    new = QuakeAssociator({**known, **stations}, table, config)
    for name in STATE:
        setattr(new, name, getattr(old, name))
    for track in (*new._events.values(), *new._candidates):
        track.closes = None  # when it closes depends on the stations: computed again
    return new
