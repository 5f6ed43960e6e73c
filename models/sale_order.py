import pytz

from odoo import api, fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    # stored for the invoicing analysis, which then needs no join to the opportunities
    opportunity_type_id = fields.Many2one(
        related="opportunity_id.opportunity_type_id", store=True, index="btree_not_null", string="Opportunity Type",
    )
    date_order_local = fields.Date(
        string="Order Day (Salesperson)", compute="_compute_date_order_local", store=True, index=True,
        help="The day of the order where its salesperson works (their time zone): its month on the invoicing board.",
    )

    @api.depends("date_order", "user_id.tz")
    def _compute_date_order_local(self):
        for order in self:
            if not order.date_order:
                order.date_order_local = False
                continue
            try:
                zone = pytz.timezone(order.user_id.tz or "UTC")
            except pytz.UnknownTimeZoneError:
                zone = pytz.utc
            order.date_order_local = pytz.utc.localize(order.date_order).astimezone(zone).date()

    def action_confirm(self):
        result = super().action_confirm()
        self._mark_opportunities_won()
        return result

    def _mark_opportunities_won(self):
        """Confirming an order wins its opportunity, where the company asks for it."""
        opportunities = self.filtered("company_id.crm_won_on_order_confirmation").opportunity_id.filtered(
            lambda lead: lead.closing_state == "open"
        )
        if opportunities:
            opportunities.action_set_won()
