"""Bounding boxes on the sphere, and validation of coordinates and radii.

All angles are decimal degrees (WGS 84 latitude / longitude), all distances kilometres.
The Earth is a sphere of radius ``EARTH_RADIUS_KM``: the error against the ellipsoid is
below 0.5 %, far less than what a city-level or street-level geocode is worth. The
great-circle distance itself is computed in SQL, next to the indexed coordinates
(``models/crm_lead_map.py``); tests check it against an independent one (geopy).
"""

import math
import numbers
from typing import NamedTuple

import numpy as np

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
# The largest radius of a radius search, defined here only: ``validate_radius`` applies it,
# the map's error message and its web client (through ``get_map_settings``) read it.
MAX_RADIUS_KM = 20037.5  # half the equatorial circumference (pi * 6378.137 km): no point is farther


def _finite_number(value: object, label: str) -> float:
    """``value`` as a float; ``ValueError`` for bools, non-numbers, NaN and infinities."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{label} must be a number, got {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{label} must be a finite number, got {value!r}.")
    return number


def validate_coordinates(lat: object, lng: object) -> tuple[float, float]:
    """Return ``(lat, lng)`` as floats, or raise ``ValueError`` saying what is wrong.

    Latitude must lie in [-90, 90] and longitude in [-180, 180]; bools, strings, ``None``,
    NaN and infinities are refused.
    """
    latitude = _finite_number(lat, "Latitude")
    longitude = _finite_number(lng, "Longitude")
    if not -90.0 <= latitude <= 90.0:
        raise ValueError(f"Latitude must be between -90 and 90 degrees, got {latitude:g}.")
    if not -180.0 <= longitude <= 180.0:
        raise ValueError(f"Longitude must be between -180 and 180 degrees, got {longitude:g}.")
    return latitude, longitude


def validate_radius(radius_km: object) -> float:
    """Return ``radius_km`` as a float, or raise ``ValueError``.

    A radius must be above 0 and at most ``MAX_RADIUS_KM`` (half the Earth's
    circumference: a larger radius already covers the whole planet, so it is a mistake).
    """
    radius = _finite_number(radius_km, "Radius")
    if radius <= 0:
        raise ValueError(f"Radius must be greater than 0 km, got {radius:g}.")
    if radius > MAX_RADIUS_KM:
        raise ValueError(
            f"Radius must be at most {MAX_RADIUS_KM:g} km (half the Earth's circumference), got {radius:g}."
        )
    return radius


class BoundingBox(NamedTuple):
    """Latitude / longitude limits enclosing a circle, for an SQL ``BETWEEN`` prefilter.

    Antimeridian convention (as a GeoJSON bbox, RFC 7946 §5.2): when the circle crosses
    the ±180° meridian, ``min_lng > max_lng`` and the box covers longitudes
    ``>= min_lng`` OR ``<= max_lng``; ``lng_ranges()`` gives these as two ranges. When the
    circle contains a pole, the latitude reaches ±90 and the longitudes are the full
    [-180, 180].
    """

    min_lat: float
    max_lat: float
    min_lng: float
    max_lng: float

    @property
    def crosses_antimeridian(self) -> bool:
        """True when the longitude range wraps around the ±180° meridian."""
        return self.min_lng > self.max_lng

    def lng_ranges(self) -> list[tuple[float, float]]:
        """One ``(low, high)`` longitude range, or two when crossing the antimeridian."""
        if self.crosses_antimeridian:
            return [(self.min_lng, 180.0), (-180.0, self.max_lng)]
        return [(self.min_lng, self.max_lng)]


def bounding_box(lat: float, lng: float, radius_km: float) -> BoundingBox:
    """The smallest latitude / longitude box containing the circle of ``radius_km`` around a point.

    Method of J. P. Matuschek, "Finding Points Within a Distance of a Latitude/Longitude
    Using Bounding Coordinates": the longitude half-width is ``asin(sin r / cos lat)`` for
    the angular radius ``r``, which is exact for great-circle distances (a naive
    ``r / cos lat`` misses points near the poles). Arguments are validated (``ValueError``).
    """
    lat, lng = validate_coordinates(lat, lng)
    angular = validate_radius(radius_km) / EARTH_RADIUS_KM
    phi = math.radians(lat)
    min_phi, max_phi = phi - angular, phi + angular
    if min_phi <= -math.pi / 2 or max_phi >= math.pi / 2:
        # A pole is inside the circle: every longitude is.
        return BoundingBox(max(math.degrees(min_phi), -90.0), min(math.degrees(max_phi), 90.0), -180.0, 180.0)
    half_width = math.degrees(math.asin(math.sin(angular) / math.cos(phi)))
    min_lng, max_lng = lng - half_width, lng + half_width
    if min_lng < -180.0:
        min_lng += 360.0
    if max_lng > 180.0:
        max_lng -= 360.0
    return BoundingBox(math.degrees(min_phi), math.degrees(max_phi), min_lng, max_lng)
