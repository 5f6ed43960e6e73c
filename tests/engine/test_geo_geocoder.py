import itertools
import json
import multiprocessing
import os
import threading
import time
import unicodedata

import pytest
from geopy import exc as geopy_exc
from geopy.geocoders import Nominatim

from engine.geo import (
    DEFAULT_LOCK_PATH,
    Address,
    CachedGeocode,
    Geocoder,
    OfflineGazetteer,
    RateLimiter,
    format_query,
    nominatim_provider,
    normalise_address,
)

ILICA = Address("Ilica 1", "10000", "Zagreb", None, "Croatia", "HR")
RIVA = Address("Obala Hrvatskog narodnog preporoda 1", "21000", "Split", None, "Croatia", "HR")
VILLAGE = Address("Glavna 1", "49000", "Malo Selo", None, "Croatia", "HR")  # unknown to the gazetteer


class FakeProvider:
    """A geopy-like geocoder answering from a dict: (lat, lng), None (not found) or an exception."""

    def __init__(self, answers=None, default=None):
        self.answers = answers or {}
        self.default = default
        self.calls = []

    def geocode(self, query, *, exactly_one=True, **kwargs):
        self.calls.append((query, kwargs))
        answer = self.answers.get(query, self.default)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            return None
        return type("Location", (), {"latitude": answer[0], "longitude": answer[1]})()


class InMemoryGeocodeCache:
    """A ``GeocodeCache`` in a dict; the add-on keeps the answers in the database."""

    def __init__(self):
        self.answers = {}

    def get(self, key):
        return self.answers.get(key)

    def put(self, key, answer):
        self.answers[key] = answer


class CountingLimiter:
    def __init__(self):
        self.waits = 0

    def wait(self):
        self.waits += 1
        return 0.0


class FakeClock:
    """A wall clock that only moves when slept on (or moved by the test)."""

    def __init__(self, now=1_000_000.0):
        self.now = now
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def gazetteer():
    return OfflineGazetteer(
        cities=[
            {
                "name": "Zagreb",
                "alternatenames": [],
                "latitude": 45.81,
                "longitude": 15.98,
                "countrycode": "HR",
                "population": 660_000,
                "admin1code": "21",
            },
            {
                "name": "Split",
                "alternatenames": ["Spalato"],
                "latitude": 43.51,
                "longitude": 16.44,
                "countrycode": "HR",
                "population": 150_000,
                "admin1code": "15",
            },
        ]
    )


def make_geocoder(provider, gazetteer, cache=None, **kwargs):
    return Geocoder(provider, cache or InMemoryGeocodeCache(), CountingLimiter(), gazetteer, **kwargs)


# Address normalisation --------------------------------------------------------------------


def test_normalise_address():
    assert normalise_address("  Ilica   1 ", "10000", "ZAGREB", None, "Croatia") == "ilica 1|10000|zagreb||croatia"
    assert normalise_address("Ilica 1", False, "Zagreb", False, False) == "ilica 1||zagreb||"
    assert normalise_address("Ilica\t1\n", " 10000", "zagreb ", "", "CROATIA") == normalise_address(
        "ilica 1", "10000", "Zagreb", None, "Croatia"
    )
    assert normalise_address() == "" and normalise_address(" ", False, None, "", "  ") == ""
    decomposed = unicodedata.normalize("NFD", "Trešnjevka")
    assert normalise_address(city=decomposed) == normalise_address(city="TREŠNJEVKA")
    assert normalise_address(street="Split") != normalise_address(city="Split")  # parts keep their place
    assert normalise_address(street="a|b") == "a b||||"


def test_format_query_and_address():
    assert format_query("Ilica 1", "10000", "Zagreb", None, "Croatia") == "Ilica 1, 10000 Zagreb, Croatia"
    assert format_query(False, False, "Split", "Splitsko-dalmatinska", False) == "Split, Splitsko-dalmatinska"
    assert ILICA.query == "Ilica 1, 10000 Zagreb, Croatia"
    assert ILICA.key == "ilica 1|10000|zagreb||croatia"
    assert Address(city="Zagreb", country_code="HR").key == "||zagreb||hr"


# Rate limiter ----------------------------------------------------------------------------


def test_rate_limiter_spaces_requests_with_a_fake_clock(tmp_path):
    clock = FakeClock()
    path = tmp_path / "geocoding.lock"
    first = RateLimiter(1.0, path, clock=clock, sleep=clock.sleep)
    second = RateLimiter(1.0, path, clock=clock, sleep=clock.sleep)  # another process, same file
    assert first.wait() == 1_000_000.0 and clock.sleeps == []
    assert second.wait() == 1_000_001.0 and clock.sleeps == [1.0]
    clock.now += 0.3
    first.wait()
    assert clock.sleeps == [1.0, 0.7]
    clock.now += 5
    second.wait()
    assert clock.sleeps == [1.0, 0.7]
    clock.now -= 100  # the wall clock jumps back: wait one interval, not 100 s
    first.wait()
    assert clock.sleeps == [1.0, 0.7, 1.0]


def test_rate_limiter_ignores_an_unreadable_file(tmp_path):
    clock = FakeClock()
    path = tmp_path / "geocoding.lock"
    path.write_text("not a time")
    RateLimiter(1.0, path, clock=clock, sleep=clock.sleep).wait()
    assert clock.sleeps == [] and float(path.read_text()) == clock.now


def test_rate_limiter_rejects_bad_intervals():
    for interval in (-1, "1", None, True, float("nan")):
        with pytest.raises(ValueError, match="min_interval"):
            RateLimiter(interval)
    assert RateLimiter().path == DEFAULT_LOCK_PATH and RateLimiter().min_interval == 1.0


def _claim_slots(path, interval, count, queue):
    limiter = RateLimiter(interval, path)
    for _ in range(count):
        slot = limiter.wait()
        queue.put((slot, time.time()))


def test_rate_limiter_across_processes(tmp_path):
    interval, per_process = 0.2, 3
    path = str(tmp_path / "geocoding.lock")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start = time.time()
    workers = [context.Process(target=_claim_slots, args=(path, interval, per_process, queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    claims = sorted(queue.get(timeout=10) for _ in range(2 * per_process))
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    slots = [slot for slot, _ in claims]
    assert all(later - earlier >= interval - 1e-6 for earlier, later in itertools.pairwise(slots)), slots
    assert all(returned >= slot for slot, returned in claims)  # nobody is let through before its slot
    assert time.time() - start >= (2 * per_process - 1) * interval


def test_rate_limiter_across_threads(tmp_path):
    interval = 0.2
    path = tmp_path / "geocoding.lock"
    slots = []
    limiters = [RateLimiter(interval, path), RateLimiter(interval, path)]
    threads = [threading.Thread(target=lambda lim=lim: slots.extend(lim.wait() for _ in range(2))) for lim in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slots.sort()
    assert len(slots) == 4
    assert all(later - earlier >= interval - 1e-6 for earlier, later in itertools.pairwise(slots)), slots


# Geocoder: cache ------------------------------------------------------------------------------


def test_same_normalised_address_is_never_sent_twice(gazetteer):
    provider = FakeProvider({ILICA.query: (45.8131, 15.9772)})
    geocoder = make_geocoder(provider, gazetteer)
    first = geocoder.geocode(ILICA)
    assert (first.status, first.source, first.lat, first.lng, first.precision) == (
        "ok",
        "fakeprovider",
        45.8131,
        15.9772,
        "address",
    )
    same = Address("ILICA  1", " 10000 ", "zagreb", False, "CROATIA", "HR")
    second = geocoder.geocode(same)
    assert (second.status, second.source, second.lat, second.lng) == ("ok", "cache", 45.8131, 15.9772)
    # a new batch with the same (database) cache does not ask either
    again = make_geocoder(provider, gazetteer, cache=geocoder.cache).geocode(ILICA)
    assert again.source == "cache"
    assert len(provider.calls) == 1 and geocoder.provider_calls == 1
    assert geocoder.rate_limiter.waits == 1  # cache hits do not wait


def test_not_found_is_cached_and_falls_back_offline(gazetteer):
    provider = FakeProvider(default=None)
    geocoder = make_geocoder(provider, gazetteer)
    first = geocoder.geocode(RIVA)
    assert (first.status, first.source, first.precision, first.error) == ("ok", "offline", "city", None)
    assert (first.lat, first.lng) == (43.51, 16.44)
    assert geocoder.cache.get(RIVA.key) == CachedGeocode("not_found", source="fakeprovider")
    second = geocoder.geocode(RIVA)
    assert second == first and len(provider.calls) == 1
    unknown = geocoder.geocode(VILLAGE)
    assert (unknown.status, unknown.source, unknown.lat) == ("not_found", "fakeprovider", None)
    assert geocoder.geocode(VILLAGE).source == "cache" and len(provider.calls) == 2


# Geocoder: provider failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [geopy_exc.GeocoderTimedOut("Service timed out"), geopy_exc.GeocoderUnavailable("Service not available")],
)
def test_provider_failure_falls_back_offline(gazetteer, error):
    provider = FakeProvider(default=error)
    geocoder = make_geocoder(provider, gazetteer)
    result = geocoder.geocode(ILICA)
    assert (result.status, result.source, result.precision) == ("ok", "offline", "city")
    assert (result.lat, result.lng) == (45.81, 15.98)
    assert result.error == f"{type(error).__name__}: {error}"
    assert geocoder.cache.get(ILICA.key) is None  # transient: not cached
    assert geocoder.geocode(ILICA).error == result.error and len(provider.calls) == 1  # not retried in the batch
    provider.default = (45.8131, 15.9772)
    retry = make_geocoder(provider, gazetteer, cache=geocoder.cache).geocode(ILICA)  # a later batch retries
    assert (retry.status, retry.source, retry.error) == ("ok", "fakeprovider", None) and len(provider.calls) == 2


def test_provider_failure_on_an_unknown_city_is_an_error(gazetteer):
    result = make_geocoder(FakeProvider(default=geopy_exc.GeocoderUnavailable("down")), gazetteer).geocode(VILLAGE)
    assert (result.status, result.source, result.lat, result.lng) == ("error", "fakeprovider", None, None)
    assert result.error == "GeocoderUnavailable: down"
    json.dumps(result.as_dict())


def test_any_exception_is_reported_not_raised(gazetteer):
    provider = FakeProvider({ILICA.query: RuntimeError("boom"), RIVA.query: (95.0, 16.0)})
    geocoder = make_geocoder(provider, gazetteer)
    assert geocoder.geocode(ILICA).error == "RuntimeError: boom"
    invalid = geocoder.geocode(RIVA)  # a provider answer outside ±90 is an error, not a position
    assert invalid.source == "offline" and invalid.error.startswith("ValueError: Latitude must be between")
    assert geocoder.cache.get(RIVA.key) is None


def test_provider_that_keeps_failing_is_no_longer_called(gazetteer):
    provider = FakeProvider(default=geopy_exc.GeocoderTimedOut("timed out"))
    geocoder = make_geocoder(provider, gazetteer, max_consecutive_errors=3)
    addresses = [Address(f"Street {number}", None, "Zagreb", None, "Croatia", "HR") for number in range(6)]
    results = geocoder.geocode_many(addresses)
    assert len(provider.calls) == 3
    assert all(result.status == "ok" and result.source == "offline" for result in results)
    assert "skipped for the rest of the batch" in results[5].error


def test_a_success_resets_the_failure_count(gazetteer):
    provider = FakeProvider({"Street 1, Zagreb, Croatia": (45.8, 15.9)}, default=geopy_exc.GeocoderTimedOut())
    geocoder = make_geocoder(provider, gazetteer, max_consecutive_errors=2)
    streets = ["Street 0", "Street 1", "Street 2", "Street 3", "Street 4"]
    geocoder.geocode_many(Address(street, None, "Zagreb", None, "Croatia") for street in streets)
    assert len(provider.calls) == 4  # 0 fails, 1 succeeds, 2 and 3 fail, 4 is skipped


def test_refused_access_stops_the_provider_at_once(gazetteer):
    provider = FakeProvider(default=geopy_exc.GeocoderInsufficientPrivileges("HTTP Error 403: Forbidden"))
    geocoder = make_geocoder(provider, gazetteer)
    results = geocoder.geocode_many([ILICA, RIVA, VILLAGE])
    assert len(provider.calls) == 1
    assert [result.status for result in results] == ["ok", "ok", "error"]
    assert "GeocoderInsufficientPrivileges" in results[2].error


def test_unusable_lock_file_sends_nothing(gazetteer, tmp_path):
    provider = FakeProvider(default=(45.0, 16.0))
    limiter = RateLimiter(1.0, tmp_path / "missing-dir" / "geocoding.lock")
    result = Geocoder(provider, InMemoryGeocodeCache(), limiter, gazetteer).geocode(ILICA)
    assert provider.calls == []
    assert (result.status, result.source) == ("ok", "offline") and result.error.startswith("FileNotFoundError")


# Geocoder: offline mode ------------------------------------------------------------------------------


def test_provider_switched_off(gazetteer):
    geocoder = Geocoder(None, InMemoryGeocodeCache(), gazetteer=gazetteer)
    assert geocoder.rate_limiter is None
    assert geocoder.geocode(Address(city="Spalato")).source == "offline"
    result = geocoder.geocode(ILICA)
    assert (result.status, result.source, result.lat, result.error) == ("ok", "offline", 45.81, None)
    assert geocoder.geocode(VILLAGE).status == "not_found"
    assert geocoder.cache.get(ILICA.key) is None  # offline positions are not cached
    geocoder.cache.put(VILLAGE.key, CachedGeocode("ok", 45.3, 18.4, "nominatim"))  # an earlier provider answer
    assert geocoder.geocode(VILLAGE).source == "cache"


def test_without_offline_fallback(gazetteer):
    geocoder = make_geocoder(FakeProvider(default=geopy_exc.GeocoderTimedOut()), gazetteer, offline_fallback=False)
    result = geocoder.geocode(ILICA)
    assert (result.status, result.lat, result.error) == ("error", None, "GeocoderTimedOut")


def test_empty_address_is_not_sent(gazetteer):
    provider = FakeProvider(default=(1.0, 1.0))
    result = make_geocoder(provider, gazetteer).geocode(Address(street=" ", city=False))
    assert (result.status, result.source) == ("not_found", "none") and provider.calls == []


# Nominatim -------------------------------------------------------------------------------------


def test_nominatim_provider_is_configured_without_a_request():
    provider = nominatim_provider("crm_opportunity_management/18.0 (test@example.com)", timeout=5)
    assert isinstance(provider, Nominatim)
    assert provider.headers["User-Agent"] == "crm_opportunity_management/18.0 (test@example.com)"
    assert provider.timeout == 5
    geocoder = Geocoder(provider, InMemoryGeocodeCache())
    assert geocoder.provider_name == "nominatim"
    assert isinstance(geocoder.rate_limiter, RateLimiter) and geocoder.rate_limiter.path == DEFAULT_LOCK_PATH


@pytest.mark.parametrize(("user_agent", "timeout"), [("", 10), ("  ", 10), ("geopy/2.5.0", 10), ("app", 0)])
def test_nominatim_provider_rejects_bad_settings(user_agent, timeout):
    with pytest.raises(ValueError):
        nominatim_provider(user_agent, timeout=timeout)


def test_nominatim_gets_the_country_filter(gazetteer):
    class OfflineNominatim(Nominatim):
        calls = []

        def geocode(self, query, **kwargs):
            self.calls.append((query, kwargs))

    provider = OfflineNominatim(user_agent="crm_opportunity_management tests")
    geocoder = make_geocoder(provider, gazetteer, provider_name="nominatim")
    geocoder.geocode(ILICA)
    assert provider.calls == [("Ilica 1, 10000 Zagreb, Croatia", {"exactly_one": True, "country_codes": "hr"})]
    assert geocoder.cache.get(ILICA.key).source == "nominatim"
    assert os.path.basename(DEFAULT_LOCK_PATH) == "crm_opportunity_management-geocoding.lock"


def test_known_failures_are_not_sent_again(gazetteer):
    """A recent error remembered by the caller (e.g. before a retried transaction) is not asked again."""
    provider = FakeProvider(default=(45.8131, 15.9772))
    geocoder = make_geocoder(provider, gazetteer, known_failures={ILICA.key: "GeocoderTimedOut: earlier"})
    result = geocoder.geocode(ILICA)
    assert (result.status, result.source, result.error) == ("ok", "offline", "GeocoderTimedOut: earlier")
    assert provider.calls == []
    assert geocoder.geocode(RIVA).source == "fakeprovider" and len(provider.calls) == 1
