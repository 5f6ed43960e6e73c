from odoo import api, fields, models, tools


class CrmOpportunityType(models.Model):
    """The kind of negotiation (new business, renewal, tender, ...).

    The type of an opportunity decides the workflow it follows.
    """

    _name = "crm.opportunity.type"
    _inherit = ["crm.code.mixin", "crm.lead.count.mixin", "crm.cache.mixin"]
    _description = "Opportunity Type"
    _lead_count_field = "opportunity_type_id"
    _cache_fields = {"company_id", "active", "sequence", "name"}  # those of _default_id
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

    @api.model
    @tools.ormcache("company_id")
    def _default_id(self, company_id):
        """The type new opportunities of the company get: the first active one (cached,
        as every new lead asks; cleared when types change)."""
        return self.sudo().search([("company_id", "in", [False, company_id])], limit=1).id
