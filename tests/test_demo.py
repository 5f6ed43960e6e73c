from itertools import pairwise

from odoo.tests import TransactionCase, tagged

from ..models.crm_lead_demo import SALESPEOPLE, STREETS

DEMO = "crm_opportunity_management"


@tagged("post_install", "-at_install")
class TestDemoCompany(TransactionCase):
    """The generated demo company (models/crm_lead_demo.py) holds what its screens need,
    and its records agree with each other. Skipped where the demo data is not installed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = cls.env["res.users"]
        for xmlid in SALESPEOPLE:
            cls.users |= cls.env.ref(f"{DEMO}.{xmlid}", raise_if_not_found=False) or cls.env["res.users"]
        if not cls.users:
            cls.skipTest(cls, "the demo data is not installed")
        cls.leads = cls.env["crm.lead"].with_context(active_test=False).search([("user_id", "in", cls.users.ids)])

    def test_counts(self):
        self.assertGreaterEqual(len(self.leads), 100)
        self.assertTrue(4 <= len(self.leads.user_id) <= 6, "4 to 6 salespeople")
        self.assertTrue(2 <= len(self.leads.team_id) <= 3, "2 or 3 teams")
        self.assertEqual(len(set(self.leads.user_id.mapped("tz"))), len(self.leads.user_id), "one time zone each")
        self.assertGreaterEqual(len(self.leads.currency_id), 2)
        self.assertGreaterEqual(len(self.leads.opportunity_type_id), 4)
        located = self.env["res.partner"].search([
            ("country_id.code", "in", list(STREETS)), ("partner_latitude", "!=", 0), ("geocode_status", "=", "ok"),
        ])
        self.assertGreaterEqual(len(located), 120)
        self.assertGreaterEqual(len(located.country_id), 6)
        self.assertTrue(located.contact_quality_id)
        rates = self.env["res.currency.rate"].search([("currency_id", "=", self.env.ref("base.EUR").id)])
        self.assertGreaterEqual(len(rates), 24, "the euro's rate moves month by month")

    def test_won_and_lost_with_reasons(self):
        won = self.leads.filtered(lambda lead: lead.closing_state == "won")
        lost = self.leads.filtered(lambda lead: lead.closing_state == "lost")
        self.assertTrue(won and lost)
        self.assertFalse(won.filtered(lambda lead: not lead.won_reason_id or not lead.date_closed))
        self.assertFalse(lost.filtered(lambda lead: not lead.lost_reason_id or not lead.date_closed))
        self.assertFalse(won.filtered(lambda lead: not lead.stage_id.is_won))

    def test_documents_linked(self):
        orders = self.env["sale.order"].search([("partner_id", "in", self.leads.partner_id.ids)])
        self.assertTrue(orders.filtered(lambda order: order.state == "sale"))
        self.assertFalse(orders.filtered(lambda order: order.opportunity_id not in self.leads))
        moves = self.env["account.move"].search([
            ("partner_id", "in", self.leads.partner_id.ids), ("move_type", "in", ("out_invoice", "out_refund")),
        ])
        self.assertTrue(moves.filtered(lambda move: move.state == "posted"))
        self.assertFalse(moves.filtered(lambda move: move.opportunity_id not in self.leads))
        self.assertTrue(moves.filtered(lambda move: move.payment_state == "paid"))
        self.assertTrue(moves.filtered(lambda move: move.move_type == "out_refund"))
        for order in orders.filtered(lambda order: order.state == "sale"):
            self.assertEqual(order.opportunity_id.closing_state, "won", order.name)
            self.assertGreaterEqual(order.date_order, order.opportunity_id.create_date, order.name)

    def test_workflow_log_replays(self):
        """Each opportunity's workflow log, oldest first, goes from its first stage to its
        current one, each row starting where the previous ended, in the workflow's order."""
        for lead in self.leads:
            rows = lead.stage_history_ids.sorted(lambda row: (row.date, row.id))
            self.assertTrue(rows, lead.name)
            self.assertFalse(rows[0].stage_from_id)
            for before, after in pairwise(rows):
                self.assertEqual(after.stage_from_id, before.stage_to_id, lead.name)
                self.assertLessEqual(before.date, after.date)
                self.assertGreater(after.stage_to_id.sequence, after.stage_from_id.sequence, lead.name)
            self.assertEqual(rows[-1].stage_to_id, lead.stage_id, lead.name)
            self.assertLessEqual(abs((rows[0].date - lead.create_date).total_seconds()), 86400, lead.name)

    def test_amounts_in_both_currencies(self):
        for lead in self.leads:
            if lead.line_ids:
                self.assertAlmostEqual(lead.amount_net, sum(lead.line_ids.mapped("amount_net")), places=2)
            rate = lead._get_conversion_rates()[lead]
            self.assertAlmostEqual(lead.expected_revenue, lead.amount_net * rate, delta=1.0, msg=lead.name)
            self.assertEqual(lead.amount_net_company, lead.expected_revenue)

    def test_history_over_the_months(self):
        history = self.env["crm.lead.history"].search([("lead_id", "in", self.leads.ids)])
        self.assertEqual(set(history.lead_id.ids), set(self.leads.ids), "every opportunity has a history")
        self.assertFalse(history.filtered("reconstructed"), "lived, not rebuilt by the installation's seeding")
        months = {(row.date.year, row.date.month) for row in history}
        self.assertGreaterEqual(len(months), 20, "dated over about 24 months")
        for lead in self.leads:
            last = lead.history_ids.sorted(lambda row: (row.date, row.id))[-1]
            self.assertEqual(last.state, lead.closing_state, lead.name)
            self.assertEqual(last.stage_id, lead.stage_id, lead.name)
        created = {lead.create_date.date() for lead in self.leads}
        self.assertGreaterEqual(len(created), len(self.leads) // 3, "created over many days, not at install")
