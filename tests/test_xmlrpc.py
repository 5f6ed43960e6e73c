import xmlrpc.client

from odoo.addons.base.controllers.rpc import RPC_FAULT_CODE_WARNING
from odoo.tests import tagged

from .common import XmlRpcCase


@tagged("post_install", "-at_install")
class TestXmlRpc(XmlRpcCase):
    """The opportunity record through Odoo's external API, over real HTTP."""

    rpc_login = "opp_rpc"
    rpc_groups = "sales_team.group_sale_salesman_all_leads"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.category = cls.env["product.category"].create({"name": "RPC family"})
        cls.level_75 = cls.env.ref("crm_opportunity_management.crm_probability_level_75")

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


@tagged("post_install", "-at_install")
class TestWorkflowXmlRpc(XmlRpcCase):
    """Workflow rules and boards through XML-RPC, over real HTTP."""

    rpc_login = "opp_rpc_wf"
    rpc_groups = "sales_team.group_sale_salesman_all_leads"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Stage = cls.env["crm.stage"]
        cls.first = Stage.create({"name": "RPC first", "sequence": 301})
        cls.second = Stage.create({"name": "RPC second", "sequence": 302})
        cls.third = Stage.create({"name": "RPC third", "sequence": 303})
        cls.first.next_stage_ids = cls.second
        cls.rpc_type = cls.env["crm.opportunity.type"].create(
            {
                "code": "RPC-WF",
                "name": "RPC workflow",
                "stage_ids": [(6, 0, (cls.first | cls.second | cls.third).ids)],
            }
        )

    def test_forbidden_move_is_refused_and_logged_moves_are_read(self):
        lead_id = self.call(
            "crm.lead",
            "create",
            {
                "name": "RPC tender",
                "type": "opportunity",
                "opportunity_type_id": self.rpc_type.id,
                "expected_revenue": 10,
            },
        )
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.call("crm.lead", "write", [lead_id], {"stage_id": self.third.id})
        self.assertIn("from RPC first to RPC third", caught.exception.faultString)
        self.assertEqual(caught.exception.faultCode, RPC_FAULT_CODE_WARNING)
        self.call("crm.lead", "write", [lead_id], {"stage_id": self.second.id})
        [lead] = self.call("crm.lead", "read", [lead_id], ["stage_id", "stage_history_ids"])
        self.assertEqual(lead["stage_id"][0], self.second.id)
        rows = self.call(
            "crm.lead.stage.history",
            "search_read",
            [("lead_id", "=", lead_id)],
            ["stage_from_id", "stage_to_id"],
            order="id",
        )
        self.assertEqual([row["stage_to_id"][0] for row in rows], [self.first.id, self.second.id])

    def test_get_board(self):
        self.call(
            "crm.lead",
            "create",
            {
                "name": "RPC board",
                "type": "opportunity",
                "opportunity_type_id": self.rpc_type.id,
                "expected_revenue": 250,
            },
        )
        board = self.call("crm.lead", "get_board", "stages", [("opportunity_type_id", "=", self.rpc_type.id)])
        self.assertEqual([column["label"] for column in board["columns"]], ["RPC first", "RPC second", "RPC third"])
        self.assertEqual((board["columns"][0]["count"], board["columns"][0]["amount"]), (1, 250))
        self.assertEqual(board["columns"][0]["cards"][0]["name"], "RPC board")
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.call("crm.lead", "get_board", "invented")
        self.assertIn("Unknown board", caught.exception.faultString)
