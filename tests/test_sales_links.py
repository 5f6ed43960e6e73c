from unittest.mock import patch

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestSalesLinks(AccountTestInvoicingCommon):
    """Opportunity ↔ sales order ↔ invoice, on a company with a chart of accounts."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lead = cls.env["crm.lead"].create({
            "name": "Linked opportunity", "type": "opportunity", "partner_id": cls.partner_a.id,
            "expected_revenue": 5000,
        })
        cls.product_a.invoice_policy = "order"

    def create_order(self, price, qty=1):
        return self.env["sale.order"].create({
            "partner_id": self.partner_a.id,
            "opportunity_id": self.lead.id,
            "order_line": [(0, 0, {"product_id": self.product_a.id, "product_uom_qty": qty, "price_unit": price,
                                   "tax_id": [(6, 0, self.tax_sale_a.ids)]})],
        })

    def test_invoice_carries_the_opportunity_and_amounts_follow(self):
        order = self.create_order(1000)
        order.action_confirm()
        self.assertEqual(self.lead.amount_ordered, 1000)
        invoice = order._create_invoices()
        self.assertEqual(invoice.opportunity_id, self.lead)
        self.assertEqual((self.lead.invoice_count, self.lead.amount_invoiced), (0, 0), "draft invoices do not count")
        invoice.action_post()
        self.lead.invalidate_recordset(["amount_invoiced", "invoice_count", "amount_paid"])
        self.assertEqual((self.lead.invoice_count, self.lead.amount_invoiced, self.lead.amount_paid), (1, 1000, 0))
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=invoice.ids
        ).create({"amount": invoice.amount_total / 2}).action_create_payments()
        self.lead.invalidate_recordset(["amount_paid"])
        self.assertEqual(self.lead.amount_paid, 500, "half of the invoice paid: half of its untaxed amount")
        action = self.lead.action_view_invoices()
        self.assertEqual(self.env["account.move"].search(action["domain"]), invoice)

    def test_credit_notes_reduce_the_invoiced_amount(self):
        order = self.create_order(800)
        order.action_confirm()
        invoice = order._create_invoices()
        invoice.action_post()
        refund = invoice._reverse_moves([{"ref": "partial refund"}])
        refund.invoice_line_ids.price_unit = 300
        refund.action_post()
        self.lead.invalidate_recordset(["amount_invoiced", "invoice_count"])
        self.assertEqual(refund.opportunity_id, self.lead)
        self.assertEqual((self.lead.invoice_count, self.lead.amount_invoiced), (2, 500))

    def test_sale_crm_hooks_decide_which_orders_count(self):
        """Ordered amounts and the lines rebuilt from quotations take the orders sale_crm's
        domain hooks name, so a module overriding them is followed."""
        confirmed, sent = self.create_order(1000), self.create_order(300)
        confirmed.action_confirm()
        sent.action_quotation_sent()
        self.create_order(50)._action_cancel()
        self.assertEqual(self.lead.amount_ordered, 1000)
        Lead = type(self.env["crm.lead"])
        with patch.object(Lead, "_get_lead_sale_order_domain", lambda lead: [("state", "in", ("sent", "sale"))]):
            self.lead.invalidate_recordset(["amount_ordered"])
            self.assertEqual(self.lead.amount_ordered, 1300, "sent quotations count as orders")
        self.lead.action_compute_from_quotations()
        self.assertEqual(sum(self.lead.line_ids.mapped("amount_gross")), 1300, "quotations and orders, not cancelled")
        with patch.object(Lead, "_get_lead_quotation_domain", lambda lead: [("state", "=", "draft")]):
            self.lead.action_compute_from_quotations()
        self.assertEqual(sum(self.lead.line_ids.mapped("amount_gross")), 1000, "the sent one is no quotation now")

    def test_confirming_an_order_wins_the_opportunity_when_set(self):
        self.env.company.crm_won_on_order_confirmation = False
        self.create_order(100).action_confirm()
        self.assertLess(self.lead.probability, 100)
        self.env.company.crm_won_on_order_confirmation = True
        self.create_order(100).action_confirm()
        self.assertEqual(self.lead.probability, 100)
        self.assertTrue(self.lead.stage_id.is_won)

    def test_partner_open_pipeline(self):
        contact = self.env["res.partner"].create({"name": "Buyer", "parent_id": self.partner_a.id})
        self.env["crm.lead"].create({
            "name": "Contact's opportunity", "type": "opportunity", "partner_id": contact.id, "expected_revenue": 700,
        })
        won = self.env["crm.lead"].create({
            "name": "Won one", "type": "opportunity", "partner_id": self.partner_a.id, "expected_revenue": 999,
        })
        won.action_set_won()
        self.assertEqual(self.partner_a.opportunity_amount, 5000 + 700)
        self.assertEqual(contact.opportunity_amount, 700)
