"""The tests' geography oracles (``geo_oracles``) against known distances and geopy."""

import math

import numpy as np
import pytest
from geopy.distance import great_circle

from engine.geo import EARTH_RADIUS_KM

from geo_oracles import haversine_km, haversine_km_array, points_within_radius

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


def _random_points(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` points spread over the sphere, as an array of 2 rows (lat, lng)."""
    return np.vstack([np.degrees(np.arcsin(rng.uniform(-1, 1, size))), rng.uniform(-180, 180, size)])
