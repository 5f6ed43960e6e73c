import math

import numpy as np
import pytest
from geopy.distance import great_circle

from engine.geo import (
    EARTH_RADIUS_KM,
    MAX_RADIUS_KM,
    BoundingBox,
    bounding_box,
    haversine_km,
    haversine_km_array,
    points_within_radius,
    validate_coordinates,
    validate_radius,
)

# City centres (degrees) and straight-line distances (km) between them.
ZAGREB, SPLIT = (45.8150, 15.9819), (43.5081, 16.4402)
BUCHAREST, CLUJ = (44.4268, 26.1025), (46.7712, 23.6236)
PARIS, LONDON = (48.8566, 2.3522), (51.5074, -0.1278)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [(ZAGREB, SPLIT, 259), (BUCHAREST, CLUJ, 324), (PARIS, LONDON, 344)],
    ids=["zagreb-split", "bucharest-cluj", "paris-london"],
)
def test_haversine_known_distances(a, b, km):
    assert haversine_km(*a, *b) == pytest.approx(km, abs=2)
    assert haversine_km(*b, *a) == pytest.approx(haversine_km(*a, *b))


def test_haversine_edge_cases():
    assert haversine_km(*ZAGREB, *ZAGREB) == 0
    assert haversine_km(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_KM)  # antipodes
    assert haversine_km(90, 0, 90, 123) == pytest.approx(0, abs=1e-9)  # the pole, any longitude
    assert haversine_km(0, 179.9, 0, -179.9) == pytest.approx(haversine_km(0, 0, 0, 0.2))  # across ±180


def test_haversine_matches_geopy_great_circle():
    rng = np.random.default_rng(7)
    for lat1, lng1, lat2, lng2 in zip(*_random_points(rng, 200), *_random_points(rng, 200), strict=True):
        expected = great_circle((lat1, lng1), (lat2, lng2), radius=EARTH_RADIUS_KM).km
        assert haversine_km(lat1, lng1, lat2, lng2) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_vectorised_equals_scalar():
    rng = np.random.default_rng(11)
    lat1, lng1 = _random_points(rng, 1000)
    lat2, lng2 = _random_points(rng, 1000)
    vectorised = haversine_km_array(lat1, lng1, lat2, lng2)
    scalar = [haversine_km(*args) for args in zip(lat1, lng1, lat2, lng2, strict=True)]
    np.testing.assert_allclose(vectorised, scalar, rtol=1e-12, atol=1e-9)
    # broadcasting: one centre against many points, and lists
    np.testing.assert_allclose(
        haversine_km_array(ZAGREB[0], ZAGREB[1], lat2, lng2),
        haversine_km_array(np.full(1000, ZAGREB[0]), np.full(1000, ZAGREB[1]), lat2, lng2),
    )
    assert haversine_km_array([PARIS[0]], [PARIS[1]], [LONDON[0]], [LONDON[1]]).tolist() == [
        pytest.approx(haversine_km(*PARIS, *LONDON))
    ]
    assert np.isnan(haversine_km_array(*PARIS, np.nan, 0.0))


def test_points_within_radius():
    lats = np.array([SPLIT[0], BUCHAREST[0], np.nan, ZAGREB[0]])
    lngs = np.array([SPLIT[1], BUCHAREST[1], 16.0, ZAGREB[1]])
    assert points_within_radius(*ZAGREB, 300, lats, lngs).tolist() == [True, False, False, True]
    assert points_within_radius(*ZAGREB, 250, lats, lngs).tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="Radius"):
        points_within_radius(*ZAGREB, 0, lats, lngs)
    with pytest.raises(ValueError, match="Latitude"):
        points_within_radius(91, 0, 10, lats, lngs)


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
        assert box.contains(point.latitude, point.longitude), (bearing, point, box)
    assert box.contains(lat, lng)


def test_bounding_box_is_tight_away_from_poles():
    box = bounding_box(*ZAGREB, 100)
    assert box.max_lat - ZAGREB[0] == pytest.approx(math.degrees(100 / EARTH_RADIUS_KM))
    assert box.lng_ranges() == [(box.min_lng, box.max_lng)] and not box.crosses_antimeridian
    east = great_circle(kilometers=100, radius=EARTH_RADIUS_KM).destination(ZAGREB, 90)
    # The widest point of the circle is slightly north of due east; the box just holds it.
    assert east.longitude < box.max_lng < east.longitude + 0.01
    assert not box.contains(*SPLIT)


def test_bounding_box_at_a_pole_spans_every_longitude():
    box = bounding_box(89.5, 10, 100)
    assert box == BoundingBox(pytest.approx(89.5 - math.degrees(100 / EARTH_RADIUS_KM)), 90.0, -180.0, 180.0)
    assert box.contains(89.9, -170)
    assert bounding_box(-90, 0, 1).lng_ranges() == [(-180.0, 180.0)]


def test_bounding_box_across_the_antimeridian():
    box = bounding_box(0, 179.5, 100)
    assert box.crosses_antimeridian
    assert box.min_lng == pytest.approx(179.5 - math.degrees(100 / EARTH_RADIUS_KM))
    assert box.max_lng == pytest.approx(179.5 + math.degrees(100 / EARTH_RADIUS_KM) - 360)
    assert box.lng_ranges() == [(box.min_lng, 180.0), (-180.0, box.max_lng)]
    assert box.contains(0, -179.8) and box.contains(0, 179.9) and not box.contains(0, 0)
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


def _random_points(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` points spread over the sphere, as an array of 2 rows (lat, lng)."""
    return np.vstack([np.degrees(np.arcsin(rng.uniform(-1, 1, size))), rng.uniform(-180, 180, size)])
