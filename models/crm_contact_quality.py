from odoo import fields, models


class CrmContactQuality(models.Model):
    """How good a contact is as a customer (e.g. strategic, regular, occasional)."""

    _name = "crm.contact.quality"
    _description = "Contact Quality"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    description = fields.Text(translate=True)
    color = fields.Integer()
    active = fields.Boolean(default=True)
