from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class CrmLeadLine(models.Model):
    """A detail line of an opportunity: one product family it would sell.

    Amounts are in the opportunity's currency; the header totals of the opportunity
    are the sums of its lines.
    """

    _name = "crm.lead.line"
    _inherit = ["crm.finite.mixin"]
    _finite_fields = ("amount_gross", "amount_discount")
    _description = "Opportunity Detail Line"
    _order = "lead_id, sequence, id"
    _check_company_auto = True

    lead_id = fields.Many2one(
        "crm.lead", string="Opportunity", required=True, index=True, ondelete="cascade"
    )
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(related="lead_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_currency_id",
        store=True,
        readonly=False,
        required=True,
        precompute=True,
    )
    product_categ_id = fields.Many2one(
        "product.category",
        string="Product Family",
        compute="_compute_product_categ_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    product_id = fields.Many2one("product.product", check_company=True)
    name = fields.Char(
        string="Description", compute="_compute_name", store=True, readonly=False, precompute=True
    )
    # Amounts
    amount_gross = fields.Monetary(string="Gross Amount")
    amount_discount = fields.Monetary(string="Discount")
    amount_net = fields.Monetary(string="Net Amount", compute="_compute_amount_net", store=True)
    expected_revenue = fields.Monetary(
        compute="_compute_expected_revenue",
        help="Net amount weighted by the probability of success of the opportunity.",
    )
    # Dates
    date_expected_order = fields.Date(string="Expected Order")
    date_expected_delivery = fields.Date(string="Expected Delivery")
    date_expected_invoice = fields.Date(string="Expected Invoice")
    date_closing = fields.Date(string="Closing Date")
    note = fields.Text()

    @api.depends("lead_id.currency_id")
    def _compute_currency_id(self):
        for line in self:
            line.currency_id = line.lead_id.currency_id

    @api.depends("product_id")
    def _compute_product_categ_id(self):
        for line in self.filtered("product_id"):
            line.product_categ_id = line.product_id.categ_id

    @api.depends("product_id", "product_categ_id")
    def _compute_name(self):
        for line in self:
            if line.product_id:
                line.name = line.product_id.display_name
            elif not line.name and line.product_categ_id:
                line.name = line.product_categ_id.name

    @api.depends("amount_gross", "amount_discount")
    def _compute_amount_net(self):
        for line in self:
            line.amount_net = line.amount_gross - line.amount_discount

    @api.depends("amount_net", "lead_id.probability")
    def _compute_expected_revenue(self):
        for line in self:
            line.expected_revenue = line.currency_id.round(
                line.amount_net * (line.lead_id.probability or 0.0) / 100.0
            )

    def _label(self):
        self.ensure_one()
        return self.name or self.product_categ_id.display_name or _("without description")

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.lead_id._check_lines_may_change()
        return lines

    def write(self, vals):
        if "lead_id" in vals:
            # a line moved to another opportunity changes that one: its rights apply too
            self.env["crm.lead"].browse(vals["lead_id"])._check_lines_may_change()
        return super().write(vals)

    @api.constrains("amount_gross", "amount_discount")
    def _check_amounts(self):
        for line in self:
            if line.amount_gross < 0:
                raise ValidationError(
                    _("Gross Amount: the line %(line)s cannot be negative.", line=line._label())
                )
            if line.amount_discount < 0:
                raise ValidationError(
                    _("Discount: the line %(line)s cannot have a negative discount.", line=line._label())
                )
            if line.currency_id.compare_amounts(line.amount_discount, line.amount_gross) > 0:
                raise ValidationError(
                    _(
                        "Discount: the discount of the line %(line)s (%(discount)s) exceeds its "
                        "gross amount (%(gross)s).",
                        line=line._label(),
                        discount=line.amount_discount,
                        gross=line.amount_gross,
                    )
                )

    @api.constrains("currency_id", "lead_id")
    def _check_currency(self):
        for line in self:
            if line.currency_id != line.lead_id.currency_id:
                raise ValidationError(
                    _(
                        "Currency: the line %(line)s is in %(line_currency)s but its opportunity "
                        "%(lead)s is in %(lead_currency)s.",
                        line=line._label(),
                        line_currency=line.currency_id.name,
                        lead=line.lead_id.display_name,
                        lead_currency=line.lead_id.currency_id.name,
                    )
                )
