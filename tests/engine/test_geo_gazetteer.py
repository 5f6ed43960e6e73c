import threading
import time

import pytest

from engine.geo import GEONAMES_ATTRIBUTION, OfflineGazetteer, default_gazetteer, normalise_name

from geo_oracles import haversine_km

# Known city centres (degrees).
ZAGREB = (45.8150, 15.9819)
SPLIT = (43.5081, 16.4402)
BUCHAREST = (44.4268, 26.1025)
CLUJ = (46.7712, 23.6236)
MILAN = (45.4642, 9.1900)
ZAGREB_CYRILLIC = "\u0417\u0430\u0433\u0440\u0435\u0431"  # as written in Serbian or Russian


@pytest.fixture(scope="module")
def gazetteer():
    """The real GeoNames gazetteer, shared by the process (its index is built once)."""
    return default_gazetteer()


def _city(name, lat, lng, country, population, alternates=(), admin1=""):
    return {
        "name": name,
        "alternatenames": list(alternates),
        "latitude": lat,
        "longitude": lng,
        "countrycode": country,
        "population": population,
        "admin1code": admin1,
    }


@pytest.mark.parametrize(
    ("city", "country", "expected"),
    [
        ("Zagreb", "HR", ZAGREB),
        ("zagreb", None, ZAGREB),
        ("  ZAGREB ", "hr", ZAGREB),
        ("Zagreb", "HRV", ZAGREB),
        ("Zagreb", "Croatia", ZAGREB),
        ("10000 Zagreb", "HR", ZAGREB),
        ("Zagreb - Trešnjevka", "HR", ZAGREB),
        ("Split", "HR", SPLIT),
        ("split", None, SPLIT),
        ("Bucharest", "RO", BUCHAREST),
        ("București", None, BUCHAREST),
        ("Bucureşti", "RO", BUCHAREST),  # s with cedilla, as often typed
        ("BUCURESTI", "ro", BUCHAREST),
        ("Bukarest", None, BUCHAREST),
        ("Cluj-Napoca", "RO", CLUJ),
        ("cluj napoca", None, CLUJ),
        ("CLUJ-NAPOCA", "Romania", CLUJ),
        ("Cluj", "RO", CLUJ),
        ("Milan", "IT", MILAN),
        ("Milano", None, MILAN),
        ("milano", "IT", MILAN),
        ("Mailand", None, MILAN),
    ],
)
def test_known_cities(gazetteer, city, country, expected):
    found = gazetteer.lookup(city, country)
    assert found is not None
    assert haversine_km(*found, *expected) < 5


def test_unknown_or_empty_city(gazetteer):
    assert gazetteer.lookup("Nowhereville-on-Sea") is None
    assert gazetteer.lookup("Qwxzt", "HR") is None
    assert gazetteer.lookup("") is None
    assert gazetteer.lookup("   ") is None
    assert gazetteer.lookup(None) is None


def test_country_restricts_the_search(gazetteer):
    assert gazetteer.lookup("Split", "FR") is None  # no Split in France: no marker in Croatia either
    assert gazetteer.lookup("Zagreb", "XX") is None  # an unknown country matches nothing
    paris_fr = gazetteer.match("Paris")
    paris_us = gazetteer.match("Paris", "US")
    assert paris_fr.country_code == "FR"  # the most populous Paris
    assert paris_us.country_code == "US" and paris_us.population < paris_fr.population
    assert gazetteer.match("London").country_code == "GB"
    assert gazetteer.match("London", "CA").country_code == "CA"


def test_state_breaks_ties(gazetteer):
    assert gazetteer.match("Springfield", "US", state="Illinois").admin1_code == "IL"
    assert gazetteer.match("Springfield", "US", state="MA").admin1_code == "MA"
    assert gazetteer.match("Zagreb", "HR", state="Unknown county").name == "Zagreb"


def test_match_details(gazetteer):
    found = gazetteer.match("bucuresti", "ro", zip="010011")
    assert found.name == "Bucharest" and found.country_code == "RO" and found.population > 1_000_000
    assert len(gazetteer) > 30000
    assert gazetteer.build_seconds is not None and gazetteer.build_seconds < 10


def test_lookups_are_fast(gazetteer):
    gazetteer.build()
    start = time.perf_counter()
    for _ in range(2000):
        gazetteer.lookup("Cluj-Napoca", "RO")
        gazetteer.lookup("Milano")
        gazetteer.lookup("Nowhereville")
    assert time.perf_counter() - start < 1.0  # ~0.03 s in practice


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Cluj-Napoca", "cluj napoca"),
        ("  CLUJ   NAPOCA ", "cluj napoca"),
        ("București", "bucuresti"),
        ("Bucureşti", "bucuresti"),
        ("Đakovo", "dakovo"),
        ("Łódź", "lodz"),
        ("Straße", "strasse"),
        ("L'Aquila", "l aquila"),
        ("Zürich", "zurich"),
    ],
)
def test_normalise_name(text, expected):
    assert normalise_name(text) == expected


def test_ranking_on_a_small_data_set():
    cities = [
        _city("Big Alternate", 1.0, 1.0, "AA", 900_000, alternates=["Sameton"]),
        _city("Sameton", 2.0, 2.0, "BB", 20_000),
        _city("Twin", 3.0, 3.0, "AA", 50_000, admin1="01"),
        _city("Twin", 4.0, 4.0, "BB", 80_000, admin1="02"),
        _city("Zagreb", 45.8, 15.9, "HR", 660_000, alternates=["ZAG", ZAGREB_CYRILLIC, "Agram"]),
    ]
    gazetteer = OfflineGazetteer(cities=cities)
    assert gazetteer.lookup("Sameton") == (2.0, 2.0)  # an exact name beats an alternate name
    assert gazetteer.lookup("Twin") == (4.0, 4.0)  # then the most populous
    assert gazetteer.lookup("Twin", state="01") == (3.0, 3.0)  # unless the state matches
    assert gazetteer.lookup("agram") == (45.8, 15.9)
    assert gazetteer.lookup(ZAGREB_CYRILLIC) == (45.8, 15.9)
    assert gazetteer.lookup("ZAG") is None  # airport codes are not names
    latin_only = OfflineGazetteer(all_scripts=False, cities=cities)
    assert latin_only.lookup(ZAGREB_CYRILLIC) is None and latin_only.lookup("Agram") == (45.8, 15.9)


def test_index_is_built_lazily_and_once():
    built = []

    class Counting(OfflineGazetteer):
        def _build(self, records):
            built.append(1)
            time.sleep(0.05)  # let the other threads arrive while building
            return super()._build(records)

    gazetteer = Counting(cities=[_city("Split", 43.5, 16.4, "HR", 150_000)])
    assert gazetteer.build_seconds is None and not built
    results = []
    threads = [threading.Thread(target=lambda: results.append(gazetteer.lookup("split"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [(43.5, 16.4)] * 8
    assert built == [1] and gazetteer.build_seconds > 0


def test_invalid_population_threshold():
    with pytest.raises(ValueError, match="min_population"):
        OfflineGazetteer(min_population=100)


def test_attribution_names_geonames_and_the_licence():
    assert "GeoNames" in GEONAMES_ATTRIBUTION and "CC BY 4.0" in GEONAMES_ATTRIBUTION
