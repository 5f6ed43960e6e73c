import json
import math
import random
from datetime import date, datetime, timedelta
from unittest.mock import patch

import numpy

import odoo.sql_db
from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged
from odoo.tools import SQL

from ..engine.forecast import forecast
from ..models.crm_lead_forecast import BinaryCopy
from .common import OpportunityCase
from .test_pipeline_flow import FlowCase

COMPARED = ("currency", "periods", "totals", "calibration", "slip", "open_count", "method")


def orm_pipeline(env, leads):
    """The engine's pipeline history of ``leads`` read through the ORM, every row (the
    forecast reads it in SQL, thinned to what the first days of the months see)."""
    rows = env["crm.lead.history"].search([("lead_id", "in", leads.ids)], order="lead_id, date, id")
    # the ORM reads an empty float as 0.0: the predictive probability may be unknown (NULL)
    env.cr.execute("SELECT id FROM crm_lead_history WHERE id = ANY(%s) AND automated_probability IS NULL", [rows.ids])
    unknown = {row_id for (row_id,) in env.cr.fetchall()}
    return [
        {
            "lead_id": row.lead_id.id,
            "date": row.date,
            "amount": row.amount_company,
            "probability": row.probability,
            "automated_probability": None if row.id in unknown else row.automated_probability,
            "date_expected": row.date_deadline or None,
            # the engine's plain form (the forecast reads numbers: 1, 0, NaN)
            "won": {"won": True, "lost": False, "open": None}[row.state],
            "type": row.opportunity_type_id.id or None,
            "team": row.team_id.id or None,
            "user": row.user_id.id or None,
            "level": row.probability_level_id.id or None,
        }
        for row in rows
    ]


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

    def expected_forecast(self, leads, options):
        return forecast(self.engine_input(leads), None, {**options, "currency": "USD"}, today=self.today,
                        pipeline=orm_pipeline(self.env, leads))

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
        expected = self.expected_forecast(leads, options)
        self.assertSameForecast(result, expected)
        self.assertEqual(result["history"], "pipeline")
        self.assertEqual(result["currency"], self.company.currency_id.name)
        self.assertEqual(result["open_count"], 5)
        self.assertEqual(
            {row["key"]: row["won"] for row in result["statistics"]["win_rate"]["level"]},
            {self.levels[25].id: 0, self.levels[75].id: 1},
            "closed opportunities are counted at the level their history says they were stated while open",
        )
        self.assertEqual((result["calibration"]["used"], result["calibration"]["reason"]), (False, "too_few_closed"))
        self.assertEqual(result["totals"]["best_case"], 1000 + 2500 + 4000 + 800)
        self.assertEqual(result["totals"]["won"], 3000)
        self.assertFalse("backtest" in result)

    def test_dates_as_strings_and_backtest(self):
        options = {"date_from": str(self.today.replace(day=1)), "date_to": str(self.today + timedelta(days=80)),
                   "method": "analytic", "backtest": 3, "calibrated": True}
        result = self.env["crm.lead"].get_forecast(self.domain, options)
        self.assertEqual(result["periods"][0]["period"], self.today.strftime("%Y-%m"))
        self.assertIn(len(result["periods"]), (3, 4))
        # the history begins today: no past pipeline to stand on (TestForecastFromHistory has one)
        self.assertEqual(result["backtest"]["count"], 0)
        self.assertEqual([row["horizon"] for row in result["backtest"]["horizons"]], [1, 3, 6])
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
        # a domain Odoo knows to be empty gives a search without FROM … WHERE to read from
        self.assertEqual(Lead.get_forecast([("id", "in", [])]), nothing)
        zero = Lead.get_forecast([("id", "=", self.open_leads[2].id)])
        self.assertEqual(zero["totals"]["best_case"], 0.0, "a zero amount forecasts nothing, without NaN")

    def test_empty_values_are_none_for_the_engine_and_false_for_odoo(self):
        """The engine gets and gives None for empty values; get_forecast takes and gives False."""
        orphan = self.create_forecast_opportunity(600, 50, -3, user_id=False, opportunity_type_id=False)
        orphan.action_set_won()
        Lead = self.env["crm.lead"]
        tables = Lead._forecast_tables(self.domain)
        opportunities = tables["opportunities"]
        for name, column in (item for table in tables.values() for item in table.items()):
            if name != "won":  # a boolean: False is "lost" there
                self.assertFalse([value for value in column if value is False], f"no False in {name}")
        self.assertIn(False, opportunities["won"])
        engine = forecast(**tables, options=Lead._forecast_options(None), today=self.today)
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

    def copied(self, columns, source):
        """``{name: array}`` of ``SELECT <columns> <source>`` read as the forecast reads its tables."""
        return self.env["crm.lead"]._forecast_copies([(self.env.cr, BinaryCopy(columns, source))])[0]

    def test_binary_copy_reads_every_kind_of_value_as_sql_gives_it(self):
        """The forecast's read: values of 32 bits travel two to a field (an odd one alone), and
        come back as PostgreSQL gave them: negative days (before 2000), empty values, large ids."""
        source = SQL("""FROM (VALUES (1, 2.5::float8, TIMESTAMP '1999-12-31 23:59:59.000001', DATE '1999-12-31',
                                      'won', 2147483647, NULL::int),
                                     (7, NULL, NULL, NULL, 'open', NULL, 3),
                                     (9, -0.25, TIMESTAMP '2026-11-30 12:00', DATE '2038-01-20', 'lost', 5, 2147483646)
                       ) AS v(id, amount, moment, day, state, big, other) ORDER BY v.id""")
        columns = [
            ("id", "key", SQL("v.id")), ("amount", "number", SQL("v.amount")), ("moment", "moment", SQL("v.moment")),
            ("day", "day", SQL("v.day")), ("won", "state", SQL("v.state")), ("big", "key", SQL("v.big")),
            ("other", "key", SQL("v.other")),
        ]
        for count in (len(columns), len(columns) - 1):  # 5 and 4 values of 32 bits: one alone, or none
            table = self.copied(columns[:count], source)
            self.assertEqual(list(table), [name for name, _kind, _sql in columns[:count]])
            self.assertEqual(list(table["id"]), [1, 7, 9])
            self.assertEqual([str(value) for value in table["amount"]], ["2.5", "nan", "-0.25"])
            self.assertEqual([str(value) for value in table["moment"]],
                             ["1999-12-31T23:59:59.000001", "NaT", "2026-11-30T12:00:00.000000"])
            self.assertEqual([str(value) for value in table["day"]], ["1999-12-31", "NaT", "2038-01-20"])
            self.assertEqual([str(value) for value in table["won"]], ["1.0", "nan", "0.0"])
            self.assertEqual(list(table["big"]), [2147483647, None, 5])
        self.assertEqual(list(table.get("other", [])), [])
        self.assertEqual(list(self.copied(columns, source)["other"]), [None, 3, 2147483646])

    def test_large_reads_run_side_by_side_in_one_snapshot(self):
        """A transaction that wrote nothing reads the opportunities and their history at the
        same time, on cursors of its own that share one snapshot; one that wrote reads them
        on its own cursor (no other transaction sees its rows). Both read the same tables."""
        cr = odoo.sql_db.db_connect(self.env.cr.dbname).cursor()  # a transaction of its own: the demo's data
        try:
            Lead = self.env(cr=cr)["crm.lead"]
            domain = Lead._board_domain([])
            cursors, copies = [], type(Lead)._forecast_copies

            def spy(model, reads):
                cursors.append([cursor for cursor, _read in reads])
                return copies(model, reads)

            with patch.object(type(Lead), "_forecast_copies", spy):
                side_by_side = Lead._forecast_tables(domain)
                cr.execute("SELECT txid_current()")  # as a write does: the transaction has an id
                one_after_the_other = Lead._forecast_tables(domain)
            first, second = cursors
            self.assertEqual(len({id(cursor) for cursor in [cr, *first]}), 3, "two cursors of their own")
            self.assertTrue(all(cursor.closed for cursor in first))
            self.assertEqual(second, [cr, cr])
            self.assertTrue(len(side_by_side["opportunities"]["id"]) and len(side_by_side["pipeline"]["lead_id"]))
            for table, columns in one_after_the_other.items():
                for name, column in columns.items():
                    numpy.testing.assert_array_equal(side_by_side[table][name], column, f"{table}.{name}")
        finally:
            cr.rollback()
            cr.close()

    def test_salesperson_forecasts_only_what_he_may_read(self):
        mine = self.open_leads.filtered(lambda lead: lead.user_id == self.salesman) | self.won_lead | self.lost_lead
        options = {"method": "analytic"}
        result = self.env["crm.lead"].with_user(self.salesman).get_forecast(self.domain, options)
        expected = self.expected_forecast(mine, options)
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
        # the stage history, whether the transaction wrote (it did: its own cursor reads),
        # plus the caller's rights and company (currency) look-ups: none per opportunity (the
        # opportunities and their history are read by COPY, which the cursor does not count)
        with self.assertQueryCount(6):
            Lead.get_forecast(self.domain)
        for index in range(25):
            lead = self.create_forecast_opportunity(100 * index, 50, index)
            if index % 3 == 0:
                lead.write({"stage_id": self.proposal.id})
            if index % 5 == 0:
                lead.action_set_won()
        self.env.invalidate_all()
        with self.assertQueryCount(6):
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


@tagged("post_install", "-at_install")
class TestForecastFromHistory(FlowCase):
    """A world replayed through the real write paths with a moving clock: the forecast
    reads its history as it stood, in SQL, and gives the engine's numbers on every row."""

    def test_forecast_learns_from_the_history_as_it_stood(self):
        rng = random.Random(14)
        days = [date(2026, 1, 5) + timedelta(days=3 * step) for step in range(100)]
        leads = self.replay_random_world(rng, days, probabilities=(10, 30, 60, 90))
        self.env.cr.precommit.run()  # as the transaction commits: the rows are marked
        Lead = self.env["crm.lead"].with_context(tz="UTC")
        domain = [("team_id", "=", self.team.id)]
        options = {"method": "analytic", "backtest": 6}
        result = Lead.get_forecast(domain, options)
        tables = Lead._forecast_tables(Lead._board_domain(domain))
        self.assertLess(len(tables["pipeline"]["lead_id"]), self.env["crm.lead.history"].search_count(
            [("lead_id", "in", leads.ids)]), "rows no first day of a month sees are not read")
        expected = forecast(
            tables["opportunities"], tables["history"], {**options, "currency": self.company.currency_id.name},
            today=fields.Date.context_today(Lead), pipeline=orm_pipeline(self.env, leads),
        )
        for key in ("periods", "totals", "calibration", "slip", "backtest", "new_pipeline", "beyond"):
            self.assertEqual(result[key], json.loads(json.dumps(expected[key]).replace("null", "false")), key)
        self.assertEqual(result["history"], "pipeline")
        points = result["backtest"]["points"]
        self.assertEqual(len(points), 6)
        for point in points:
            start = date.fromisoformat(point["as_of"])
            end = (start + timedelta(days=32)).replace(day=1)
            self.assertAlmostEqual(point["weighted"], self.weighted_as_it_stood(leads, start, end), places=2)

    def weighted_as_it_stood(self, leads, start, end):
        """The stated weighted pipeline expected in ``[start, end)`` as it stood at ``start``,
        replayed row by row from the ORM (overdue and undated deals count on ``start``)."""
        total = 0.0
        moment = datetime.combine(start, datetime.min.time())
        for lead in leads:
            row = self.env["crm.lead.history"].search(
                [("lead_id", "=", lead.id), ("date", "<", moment)], order="date desc, id desc", limit=1
            )
            if row.state != "open":
                continue
            due = max(row.date_deadline, start) if row.date_deadline else start
            if start <= due < end:
                total += row.amount_company * row.probability / 100
        return total
