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
    opportunity_amount = fields.Monetary(
        string="Open Opportunities", compute="_compute_opportunity_amount", currency_field="currency_id",
        help="Net value of the open opportunities of this contact and its contacts, in company currency.",
    )

    def _compute_opportunity_amount(self):
        """One aggregate query: open opportunities of the partners (and of their contacts)."""
        amounts = dict.fromkeys(self.ids, 0.0)
        if self.ids:
            groups = self.env["crm.lead"]._read_group(
                [("partner_id", "child_of", self.ids), ("type", "=", "opportunity"), ("probability", "<", 100)],
                ["partner_id"], ["amount_net_company:sum"],
            )
            for partner, amount in groups:
                # credit the partner and its listed parents (a company sees its contacts')
                while partner:
                    if partner.id in amounts:
                        amounts[partner.id] += amount
                    partner = partner.parent_id
        for partner in self:
            partner.opportunity_amount = amounts.get(partner.id, 0.0)
