from odoo import fields, models


class CrmOpportunityType(models.Model):
    """The kind of negotiation (new business, renewal, tender, ...).

    The type of an opportunity decides the workflow it follows.
    """

    _name = "crm.opportunity.type"
    _inherit = ["crm.code.mixin", "crm.lead.count.mixin"]
    _description = "Opportunity Type"
    _lead_count_field = "opportunity_type_id"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Text(translate=True)
    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Leave empty to share the type between all companies.",
    )
    stage_ids = fields.Many2many(
        "crm.stage", "crm_opportunity_type_stage_rel", "type_id", "stage_id",
        string="Workflow",
        help="The stages opportunities of this type go through, in the stages' order. "
        "Empty: all stages of the sales team.",
    )
