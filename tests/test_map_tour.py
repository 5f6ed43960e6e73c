from odoo.tests import new_test_user, tagged

from .common import BrowserCase


@tagged("post_install", "-at_install")
class TestOpportunityMapTour(BrowserCase):
    """The map view in a browser: markers per contact, the search bar, the radius search,
    the popup and its links (static/tests/tours/opportunity_map_tour.js)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # only this test's opportunities on the map
        cls.env["crm.lead"].search([]).active = False
        admin = cls.env.ref("base.user_admin")
        rep = new_test_user(cls.env, "tour_map_rep", groups="sales_team.group_sale_salesman", name="Tour Map Rep")
        quality = cls.env["crm.contact.quality"].create({"name": "Tour Strategic"})
        Partner = cls.env["res.partner"]
        cls.paris, cls.zagreb, cls.bucharest = Partner.create([
            {"name": "Tour Map Paris", "city": "Paris", "partner_latitude": 48.8566, "partner_longitude": 2.3522,
             "contact_quality_id": quality.id},
            {"name": "Tour Map Zagreb", "city": "Zagreb", "partner_latitude": 45.815, "partner_longitude": 15.9819},
            {"name": "Tour Map Bucharest", "city": "Bucharest", "partner_latitude": 44.4268,
             "partner_longitude": 26.1025},
        ])
        nowhere = Partner.create({"name": "Tour Map Nowhere"})
        new_business, upsell = (cls.env["crm.opportunity.type"].create({"code": code, "name": name})
                                for code, name in (("TMNB", "Tour New"), ("TMUP", "Tour Upsell")))
        cls.env["crm.lead"].create([
            {"name": name, "type": "opportunity", "partner_id": partner.id, "user_id": user.id,
             "opportunity_type_id": kind.id, "expected_revenue": revenue}
            for name, partner, user, kind, revenue in (
                ("Tour Paris deal 1", cls.paris, admin, new_business, 1000),
                ("Tour Paris deal 2", cls.paris, rep, upsell, 500),
                ("Tour Zagreb deal", cls.zagreb, admin, new_business, 700),
                ("Tour Bucharest deal", cls.bucharest, rep, upsell, 300),
                ("Tour Nowhere deal", nowhere, admin, new_business, 100),
            )
        ])

    def test_opportunity_map(self):
        self.start_tour(
            "/odoo/action-crm_opportunity_management.crm_lead_action_opportunity_map",
            "crm_opportunity_management_opportunity_map",
            login="admin",
        )
