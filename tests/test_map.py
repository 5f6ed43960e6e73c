import random
from collections import defaultdict

from geopy.distance import great_circle

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..engine.geo import EARTH_RADIUS_KM, MAX_RADIUS_KM
from .common import OpportunityCase, XmlRpcCase

ZAGREB = (45.8150, 15.9819)


def haversine_km(lat1, lng1, lat2, lng2):
    """The great-circle distance of an independent implementation (geopy's), on the
    sphere the map's SQL measures on."""
    return great_circle((lat1, lng1), (lat2, lng2), radius=EARTH_RADIUS_KM).km


@tagged("post_install", "-at_install")
class TestOpportunityMap(OpportunityCase):
    """``get_map_data``: markers, counts, totals and the radius search against an
    independent computation in Python over the same opportunities."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rnd = random.Random(6)
        cls.quality = cls.env["crm.contact.quality"].search([], limit=1)
        # 30 contacts within ~300 km of Zagreb, 2 across the antimeridian, 2 without coordinates
        positions = [(ZAGREB[0] + rnd.uniform(-2.5, 2.5), ZAGREB[1] + rnd.uniform(-3.5, 3.5)) for _i in range(30)]
        positions += [(-17.0, 179.95), (-17.1, -179.9)]
        cls.partners = cls.env["res.partner"].create([
            {"name": f"Map Contact {index}", "partner_latitude": lat, "partner_longitude": lng,
             "city": "Zagreb", "zip": "10000", "street": f"Ilica {index}",
             "country_id": (cls.env.ref("base.hr") if index % 3 else cls.env.ref("base.us")).id,
             "state_id": False if index % 3 else cls.env.ref("base.state_us_5").id,
             "contact_quality_id": cls.quality.id if index % 2 else False}
            for index, (lat, lng) in enumerate(positions)
        ])
        cls.unlocated = cls.env["res.partner"].create([{"name": "Nowhere 1"}, {"name": "Nowhere 2"}])
        cls.marker = cls.env["crm.opportunity.type"].create({"name": "Map test type", "code": "MAPT"})
        leads = []
        for index in range(80):
            contacts = cls.partners | cls.unlocated  # each at least once, then at random
            partner = contacts[index] if index < len(contacts) else contacts[rnd.randrange(len(contacts))]
            leads.append({
                "name": f"Map Opportunity {index}", "type": "opportunity", "partner_id": partner.id,
                "user_id": (cls.salesman if index % 3 else cls.salesman_other).id, "team_id": cls.team.id,
                "company_id": cls.company.id, "expected_revenue": rnd.randrange(1, 500) * 100,
                "opportunity_type_id": cls.marker.id,
            })
        leads.append({"name": "Map Without Contact", "type": "opportunity", "opportunity_type_id": cls.marker.id,
                      "user_id": cls.salesman.id, "company_id": cls.company.id, "expected_revenue": 100})
        cls.leads = cls.env["crm.lead"].create(leads)
        cls.other_company_lead = cls.env["crm.lead"].create({
            "name": "Map Other Company", "type": "opportunity", "partner_id": cls.partners[0].id,
            "user_id": cls.salesman_2.id, "company_id": cls.company_2.id, "expected_revenue": 999,
            "opportunity_type_id": cls.marker.id,
        })
        cls.domain = [("opportunity_type_id", "=", cls.marker.id)]

    def expected(self, leads, circle=None):
        """Markers and missing count computed in Python from the records."""
        groups, missing = defaultdict(list), 0
        for lead in leads:
            partner = lead.partner_id
            if not partner or not (partner.partner_latitude or partner.partner_longitude):
                missing += 1
                continue
            if circle and haversine_km(*circle[0], partner.partner_latitude, partner.partner_longitude) > circle[1]:
                continue
            groups[partner.id].append(lead)
        markers = {
            partner_id: (len(group), round(sum(lead.amount_net_company for lead in group), 2),
                         sorted(lead.id for lead in group))
            for partner_id, group in groups.items()
        }
        return markers, missing

    def actual(self, data):
        return {
            marker["partner_id"]: (marker["count"], marker["amount"], marker["lead_ids"]) for marker in data["markers"]
        }, data["missing"]

    def test_markers_against_python(self):
        data = self.env["crm.lead"].with_user(self.sales_manager).get_map_data(self.domain)
        self.assertEqual(self.actual(data), self.expected(self.leads))
        self.assertEqual(data["currency_id"], self.company.currency_id.id)
        marker = next(marker for marker in data["markers"] if marker["partner_id"] == self.partners[1].id)
        self.assertEqual(marker["name"], "Map Contact 1")
        self.assertEqual(marker["quality"], self.quality.name)
        self.assertIn("Zagreb", marker["address"])
        # every address as Odoo formats it for its country and state (Odoo's formatting, not a copy of it)
        for each in data["markers"]:
            partner = self.env["res.partner"].browse(each["partner_id"])
            lines = partner._display_address(without_company=True).splitlines()
            self.assertEqual(each["address"], "\n".join(line.strip() for line in lines if line.strip()))
        self.assertAlmostEqual(marker["lat"], self.partners[1].partner_latitude, places=6)

    def test_radius_search_against_python(self):
        Lead = self.env["crm.lead"].with_user(self.sales_manager)
        for center, radius in [(ZAGREB, 50), (ZAGREB, 120.5), ((45.0, 16.0), 200), (ZAGREB, 1000),
                               ((-17.05, 180.0), 30), ((-17.05, -180.0), 5)]:
            with self.subTest(center=center, radius=radius):
                data = Lead.get_map_data(self.domain, {"center": list(center), "radius_km": radius})
                self.assertEqual(self.actual(data), self.expected(self.leads, (center, radius)))
        across = Lead.get_map_data(self.domain, {"center": [-17.05, 180.0], "radius_km": 30})
        self.assertEqual({marker["partner_id"] for marker in across["markers"]}, set(self.partners[-2:].ids))

    def test_search_near_a_point(self):
        """The radius search as a search-bar field: any view, the same contacts as the map's."""
        Lead = self.env["crm.lead"].with_user(self.sales_manager)
        found = Lead.search([*self.domain, ("partner_near", "ilike", f"{ZAGREB[0]}, {ZAGREB[1]}, 150")])
        expected = self.leads.filtered(lambda lead: lead.partner_id.partner_latitude and haversine_km(
            *ZAGREB, lead.partner_id.partner_latitude, lead.partner_id.partner_longitude) <= 150)
        self.assertTrue(expected)
        self.assertEqual(found, expected)
        for value in ("Zagreb", "45.8, 15.9", "45.8, 15.9, -3", "95, 15, 10", "a, b, c"):
            with self.subTest(value=value), self.assertRaises(UserError):
                Lead.search([("partner_near", "ilike", value)])

    def test_record_rules(self):
        """A salesperson with own documents sees only their opportunities (and amounts);
        another company's opportunity never shows."""
        data = self.env["crm.lead"].with_user(self.salesman).get_map_data(self.domain)
        own = self.leads.filtered(lambda lead: lead.user_id == self.salesman)
        self.assertEqual(self.actual(data), self.expected(own))
        shown = {lead_id for marker in data["markers"] for lead_id in marker["lead_ids"]}
        self.assertNotIn(self.other_company_lead.id, shown)
        self.assertTrue(shown <= set(own.ids))
        everything = self.env["crm.lead"].with_user(self.salesman_all).get_map_data(self.domain)
        self.assertNotIn(self.other_company_lead.id,
                         {lead_id for marker in everything["markers"] for lead_id in marker["lead_ids"]})
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(self.env.ref("base.public_user")).get_map_data(self.domain)

    def test_query_count_constant(self):
        Lead = self.env["crm.lead"].with_user(self.sales_manager)
        Lead.get_map_data(self.domain)  # warm the caches (rules, fields)
        self.env.invalidate_all()
        # the company, the markers with their contacts and qualities, one contact per country
        # and state (Odoo's address format), their countries and states, the currency
        with self.assertQueryCount(6):
            small = Lead.get_map_data([*self.domain, ("partner_id", "in", self.partners[:3].ids)])
        self.env.invalidate_all()
        with self.assertQueryCount(6):
            large = Lead.get_map_data(self.domain)
        self.assertLess(len(small["markers"]), len(large["markers"]))

    def test_bad_input(self):
        Lead = self.env["crm.lead"].with_user(self.salesman)
        bad_options = [
            "around Zagreb", {"centre": [45, 15]}, {"center": [91, 15], "radius_km": 10},
            {"center": [45, 181], "radius_km": 10}, {"center": [45], "radius_km": 10},
            {"center": ["45", 15], "radius_km": 10}, {"center": [45, 15], "radius_km": 0},
            {"center": [45, 15], "radius_km": -5}, {"center": [45, 15], "radius_km": 1e6},
            {"center": [45, 15], "radius_km": "ten"}, {"center": [45, 15]}, {"radius_km": 10},
        ]
        for options in bad_options:
            with self.subTest(options=options), self.assertRaises(UserError):
                Lead.get_map_data([], options)
        with self.assertRaises(UserError):
            Lead.get_map_data("partner_id = 1")

    def test_coordinates_are_validated(self):
        with self.assertRaises(ValidationError):
            self.partners[0].partner_latitude = 90.5
        with self.assertRaises(ValidationError):
            self.env["res.partner"].create({"name": "Off the map", "partner_longitude": -180.01})

    def test_settings(self):
        settings = self.env["crm.lead"].with_user(self.salesman).get_map_settings()
        self.assertEqual(settings["tile_url"], "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
        self.assertEqual(settings["max_radius_km"], MAX_RADIUS_KM, "the web client checks the server's limit")
        self.assertIn("OpenStreetMap", settings["tile_attribution"])
        form = self.env["res.config.settings"].create({"crm_map_tile_url": False})
        form.execute()
        self.assertEqual(self.env["crm.lead"].with_user(self.salesman).get_map_settings()["tile_url"], "")

    def test_partner_actions(self):
        action = self.partners[0].action_view_opportunity_map()
        self.assertEqual(action["res_model"], "crm.lead")
        self.assertEqual(action["domain"], [("partner_id", "child_of", self.partners[0].id)])
        nearby = self.partners[0].action_view_nearby_opportunities()
        self.assertEqual(nearby["context"]["opportunity_map_center"],
                         [self.partners[0].partner_latitude, self.partners[0].partner_longitude])
        with self.assertRaises(UserError):
            self.unlocated[0].action_view_nearby_opportunities()


@tagged("post_install", "-at_install")
class TestOpportunityMapXmlRpc(XmlRpcCase):
    rpc_login = "map_rpc_salesman"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({
            "name": "Map RPC Contact", "partner_latitude": 45.33, "partner_longitude": 14.44,
        })
        cls.lead = cls.env["crm.lead"].create({
            "name": "Map RPC Opportunity", "type": "opportunity", "partner_id": cls.partner.id,
            "user_id": cls.rpc_user.id, "expected_revenue": 2500,
        })

    def test_get_map_data_over_xmlrpc(self):
        data = self.call("crm.lead", "get_map_data", [("partner_id", "=", self.partner.id)],
                         {"center": [45.8, 15.97], "radius_km": 150})
        self.assertEqual(data["missing"], 0)
        [marker] = data["markers"]
        self.assertEqual((marker["partner_id"], marker["count"], marker["lead_ids"]),
                         (self.partner.id, 1, [self.lead.id]))
        self.assertEqual(marker["amount"], 2500)
        far = self.call("crm.lead", "get_map_data", [("partner_id", "=", self.partner.id)],
                        {"center": [45.8, 15.97], "radius_km": 100})
        self.assertEqual(far["markers"], [])

    def test_bad_options_over_xmlrpc(self):
        with self.assertRaisesRegex(Exception, "radius must be a number of km"):
            self.call("crm.lead", "get_map_data", [], {"center": [45.8, 15.97], "radius_km": -1})
        with self.assertRaisesRegex(Exception, "at most 20,037.5 "):  # the engine's limit, formatted
            self.call("crm.lead", "get_map_data", [], {"center": [45.8, 15.97], "radius_km": MAX_RADIUS_KM + 1})
        with self.assertRaisesRegex(Exception, "latitude between -90 and 90"):
            self.call("crm.lead", "get_map_data", [], {"center": [95, 15.97], "radius_km": 10})
