from odoo import fields, models


class CrmLeadForecastSeries(models.TransientModel):
    """The forecast's chart data, one value per period and series: Odoo's graph view
    plots one measure, so the bands are drawn as series of a single measure."""

    _name = "crm.lead.forecast.series"
    _description = "Sales Forecast Chart Point"
    _order = "sequence, id"

    forecast_id = fields.Many2one("crm.lead.forecast", required=True, ondelete="cascade", index=True)
    currency_id = fields.Many2one(related="forecast_id.currency_id")
    sequence = fields.Integer()
    period = fields.Char(required=True)
    series = fields.Selection(
        [("p10", "P10"), ("p50", "P50"), ("p90", "P90"), ("weighted", "Weighted"), ("won", "Won")], required=True
    )
    value = fields.Monetary()
