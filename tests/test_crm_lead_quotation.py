from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import OpportunityCase


@tagged("post_install", "-at_install")
class TestCrmLeadQuotation(OpportunityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Product = cls.env["product.product"]
        cls.laptop = Product.create({"name": "Laptop", "categ_id": cls.category_hw.id, "list_price": 1000})
        cls.screen = Product.create({"name": "Screen", "categ_id": cls.category_hw.id, "list_price": 200})
        cls.licence = Product.create({"name": "Licence", "categ_id": cls.category_sw.id, "list_price": 50})
        cls.eur_pricelist = cls.env["product.pricelist"].create({"name": "EUR", "currency_id": cls.eur.id})

    def create_order(self, lead, lines, **values):
        return self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "opportunity_id": lead.id,
                "company_id": self.company.id,
                "order_line": [
                    (
                        0,
                        0,
                        {"product_id": product.id, "product_uom_qty": qty, "price_unit": price, "discount": discount},
                    )
                    for product, qty, price, discount in lines
                ],
                **values,
            }
        )

    def test_lines_rebuilt_per_product_family(self):
        lead = self.create_opportunity(lines=[self.line(5, category=self.category_sw)])
        self.create_order(
            lead,
            [(self.laptop, 2, 1000, 10), (self.screen, 5, 200, 0), (self.licence, 10, 50, 20)],
            date_order="2026-02-10 10:00:00",
            commitment_date="2026-03-01 10:00:00",
        )
        lead.action_compute_from_quotations()
        by_family = {line.product_categ_id: line for line in lead.line_ids}
        self.assertEqual(set(by_family), {self.category_hw, self.category_sw})
        hardware, software = by_family[self.category_hw], by_family[self.category_sw]
        self.assertEqual((hardware.amount_gross, hardware.amount_discount, hardware.amount_net), (3000, 200, 2800))
        self.assertEqual((software.amount_gross, software.amount_discount, software.amount_net), (500, 100, 400))
        self.assertEqual(hardware.date_expected_order, self.date("2026-02-10"))
        self.assertEqual(hardware.date_expected_delivery, self.date("2026-03-01"))
        self.assertEqual((lead.amount_gross, lead.amount_net, lead.expected_revenue), (3500, 3200, 3200))

    def test_orders_in_another_currency_are_converted(self):
        lead = self.create_opportunity()
        self.create_order(
            lead, [(self.laptop, 1, 900, 0)], pricelist_id=self.eur_pricelist.id, date_order="2026-02-10 10:00:00"
        )
        lead.action_compute_from_quotations()
        self.assertEqual(lead.line_ids.amount_gross, 1000, "900 EUR at the January rate")

    def test_cancelled_orders_are_ignored(self):
        lead = self.create_opportunity()
        self.create_order(lead, [(self.laptop, 1, 1000, 0)])
        cancelled = self.create_order(lead, [(self.licence, 1, 50, 0)])
        cancelled._action_cancel()
        lead.action_compute_from_quotations()
        self.assertEqual(lead.line_ids.product_categ_id, self.category_hw)

    def test_without_quotation(self):
        lead = self.create_opportunity(lines=[self.line(10)])
        with self.assertRaisesRegex(UserError, "no quotation"):
            lead.action_compute_from_quotations()
        self.assertEqual(lead.line_ids.amount_gross, 10)

    def test_confirmed_order_does_not_override_line_amounts(self):
        """sale_crm raises the expected revenue to a confirmed order's amount; with lines
        the lines stay the source of the amount."""
        lead = self.create_opportunity(lines=[self.line(10)])
        order = self.create_order(lead, [(self.laptop, 1, 1000, 0)])
        order.action_confirm()
        self.assertEqual(lead.expected_revenue, 10)
        plain = self.create_opportunity(expected_revenue=10)
        self.create_order(plain, [(self.laptop, 1, 1000, 0)]).action_confirm()
        self.assertEqual(plain.expected_revenue, 1000)
