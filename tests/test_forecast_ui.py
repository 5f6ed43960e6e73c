import io
import json
import urllib.parse
import xmlrpc.client
from datetime import timedelta
from unittest.mock import patch

from PyPDF2 import PdfReader

from odoo import api, fields
from odoo.tests import new_test_user, tagged
from odoo.tools.misc import find_in_path

from ..engine.forecast import forecast
from .common import XmlRpcCase

REPORT = "crm_opportunity_management.crm_lead_forecast_report_action"
REPORT_NAME = "crm_opportunity_management.crm_lead_forecast_report"


@tagged("post_install", "-at_install")
class TestForecastUi(XmlRpcCase):
    """The forecast through its screens: the client action (which only reads), its PDF
    report (printed by wkhtmltopdf, and from a live server as the screen prints it),
    XML-RPC and a tour of the screen.

    Data: a team "Forecast UI team" with four open opportunities "Forecast UI 0" to "3"
    of 1,000 to 4,000 at 20 to 80 %, expected on the 15th of January to April 2027."""

    rpc_login = "opp_forecaster"
    rpc_groups = "sales_team.group_sale_manager"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team = cls.env["crm.team"].create({"name": "Forecast UI team"})
        cls.domain = [("team_id", "=", cls.team.id)]
        cls.options = {"date_from": "2027-01-01", "date_to": "2027-04-30", "backtest": 1}
        cls.env["crm.lead"].create(
            [
                {
                    "name": f"Forecast UI {index}",
                    "type": "opportunity",
                    "team_id": cls.team.id,
                    "expected_revenue": 1000 * (index + 1),
                    "probability": 20 * (index + 1),
                    "date_deadline": f"2027-0{index + 1}-15",
                }
                for index in range(4)
            ]
        )

    def _close_two(self):
        """A won and a lost opportunity of the team, open at the Qualified level from 60 to
        10 days ago (the history dated so: calibration learns from the pipeline as it
        stood); the names of the levels of the reliability table: Qualified's."""
        level = self.env.ref("crm_opportunity_management.crm_probability_level_25")
        now = fields.Datetime.now()
        opened = self.env(context=dict(self.env.context, crm_history_date=now - timedelta(days=60)))
        closed = opened["crm.lead"].create([
            {"name": f"Forecast UI closed {index}", "type": "opportunity", "team_id": self.team.id,
             "expected_revenue": 800, "probability_level_id": level.id, "date_deadline": "2026-10-15"}
            for index in range(2)
        ])
        opened.flush_all()
        closing = self.env(context=dict(self.env.context, crm_history_date=now - timedelta(days=10)))
        closed[0].with_env(closing).action_set_won()
        closed[1].with_env(closing).action_set_lost()
        closing.flush_all()
        result = self.env["crm.lead"].get_forecast(self.domain, self.options)
        self.assertEqual([row["level"] for row in result["calibration"]["levels"]], [level.id])
        return {level.id: level.display_name}

    # ------------------------------------------------------------------ the screen

    def test_forecast_screen_is_a_client_action_for_salespeople(self):
        action = self.env.ref("crm_opportunity_management.crm_lead_forecast_action").sudo()
        self.assertEqual((action._name, action.tag), ("ir.actions.client", "crm_opportunity_management.forecast"))
        menu = self.env.ref("crm_opportunity_management.crm_lead_forecast_menu").sudo()
        self.assertEqual(menu.action, action)
        self.assertEqual(menu.parent_id, self.env.ref("crm.crm_menu_report"))
        salesman = new_test_user(self.env(su=True), "opp_forecast_salesman", groups="sales_team.group_sale_salesman")
        internal = new_test_user(self.env(su=True), "opp_forecast_internal", groups="base.group_user")
        Menu = self.env["ir.ui.menu"]
        self.assertIn(menu.id, Menu.with_user(salesman)._visible_menu_ids())
        self.assertNotIn(menu.id, Menu.with_user(internal)._visible_menu_ids())
        loaded = self.env["ir.actions.actions"].with_user(salesman)._for_xml_id(
            "crm_opportunity_management.crm_lead_forecast_action"
        )
        self.assertEqual(loaded["tag"], "crm_opportunity_management.forecast")

    def test_no_stored_results(self):
        """The screen has nowhere to store results: the former wizard's models are gone."""
        for model in ("crm.lead.forecast", "crm.lead.forecast.line", "crm.lead.forecast.series",
                      "crm.lead.forecast.calibration"):
            self.assertNotIn(model, self.env.registry)
            self.assertFalse(self.env["ir.model"].sudo().search([("model", "=", model)]))
        self.assertFalse([
            name for name, model in self.env.registry.items() if model._table.startswith("crm_lead_forecast")
        ])

    def test_forecast_and_report_values_under_a_read_only_cursor(self):
        """What the screen and the report compute runs on a read-only transaction (as on a
        replica): a write would fail there."""
        self._close_two()
        with self.env.registry.cursor(readonly=True) as cr:
            self.assertTrue(cr.readonly)
            env = api.Environment(cr, self.rpc_user.id, {})
            options = {**self.options, "backtest": 2, "calibrated": True, "method": "monte_carlo", "trials": 500}
            result = env["crm.lead"].get_forecast(self.domain, options)
            self.assertEqual([row["period"] for row in result["periods"]], ["2027-01", "2027-02", "2027-03", "2027-04"])
            values = env["report.crm_opportunity_management.crm_lead_forecast_report"]._get_report_values(
                [], {"domain": self.domain, "options": options}
            )
            self.assertEqual([row["period"] for row in values["periods"]], ["2027-01", "2027-02", "2027-03", "2027-04"])

    def test_forecast_screen_tour(self):
        """The tour, every ``get_forecast`` call of the screen served by a read-only cursor
        (a replica's) and never retried on a read/write one."""
        Lead = self.env.registry["crm.lead"]
        original = Lead.get_forecast
        cursors = []

        @api.model
        @api.readonly
        def get_forecast(records, domain=None, options=None):
            cursors.append(records.env.cr.readonly)
            return original(records, domain, options)

        with patch.object(Lead, "get_forecast", get_forecast):
            self.start_tour(
                "/odoo/action-crm_opportunity_management.crm_lead_forecast_action",
                "crm_opportunity_management_forecast",
                login="opp_forecaster",
            )
        self.assertGreaterEqual(len(cursors), 4, "one call on opening, then one per change")
        self.assertTrue(all(cursors), "every call read-only")

    # ------------------------------------------------------------------ the report

    def test_report_values(self):
        level_names = self._close_two()
        Report = self.env["report.crm_opportunity_management.crm_lead_forecast_report"].with_user(self.rpc_user)
        values = Report._get_report_values([], {"domain": self.domain, "options": self.options})
        result = self.env["crm.lead"].get_forecast(self.domain, self.options)
        self.assertEqual([row["period"] for row in values["periods"]], [row["period"] for row in result["periods"]])
        for row in values["periods"]:
            self.assertAlmostEqual(row["total_mean"], row.get("total_mean", row["won"] + row["mean"]), places=2)
            self.assertLessEqual(row["total_p10"], row["total_p50"])
            self.assertLessEqual(row["total_p50"], row["total_p90"])
        self.assertEqual(values["scope"], [("Sales Team", "Forecast UI team")])
        self.assertEqual(values["level_names"], level_names)
        # without a domain: the opportunities printed
        leads = self.env["crm.lead"].search([("name", "=", "Forecast UI 0")])
        values = Report._get_report_values(leads.ids, {"options": self.options})
        self.assertEqual(sum(row["count"] for row in values["periods"]), 1)

    def test_pdf_report(self):
        self.assertTrue(find_in_path("wkhtmltopdf"), "wkhtmltopdf is installed by the harness")
        level_names = self._close_two()
        Report = self.env["ir.actions.report"].with_user(self.rpc_user)
        data = {"domain": self.domain, "options": self.options}
        pdf, report_format = Report.with_context(force_report_rendering=True)._render_qweb_pdf(REPORT, data=data)
        self.assertEqual(report_format, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        self.assertGreaterEqual(len(PdfReader(io.BytesIO(pdf)).pages), 1)
        # Debian's wkhtmltopdf (unpatched Qt) draws the glyphs without a text layer, so the
        # text is checked on the HTML the PDF is printed from.
        html, _format = Report._render_qweb_html(REPORT, [], data=data)
        text = html.decode()
        for period in ("2027-01", "2027-02", "2027-03", "2027-04"):
            self.assertIn(period, text)
        for heading in ("From Open", "From New", "Total", "Calibration", "Brier score", "Backtest"):
            self.assertIn(heading, text)
        self.assertIn("Forecast UI team", text)
        for name in level_names.values():
            self.assertIn(name, text)

    def test_report_printed_as_the_screen_prints_it(self):
        """The screen prints through the web client's report URL, its domain and options
        as the report's data (no records)."""
        self.authenticate("opp_forecaster", self.rpc_password)
        options = urllib.parse.quote(json.dumps({"domain": self.domain, "options": self.options}))
        response = self.url_open(f"/report/html/{REPORT_NAME}?options={options}&context=%7B%7D")
        self.assertEqual(response.status_code, 200)
        self.assertIn("2027-04", response.text)
        self.assertIn("Forecast UI team", response.text)

    # ------------------------------------------------------------------ XML-RPC

    def test_get_forecast_over_xmlrpc(self):
        options = {
            "date_from": "2027-01-01",
            "date_to": "2027-04-30",
            "method": "monte_carlo",
            "trials": 2000,
            "seed": 7,
        }
        result = self.call("crm.lead", "get_forecast", [("team_id", "=", self.team.id)], options=options)
        self.assertEqual(
            [period["period"] for period in result["periods"]], ["2027-01", "2027-02", "2027-03", "2027-04"]
        )
        january = result["periods"][0]
        self.assertAlmostEqual(january["weighted"], 1000 * 0.2, places=2)
        self.assertLessEqual(january["p10"], january["p50"])
        self.assertLessEqual(january["p50"], january["p90"])
        self.assertEqual(result["currency"], self.env.company.currency_id.name)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.call("crm.lead", "get_forecast", [], options={"granularity": "week"})
        self.assertIn("granularity", caught.exception.faultString)

    def test_empty_keys_are_false_over_xmlrpc(self):
        """The engine keys a closed opportunity without salesperson or type None; XML-RPC
        (no None) gets Odoo's False, and Odoo's empty options are accepted as defaults."""
        won = self.env["crm.lead"].create({
            "name": "Forecast UI won", "type": "opportunity", "team_id": self.team.id, "expected_revenue": 500,
            "probability": 60, "date_deadline": "2027-01-10", "user_id": False, "opportunity_type_id": False,
        })
        won.action_set_won()
        domain = [("team_id", "=", self.team.id)]
        Lead = self.env["crm.lead"]
        engine = forecast(**Lead._forecast_tables(domain), options=Lead._forecast_options({"date_from": "2027-01-01"}))
        result = self.call(
            "crm.lead", "get_forecast", domain, options={"date_from": "2027-01-01", "date_to": False, "method": ""}
        )
        for group in ("user", "type"):
            self.assertEqual([row["key"] for row in engine["statistics"]["win_rate"][group]], [None], group)
            [row] = result["statistics"]["win_rate"][group]
            self.assertIs(row["key"], False, group)
            self.assertEqual((row["count"], row["won"]), (1, 1), group)
        self.assertEqual([period["period"] for period in result["periods"]][::11], ["2027-01", "2027-12"])
