from odoo import api, fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    opportunity_id = fields.Many2one(
        "crm.lead", index="btree_not_null", ondelete="set null",
        compute="_compute_opportunity_id", store=True, readonly=False, check_company=True,
        domain="[('type', '=', 'opportunity')]",
        help="The opportunity of the sales orders this invoice comes from (or set by hand).",
    )
    # stored for the invoicing analysis, which then needs no join to the opportunities
    opportunity_type_id = fields.Many2one(
        related="opportunity_id.opportunity_type_id", store=True, index="btree_not_null", string="Opportunity Type",
    )

    @api.depends("invoice_line_ids.sale_line_ids.order_id.opportunity_id")
    def _compute_opportunity_id(self):
        for move in self:
            opportunities = move.invoice_line_ids.sale_line_ids.order_id.opportunity_id
            if opportunities:
                move.opportunity_id = opportunities[:1]
