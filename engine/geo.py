"""Geography of the opportunity map: radius search bounds and validation, offline gazetteer, geocoding.

One import point for the models; the code lives by concern in
``geo_distance`` (bounding boxes, validation, the radius limit), ``geo_gazetteer`` (offline
city positions from GeoNames, CC BY 4.0: show ``GEONAMES_ATTRIBUTION`` with them) and
``geo_geocoder`` (geopy provider, host-wide rate limit, cache, offline fallback).
Pure Python: no Odoo import.
"""

from .geo_distance import (
    EARTH_RADIUS_KM,
    MAX_RADIUS_KM,
    BoundingBox,
    bounding_box,
    validate_coordinates,
    validate_radius,
)
from .geo_gazetteer import (
    GEONAMES_ATTRIBUTION,
    GazetteerMatch,
    OfflineGazetteer,
    default_gazetteer,
    normalise_name,
)
from .geo_geocoder import (
    DEFAULT_LOCK_PATH,
    Address,
    CachedGeocode,
    GeocodeCache,
    Geocoder,
    GeocodeResult,
    RateLimiter,
    format_query,
    nominatim_provider,
    normalise_address,
)

__all__ = [
    "DEFAULT_LOCK_PATH",
    "EARTH_RADIUS_KM",
    "GEONAMES_ATTRIBUTION",
    "MAX_RADIUS_KM",
    "Address",
    "BoundingBox",
    "CachedGeocode",
    "GazetteerMatch",
    "GeocodeCache",
    "GeocodeResult",
    "Geocoder",
    "OfflineGazetteer",
    "RateLimiter",
    "bounding_box",
    "default_gazetteer",
    "format_query",
    "nominatim_provider",
    "normalise_address",
    "normalise_name",
    "validate_coordinates",
    "validate_radius",
]
