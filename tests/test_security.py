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
