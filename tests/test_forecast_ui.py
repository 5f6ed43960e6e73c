import io
import xmlrpc.client

from PyPDF2 import PdfReader

from odoo.tests import tagged
from odoo.tools.misc import find_in_path

from ..engine.forecast import forecast
from .common import XmlRpcCase


@tagged("post_install", "-at_install")
class TestForecastUi(XmlRpcCase):
    """The forecast through its screens: the PDF report (printed by wkhtmltopdf from a
    live server), XML-RPC and a tour of the forecast screen."""

    rpc_login = "opp_forecaster"
    rpc_groups = "sales_team.group_sale_manager"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.team = cls.env["crm.team"].create({"name": "Forecast UI team"})
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

    def test_pdf_report(self):
        self.assertTrue(find_in_path("wkhtmltopdf"), "wkhtmltopdf is installed by the harness")
        screen = (
            self.env["crm.lead.forecast"]
            .with_user(self.rpc_user)
            .create(
                {"team_id": self.team.id, "date_from": "2027-01-01", "date_to": "2027-04-30", "backtest_periods": 1}
            )
        )
        screen.action_compute()
        self.assertEqual(screen.action_print()["report_name"], "crm_opportunity_management.crm_lead_forecast_report")
        report = "crm_opportunity_management.crm_lead_forecast_report_action"
        pdf, report_format = (
            self.env["ir.actions.report"].with_context(force_report_rendering=True)._render_qweb_pdf(report, screen.ids)
        )
        self.assertEqual(report_format, "pdf")
        self.assertTrue(pdf.startswith(b"%PDF"))
        self.assertGreaterEqual(len(PdfReader(io.BytesIO(pdf)).pages), 1)
        # Debian's wkhtmltopdf (unpatched Qt) draws the glyphs without a text layer, so the
        # text is checked on the HTML the PDF is printed from.
        html, _format = self.env["ir.actions.report"]._render_qweb_html(report, screen.ids)
        text = html.decode()
        for period in ("2027-01", "2027-02", "2027-03", "2027-04"):
            self.assertIn(period, text)
        self.assertIn("Brier score", text)
        self.assertIn("Backtest", text)

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
        engine = forecast(*Lead._forecast_tables(domain), Lead._forecast_options({"date_from": "2027-01-01"}))
        result = self.call(
            "crm.lead", "get_forecast", domain, options={"date_from": "2027-01-01", "date_to": False, "method": ""}
        )
        for group in ("user", "type"):
            self.assertEqual([row["key"] for row in engine["statistics"]["win_rate"][group]], [None], group)
            [row] = result["statistics"]["win_rate"][group]
            self.assertIs(row["key"], False, group)
            self.assertEqual((row["count"], row["won"]), (1, 1), group)
        self.assertEqual([period["period"] for period in result["periods"]][::11], ["2027-01", "2027-12"])

    def test_forecast_screen_tour(self):
        self.start_tour(
            "/odoo/action-crm_opportunity_management.crm_lead_forecast_action",
            "crm_opportunity_management_forecast",
            login="opp_forecaster",
        )
