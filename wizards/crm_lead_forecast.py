from odoo import Command, _, api, fields, models

from ..engine.forecast import COMMIT_THRESHOLD, DEFAULT_TRIALS

SERIES = ("p10", "p50", "p90", "weighted", "won")


class CrmLeadForecast(models.TransientModel):
    """The forecast screen: a scope and settings, then the numbers of
    ``crm.lead.get_forecast`` as period, chart and calibration lines (and the backtest)."""

    _name = "crm.lead.forecast"
    _description = "Sales Forecast"

    # scope
    team_id = fields.Many2one("crm.team", string="Sales Team")
    user_id = fields.Many2one("res.users", string="Salesperson")
    opportunity_type_id = fields.Many2one("crm.opportunity.type")
    # settings
    date_from = fields.Date(string="From", default=lambda self: fields.Date.context_today(self).replace(day=1))
    date_to = fields.Date(string="To")
    granularity = fields.Selection([("month", "Month"), ("quarter", "Quarter")], required=True, default="month")
    method = fields.Selection(
        [("auto", "Automatic"), ("analytic", "Analytic"), ("monte_carlo", "Monte Carlo")],
        required=True, default="auto",
        help="Automatic: exact / analytic for small pipelines, Monte Carlo beyond.",
    )
    trials = fields.Integer(default=DEFAULT_TRIALS, help="Monte Carlo trials, 1 to 1,000,000.")
    seed = fields.Integer(default=0, help="Random seed: the same seed gives the same Monte Carlo result.")
    calibrated = fields.Boolean(help="Forecast with the probabilities calibrated on the closed history.")
    commit_threshold = fields.Float(
        string="Commit Threshold (%)", default=COMMIT_THRESHOLD,
        help="Open opportunities at or above this probability count as commit.",
    )
    backtest_periods = fields.Integer(help="Past periods to backtest (0 = no backtest, at most 60).")
    # results
    currency_id = fields.Many2one("res.currency", default=lambda self: self.env.company.currency_id)
    computed = fields.Boolean(readonly=True)
    method_used = fields.Char(readonly=True)
    line_ids = fields.One2many("crm.lead.forecast.line", "forecast_id", string="Periods", readonly=True)
    series_ids = fields.One2many("crm.lead.forecast.series", "forecast_id", readonly=True)
    calibration_ids = fields.One2many("crm.lead.forecast.calibration", "forecast_id", readonly=True)
    brier = fields.Float(string="Brier Score", digits=(16, 4), readonly=True,
                         help="Mean squared error of the stated probabilities on closed opportunities (0 is perfect).")
    brier_calibrated = fields.Float(string="Brier Score (Calibrated)", digits=(16, 4), readonly=True)
    closed_count = fields.Integer(string="Closed Opportunities", readonly=True)
    backtest_count = fields.Integer(string="Backtested Periods", readonly=True)
    backtest_coverage = fields.Float(
        string="P10-P90 Coverage (%)", readonly=True,
        help="Share of past periods whose actual won revenue fell within the forecast band; about 80 % is right.",
    )
    backtest_mae_p50 = fields.Monetary(string="Mean Error of P50", readonly=True)
    backtest_mae_weighted = fields.Monetary(string="Mean Error of Weighted", readonly=True)

    def action_compute(self):
        """Compute the forecast of the scope and store it in the result lines."""
        self.ensure_one()
        result = self.env["crm.lead"].get_forecast(self._get_forecast_domain(), self._prepare_forecast_options())
        self.write(self._prepare_result_values(result))

    def action_open_graph(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_opportunity_management.crm_lead_forecast_series_action"
        )
        action["domain"] = [("forecast_id", "=", self.id)]
        return action

    def action_print(self):
        self.ensure_one()
        return self.env.ref("crm_opportunity_management.crm_lead_forecast_report_action").report_action(self)

    # ------------------------------------------------------------------ hooks

    def _get_forecast_domain(self):
        domain = []
        for field in ("team_id", "user_id", "opportunity_type_id"):
            if self[field]:
                domain.append((field, "=", self[field].id))
        return domain

    def _prepare_forecast_options(self):
        return {
            "date_from": self.date_from and fields.Date.to_string(self.date_from),
            "date_to": self.date_to and fields.Date.to_string(self.date_to),
            "granularity": self.granularity,
            "method": self.method,
            "trials": self.trials,
            "seed": self.seed,
            "calibrated": self.calibrated,
            "commit_threshold": self.commit_threshold,
            "backtest": self.backtest_periods,
        }

    def _prepare_result_values(self, result):
        calibration = result["calibration"]
        backtest = result.get("backtest", {})
        # level ids only: no level is False (an int too, but no id), no levels at all a float probability
        levels = self.env["crm.probability.level"].browse([
            row["level"] for row in calibration["levels"]
            if isinstance(row["level"], int) and not isinstance(row["level"], bool)
        ]).exists()
        return {
            "computed": True,
            "method_used": dict(self._fields["method"].selection).get(result["method"], result["method"]),
            "currency_id": self.env.company.currency_id.id,
            "line_ids": [Command.clear()] + [
                Command.create({key: row[key] for key in self.env["crm.lead.forecast.line"]._result_keys})
                for row in result["periods"]
            ],
            "series_ids": [Command.clear()] + [
                Command.create({"period": row["period"], "sequence": index, "series": series, "value": row[series]})
                for index, row in enumerate(result["periods"])
                for series in SERIES
            ],
            "calibration_ids": [Command.clear()] + [
                Command.create({
                    "level_id": row["level"] if row["level"] in levels.ids else False,
                    "name": self._calibration_label(row["level"], levels),
                    **{key: row[key] for key in ("count", "won", "stated", "observed", "calibrated")},
                })
                for row in calibration["levels"]
            ],
            "brier": calibration["brier"],
            "brier_calibrated": calibration.get("brier_calibrated", 0.0),
            "closed_count": calibration.get("count", 0),
            "backtest_count": backtest.get("count", 0),
            "backtest_coverage": 100.0 * backtest.get("coverage", 0.0),
            "backtest_mae_p50": backtest.get("mae_p50", 0.0),
            "backtest_mae_weighted": backtest.get("mae_weighted", 0.0),
        }

    @api.model
    def _calibration_label(self, key, levels):
        level = levels.filtered(lambda record: record.id == key)
        if level:
            return level.display_name
        if isinstance(key, float):
            return _("%(percentage)s %%", percentage=key)  # no levels: grouped by stated probability
        return _("No level")

    def _compute_display_name(self):
        for wizard in self:
            wizard.display_name = _("Sales Forecast")
