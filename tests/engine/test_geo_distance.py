import math

import numpy as np
import pytest
from geopy.distance import great_circle

from engine.geo import (
    EARTH_RADIUS_KM,
    MAX_RADIUS_KM,
    BoundingBox,
    bounding_box,
    validate_coordinates,
    validate_radius,
)

from geo_oracles import box_contains

ZAGREB, SPLIT = (45.8150, 15.9819), (43.5081, 16.4402)  # city centres (degrees)


@pytest.mark.parametrize(
    ("lat", "lng"),
    [
        ZAGREB,
        (0, 0),
        (89.95, 40),  # the North pole inside a 10 km circle
        (-89.2, -120),  # the South pole inside larger ones
        (60, 179.9),  # across the antimeridian, eastward
        (-17.7, -179.8),  # Fiji, westward
        (0, 180),
        (0, -180),
    ],
)
@pytest.mark.parametrize("radius_km", [0.5, 10, 300, 2500, 9000])
def test_bounding_box_contains_the_circle(lat, lng, radius_km):
    box = bounding_box(lat, lng, radius_km)
    assert -90 <= box.min_lat < box.max_lat <= 90
    assert -180 <= box.min_lng <= 180 and -180 <= box.max_lng <= 180
    circle = great_circle(kilometers=radius_km * (1 - 1e-9), radius=EARTH_RADIUS_KM)
    for bearing in np.linspace(0, 360, 73):
        point = circle.destination((lat, lng), bearing)
        assert box_contains(box, point.latitude, point.longitude), (bearing, point, box)
    assert box_contains(box, lat, lng)


def test_bounding_box_is_tight_away_from_poles():
    box = bounding_box(*ZAGREB, 100)
    assert box.max_lat - ZAGREB[0] == pytest.approx(math.degrees(100 / EARTH_RADIUS_KM))
    assert box.lng_ranges() == [(box.min_lng, box.max_lng)] and not box.crosses_antimeridian
    east = great_circle(kilometers=100, radius=EARTH_RADIUS_KM).destination(ZAGREB, 90)
    # The widest point of the circle is slightly north of due east; the box just holds it.
    assert east.longitude < box.max_lng < east.longitude + 0.01
    assert not box_contains(box, *SPLIT)


def test_bounding_box_at_a_pole_spans_every_longitude():
    box = bounding_box(89.5, 10, 100)
    assert box == BoundingBox(pytest.approx(89.5 - math.degrees(100 / EARTH_RADIUS_KM)), 90.0, -180.0, 180.0)
    assert box_contains(box, 89.9, -170)
    assert bounding_box(-90, 0, 1).lng_ranges() == [(-180.0, 180.0)]


def test_bounding_box_across_the_antimeridian():
    box = bounding_box(0, 179.5, 100)
    assert box.crosses_antimeridian
    assert box.min_lng == pytest.approx(179.5 - math.degrees(100 / EARTH_RADIUS_KM))
    assert box.max_lng == pytest.approx(179.5 + math.degrees(100 / EARTH_RADIUS_KM) - 360)
    assert box.lng_ranges() == [(box.min_lng, 180.0), (-180.0, box.max_lng)]
    assert box_contains(box, 0, -179.8) and box_contains(box, 0, 179.9) and not box_contains(box, 0, 0)
    west = bounding_box(0, -179.5, 100)
    assert west.crosses_antimeridian and west.min_lng > 178 and west.max_lng < -178


@pytest.mark.parametrize(
    ("lat", "lng", "message"),
    [
        (90.0001, 0, "Latitude must be between -90 and 90"),
        (-91, 0, "Latitude must be between -90 and 90"),
        (0, 180.5, "Longitude must be between -180 and 180"),
        (0, -181, "Longitude must be between -180 and 180"),
        ("45.8", 16, "Latitude must be a number"),
        (45.8, None, "Longitude must be a number"),
        (True, 16, "Latitude must be a number"),
        (45, np.bool_(False), "Longitude must be a number"),
        (math.nan, 16, "Latitude must be a finite number"),
        (45, math.inf, "Longitude must be a finite number"),
        (np.float64("nan"), 0, "Latitude must be a finite number"),
    ],
)
def test_invalid_coordinates(lat, lng, message):
    with pytest.raises(ValueError, match=message):
        validate_coordinates(lat, lng)


def test_valid_coordinates_become_floats():
    assert validate_coordinates(90, -180) == (90.0, -180.0)
    result = validate_coordinates(np.float32(45.5), np.int64(16))
    assert result == (45.5, 16.0) and all(type(value) is float for value in result)


@pytest.mark.parametrize(
    ("radius", "message"),
    [
        (0, "greater than 0"),
        (-5, "greater than 0"),
        (MAX_RADIUS_KM + 0.1, "at most 20037.5 km"),
        (1e9, "at most"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        ("10", "must be a number"),
        (None, "must be a number"),
        (True, "must be a number"),
    ],
)
def test_invalid_radius(radius, message):
    with pytest.raises(ValueError, match=message):
        validate_radius(radius)
    with pytest.raises(ValueError, match=message):
        bounding_box(0, 0, radius)


def test_valid_radius():
    assert validate_radius(25) == 25.0
    assert validate_radius(MAX_RADIUS_KM) == MAX_RADIUS_KM
    assert bounding_box(0, 0, MAX_RADIUS_KM) == (-90.0, 90.0, -180.0, 180.0)

