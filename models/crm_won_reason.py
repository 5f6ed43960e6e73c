from odoo import fields, models


class CrmWonReason(models.Model):
    """Why an opportunity was won: the counterpart of Odoo's lost reasons."""

    _name = "crm.won.reason"
    _inherit = ["crm.lead.count.mixin"]
    _description = "Opportunity Won Reason"
    _lead_count_field = "won_reason_id"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
