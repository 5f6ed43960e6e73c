from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_won_reason_dialog = fields.Boolean(
        related="company_id.crm_won_reason_dialog", readonly=False
    )
