import xmlrpc.client

from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_WARNING
from odoo.tests import HttpCase, new_test_user, tagged

PASSWORD = "opp-rpc-password"


@tagged("post_install", "-at_install")
class TestXmlRpc(HttpCase):
    """The opportunity record through Odoo's external API, over real HTTP."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(
            cls.env, "opp_rpc", password=PASSWORD, groups="sales_team.group_sale_salesman_all_leads"
        )
        cls.category = cls.env["product.category"].create({"name": "RPC family"})
        cls.level_75 = cls.env.ref("crm_opportunity_management.crm_probability_level_75")

    def setUp(self):
        super().setUp()
        self.uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, "opp_rpc", PASSWORD, {})
        self.assertTrue(self.uid)

    def call(self, model, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(self.env.cr.dbname, self.uid, PASSWORD, model, method, list(args), kwargs)

    def test_create_and_read_an_opportunity_with_lines(self):
        lead_id = self.call(
            "crm.lead",
            "create",
            {
                "name": "Over RPC",
                "type": "opportunity",
                "line_ids": [
                    (0, 0, {"product_categ_id": self.category.id, "amount_gross": 1000, "amount_discount": 150})
                ],
            },
        )
        self.call("crm.lead", "write", [lead_id], {"probability_level_id": self.level_75.id})
        [lead] = self.call(
            "crm.lead",
            "read",
            [lead_id],
            [
                "number",
                "amount_gross",
                "amount_discount",
                "amount_net",
                "amount_net_company",
                "expected_revenue",
                "probability",
                "probability_level_id",
                "idle_days",
                "line_ids",
                "currency_id",
            ],
        )
        self.assertTrue(lead["number"].startswith("OPP/"))
        self.assertEqual((lead["amount_gross"], lead["amount_discount"], lead["amount_net"]), (1000, 150, 850))
        self.assertEqual((lead["amount_net_company"], lead["expected_revenue"]), (850, 850))
        self.assertEqual((lead["probability"], lead["probability_level_id"][0]), (75, self.level_75.id))
        self.assertEqual(lead["idle_days"], 0)
        self.assertEqual(len(lead["line_ids"]), 1)
        found = self.call("crm.lead", "search", [("number", "=", lead["number"])])
        self.assertEqual(found, [lead_id])

    def test_bad_input_is_a_clear_fault_and_writes_nothing(self):
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.call(
                "crm.lead",
                "create",
                {
                    "name": "Too much discount",
                    "type": "opportunity",
                    "line_ids": [
                        (0, 0, {"product_categ_id": self.category.id, "amount_gross": 100, "amount_discount": 120})
                    ],
                },
            )
        self.assertIn("Discount", caught.exception.faultString)
        self.assertEqual(caught.exception.faultCode, RPC_FAULT_CODE_WARNING, "a user error, no traceback")
        self.assertNotIn("Traceback", caught.exception.faultString)
        self.assertFalse(self.call("crm.lead", "search", [("name", "=", "Too much discount")]))
