"""Geocoding of addresses: cache first, then a geopy provider under a host-wide rate limit,
then the offline gazetteer.

Public Nominatim's usage policy (https://operations.osmfoundation.org/policies/nominatim/)
asks for at most one request per second from the whole application, an identifying user
agent, and caching. Hence:

- ``RateLimiter`` spaces requests by ``min_interval`` across every process of the host
  (Odoo workers, cron workers, shells) through an ``fcntl`` lock on a file that holds the
  time of the last request;
- ``Geocoder`` never sends the same normalised address twice: answers of the provider
  ("found" and "not found") go to a ``GeocodeCache``. Provider *errors* (timeouts, service
  unavailable, any exception) are not cached — they are transient, a later batch retries —
  but one ``Geocoder`` (one batch) does not retry an address that failed, and stops
  calling a provider that keeps failing. Offline (gazetteer) positions are not cached
  either: they are city-level, computed in microseconds, and must not hide the precise
  answer once the provider is reachable again;
- ``Geocoder`` never raises for a provider failure: it falls back to the offline
  gazetteer and reports the error in its ``GeocodeResult``.
"""

import fcntl
import logging
import math
import os
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from geopy import exc as geopy_exc
from geopy.geocoders import Nominatim

from .geo_distance import validate_coordinates
from .geo_gazetteer import OfflineGazetteer, default_gazetteer

_logger = logging.getLogger(__name__)

Status = Literal["ok", "not_found", "error"]
DEFAULT_LOCK_PATH = os.path.join(tempfile.gettempdir(), "crm_opportunity_management-geocoding.lock")
# Errors that retrying cannot fix within a batch: stop calling the provider at once.
_FATAL_ERRORS = (
    geopy_exc.ConfigurationError,
    geopy_exc.GeocoderAuthenticationFailure,
    geopy_exc.GeocoderInsufficientPrivileges,
    geopy_exc.GeocoderQuotaExceeded,  # includes GeocoderRateLimited (HTTP 429)
)


def _clean(part: object) -> str:
    """An address part as text: Odoo's ``False`` / ``None`` become "", whitespace is collapsed."""
    return " ".join(str(part).split()) if part else ""


def normalise_address(
    street: str | None = None,
    zip: str | None = None,
    city: str | None = None,
    state: str | None = None,
    country: str | None = None,
) -> str:
    """The cache key of an address: each part trimmed, case-folded, whitespace collapsed.

    Parts keep their position (``street|zip|city|state|country``) so that different
    addresses never share a key; empty parts (``None``, ``False``, "") count as "", and
    an address with no part at all gives "". Unicode is NFC-normalised, so composed and
    decomposed accents give the same key.
    """
    parts = [
        " ".join(unicodedata.normalize("NFC", str(part or "")).casefold().replace("|", " ").split())
        for part in (street, zip, city, state, country)
    ]
    return "|".join(parts) if any(parts) else ""


def format_query(
    street: str | None = None,
    zip: str | None = None,
    city: str | None = None,
    state: str | None = None,
    country: str | None = None,
) -> str:
    """The free-form query sent to the provider, as Odoo's ``base_geolocalize`` builds it:
    "street, zip city, state, country" without the empty parts."""
    parts = [_clean(street), f"{_clean(zip)} {_clean(city)}".strip(), _clean(state), _clean(country)]
    return ", ".join(part for part in parts if part)


@dataclass(frozen=True)
class Address:
    """An address to geocode. ``country`` is the name sent to the provider; ``country_code``
    (ISO 3166-1 alpha-2) restricts Nominatim and the offline gazetteer to that country."""

    street: str | None = None
    zip: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    country_code: str | None = None

    @property
    def key(self) -> str:
        """The cache key (``normalise_address``)."""
        return normalise_address(self.street, self.zip, self.city, self.state, self.country or self.country_code)

    @property
    def query(self) -> str:
        """The provider query (``format_query``)."""
        return format_query(self.street, self.zip, self.city, self.state, self.country)


class RateLimiter:
    """At most one request per ``min_interval`` seconds for every process of the host.

    The lock file holds the time of the last request. ``wait()`` takes an exclusive
    ``fcntl.flock`` on it, sleeps (holding the lock, so others queue behind) until
    ``min_interval`` has passed since that time, writes the new time and releases the lock.
    All processes must use the same ``path`` (default ``DEFAULT_LOCK_PATH`` in the system
    temporary directory; point it to a directory every Odoo process can write, e.g. the
    data directory, when they run as different users). ``clock`` must be a wall clock
    shared by the processes (``time.time``); ``clock`` and ``sleep`` are injectable for
    tests (a fake ``sleep`` must advance the fake clock). If the clock jumps back, the wait
    is capped at ``min_interval``.
    """

    def __init__(
        self,
        min_interval: float = 1.0,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(min_interval, bool) or not isinstance(min_interval, (int, float)) or not min_interval >= 0:
            raise ValueError(f"min_interval must be a number of seconds >= 0, got {min_interval!r}.")
        self.min_interval = float(min_interval)
        self.path = os.fspath(path) if path is not None else DEFAULT_LOCK_PATH
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> float:
        """Block until a request may be sent, and claim that slot; return the slot's time.

        Raises ``OSError`` when the lock file cannot be opened (``Geocoder`` then reports
        an error and sends nothing).
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            now = self._clock()
            last = self._read(fd)
            slot = now if last is None else max(now, min(last, now) + self.min_interval)
            while (delay := slot - self._clock()) > 0:
                self._sleep(delay)
            os.ftruncate(fd, 0)
            os.pwrite(fd, repr(slot).encode(), 0)
            return slot
        finally:
            os.close(fd)  # also releases the lock

    @staticmethod
    def _read(fd: int) -> float | None:
        """The time of the last request in the lock file (``None``: empty or unreadable)."""
        try:
            last = float(os.pread(fd, 64, 0))
        except ValueError:
            return None
        return last if math.isfinite(last) else None


@dataclass(frozen=True)
class CachedGeocode:
    """A provider's answer, as kept in a ``GeocodeCache`` (``lat`` / ``lng`` ``None`` when not found)."""

    status: Literal["ok", "not_found"]
    lat: float | None = None
    lng: float | None = None
    source: str = ""  # the provider that answered, e.g. "nominatim"


class GeocodeCache(Protocol):
    """Storage of provider answers by normalised address (``normalise_address``)."""

    def get(self, key: str) -> CachedGeocode | None:
        """The stored answer for ``key``, or ``None`` when the address was never answered."""

    def put(self, key: str, answer: CachedGeocode) -> None:
        """Store (or replace) the answer for ``key``."""


class SupportsGeocode(Protocol):
    """What ``Geocoder`` needs of a provider: a geopy geocoder's ``geocode`` (sync adapter)."""

    def geocode(self, query: str, *, exactly_one: bool = True, **kwargs: Any) -> Any:
        """A ``geopy.Location`` (``latitude``, ``longitude``) or ``None``."""


class SupportsWait(Protocol):
    """What ``Geocoder`` needs of a rate limiter."""

    def wait(self) -> float:
        """Block until a request may be sent."""


@dataclass(frozen=True)
class GeocodeResult:
    """The outcome of geocoding one address.

    - ``status``: "ok" (``lat`` / ``lng`` set), "not_found" (no source knows the address),
      "error" (the provider failed and the gazetteer did not know the city either: retry later).
    - ``source``: who gave the answer: the provider's name ("nominatim"), "cache" (an
      earlier provider answer), "offline" (the gazetteer), or "none" (empty address).
    - ``precision``: "address" for provider / cache positions, "city" for the gazetteer.
    - ``error``: the provider failure ("GeocoderTimedOut: ..."), kept even when the
      offline fallback found the city; ``None`` otherwise.
    """

    key: str
    status: Status
    source: str
    lat: float | None = None
    lng: float | None = None
    precision: Literal["address", "city"] | None = None
    error: str | None = None

    @property
    def found(self) -> bool:
        """Whether the result has coordinates."""
        return self.status == "ok"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the fields."""
        return asdict(self)


class Geocoder:
    """Cache → provider (rate limited) → offline gazetteer; see the module docstring.

    ``provider``: a geopy geocoder (``nominatim_provider(...)``) or any object with its
    ``geocode`` method; ``None`` switches the network off (cache and gazetteer only).
    ``cache``: where the provider's answers are kept (the add-on: ``crm.geocode.cache``).
    ``rate_limiter``: defaults to a host-wide ``RateLimiter()`` (one request per second).
    ``gazetteer``: defaults to ``default_gazetteer()``; ``offline_fallback=False`` disables it.
    Addresses in ``known_failures`` (key → error) are not sent to the provider: they get
    the offline fallback and that error, as if they had just failed.
    After ``max_consecutive_errors`` provider failures in a row, or one failure that
    retrying cannot fix (authentication, quota, rate limited, configuration), the provider
    is not called again by this instance: use one ``Geocoder`` per batch. Not thread-safe.
    """

    def __init__(
        self,
        provider: SupportsGeocode | None,
        cache: GeocodeCache,
        rate_limiter: SupportsWait | None = None,
        gazetteer: OfflineGazetteer | None = None,
        *,
        provider_name: str | None = None,
        offline_fallback: bool = True,
        max_consecutive_errors: int = 3,
        known_failures: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.provider_name = provider_name or (type(provider).__name__.lower() if provider is not None else "none")
        self.cache: GeocodeCache = cache
        self.rate_limiter: SupportsWait | None = rate_limiter
        if provider is not None and rate_limiter is None:
            self.rate_limiter = RateLimiter()
        self.gazetteer = gazetteer
        self.offline_fallback = offline_fallback
        self.max_consecutive_errors = max_consecutive_errors
        self.provider_calls = 0
        self._consecutive_errors = 0
        self._stopped_because: str | None = None
        # key -> error: addresses this instance does not send again (its own failures, and
        # ``known_failures``: recent errors remembered by the caller, e.g. across a retried transaction)
        self._failures: dict[str, str] = dict(known_failures or {})

    def geocode(self, address: Address) -> GeocodeResult:
        """Geocode one address; never raises for provider failures."""
        key = address.key
        if not key:
            return GeocodeResult(key, "not_found", "none")
        cached = self.cache.get(key)
        if cached is not None:
            if cached.status == "ok":
                return GeocodeResult(key, "ok", "cache", cached.lat, cached.lng, "address")
            return self._offline(address, GeocodeResult(key, "not_found", "cache"))
        if self.provider is None:
            return self._offline(address, GeocodeResult(key, "not_found", "offline"))
        error = self._failures.get(key) or self._stopped_because
        if error is None:
            try:
                lat_lng = self._ask_provider(address)
            except Exception as exc:  # any provider failure is reported per address, never raised
                error = self._record_failure(key, exc)
            else:
                self._consecutive_errors = 0
                if lat_lng is None:
                    self.cache.put(key, CachedGeocode("not_found", source=self.provider_name))
                    return self._offline(address, GeocodeResult(key, "not_found", self.provider_name))
                self.cache.put(key, CachedGeocode("ok", *lat_lng, source=self.provider_name))
                return GeocodeResult(key, "ok", self.provider_name, *lat_lng, "address")
        return self._offline(address, GeocodeResult(key, "error", self.provider_name, error=error), error)

    def geocode_many(self, addresses: Iterable[Address]) -> list[GeocodeResult]:
        """Geocode a batch, in order; one failure never stops the others."""
        return [self.geocode(address) for address in addresses]

    def _ask_provider(self, address: Address) -> tuple[float, float] | None:
        """The provider's coordinates for the address (``None``: not found); may raise."""
        kwargs: dict[str, Any] = {"exactly_one": True}
        if isinstance(self.provider, Nominatim) and address.country_code:
            kwargs["country_codes"] = address.country_code.lower()
        if self.rate_limiter is not None:
            self.rate_limiter.wait()
        self.provider_calls += 1
        location = self.provider.geocode(address.query, **kwargs)
        if location is None:
            return None
        return validate_coordinates(location.latitude, location.longitude)

    def _record_failure(self, key: str, exc: Exception) -> str:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._failures[key] = error
        self._consecutive_errors += 1
        if isinstance(exc, _FATAL_ERRORS) or self._consecutive_errors >= self.max_consecutive_errors:
            self._stopped_because = f"{self.provider_name} skipped for the rest of the batch after {error}"
        _logger.warning("Geocoding with %s failed: %s", self.provider_name, error)
        return error

    def _offline(self, address: Address, otherwise: GeocodeResult, error: str | None = None) -> GeocodeResult:
        """The gazetteer's city position, or ``otherwise`` when it does not know the city."""
        if self.offline_fallback and address.city:
            gazetteer = self.gazetteer if self.gazetteer is not None else default_gazetteer()
            point = gazetteer.lookup(address.city, address.country_code or address.country, address.zip, address.state)
            if point is not None:
                return GeocodeResult(otherwise.key, "ok", "offline", *point, "city", error)
        return otherwise


def nominatim_provider(
    user_agent: str, *, timeout: float = 10.0, domain: str = "nominatim.openstreetmap.org", scheme: str = "https"
) -> Nominatim:
    """A geopy ``Nominatim`` geocoder (no request is made here).

    Nominatim's policy requires a ``user_agent`` identifying the application (e.g.
    "crm_opportunity_management/18.0 (admin@example.com)"); geopy's default or sample
    agents are refused with ``ValueError`` (``geopy.exc.ConfigurationError``).
    """
    if not user_agent or not user_agent.strip():
        raise ValueError("Nominatim needs a user agent that identifies the application.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}.")
    return Nominatim(user_agent=user_agent.strip(), timeout=timeout, domain=domain, scheme=scheme)
