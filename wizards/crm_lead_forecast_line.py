from odoo import fields, models


class CrmLeadForecastLine(models.TransientModel):
    """One period of a computed forecast (the table and the PDF report)."""

    _name = "crm.lead.forecast.line"
    _description = "Sales Forecast Period"
    _order = "date_from, id"
    _result_keys = ("period", "date_from", "date_to", "count", "weighted", "commit", "best_case", "won",
                    "mean", "p10", "p50", "p90")

    forecast_id = fields.Many2one("crm.lead.forecast", required=True, ondelete="cascade", index=True)
    currency_id = fields.Many2one(related="forecast_id.currency_id")
    period = fields.Char(required=True)
    date_from = fields.Date()
    date_to = fields.Date()
    count = fields.Integer(string="Open Opportunities", help="Open opportunities expected to close in the period.")
    weighted = fields.Monetary(help="Sum of amount x probability of the open opportunities expected in the period.")
    commit = fields.Monetary(help="Open amounts with a probability at or above the commit threshold.")
    best_case = fields.Monetary(help="All open amounts expected in the period.")
    won = fields.Monetary(help="Amounts already won in the period.")
    mean = fields.Monetary(help="Expected revenue the open pipeline will still win in the period.")
    p10 = fields.Monetary(help="90 % chance to win at least this much.")
    p50 = fields.Monetary(help="Median won revenue.")
    p90 = fields.Monetary(help="10 % chance to win more than this.")
