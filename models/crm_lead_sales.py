from odoo import _, fields, models
from odoo.osv import expression


class CrmLead(models.Model):
    """What an opportunity turned into: ordered, invoiced and paid amounts, and the
    invoices, next to the quotations and orders that sale_crm links."""

    _inherit = "crm.lead"

    invoice_ids = fields.One2many("account.move", "opportunity_id", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_sales_amounts")
    amount_ordered = fields.Monetary(
        compute="_compute_sales_amounts", currency_field="company_currency",
        help="Untaxed total of the confirmed sales orders, in company currency.",
    )
    amount_invoiced = fields.Monetary(
        compute="_compute_sales_amounts", currency_field="company_currency",
        help="Untaxed total of the posted customer invoices less credit notes, in company currency.",
    )
    amount_paid = fields.Monetary(
        compute="_compute_sales_amounts", currency_field="company_currency",
        help="Share of the invoiced amount already paid (untaxed, in company currency).",
    )

    def _compute_sales_amounts(self):
        """Two queries for all the opportunities shown, none per record."""
        ordered = dict.fromkeys(self.ids, 0.0)
        # Orders are in their own currency: each is converted at its own rate (that of its date).
        for order in self.env["sale.order"].search_fetch(
            expression.AND([[("opportunity_id", "in", self.ids)], self._get_lead_sale_order_domain()]),
            ["opportunity_id", "amount_untaxed", "currency_rate"],
        ):
            ordered[order.opportunity_id.id] += order.amount_untaxed / (order.currency_rate or 1.0)
        invoices = {
            lead: (count, untaxed, total, residual)
            for lead, count, untaxed, total, residual in self.env["account.move"]._read_group(
                [("opportunity_id", "in", self.ids), ("state", "=", "posted"),
                 ("move_type", "in", ("out_invoice", "out_refund"))],
                ["opportunity_id"],
                ["__count", "amount_untaxed_signed:sum", "amount_total_signed:sum", "amount_residual_signed:sum"],
            )
        }
        for lead in self:
            count, untaxed, total, residual = invoices.get(lead, (0, 0.0, 0.0, 0.0))
            lead.invoice_count = count
            lead.amount_ordered = lead.company_currency.round(ordered.get(lead.id, 0.0))
            lead.amount_invoiced = untaxed
            lead.amount_paid = lead.company_currency.round(untaxed * (total - residual) / total) if total else 0.0

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_out_invoice_type")
        action.update({
            "domain": [("opportunity_id", "=", self.id), ("move_type", "in", ("out_invoice", "out_refund"))],
            "context": {"default_move_type": "out_invoice", "default_opportunity_id": self.id,
                        "default_partner_id": self.partner_id.id},
            "name": _("Invoices of %(lead)s", lead=self.display_name),
        })
        return action

    def _get_lead_quotation_and_order_domain(self):
        """The orders an opportunity's figures come from: sale_crm's quotations and confirmed
        orders (its hooks decide which states those are; cancelled orders are neither)."""
        return expression.OR([self._get_lead_quotation_domain(), self._get_lead_sale_order_domain()])
