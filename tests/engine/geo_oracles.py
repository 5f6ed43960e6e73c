"""Geography computed independently of the product, for the engine tests.

The map measures distances in SQL (``models/crm_lead_map.py``) and prefilters with
``engine.geo.bounding_box``; these plain Python versions are the tests' oracles (checked
themselves against geopy in ``test_geo_oracles.py``), not code the add-on runs.
"""

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from engine.geo import EARTH_RADIUS_KM, BoundingBox, validate_coordinates, validate_radius


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in km between two points (degrees; not validated)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lng2 - lng1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def haversine_km_array(lat1: ArrayLike, lng1: ArrayLike, lat2: ArrayLike, lng2: ArrayLike) -> NDArray[np.float64]:
    """Vectorised ``haversine_km``: the arguments broadcast like numpy arrays.

    A NaN coordinate gives a NaN distance (e.g. a contact without coordinates).
    """
    phi1, phi2 = np.radians(np.asarray(lat1, dtype=float)), np.radians(np.asarray(lat2, dtype=float))
    dlambda = np.radians(np.asarray(lng2, dtype=float) - np.asarray(lng1, dtype=float))
    a = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))


def points_within_radius(
    lat: float, lng: float, radius_km: float, lats: ArrayLike, lngs: ArrayLike
) -> NDArray[np.bool_]:
    """Mask of the points ``(lats[i], lngs[i])`` at most ``radius_km`` from ``(lat, lng)``.

    The centre and radius are validated as the product does (``ValueError``); points with
    a NaN coordinate are outside.
    """
    lat, lng = validate_coordinates(lat, lng)
    radius_km = validate_radius(radius_km)
    with np.errstate(invalid="ignore"):
        return haversine_km_array(lat, lng, lats, lngs) <= radius_km


def box_contains(box: BoundingBox, lat: float, lng: float) -> bool:
    """Whether the point lies in the box: the map's SQL prefilter, in Python."""
    in_lat = box.min_lat <= lat <= box.max_lat
    return in_lat and any(low <= lng <= high for low, high in box.lng_ranges())
