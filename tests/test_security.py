from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import OpportunityCase


@tagged("post_install", "-at_install")
class TestSecurity(OpportunityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.own = cls.create_opportunity(name="Own", lines=[cls.line(100)])
        cls.others = cls.create_opportunity(name="Others'", user_id=cls.salesman_other.id, lines=[cls.line(200)])
        cls.lead_2 = cls.env["crm.lead"].create(
            {
                "name": "Company 2",
                "type": "opportunity",
                "company_id": cls.company_2.id,
                "user_id": cls.salesman_2.id,
                "line_ids": [(0, 0, cls.line(300))],
            }
        )
        cls.type_2 = cls.env["crm.opportunity.type"].create(
            {"code": "C2ONLY", "name": "Company 2 type", "company_id": cls.company_2.id}
        )

    def test_configuration_is_read_only_for_salespeople(self):
        for model in ("crm.opportunity.type", "crm.probability.level", "crm.won.reason", "crm.contact.quality"):
            records = self.env[model].with_user(self.salesman).search([])
            self.assertTrue(records, model)
            records[:1].read(["name"])
            with self.assertRaises(AccessError, msg=model):
                self.env[model].with_user(self.salesman).create({"code": "X", "name": "X", "percentage": 1})
            with self.assertRaises(AccessError, msg=model):
                records[:1].with_user(self.salesman).write({"name": "Renamed"})

    def test_managers_configure(self):
        level = (
            self.env["crm.probability.level"]
            .with_user(self.sales_manager)
            .create({"code": "L60", "name": "Shortlisted", "percentage": 60})
        )
        level.write({"name": "Short list"})
        self.env["crm.opportunity.type"].with_user(self.sales_manager).create({"code": "MGR", "name": "Manager's"})
        self.env["crm.won.reason"].with_user(self.sales_manager).create({"name": "Manager's reason"})
        self.env["crm.contact.quality"].with_user(self.sales_manager).create({"name": "Manager's quality"})

    def test_salesman_sees_lines_of_own_opportunities_only(self):
        Line = self.env["crm.lead.line"].with_user(self.salesman)
        visible = Line.search([("lead_id", "in", (self.own | self.others | self.lead_2).ids)])
        self.assertEqual(visible, self.own.line_ids)
        with self.assertRaises(AccessError):
            self.others.line_ids.with_user(self.salesman).read(["amount_net"])
        with self.assertRaises(AccessError):
            Line.create({**self.line(5), "lead_id": self.others.id})
        own_line = Line.create({**self.line(5), "lead_id": self.own.id})
        own_line.write({"amount_gross": 7})
        self.assertEqual(self.own.with_user(self.salesman).amount_gross, 107)

    def test_all_documents_group_sees_every_line_of_its_companies(self):
        Line = self.env["crm.lead.line"].with_user(self.salesman_all)
        visible = Line.search([("lead_id", "in", (self.own | self.others | self.lead_2).ids)])
        self.assertEqual(visible, (self.own | self.others).line_ids)

    def test_company_isolation(self):
        Line = self.env["crm.lead.line"].with_user(self.salesman_2)
        self.assertEqual(Line.search([("lead_id", "in", (self.own | self.lead_2).ids)]), self.lead_2.line_ids)
        with self.assertRaises(AccessError):
            self.own.line_ids.with_user(self.salesman_2).read(["amount_net"])
        types = self.env["crm.opportunity.type"].with_user(self.salesman).search([])
        self.assertNotIn(self.type_2, types)
        self.assertIn(self.type_2, self.env["crm.opportunity.type"].with_user(self.salesman_2).search([]))

    def test_company_consistency(self):
        with self.assertRaisesRegex(UserError, "belong to different companies|Incompatible companies"):
            self.own.write({"opportunity_type_id": self.type_2.id})
        shared = self.env["crm.opportunity.type"].create({"code": "SHARED", "name": "Shared"})
        self.own.write({"opportunity_type_id": shared.id})
        self.lead_2.write({"opportunity_type_id": shared.id})


@tagged("post_install", "-at_install")
class TestRightsOnEveryPath(OpportunityCase):
    """Paths around the opportunity's own rules: a line moved or added to an opportunity
    one may not write, the opportunity number rewritten, the map's settings read by a
    portal user."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.own = cls.create_opportunity(name="Own", lines=[cls.line(100)])
        cls.others = cls.create_opportunity(name="Others'", user_id=cls.salesman_other.id, lines=[cls.line(200)])

    def test_line_moved_to_an_opportunity_one_may_not_write(self):
        line = self.own.line_ids.with_user(self.salesman)
        with self.assertRaises(AccessError), self.cr.savepoint():
            line.write({"lead_id": self.others.id})
        self.assertEqual((self.own.line_ids, self.others.amount_net), (line.sudo(), 200))
        line.write({"amount_gross": 150})  # its own opportunity: allowed
        self.assertEqual(self.own.amount_net, 150)

    def test_line_added_to_an_opportunity_one_may_not_write(self):
        Line = self.env["crm.lead.line"].with_user(self.salesman)
        with self.assertRaises(AccessError), self.cr.savepoint():
            Line.create({"lead_id": self.others.id, **self.line(999)})
        self.assertEqual(self.others.amount_net, 200)
        Line.create({"lead_id": self.own.id, **self.line(50)})
        self.assertEqual(self.own.amount_net, 150)

    def test_number_is_the_business_key(self):
        number = self.own.number
        for user in (self.salesman, self.sales_manager):
            with self.assertRaises(UserError), self.cr.savepoint():
                self.own.with_user(user).write({"number": "OPP/HACKED"})
        self.assertEqual(self.own.number, number)

    def test_map_settings_for_internal_users_only(self):
        portal = self.env["res.users"].create({
            "name": "Portal map", "login": "portal_map", "groups_id": [(6, 0, self.env.ref("base.group_portal").ids)],
        })
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(portal).get_map_settings()
        self.assertIn("tile_url", self.env["crm.lead"].with_user(self.salesman).get_map_settings())
