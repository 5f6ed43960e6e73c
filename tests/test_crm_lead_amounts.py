from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import OpportunityCase


@tagged("post_install", "-at_install")
class TestCrmLeadAmounts(OpportunityCase):
    def test_line_net_and_header_totals(self):
        lead = self.create_opportunity(lines=[self.line(1000, 100), self.line(500, 0, self.category_sw)])
        self.assertEqual(lead.line_ids.mapped("amount_net"), [900, 500])
        self.assertEqual((lead.amount_gross, lead.amount_discount, lead.amount_net), (1500, 100, 1400))
        self.assertEqual(lead.currency_id, self.company.currency_id)
        self.assertEqual(lead.amount_net_company, 1400)
        self.assertEqual(lead.expected_revenue, 1400)
        self.assertEqual(lead.prorated_revenue, round(1400 * lead.probability / 100, 2))

    def test_line_expected_revenue_is_weighted(self):
        lead = self.create_opportunity(lines=[self.line(1000, 200)], probability=25)
        self.assertEqual(lead.line_ids.expected_revenue, 200)

    def test_totals_follow_line_changes(self):
        lead = self.create_opportunity(lines=[self.line(1000, 100)])
        lead.line_ids.amount_discount = 300
        self.assertEqual((lead.amount_net, lead.expected_revenue), (700, 700))
        lead.write({"line_ids": [Command.create(self.line(50))]})
        self.assertEqual(lead.expected_revenue, 750)
        lead.line_ids.unlink()
        self.assertEqual(lead.expected_revenue, 750, "without lines the amount is typed in: the last one stays")
        lead.expected_revenue = 120
        self.assertEqual((lead.amount_gross, lead.amount_discount, lead.amount_net), (120, 0, 120))

    def test_expected_revenue_typed_without_lines(self):
        lead = self.create_opportunity(expected_revenue=5000)
        self.assertEqual((lead.amount_net, lead.amount_net_company, lead.expected_revenue), (5000, 5000, 5000))

    def test_expected_revenue_comes_from_lines_when_there_are_some(self):
        lead = self.create_opportunity(lines=[self.line(1000)])
        lead.write({"expected_revenue": 99})
        self.assertEqual(lead.expected_revenue, 1000)

    def test_currency_conversion_at_the_expected_invoice_date(self):
        """900 EUR is 1000 USD at the January rate (0.9) and 1125 USD at the June rate (0.8).

        The rate is the one of the expected invoice date, else of the expected closing."""
        lead = self.create_opportunity(
            currency_id=self.eur.id, date_deadline="2026-03-15", lines=[self.line(1000, 100)]
        )
        self.assertEqual(lead.amount_net, 900)
        self.assertEqual(lead.amount_net_company, 1000)
        self.assertEqual(lead.expected_revenue, 1000)
        lead.line_ids.date_expected_invoice = "2026-07-01"
        self.assertEqual(lead.date_expected_invoice, self.date("2026-07-01"))
        self.assertEqual(lead.amount_net_company, 1125)
        self.assertEqual(lead.expected_revenue, 1125)

    def test_expected_dates_come_from_the_earliest_line(self):
        lead = self.create_opportunity(
            lines=[
                self.line(100, date_expected_order="2026-05-01", date_expected_invoice="2026-09-01"),
                self.line(100, date_expected_order="2026-04-01", date_expected_delivery="2026-08-01"),
            ]
        )
        self.assertEqual(lead.date_expected_order, self.date("2026-04-01"))
        self.assertEqual(lead.date_expected_delivery, self.date("2026-08-01"))
        self.assertEqual(lead.date_expected_invoice, self.date("2026-09-01"))
        manual = self.create_opportunity(date_expected_invoice="2026-02-02")
        self.assertEqual(manual.date_expected_invoice, self.date("2026-02-02"))

    def test_conversion_falls_back_to_the_expected_closing(self):
        lead = self.create_opportunity(currency_id=self.eur.id, date_deadline="2026-02-01", lines=[self.line(900)])
        self.assertEqual(lead.amount_net_company, 1000)
        lead.date_deadline = "2026-12-01"
        self.assertEqual(lead.amount_net_company, 1125)
        lead.line_ids.date_expected_invoice = "2026-03-01"
        self.assertEqual(lead.amount_net_company, 1000, "the expected invoice date comes first")

    def test_without_lines_in_foreign_currency(self):
        lead = self.create_opportunity(
            currency_id=self.eur.id, date_expected_invoice="2026-02-01", expected_revenue=1000
        )
        self.assertEqual(lead.amount_net_company, 1000)
        self.assertEqual(lead.amount_net, 900)

    def test_form_creates_lines_in_the_opportunity_currency(self):
        with Form(self.env["crm.lead"].with_context(default_type="opportunity")) as form:
            form.name = "Form opportunity"
            form.currency_id = self.eur
            with form.line_ids.new() as line:
                line.product_categ_id = self.category_hw
                line.amount_gross = 450
                line.date_expected_invoice = "2026-03-01"
            with form.line_ids.new() as line:
                line.product_categ_id = self.category_sw
                line.amount_gross = 450
                line.amount_discount = 45
                line.date_expected_invoice = "2026-02-01"
        lead = form.record
        self.assertEqual(lead.line_ids.currency_id, self.eur)
        self.assertEqual(lead.line_ids.mapped("name"), ["Test Hardware", "Test Software"])
        self.assertEqual(lead.date_expected_invoice, self.date("2026-02-01"))
        self.assertEqual(lead.amount_net, 855)
        self.assertEqual(lead.expected_revenue, 950)

    def test_negative_amounts_are_refused(self):
        lead = self.create_opportunity(lines=[self.line(100)])
        for values, field in (({"amount_gross": -1}, "Gross Amount"), ({"amount_discount": -5}, "Discount")):
            with self.assertRaisesRegex(ValidationError, field), self.cr.savepoint():
                lead.line_ids.write(values)
        with self.assertRaisesRegex(ValidationError, "Expected Revenue"), self.cr.savepoint():
            self.create_opportunity(expected_revenue=-10)
        lead.invalidate_recordset()
        self.assertEqual((lead.line_ids.amount_gross, lead.line_ids.amount_discount), (100, 0))

    def test_discount_above_gross_is_refused(self):
        count = self.env["crm.lead"].search_count([])
        with self.assertRaisesRegex(ValidationError, "Discount"), self.cr.savepoint():
            self.create_opportunity(lines=[self.line(100, 100.01)])
        self.assertEqual(self.env["crm.lead"].search_count([]), count, "nothing is half-written")

    def test_line_in_another_currency_is_refused(self):
        lead = self.create_opportunity(lines=[self.line(100)])
        with self.assertRaisesRegex(ValidationError, "Currency"), self.cr.savepoint():
            lead.line_ids.currency_id = self.eur
        with self.assertRaisesRegex(ValidationError, "Currency"), self.cr.savepoint():
            self.env["crm.lead.line"].create({**self.line(10), "lead_id": lead.id, "currency_id": self.eur.id})
        lead.invalidate_recordset()
        self.assertEqual(len(lead.line_ids), 1)
        self.assertEqual(lead.line_ids.currency_id, self.company.currency_id)

    def test_changing_the_opportunity_currency_moves_its_lines(self):
        lead = self.create_opportunity(lines=[self.line(900, date_expected_invoice="2026-02-01")])
        lead.currency_id = self.eur
        self.assertEqual(lead.line_ids.currency_id, self.eur)
        self.assertEqual(lead.expected_revenue, 1000)
