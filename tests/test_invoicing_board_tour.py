from odoo import fields
from odoo.tests import tagged

from .common import BrowserCase


@tagged("post_install", "-at_install")
class TestInvoicingBoardTour(BrowserCase):
    """The invoicing board screen: an opportunity expected to be invoiced today and a
    sales order confirmed today, both in the current quarter the board opens on."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = cls.env.ref("base.user_admin")
        customer = cls.env["res.partner"].create({"name": "Tour Invoicing Customer"})
        product = cls.env["product.product"].create({"name": "Tour invoicing service", "list_price": 500})
        cls.lead = cls.env["crm.lead"].create({
            "name": "Tour invoicing opportunity", "type": "opportunity", "partner_id": customer.id,
            "user_id": admin.id, "expected_revenue": 4321, "date_expected_invoice": fields.Date.today(),
            "company_id": admin.company_id.id,
        })
        cls.order = cls.env["sale.order"].create({
            "partner_id": customer.id, "user_id": admin.id, "opportunity_id": cls.lead.id,
            "company_id": admin.company_id.id,
            "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 2, "price_unit": 500})],
        })
        cls.order.action_confirm()

    def test_invoicing_board(self):
        board = self.env["crm.lead"].with_user(self.env.ref("base.user_admin")).get_board(
            "invoicing", [], {"document_types": ["opportunity", "order"], "limit": 0}
        )
        cards = {(card["model"], card["id"]) for column in board["columns"] for card in column["cards"]}
        self.assertLessEqual({("crm.lead", self.lead.id), ("sale.order", self.order.id)}, cards)
        self.start_tour(
            "/odoo/action-crm_opportunity_management.crm_invoicing_board_action",
            "crm_opportunity_management_invoicing_board",
            login="admin",
        )
