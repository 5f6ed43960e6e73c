import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, tagged

from ..engine.geo import Address
from ..models.base_geocoder import PUBLIC_NOMINATIM_INTERVAL

PARAM = "crm_opportunity_management.%s"
ILICA = "Ilica 1, 10000 Zagreb, Croatia"


class FakeNominatim(ThreadingHTTPServer):
    """A Nominatim-compatible server on localhost (there is no network here): answers
    ``/search?q=...`` from ``answers`` (a position, or nothing), and records the requests."""

    def __init__(self, answers):
        self.answers, self.requests, self.slow = answers, [], {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = parse_qs(urlparse(self.path).query).get("q", [""])[0]
                server.requests.append((query, self.headers.get("User-Agent")))
                if query in server.slow:
                    time.sleep(server.slow[query])
                answer = server.answers.get(query)
                body = json.dumps(
                    [{"lat": str(answer[0]), "lon": str(answer[1]), "display_name": query}] if answer else []
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def queries(self):
        return [query for query, _agent in self.requests]


class GeocodingCase(TransactionCase):
    """Geocoding through this module's providers. ``crm.geocode.cache`` rows are committed
    by a cursor of their own: the test runs in test mode so they stay in its transaction."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FakeNominatim({ILICA: (45.8131, 15.9772)})
        cls.addClassCleanup(cls.server.server_close)
        cls.addClassCleanup(cls.server.shutdown)
        cls.croatia = cls.env.ref("base.hr")
        cls.params = cls.env["ir.config_parameter"].sudo()

    def use_provider(self, tech_name, url=None):
        provider = self.env["base.geo_provider"].search([("tech_name", "=", tech_name)])
        self.params.set_param("base_geolocalize.geo_provider", provider.id)
        if url:
            self.params.set_param(PARAM % "geocoder_url", url)

    def setUp(self):
        super().setUp()
        # settings are written per test (rolled back with it), never locked by the class
        self.use_provider("crm_nominatim", self.server.url)
        self.registry.enter_test_mode(self.cr)
        self.addCleanup(self.registry.leave_test_mode)
        self.server.requests.clear()

    def contact(self, name, street="Ilica 1", zip="10000", city="Zagreb", **values):
        return self.env["res.partner"].create({
            "name": name, "street": street, "zip": zip, "city": city, "country_id": self.croatia.id, **values,
        })


@tagged("post_install", "-at_install")
class TestGeocoding(GeocodingCase):

    def test_default_provider_is_this_modules_nominatim(self):
        provider = self.env.ref("crm_opportunity_management.geo_provider_crm_nominatim")
        self.assertEqual(provider.tech_name, "crm_nominatim")
        self.params.set_param("base_geolocalize.geo_provider", False)
        self.env["base.geocoder"]._crm_set_default_provider()
        self.assertEqual(self.env["base.geocoder"]._get_provider(), provider)

    def test_batch_with_provider_cache_and_offline_fallback(self):
        located = self.contact("Located")
        same_address = self.contact("Same Address")
        unknown_street = self.contact("Unknown Street", street="Nepostojeća 99", zip="21000", city="Split")
        unknown_city = self.contact("Unknown City", street="Glavna 1", zip="49999", city="Malo Selo Neznano")
        results = (located | same_address | unknown_street | unknown_city)._geocode()
        # one request per distinct address, the identifying user agent on each
        self.assertEqual(sorted(self.server.queries()), sorted([
            ILICA, "Nepostojeća 99, 21000 Split, Croatia", "Glavna 1, 49999 Malo Selo Neznano, Croatia",
        ]))
        self.assertTrue(all("crm_opportunity_management" in agent for _query, agent in self.server.requests))
        self.assertRecordValues(located | same_address, [
            {"geocode_status": "ok", "geocode_source": "provider", "partner_latitude": 45.8131,
             "partner_longitude": 15.9772, "geocode_error": False},
            {"geocode_status": "ok", "geocode_source": "cache", "partner_latitude": 45.8131,
             "partner_longitude": 15.9772, "geocode_error": False},
        ])
        # Nominatim does not know the street: the offline gazetteer places the contact in Split
        self.assertEqual((unknown_street.geocode_status, unknown_street.geocode_source), ("ok", "offline"))
        self.assertAlmostEqual(unknown_street.partner_latitude, 43.51, delta=0.05)
        self.assertAlmostEqual(unknown_street.partner_longitude, 16.44, delta=0.05)
        self.assertEqual(unknown_city.geocode_status, "not_found")
        self.assertEqual(unknown_city.geocode_error, "No position found for this address.")
        self.assertFalse(unknown_city.partner_latitude)
        self.assertTrue(all(partner.geocode_date for partner in results))
        # a later batch asks nothing again: found and not-found answers are cached
        self.server.requests.clear()
        (located | unknown_street | unknown_city)._geocode()
        self.assertEqual(self.server.requests, [])
        self.assertEqual(located.geocode_source, "cache")

    def test_provider_failing_marks_the_error_and_falls_back(self):
        self.params.set_param(PARAM % "geocoder_url", "http://127.0.0.1:9")  # nothing listens there
        in_zagreb = self.contact("Failing Zagreb", street="Vlaška 5")
        nowhere = self.contact("Failing Nowhere", street="Glavna 2", city="Malo Selo Neznano")
        action = (in_zagreb | nowhere).action_geocode()
        self.assertEqual(action["params"]["type"], "warning")
        self.assertIn("1 of 2 contacts located", action["params"]["message"])
        self.assertEqual((in_zagreb.geocode_status, in_zagreb.geocode_source), ("ok", "offline"))
        self.assertIn("city-level position", in_zagreb.geocode_error)
        self.assertAlmostEqual(in_zagreb.partner_latitude, 45.81, delta=0.05)
        self.assertEqual(nowhere.geocode_status, "error")
        self.assertIn("The geocoding provider failed", nowhere.geocode_error)
        self.assertFalse(nowhere.partner_latitude)
        # the errors are remembered an hour: a retried batch does not ask again
        self.params.set_param(PARAM % "geocoder_url", self.server.url)
        (in_zagreb | nowhere)._geocode()
        self.assertEqual(self.server.requests, [])
        self.assertEqual(nowhere.geocode_status, "error")

    def test_provider_timeout(self):
        """A provider slower than the timeout: the contact gets the error and its city."""
        slow = "Ilica 99, 10000 Zagreb, Croatia"
        self.server.slow[slow] = 2
        self.params.set_param(PARAM % "geocoder_timeout", "0.5")
        partner = self.contact("Slow", street="Ilica 99")
        partner._geocode()
        self.assertEqual((partner.geocode_status, partner.geocode_source), ("ok", "offline"))
        self.assertIn("timed out", partner.geocode_error)

    def test_offline_provider_and_no_fallback(self):
        self.use_provider("crm_offline")
        split = self.contact("Offline Split", city="Split", zip="21000")
        split._geocode()
        self.assertEqual((split.geocode_status, split.geocode_source), ("ok", "offline"))
        self.assertEqual(self.server.requests, [])
        self.use_provider("crm_nominatim")
        self.params.set_param(PARAM % "geocoder_offline_fallback", "False")
        rijeka = self.contact("No Fallback", street="Nepostojeća 1", zip="51000", city="Rijeka")
        rijeka._geocode()
        self.assertEqual(rijeka.geocode_status, "not_found")

    def test_address_change_resets_the_geocoding(self):
        partner = self.contact("Moving")
        partner._geocode()
        self.assertEqual(partner.geocode_status, "ok")
        partner.city = "Split"
        self.assertFalse(partner.geocode_status or partner.geocode_date or partner.partner_latitude)
        partner.write({"street": "Riva 1", "partner_latitude": 43.5, "partner_longitude": 16.4})
        self.assertEqual(partner.partner_latitude, 43.5)

    def test_no_address(self):
        partner = self.env["res.partner"].create({"name": "No Address"})
        partner._geocode()
        self.assertEqual(partner.geocode_status, "not_found")
        self.assertEqual(partner.geocode_error, "The contact has no address to geocode.")
        self.assertEqual(self.server.requests, [])

    def test_odoo_button_and_free_text_calls(self):
        partner = self.contact("Button")
        self.assertFalse(partner.geo_localize())  # base_geolocalize's guard: no calls while testing
        self.assertTrue(partner.with_context(force_geo_localize=True).geo_localize())
        self.assertEqual(partner.geocode_status, "ok")
        geocoder = self.env["base.geocoder"]
        self.assertEqual(geocoder.geo_find(ILICA), (45.8131, 15.9772))
        self.assertAlmostEqual(geocoder.geo_find("Nowhere Street 1, 21000 Split, Croatia")[0], 43.51, delta=0.05)
        self.assertIsNone(geocoder.geo_find(""))

    def test_who_may_not_write_the_contact_asks_no_provider(self):
        """sudo audit: the provider is asked and its answer cached (by the system) only for
        contacts the caller may write; a portal user gets an access error and nothing is asked."""
        partner = self.contact("Portal Button")
        portal = self.env["res.users"].create({
            "name": "Geo Portal", "login": "geo_portal", "groups_id": [(6, 0, self.env.ref("base.group_portal").ids)],
        })
        cached = self.env["crm.geocode.cache"].sudo().search_count([])
        with self.assertRaises(AccessError):
            partner.with_user(portal).with_context(force_geo_localize=True).geo_localize()
        self.assertEqual(self.server.queries(), [])
        self.assertEqual(self.env["crm.geocode.cache"].sudo().search_count([]), cached)
        self.assertFalse(partner.geocode_status)

    def test_public_nominatim_is_rate_limited_host_wide(self):
        self.params.set_param(PARAM % "geocoder_url", "https://nominatim.openstreetmap.org")
        self.params.set_param(PARAM % "geocoder_contact", "sales@example.com")
        geocoder = self.env["base.geocoder"]._crm_geocoder(_NoCache())
        self.assertEqual(geocoder.rate_limiter.min_interval, PUBLIC_NOMINATIM_INTERVAL)
        self.assertTrue(geocoder.rate_limiter.path.endswith("crm_opportunity_management-geocoding.lock"))
        self.assertIn("sales@example.com", geocoder.provider.headers["User-Agent"])
        self.assertEqual(geocoder.provider.timeout, 10.0)
        self.params.set_param(PARAM % "geocoder_url", self.server.url)
        own_server = self.env["base.geocoder"]._crm_geocoder(_NoCache())
        self.assertEqual(own_server.rate_limiter.min_interval, 0.0)

    def test_cron_geocodes_contacts_of_opportunities_in_batches(self):
        contacts = self.contact("Cron A") | self.contact("Cron B", street="Nepostojeća 7", city="Split") | \
            self.contact("Cron C", street="Glavna 9", city="Malo Selo Neznano")
        without_opportunity = self.contact("Cron No Opportunity")
        self.env["crm.lead"].create([
            {"name": f"Cron {partner.name}", "type": "opportunity", "partner_id": partner.id} for partner in contacts
        ])
        Partner = self.env["res.partner"]
        batches = [Partner._cron_geocode_opportunity_contacts(batch_size=2) for _run in range(10)]
        done = [batch for batch in batches if batch]
        self.assertTrue(all(len(batch) <= 2 for batch in done))
        self.assertEqual(sum(len(batch) for batch in done), len(Partner.concat(*done)))  # each contact once
        self.assertLessEqual(contacts, Partner.concat(*done))
        self.assertEqual(contacts.mapped("geocode_status"), ["ok", "ok", "not_found"])
        self.assertFalse(without_opportunity.geocode_status)
        # nothing left: the contact that was not found waits for a new address
        self.assertFalse(batches[-1])
        contacts[2].city = "Zadar"
        self.assertEqual(Partner._cron_geocode_opportunity_contacts(batch_size=2), contacts[2])
        self.assertEqual(contacts[2].geocode_status, "ok")

@tagged("post_install", "-at_install")
class TestGeocodingRetriedTransaction(TransactionCase):
    """Real cursors (no test mode): nothing of this class's transaction may lock the
    settings the attempts write, so it writes none."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = FakeNominatim({})
        cls.addClassCleanup(cls.server.server_close)
        cls.addClassCleanup(cls.server.shutdown)

    def test_one_request_per_address_across_a_retried_transaction(self):
        """A transaction that Odoo retries (serialization failure) rolls back its writes, but
        not the cache: the provider is not asked a second time for the same address."""
        address = Address(street="Trg bana Jelačića 1", zip="10000", city="Zagreb", country="Croatia",
                          country_code="HR")
        self.server.answers[address.query] = (45.8129, 15.9775)
        self.addCleanup(self._delete_cache, address.key)
        for _attempt in range(2):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["ir.config_parameter"].set_param(PARAM % "geocoder_url", self.server.url)
                env["ir.config_parameter"].set_param(
                    "base_geolocalize.geo_provider",
                    env.ref("crm_opportunity_management.geo_provider_crm_nominatim").id,
                )
                [result] = env["base.geocoder"]._crm_geocode([address])
                self.assertEqual((result.lat, result.lng), (45.8129, 15.9775))
                cr.rollback()  # the serialization failure
        self.assertEqual(self.server.queries(), [address.query])

    def _delete_cache(self, key):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM crm_geocode_cache WHERE key = %s", [key])


class _NoCache:
    recent_errors = {}

    def get(self, key):
        return None

    def put(self, key, answer):
        pass
