from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    contact_quality_id = fields.Many2one(
        "crm.contact.quality",
        index="btree_not_null",
        tracking=True,
        ondelete="set null",
        help="How valuable this contact is as a customer; shown on its opportunities and on the map.",
    )
