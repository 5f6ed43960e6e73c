from odoo import fields, models


class CrmLeadForecastCalibration(models.TransientModel):
    """One row of a forecast's reliability table: stated against observed win rate."""

    _name = "crm.lead.forecast.calibration"
    _description = "Sales Forecast Calibration"
    _order = "stated, id"

    forecast_id = fields.Many2one("crm.lead.forecast", required=True, ondelete="cascade", index=True)
    level_id = fields.Many2one("crm.probability.level")
    name = fields.Char(string="Level Name")
    count = fields.Integer(string="Closed", help="Closed opportunities of the level.")
    won = fields.Integer()
    stated = fields.Float(string="Stated (%)", digits=(5, 2), help="Mean probability they were given while open.")
    observed = fields.Float(string="Observed (%)", digits=(5, 2), help="Share of them actually won.")
    calibrated = fields.Float(string="Calibrated (%)", digits=(5, 2), help="Probability after isotonic calibration.")
