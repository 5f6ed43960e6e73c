from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    crm_won_reason_dialog = fields.Boolean(
        string="Ask Why Opportunities Are Won",
        help="The Won button opens a dialog asking for the won reason and a closing "
        "description, like the Lost button does. Off, Won closes the opportunity at once.",
    )
    crm_won_on_order_confirmation = fields.Boolean(
        string="Win Opportunities on Order Confirmation",
        help="Confirming a sales order marks its opportunity as won.",
    )
