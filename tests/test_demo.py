from datetime import date
from itertools import pairwise

from dateutil.relativedelta import relativedelta

from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..engine.forecast_calibration import MIN_CLOSED
from ..models.crm_lead_demo import LEAD_COUNT, SALESPEOPLE, STREETS

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
        cls.demo_domain = [("user_id", "in", cls.users.ids)]

    def test_counts(self):
        self.assertEqual(len(self.leads), LEAD_COUNT)
        self.assertGreaterEqual(LEAD_COUNT, 550, "about 600 opportunities")
        self.assertTrue(4 <= len(self.leads.user_id) <= 6, "4 to 6 salespeople")
        self.assertTrue(2 <= len(self.leads.team_id) <= 3, "2 or 3 teams")
        self.assertEqual(len(set(self.leads.user_id.mapped("tz"))), len(self.leads.user_id), "one time zone each")
        self.assertGreaterEqual(len(self.leads.currency_id), 2)
        self.assertGreaterEqual(len(self.leads.opportunity_type_id), 4)
        self.assertTrue(all(kind.stage_ids for kind in self.leads.opportunity_type_id), "each type has a workflow")
        located = self.env["res.partner"].search(
            [
                ("country_id.code", "in", list(STREETS)),
                ("partner_latitude", "!=", 0),
                ("geocode_status", "=", "ok"),
            ]
        )
        self.assertGreaterEqual(len(located), 120)
        self.assertGreaterEqual(len(located.country_id), 6)
        self.assertTrue(located.contact_quality_id)
        rates = self.env["res.currency.rate"].search([("currency_id", "=", self.env.ref("base.EUR").id)])
        self.assertGreaterEqual(len(set(rates.mapped("rate"))), 24, "the euro's rate moves month by month")

    def test_time_span(self):
        """Created over the last 24 months, expected to close up to a year ahead; at least
        ``MIN_CLOSED`` closed opportunities seen open on the first day of a month (what
        calibration learns from)."""
        today = date.today()
        created = [lead.create_date.date() for lead in self.leads]
        self.assertLessEqual(min(created), today - relativedelta(months=23))
        self.assertGreaterEqual(len({(day.year, day.month) for day in created}), 24, "created in every month")
        open_leads = self.leads.filtered(lambda lead: lead.closing_state == "open")
        self.assertGreaterEqual(len(open_leads), 80, "a healthy open pipeline")
        ahead = [lead.date_deadline for lead in open_leads if lead.date_deadline]
        self.assertGreaterEqual(max(ahead), today + relativedelta(months=9), "the pipeline reaches a year ahead")
        seen_open = self.env.execute_query(
            SQL(
                """SELECT COUNT(DISTINCT history.lead_id) FROM crm_lead_history history
                WHERE history.lead_id = ANY(%s) AND history.state = 'open'
                  AND EXISTS (SELECT 1 FROM crm_lead_history later WHERE later.lead_id = history.lead_id
                                 AND later.state <> 'open'
                                 AND later.date >= date_trunc('month', history.date) + INTERVAL '1 month')""",
                self.leads.ids,
            )
        )[0][0]
        self.assertGreaterEqual(seen_open, MIN_CLOSED)

    def test_won_and_lost_with_reasons(self):
        won = self.leads.filtered(lambda lead: lead.closing_state == "won")
        lost = self.leads.filtered(lambda lead: lead.closing_state == "lost")
        self.assertTrue(won and lost)
        self.assertFalse(won.filtered(lambda lead: not lead.won_reason_id or not lead.date_closed))
        self.assertFalse(lost.filtered(lambda lead: not lead.lost_reason_id or not lead.date_closed))
        self.assertFalse(won.filtered(lambda lead: not lead.stage_id.is_won))
        self.assertFalse((won | lost).filtered(lambda lead: lead.date_closed < lead.create_date))

    def test_documents_linked(self):
        orders = self.env["sale.order"].search([("partner_id", "child_of", self.leads.partner_id.ids)])
        self.assertTrue(orders.filtered(lambda order: order.state == "sale"))
        self.assertFalse(orders.filtered(lambda order: order.opportunity_id not in self.leads))
        moves = self.env["account.move"].search(
            [
                ("partner_id", "child_of", self.leads.partner_id.ids),
                ("move_type", "in", ("out_invoice", "out_refund")),
            ]
        )
        self.assertTrue(moves.filtered(lambda move: move.state == "posted"))
        self.assertFalse(moves.filtered(lambda move: move.opportunity_id not in self.leads))
        self.assertEqual(
            set(moves.mapped("payment_state")) & {"paid", "partial", "not_paid"}, {"paid", "partial", "not_paid"}
        )
        self.assertTrue(moves.filtered(lambda move: move.move_type == "out_refund"))
        for order in orders.filtered(lambda order: order.state == "sale"):
            self.assertEqual(order.opportunity_id.closing_state, "won", order.name)
            self.assertGreaterEqual(order.date_order, order.opportunity_id.create_date, order.name)
            self.assertEqual(order.date_order.date(), order.opportunity_id.date_closed.date(), order.name)
        for move in moves.filtered(lambda move: move.move_type == "out_invoice"):
            self.assertGreaterEqual(move.invoice_date, move.opportunity_id.date_closed.date(), move.name)

    def test_workflow_log_replays(self):
        """Each opportunity's workflow log, oldest first, goes from its first stage to its
        current one, each row starting where the previous ended, in the workflow's order,
        with the time spent in the stage it leaves."""
        durations = []
        for lead in self.leads:
            rows = lead.stage_history_ids.sorted(lambda row: (row.date, row.id))
            self.assertTrue(rows, lead.name)
            self.assertFalse(rows[0].stage_from_id)
            self.assertEqual(rows[0].date, lead.create_date, lead.name)
            for before, after in pairwise(rows):
                self.assertEqual(after.stage_from_id, before.stage_to_id, lead.name)
                self.assertLessEqual(before.date, after.date)
                self.assertGreater(after.stage_to_id.sequence, after.stage_from_id.sequence, lead.name)
                days = (after.date - before.date).total_seconds() / 86400  # stored to two decimals
                self.assertAlmostEqual(after.duration_days, days, delta=0.0051, msg=lead.name)
                durations.append(after.duration_days)
            self.assertEqual(rows[-1].stage_to_id, lead.stage_id, lead.name)
            self.assertTrue(set(rows.stage_to_id) <= set(lead.opportunity_type_id.stage_ids), lead.name)
        self.assertGreater(len({round(days) for days in durations}), 30, "real durations, not the install's")

    def test_amounts_in_both_currencies(self):
        for lead in self.leads:
            if lead.line_ids:
                self.assertAlmostEqual(lead.amount_net, sum(lead.line_ids.mapped("amount_net")), places=2)
            rate = lead._get_conversion_rates()[lead]
            self.assertAlmostEqual(lead.expected_revenue, lead.amount_net * rate, delta=1.0, msg=lead.name)
            self.assertEqual(lead.amount_net_company, lead.expected_revenue)
        self.assertTrue(
            self.leads.filtered(
                lambda lead: lead.currency_id != lead.company_currency and lead.expected_revenue != lead.amount_net
            )
        )

    def test_history_over_the_months(self):
        history = self.env["crm.lead.history"].search([("lead_id", "in", self.leads.ids)])
        self.assertEqual(set(history.lead_id.ids), set(self.leads.ids), "every opportunity has a history")
        self.assertFalse(history.filtered("reconstructed"), "lived, not rebuilt by the installation's seeding")
        months = {(row.date.year, row.date.month) for row in history}
        self.assertGreaterEqual(len(months), 24, "dated over 24 months")
        for lead in self.leads:
            rows = lead.history_ids.sorted(lambda row: (row.date, row.id))
            self.assertEqual(rows[0].date, lead.create_date, lead.name)
            self.assertEqual(rows[-1].state, lead.closing_state, lead.name)
            self.assertEqual(rows[-1].stage_id, lead.stage_id, lead.name)
        created = {lead.create_date.date() for lead in self.leads}
        self.assertGreaterEqual(len(created), len(self.leads) // 3, "created over many days, not at install")

    def test_screens(self):
        """Every screen has something to show: each column of the boards, the three kinds of
        documents in each month of the last two quarters, the map, calibration and backtest."""
        Lead = self.env["crm.lead"]
        progress = Lead.get_board("progress", self.demo_domain)
        self.assertFalse([column["label"] for column in progress["columns"] if not column["count"]])
        for kind in self.leads.opportunity_type_id:
            stages = Lead.get_board("stages", [*self.demo_domain, ("opportunity_type_id", "=", kind.id)])
            self.assertFalse([column["label"] for column in stages["columns"] if not column["count"]], kind.name)
        month = date.today().replace(day=1)  # the six months before this one
        invoicing = Lead.get_board(
            "invoicing",
            [],
            {
                "date_from": str(month - relativedelta(months=6)),
                "date_to": str(month - relativedelta(days=1)),
                "limit": 0,
            },
        )
        self.assertEqual(len(invoicing["columns"]), 6)
        for column in invoicing["columns"]:
            kinds = {card["document_type"] for card in column["cards"]}
            self.assertEqual(kinds, {"opportunity", "order", "invoice"}, column["key"])
        markers = Lead.get_map_data(self.demo_domain)["markers"]
        self.assertGreaterEqual(len(markers), 120)
        countries = self.env["res.partner"].browse(marker["partner_id"] for marker in markers).country_id
        self.assertGreaterEqual(len(countries), 6)
        forecast = Lead.get_forecast(self.demo_domain, {"backtest": 12})
        self.assertTrue(forecast["calibration"]["levels"])
        self.assertGreaterEqual(len(forecast["backtest"]["points"]), 12)
