"""Where an epicentre is, in words: the direction is from the station to the epicentre."""

from __future__ import annotations

import pytest

from api.places import place_name


@pytest.mark.parametrize(
    ("latitude", "longitude", "point"),
    [(38.3, 72.0, "N"), (38.2, 72.25, "NE"), (38.0, 72.4, "E"), (37.7, 72.0, "S"),
     (37.8, 71.75, "SW"), (38.0, 71.6, "W")],
)  # fmt: skip
def test_the_direction_is_from_the_station_to_the_epicentre(
    latitude: float, longitude: float, point: str
) -> None:
    place = place_name(latitude, longitude, [(38.0, 72.0, "Murghob"), (30.0, 60.0, "far")])
    assert place is not None
    assert place.endswith(f" km {point} of Murghob"), place


def test_near_a_station_and_without_stations() -> None:
    assert place_name(38.001, 72.001, [(38.0, 72.0, "Murghob")]) == "near Murghob"
    assert place_name(38.0, 72.0, []) is None
