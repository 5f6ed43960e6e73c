from odoo import models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def action_confirm(self):
        result = super().action_confirm()
        self._mark_opportunities_won()
        return result

    def _mark_opportunities_won(self):
        """Confirming an order wins its opportunity, where the company asks for it."""
        opportunities = self.filtered("company_id.crm_won_on_order_confirmation").opportunity_id.filtered(
            lambda lead: lead.active and lead.probability < 100
        )
        if opportunities:
            opportunities.action_set_won()
