import logging
import os

from odoo import _, api, models, release
from odoo.tools import config

from ..engine.geo import Address, Geocoder, RateLimiter, default_gazetteer, nominatim_provider
from .crm_geocode_cache import DatabaseGeocodeCache

_logger = logging.getLogger(__name__)

PARAM = "crm_opportunity_management.%s"
NOMINATIM = "crm_nominatim"
OFFLINE = "crm_offline"
PUBLIC_NOMINATIM_DOMAIN = "nominatim.openstreetmap.org"
PUBLIC_NOMINATIM_INTERVAL = 1.0  # seconds between two requests from the whole host
DEFAULT_NOMINATIM_URL = f"https://{PUBLIC_NOMINATIM_DOMAIN}"
DEFAULT_TIMEOUT = 10.0


class _Location:
    """A position as geopy returns it (what ``Geocoder`` reads of a provider's answer)."""

    def __init__(self, latitude, longitude):
        self.latitude, self.longitude = latitude, longitude


class _OdooProvider:
    """One of ``base_geolocalize``'s own providers (``_call_<tech_name>``) seen as a geopy
    geocoder, so that it gets the cache, the rate limit and the offline fallback too."""

    def __init__(self, geocoder_model, tech_name):
        self._call = getattr(geocoder_model, f"_call_{tech_name}")

    def geocode(self, query, *, exactly_one=True, **kwargs):
        try:
            position = self._call(query)
        except (IndexError, KeyError):  # Odoo's openstreetmap call on an empty answer
            return None
        return _Location(*position) if position else None


class BaseGeocoder(models.AbstractModel):
    """Two providers for ``base_geolocalize``'s setting: public Nominatim through geopy
    (host-wide rate limit, identifying user agent, timeout, persistent cache, offline
    fallback) and the offline gazetteer alone; contacts are geocoded through
    ``_crm_geocode`` whatever the provider."""

    _inherit = "base.geocoder"

    @api.model
    def _call_crm_nominatim(self, addr, **kw):
        """Free-text query (other modules' ``geo_find``): cached, rate limited."""
        return self._crm_geocode_query(addr)

    @api.model
    def _call_crm_offline(self, addr, **kw):
        """Free-text query: the city-level gazetteer only ("street, zip city, state, country")."""
        return self._crm_geocode_query(addr)

    @api.model
    def _crm_geocode_query(self, addr):
        """``(lat, lng)`` of a free-text address, or ``None``: the provider (through the
        cache), then the gazetteer on the parts of "street, zip city, state, country"."""
        if not addr:
            return None
        result = self._crm_geocode([Address(street=addr)])[0]
        if result.found:
            return result.lat, result.lng
        if self._get_provider().tech_name != OFFLINE and not self._crm_offline_fallback():
            return None
        parts = [part.strip() for part in addr.split(",") if part.strip()]
        country = parts[-1] if len(parts) > 1 else None
        gazetteer = default_gazetteer()
        for part in reversed(parts[:-1] or parts):
            city = " ".join(word for word in part.split() if not any(char.isdigit() for char in word))
            if city and (position := gazetteer.lookup(city, country)):
                return position
        return None

    @api.model
    def _crm_geocode(self, addresses):
        """Geocode engine ``Address``es in one batch: a ``GeocodeResult`` each, in order.
        Never raises for provider failures (see ``engine.geo_geocoder``)."""
        addresses = list(addresses)
        cache = DatabaseGeocodeCache(self.env, [address.key for address in addresses if address.key])
        geocoder = self._crm_geocoder(cache)
        results = []
        for address in addresses:
            result = geocoder.geocode(address)
            if result.error and address.key not in cache.recent_errors:
                cache.put_error(address.key, geocoder.provider_name, result.error)
            results.append(result)
        return results

    @api.model
    def _crm_geocoder(self, cache):
        """The engine ``Geocoder`` of the provider chosen in the settings."""
        tech_name = self._get_provider().tech_name or OFFLINE
        offline = self._crm_offline_fallback()
        gazetteer = default_gazetteer() if offline else None
        if tech_name == OFFLINE:
            return Geocoder(None, cache, None, gazetteer, provider_name=OFFLINE, offline_fallback=True,
                            known_failures=cache.recent_errors)
        if tech_name == NOMINATIM:
            provider = self._crm_nominatim()
            public = provider.domain == PUBLIC_NOMINATIM_DOMAIN
        elif hasattr(self, f"_call_{tech_name}"):
            provider = _OdooProvider(self, tech_name)
            public = tech_name == "openstreetmap"  # base_geolocalize's calls to public Nominatim
        else:
            provider, public = None, False
        # public Nominatim's usage policy: one request per second; own servers set their own rules
        interval = PUBLIC_NOMINATIM_INTERVAL if public else 0.0
        return Geocoder(
            provider, cache, RateLimiter(interval, self._crm_rate_limit_lock_path()), gazetteer,
            provider_name=tech_name, offline_fallback=offline, known_failures=cache.recent_errors,
        )

    @api.model
    def _crm_offline_fallback(self):
        """Whether contacts the provider cannot place go to their city (on unless switched off)."""
        value = self.env["ir.config_parameter"].sudo().get_param(PARAM % "geocoder_offline_fallback", "True")
        return value not in ("False", "0", "")

    @api.model
    def _crm_nominatim(self):
        params = self.env["ir.config_parameter"].sudo()
        url = params.get_param(PARAM % "geocoder_url", DEFAULT_NOMINATIM_URL) or DEFAULT_NOMINATIM_URL
        scheme, _sep, domain = url.rstrip("/").rpartition("://")
        try:
            timeout = float(params.get_param(PARAM % "geocoder_timeout", DEFAULT_TIMEOUT))
        except ValueError:
            timeout = DEFAULT_TIMEOUT
        return nominatim_provider(
            self._crm_user_agent(), timeout=timeout if timeout > 0 else DEFAULT_TIMEOUT,
            domain=domain, scheme=scheme or "https",
        )

    @api.model
    def _crm_user_agent(self):
        """Nominatim asks for an agent identifying the application and how to reach its owner."""
        params = self.env["ir.config_parameter"].sudo()
        contact = params.get_param(PARAM % "geocoder_contact") or self.env.company.email or ""
        base_url = params.get_param("web.base.url", "")
        reach = "; ".join(part for part in (base_url, contact) if part)
        return f"Odoo/{release.major_version} crm_opportunity_management" + (f" ({reach})" if reach else "")

    @api.model
    def _crm_rate_limit_lock_path(self):
        """One lock file for every Odoo process of the host (all databases share its address)."""
        directory = config["data_dir"]
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError:
            _logger.warning("Cannot create %s for the geocoding rate limit lock", directory)
        return os.path.join(directory, "crm_opportunity_management-geocoding.lock")

    @api.model
    def _crm_set_default_provider(self):
        """At install: public Nominatim through this module, unless a provider was chosen."""
        params = self.env["ir.config_parameter"].sudo()
        if not params.get_param("base_geolocalize.geo_provider"):
            provider = self.env.ref("crm_opportunity_management.geo_provider_crm_nominatim")
            params.set_param("base_geolocalize.geo_provider", provider.id)

    @api.model
    def _crm_status_message(self, result):
        """The text kept on a contact for a result that is not a precise position."""
        if result.status == "not_found":
            if result.source == "none":
                return _("The contact has no address to geocode.")
            return _("No position found for this address.")
        if result.status == "error":
            return _("The geocoding provider failed: %s", result.error)
        if result.error:
            return _("The geocoding provider failed (%s): city-level position from the offline gazetteer.",
                     result.error)
        return False
