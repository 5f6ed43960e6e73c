import json
import math
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..engine.forecast import forecast
from .common import OpportunityCase

COMPARED = ("currency", "periods", "totals", "calibration", "slip", "open_count", "method")


@tagged("post_install", "-at_install")
class TestForecast(OpportunityCase):
    """``crm.lead.get_forecast``, the forecast screen and its report.

    Fixtures: stages ``qualified`` (25 % level) and ``proposal`` (75 %) and a won stage;
    in ``team``, open opportunities of ``salesman`` and ``salesman_other``, one won from
    ``proposal`` and one lost in ``qualified`` (so their stated probabilities, before
    Odoo's 100 / 0, are 75 and 25).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Stage = cls.env["crm.stage"]
        cls.qualified = Stage.create({"name": "FC Qualified", "sequence": 201, "team_id": cls.team.id,
                                      "probability_level_id": cls.levels[25].id})
        cls.proposal = Stage.create({"name": "FC Proposal", "sequence": 202, "team_id": cls.team.id,
                                     "probability_level_id": cls.levels[75].id})
        cls.won_stage = Stage.create({"name": "FC Won", "sequence": 203, "team_id": cls.team.id, "is_won": True})
        cls.today = fields.Date.context_today(cls.env["crm.lead"])
        cls.domain = [("team_id", "=", cls.team.id)]
        cls.open_leads = (
            cls.create_forecast_opportunity(1000, 50, 10)
            | cls.create_forecast_opportunity(2500, 75, 40)
            | cls.create_forecast_opportunity(0, 10, 70)
            | cls.create_forecast_opportunity(4000, 90, -20)  # overdue
            | cls.create_forecast_opportunity(800, 25, 15, user_id=cls.salesman_other.id)
        )
        cls.won_lead = cls.create_forecast_opportunity(3000, 75, -5, stage_id=cls.proposal.id)
        cls.won_lead.action_set_won()
        cls.lost_lead = cls.create_forecast_opportunity(1500, 25, -30, stage_id=cls.qualified.id)
        cls.lost_lead.action_set_lost()

    @classmethod
    def create_forecast_opportunity(cls, amount, level, due_in_days, **values):
        return cls.create_opportunity(
            expected_revenue=amount,
            probability_level_id=cls.levels[level].id,
            date_deadline=cls.today + timedelta(days=due_in_days),
            **{"stage_id": cls.qualified.id, **values},
        )

    def engine_input(self, leads):
        """The engine's opportunities built from ``leads`` by hand: closed ones carry the
        level of the stage they were closed from (75 % won, 25 % lost)."""
        stated = {self.won_lead: 75.0, self.lost_lead: 25.0}
        rows = []
        for lead in leads:
            won = {self.won_lead: True, self.lost_lead: False}.get(lead)
            probability = stated.get(lead, lead.probability)
            rows.append({
                "id": lead.id,
                "amount": lead.expected_revenue,
                "probability": probability,
                "date_expected": lead.date_deadline or None,
                "date_created": lead.create_date,
                "date_closed": lead.date_closed if won is not None else None,
                "won": won,
                "level": self.levels[int(probability)].id if won is not None else lead.probability_level_id.id,
            })
        return rows

    def assertSameForecast(self, result, expected):
        for key in COMPARED:
            self.assertEqual(result[key], expected[key], key)

    def assertFinite(self, value):
        if isinstance(value, dict):
            for item in value.values():
                self.assertFinite(item)
        elif isinstance(value, list):
            for item in value:
                self.assertFinite(item)
        elif isinstance(value, float):
            self.assertTrue(math.isfinite(value), value)

    # ------------------------------------------------------------------ numbers

    def test_numbers_match_the_engine(self):
        self.assertEqual((self.won_lead.probability, self.lost_lead.active), (100, False), "Odoo's closing")
        options = {"granularity": "quarter", "method": "monte_carlo", "trials": 2000, "seed": 7}
        result = self.env["crm.lead"].get_forecast(self.domain, options)
        leads = self.open_leads | self.won_lead | self.lost_lead
        expected = forecast(self.engine_input(leads), None, {**options, "currency": "USD"}, today=self.today)
        self.assertSameForecast(result, expected)
        self.assertEqual(result["currency"], self.company.currency_id.name)
        self.assertEqual(result["open_count"], 5)
        self.assertEqual(result["calibration"]["count"], 2)
        self.assertEqual(
            [(row["level"], row["stated"], row["won"]) for row in result["calibration"]["levels"]],
            [(self.levels[25].id, 25.0, 0), (self.levels[75].id, 75.0, 1)],
            "closed opportunities are scored on what they were stated while open",
        )
        self.assertEqual(result["totals"]["best_case"], 1000 + 2500 + 4000 + 800)
        self.assertEqual(result["totals"]["won"], 3000)
        self.assertFalse("backtest" in result)

    def test_dates_as_strings_and_backtest(self):
        options = {"date_from": str(self.today.replace(day=1)), "date_to": str(self.today + timedelta(days=80)),
                   "method": "analytic", "backtest": 3, "calibrated": True}
        result = self.env["crm.lead"].get_forecast(self.domain, options)
        self.assertEqual(result["periods"][0]["period"], self.today.strftime("%Y-%m"))
        self.assertIn(len(result["periods"]), (3, 4))
        self.assertEqual(result["backtest"]["count"], 3)
        self.assertTrue(result["calibrated"])
        self.assertFinite(result)

    def test_edge_cases_give_numbers(self):
        Lead = self.env["crm.lead"]
        for domain in ([("id", "=", 0)], [("id", "=", self.open_leads[0].id)], [("id", "=", self.open_leads[2].id)]):
            for method in ("analytic", "monte_carlo"):
                result = Lead.get_forecast(domain, {"method": method, "backtest": 2})
                self.assertFinite(result)
                self.assertEqual(len(result["periods"]), 12)
        nothing = Lead.get_forecast([("id", "=", 0)])
        self.assertEqual((nothing["totals"]["weighted"], nothing["calibration"]["brier"]), (0.0, 0.0))
        zero = Lead.get_forecast([("id", "=", self.open_leads[2].id)])
        self.assertEqual(zero["totals"]["best_case"], 0.0, "a zero amount forecasts nothing, without NaN")

    def test_empty_values_are_none_for_the_engine_and_false_for_odoo(self):
        """The engine gets and gives None for empty values; get_forecast takes and gives False."""
        orphan = self.create_forecast_opportunity(600, 50, -3, user_id=False, opportunity_type_id=False)
        orphan.action_set_won()
        Lead = self.env["crm.lead"]
        opportunities, history = Lead._forecast_tables(self.domain)
        for name, column in (*opportunities.items(), *history.items()):
            if name != "won":  # a boolean: False is "lost" there
                self.assertFalse([value for value in column if value is False], f"no False in {name}")
        self.assertIn(False, opportunities["won"])
        engine = forecast(opportunities, history, Lead._forecast_options(None), today=self.today)
        result = Lead.get_forecast(self.domain)
        for group in ("user", "type"):
            self.assertIn(None, [row["key"] for row in engine["statistics"]["win_rate"][group]], group)
            self.assertNotIn(False, [row["key"] for row in engine["statistics"]["win_rate"][group]], group)
            keys = [row["key"] for row in result["statistics"]["win_rate"][group]]
            self.assertTrue(any(key is False for key in keys), group)
            self.assertNotIn(None, keys, group)
        # the same result, but None (JSON null) as False
        self.assertEqual(result, json.loads(json.dumps(engine).replace("null", "false")))
        empties = {"date_to": False, "date_from": "", "granularity": "", "method": False, "calibrated": False,
                   "trials": False, "seed": False, "backtest": False, "commit_threshold": False}
        self.assertEqual(Lead.get_forecast(self.domain, empties), result, "Odoo's empty options are the defaults")

    # ------------------------------------------------------------------ rights

    def test_salesperson_forecasts_only_what_he_may_read(self):
        mine = self.open_leads.filtered(lambda lead: lead.user_id == self.salesman) | self.won_lead | self.lost_lead
        options = {"method": "analytic"}
        result = self.env["crm.lead"].with_user(self.salesman).get_forecast(self.domain, options)
        expected = forecast(self.engine_input(mine), None, {**options, "currency": "USD"}, today=self.today)
        self.assertSameForecast(result, expected)
        manager = self.env["crm.lead"].with_user(self.sales_manager).get_forecast(self.domain, options)
        self.assertEqual(manager["totals"]["best_case"] - result["totals"]["best_case"], 800)
        self.assertEqual(manager["open_count"], result["open_count"] + 1)

    def test_portal_user_cannot_forecast(self):
        portal = self.create_user("opp_forecast_portal", "base.group_portal")
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(portal).get_forecast()

    def test_query_count_does_not_grow_with_the_opportunities(self):
        Lead = self.env["crm.lead"].with_user(self.sales_manager)
        Lead.get_forecast(self.domain)  # warm the caches (levels, fields, rules)
        self.env.invalidate_all()
        # the opportunities, their history and their stages, plus the caller's rights
        # and company (currency) look-ups: none per opportunity
        with self.assertQueryCount(7):
            Lead.get_forecast(self.domain)
        for index in range(25):
            lead = self.create_forecast_opportunity(100 * index, 50, index)
            if index % 3 == 0:
                lead.write({"stage_id": self.proposal.id})
            if index % 5 == 0:
                lead.action_set_won()
        self.env.invalidate_all()
        with self.assertQueryCount(7):
            result = Lead.get_forecast(self.domain)
        self.assertEqual(result["open_count"], 5 + 20)

    # ------------------------------------------------------------------ bad input

    def test_bad_input(self):
        Lead = self.env["crm.lead"]
        for domain, options, message in (
            ("not a domain", None, "domain"),
            ([("name", "=")], None, "domain"),
            (None, ["method"], "options"),
            (None, {"colour": "red"}, "options"),
            (None, {"method": "guess"}, "method"),
            (None, {"granularity": "week"}, "granularity"),
            (None, {"date_from": "2026-05-01", "date_to": "2026-04-01"}, "after"),
            (None, {"date_from": "not a date"}, "date"),
            (None, {"trials": 0}, "trials"),
            (None, {"trials": 1_000_001}, "trials"),
            (None, {"seed": "x"}, "seed"),
            (None, {"seed": True}, "seed"),
        ):
            with self.subTest(options=options, domain=domain), self.assertRaisesRegex(UserError, message):
                Lead.get_forecast(domain, options)

    # ------------------------------------------------------------------ screen and report

    def test_forecast_screen(self):
        screen = self.env["crm.lead.forecast"].with_user(self.sales_manager).create({
            "team_id": self.team.id, "granularity": "quarter", "method": "analytic", "backtest_periods": 2,
        })
        screen.action_compute()
        result = self.env["crm.lead"].get_forecast(
            self.domain, {"granularity": "quarter", "method": "analytic", "backtest": 2,
                          "date_from": str(screen.date_from)},
        )
        self.assertEqual(screen.line_ids.mapped("period"), [row["period"] for row in result["periods"]])
        self.assertEqual(screen.line_ids.mapped("p50"), [row["p50"] for row in result["periods"]])
        self.assertEqual(sum(screen.line_ids.mapped("weighted")), result["totals"]["weighted"])
        self.assertEqual(len(screen.series_ids), 5 * len(screen.line_ids))
        self.assertEqual(screen.calibration_ids.level_id, self.levels[25] | self.levels[75])
        self.assertEqual((screen.closed_count, screen.brier), (2, result["calibration"]["brier"]))
        self.assertEqual(screen.backtest_count, 2)
        self.assertEqual(screen.backtest_coverage, 100 * result["backtest"]["coverage"])
        action = screen.action_open_graph()
        self.assertEqual(action["res_model"], "crm.lead.forecast.series")
        self.assertEqual(action["domain"], [("forecast_id", "=", screen.id)])
        screen.action_compute()  # computing again replaces the lines
        self.assertEqual(len(screen.line_ids), len(result["periods"]))

    def test_forecast_screen_shows_closed_opportunities_without_level(self):
        """get_forecast gives a group without level as False: the screen names it, links no level."""
        screen = self.env["crm.lead.forecast"].create({"team_id": self.team.id})
        result = self.env["crm.lead"].get_forecast(self.domain)
        result["calibration"]["levels"].append(
            {"level": False, "count": 3, "won": 1, "stated": 5.0, "observed": 33.33, "calibrated": 20.0}
        )
        screen.write(screen._prepare_result_values(result))
        no_level = screen.calibration_ids.filtered(lambda row: not row.level_id)
        self.assertEqual((no_level.name, no_level.count), ("No level", 3))
        self.assertEqual(screen.calibration_ids.level_id, self.levels[25] | self.levels[75])
