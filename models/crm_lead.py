import operator

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, Query

from ..engine import idle

# Fields whose value decides the date at which amounts are converted to company currency.
CONVERSION_DATE_FIELDS = ("date_expected_invoice", "date_deadline")
# Where an opportunity stands, defined once (the Python field, its search, the SQL of the
# screens and reports are all derived from these domains). Odoo writes 100 % on won
# opportunities and archives lost ones; an archived opportunity is closed (Odoo sets its
# closing date and its predictive scoring counts it lost), so lost, whatever its probability.
CLOSING_STATES = [("open", "Open"), ("won", "Won"), ("lost", "Lost")]
CLOSING_STATE_DOMAINS = {
    "open": [("active", "=", True), ("probability", "<", 100)],
    "won": [("active", "=", True), ("probability", ">=", 100)],
    "lost": [("active", "=", False)],
}

_COMPARE = {"=": operator.eq, "<": operator.lt, ">=": operator.ge}


def closing_state_of(values):
    """The closing state of an opportunity's ``values`` (``{"active", "probability"}``), the
    domains' conditions tested in Python (filtered_domain takes 8 s for 20,000 records)."""
    values = {"active": bool(values["active"]), "probability": values["probability"] or 0.0}  # as Odoo reads NULL
    return next(
        state for state, domain in CLOSING_STATE_DOMAINS.items()
        if all(_COMPARE[op](values[name], value) for name, op, value in domain)
    )


def domain_sql(model, alias, domain):
    """``domain`` on ``model`` as a SQL condition on its table aliased ``alias`` (for SQL
    that states a rule defined as a domain: views, CASE expressions)."""
    query = Query(model.env, alias, model._table)
    expression.expression(domain, model, alias, query)
    return query.where_clause


class CrmLead(models.Model):
    """The opportunity record: number, type, probability level, detail lines,
    currencies, expected dates, won reason and idleness.

    Features that read opportunities (boards, map, forecast, workflow) live in
    their own files; this one holds the record's own fields and rules.
    """

    _name = "crm.lead"
    _inherit = ["crm.lead", "crm.finite.mixin"]
    _finite_fields = ("expected_revenue", "probability", "recurring_revenue")
    _rec_names_search = ["name", "number", "partner_id.complete_name", "email_from"]

    # Identification
    number = fields.Char(
        readonly=True, copy=False, index="trigram",
        help="Unique reference of the opportunity, given at creation.",
    )
    opportunity_type_id = fields.Many2one(
        "crm.opportunity.type", index="btree_not_null", default=lambda self: self._default_opportunity_type_id(),
        check_company=True, tracking=True, ondelete="set null",
        domain="['|', ('company_id', '=', False), ('company_id', '=', company_id)]",
    )
    probability_level_id = fields.Many2one(
        "crm.probability.level", index="btree_not_null",
        compute="_compute_probability_level_id", store=True, readonly=False,
        tracking=True, ondelete="set null", group_expand="_read_group_probability_level_ids",
        help="Band of the probability of success. Choosing a level sets the probability; "
        "when the probability changes (by hand, by stage or by Odoo's predictive scoring), "
        "the level follows.",
    )
    contact_quality_id = fields.Many2one(
        related="partner_id.contact_quality_id", string="Contact Quality", readonly=True
    )
    # Amounts
    currency_id = fields.Many2one(
        "res.currency", string="Opportunity Currency", required=True,
        default=lambda self: self.env.company.currency_id, tracking=True,
        help="Currency in which the detail lines are expressed.",
    )
    line_ids = fields.One2many("crm.lead.line", "lead_id", string="Detail Lines", copy=True)
    amount_gross = fields.Monetary(
        string="Gross Amount", compute="_compute_amounts", store=True, currency_field="currency_id"
    )
    amount_discount = fields.Monetary(
        string="Discounts", compute="_compute_amounts", store=True, currency_field="currency_id"
    )
    amount_net = fields.Monetary(
        string="Net Value", compute="_compute_amounts", store=True, currency_field="currency_id"
    )
    # Odoo's expected_revenue is the net value in company currency: this name is kept for
    # integrators and reports, without a stored copy (sums, searches and reads use its column)
    amount_net_company = fields.Monetary(
        string="Net Value (Company Currency)", related="expected_revenue",
        currency_field="company_currency", aggregator="sum",
    )
    expected_revenue = fields.Monetary(
        compute="_compute_expected_revenue", store=True, readonly=False,
        default=None,
        help="Net value in company currency: computed from the detail lines when there are "
        "some, typed in otherwise.",
    )
    expected_margin = fields.Monetary(
        string="Expected Gross Margin", currency_field="currency_id", tracking=True
    )
    # Expected dates: earliest of the lines, typed in when there are none
    date_expected_order = fields.Date(
        string="Expected Order", compute="_compute_expected_dates", store=True, readonly=False
    )
    date_expected_delivery = fields.Date(
        string="Expected Delivery", compute="_compute_expected_dates", store=True, readonly=False
    )
    date_expected_invoice = fields.Date(
        string="Expected Invoice", compute="_compute_expected_dates", store=True, readonly=False
    )
    history_ids = fields.One2many("crm.lead.history", "lead_id", readonly=True, copy=False)
    # Closing
    closing_state = fields.Selection(
        CLOSING_STATES, compute="_compute_closing_state", search="_search_closing_state",
        help="Open, won (active at 100 %) or lost (archived).",
    )
    won_reason_id = fields.Many2one(
        "crm.won.reason", index="btree_not_null",
        tracking=True, ondelete="set null", copy=False,
    )
    close_description = fields.Text(
        string="Closing Description", copy=False,
        help="Why the opportunity was won or lost, in the words of the salesperson.",
    )
    won_reason_dialog = fields.Boolean(compute="_compute_won_reason_dialog")
    # Idleness: derived from the messages, so nothing to keep in step
    date_last_interaction = fields.Datetime(
        string="Last Interaction", compute="_compute_date_last_interaction",
        search="_search_date_last_interaction",
        help="Date of the last done activity or logged message (creation date before any).",
    )
    idle_days = fields.Integer(
        compute="_compute_date_last_interaction", search="_search_idle_days",
        help="Days since the last done activity or logged message.",
    )

    _sql_constraints = [
        ("number_unique", "UNIQUE(number)", "The opportunity number must be unique."),
    ]

    # ------------------------------------------------------------------ defaults

    @api.model
    def _default_opportunity_type_id(self):
        company = self.env["res.company"].browse(self.env.context.get("default_company_id")) or self.env.company
        return self.env["crm.opportunity.type"].browse(self.env["crm.opportunity.type"]._default_id(company.id))

    @api.model
    def _read_group_probability_level_ids(self, levels, domain):
        """The progress board shows every level, empty or not."""
        return levels.search([])

    # ------------------------------------------------------------------ computes

    @api.depends("probability")
    def _compute_probability_level_id(self):
        levels = self.env["crm.probability.level"]._find_for_probabilities(
            self.mapped("probability")
        )
        for lead in self:
            lead.probability_level_id = levels[lead.probability]

    @api.depends("line_ids.amount_net", "currency_id", "company_id", *CONVERSION_DATE_FIELDS)
    def _compute_expected_revenue(self):
        """Lines -> net -> company currency: with detail lines, the net value converted;
        without, what was typed in (Odoo's own field, kept)."""
        with_lines = self.filtered("line_ids")
        rates = with_lines._get_conversion_rates()
        for lead in with_lines:
            lead.expected_revenue = lead.company_currency.round(lead.amount_net * rates[lead])
        for lead in self - with_lines:
            lead.expected_revenue = lead.expected_revenue or 0.0

    @api.depends(
        "line_ids.amount_gross", "line_ids.amount_discount", "line_ids.amount_net",
        "expected_revenue", "currency_id", "company_id", *CONVERSION_DATE_FIELDS,
    )
    def _compute_amounts(self):
        """The header totals: the lines' sums; without lines, the typed expected revenue
        in the opportunity's currency (all gross, no discount)."""
        without_lines = self.filtered(lambda lead: not lead.line_ids)
        rates = without_lines._get_conversion_rates()
        for lead in self - without_lines:
            lead.amount_gross = sum(lead.line_ids.mapped("amount_gross"))
            lead.amount_discount = sum(lead.line_ids.mapped("amount_discount"))
            lead.amount_net = sum(lead.line_ids.mapped("amount_net"))
        for lead in without_lines:
            currency = lead.currency_id or lead.company_currency
            lead.amount_gross = lead.amount_net = (
                currency.round(lead.expected_revenue / rates[lead]) if rates[lead] else 0.0
            )
            lead.amount_discount = 0.0

    @api.depends("active", "probability")
    def _compute_closing_state(self):
        # values read in bulk and each state assigned at once: the forecast reads every opportunity
        by_state = {state: [] for state in CLOSING_STATE_DOMAINS}
        values = zip(self._ids, self.mapped("active"), self.mapped("probability"), strict=True)
        for lead_id, active, probability in values:
            by_state[closing_state_of({"active": active, "probability": probability})].append(lead_id)
        for state, ids in by_state.items():
            self.browse(ids).closing_state = state

    def _search_closing_state(self, operator, value):
        """The domains of the asked states (archived opportunities, the lost ones, are
        found where the search reads archived records too, as everywhere in Odoo)."""
        states = {value} if isinstance(value, str) else set(value) if isinstance(value, (list, tuple)) else None
        if operator not in ("=", "!=", "in", "not in") or states is None or states - set(CLOSING_STATE_DOMAINS):
            raise UserError(_(
                "Closing State: search with =, !=, in or not in among %(states)s.",
                states=", ".join(CLOSING_STATE_DOMAINS),
            ))
        if operator in ("!=", "not in"):
            states = set(CLOSING_STATE_DOMAINS) - states
        return expression.OR([CLOSING_STATE_DOMAINS[state] for state in CLOSING_STATE_DOMAINS if state in states])

    @api.depends(
        "line_ids.date_expected_order", "line_ids.date_expected_delivery",
        "line_ids.date_expected_invoice",
    )
    def _compute_expected_dates(self):
        for lead in self.filtered("line_ids"):
            for field_name in ("date_expected_order", "date_expected_delivery", "date_expected_invoice"):
                dates = [date for date in lead.line_ids.mapped(field_name) if date]
                lead[field_name] = min(dates) if dates else False

    @api.depends("company_id.crm_won_reason_dialog")
    @api.depends_context("company")
    def _compute_won_reason_dialog(self):
        for lead in self:
            lead.won_reason_dialog = (lead.company_id or self.env.company).crm_won_reason_dialog

    @api.depends("message_ids")
    def _compute_date_last_interaction(self):
        last = {}
        if self.ids:
            self.env["mail.message"].flush_model(["model", "res_id", "date", "message_type", "mail_activity_type_id"])
            self.env.cr.execute(SQL(
                "SELECT res_id, MAX(date) FROM mail_message "
                "WHERE model = %s AND res_id = ANY(%s) AND %s GROUP BY res_id",
                self._name, list(self.ids), self._interaction_message_sql(),
            ))
            last = dict(self.env.cr.fetchall())
        now = fields.Datetime.now()
        for lead in self:
            lead.date_last_interaction = last.get(lead.id) or lead.create_date or now
            lead.idle_days = idle.idle_days(lead.date_last_interaction, now)

    def _search_date_last_interaction(self, operator, value):
        if operator not in ("<", "<=", ">", ">=", "=", "!="):
            raise UserError(_("Last Interaction: cannot search with %(operator)s.", operator=operator))
        value = fields.Datetime.to_datetime(value)
        self.env["mail.message"].flush_model(["model", "res_id", "date", "message_type", "mail_activity_type_id"])
        self.flush_model(["create_date"])
        query = Query(self.env, self._table)
        query.add_where(SQL(
            """COALESCE((SELECT MAX(message.date) FROM mail_message message
                         WHERE message.model = %s AND message.res_id = %s AND %s), %s) """ + operator + " %s",
            self._name, SQL.identifier(self._table, "id"), self._interaction_message_sql("message"),
            SQL.identifier(self._table, "create_date"), value,
        ))
        return [("id", "in", query)]

    def _search_idle_days(self, operator, value):
        """``idle_days <op> N`` is a range of last interaction dates (``engine.idle``)."""
        try:
            found = idle.idle_days_range(operator, value, fields.Datetime.now())
        except ValueError as error:
            raise UserError(
                _("Idle Days: cannot search with %(operator)s %(value)r.", operator=operator, value=value)
            ) from error
        field = "date_last_interaction"
        if found.outside:  # before the range or after it; no range: nothing
            terms = [(field, "<=", found.after)] if found.after is not None else []
            terms += [(field, ">", found.until)] if found.until is not None else []
            return ["|"] * (len(terms) - 1) + terms if terms else [(0, "=", 1)]
        terms = [(field, ">", found.after)] if found.after is not None else []
        terms += [(field, "<=", found.until)] if found.until is not None else []
        return terms or [(1, "=", 1)]  # no range: everything

    # ------------------------------------------------------------------ constraints

    @api.constrains("expected_revenue")
    def _check_expected_revenue(self):
        for lead in self:
            if lead.company_currency.compare_amounts(lead.expected_revenue, 0) < 0:
                raise ValidationError(
                    _("Expected Revenue: the opportunity %(lead)s cannot have a negative amount.", lead=lead.name)
                )

    # ------------------------------------------------------------------ CRUD

    # The one create / write path of the module on opportunities: each step is named here,
    # in the order it runs, and lives with its feature (workflow, notifications: crm_lead_workflow.py).

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._prepare_probability_vals(vals)
            self._prepare_currency_vals(vals)
            if not vals.get("number"):
                vals["number"] = self._next_number()
        leads = super().create(vals_list)
        leads._check_stages_created_in(vals_list)
        for percentage, entering in leads._group_by_stage_probability(vals_list).items():
            super(CrmLead, entering).write({"probability": percentage})
        leads.filtered("stage_id")._log_stage_changes(dict.fromkeys(leads, (self.env["crm.stage"], None)))
        return leads

    def write(self, vals):
        if "number" in vals and not self.env.su:
            raise UserError(_("The opportunity number is given at creation; it cannot be changed."))
        vals = dict(vals)
        self._prepare_probability_vals(vals)
        if not self:
            return super().write(vals)
        moving = self._check_stage_change(vals)
        stages_before = moving._stage_positions()
        self._remember_progress(vals)
        percentage = moving._stage_probability(vals)
        if percentage is None:
            result = super().write(vals)
        else:  # the opportunities entering a stage take its default level, the others keep theirs
            if moving != self:
                super(CrmLead, self - moving).write(dict(vals))
            result = super(CrmLead, moving).write({**vals, "probability": percentage})
        moving._log_stage_changes(stages_before)
        if "expected_revenue" in vals:
            self._recompute_expected_revenue_from_lines()
        return result

    def _create(self, data_list):
        leads = super()._create(data_list)
        self.env["crm.lead.history"]._queue(leads.ids)
        return leads

    def _flush(self, fnames=None):
        """History: after the opportunities are flushed, one row for each whose tracked
        values changed (one INSERT for all of them)."""
        History = self.env["crm.lead.history"]
        changed = History._changed_lead_ids()
        if not changed:
            return super()._flush(fnames)
        if History._computing_lead_ids() & changed:
            # a flush from within a computation of theirs: values not final, rows on the next flush
            History._queue(changed)
            return super()._flush(fnames)
        # a row holds all the tracked values as they stand: compute and flush them all together
        self._recompute_model()
        result = super()._flush(None)
        History._record(changed)
        return result

    def _check_lines_may_change(self):
        """Detail lines are part of their opportunity: who adds or moves one changes the
        opportunity, and needs the right to write it (its record rules included)."""
        self.check_access("write")

    @api.model
    def _prepare_probability_vals(self, vals):
        """A chosen level sets the probability; the level itself always follows the
        probability (``_compute_probability_level_id``), so a probability given too (won
        stages, lost, predictive scoring) wins."""
        level_id = vals.pop("probability_level_id", None)
        if level_id and "probability" not in vals:
            vals["probability"] = self.env["crm.probability.level"].browse(level_id).percentage

    @api.model
    def _prepare_currency_vals(self, vals):
        if vals.get("company_id") and not vals.get("currency_id"):
            vals["currency_id"] = self.env["res.company"].browse(vals["company_id"]).currency_id.id

    def _recompute_expected_revenue_from_lines(self):
        """With detail lines, the lines are the source of the amount: a written expected
        revenue gives way to theirs."""
        with_lines = self.filtered("line_ids")
        if with_lines:
            self.env.add_to_compute(self._fields["expected_revenue"], with_lines)

    @api.onchange("company_id")
    def _onchange_company_id_currency(self):
        if self.company_id and not self.line_ids:
            self.currency_id = self.company_id.currency_id

    @api.onchange("probability_level_id")
    def _onchange_probability_level_id(self):
        # Typing a probability recomputes the level, which comes back here: keep the
        # typed probability when it already lies in the chosen level.
        level = self.probability_level_id
        bucket = self.env["crm.probability.level"]._find_for_probabilities([self.probability])[self.probability]
        if level and level != bucket:
            self.probability = level.percentage

    def _update_automated_probabilities(self):
        # Odoo's predictive scoring cron writes the probabilities in SQL: levels follow in SQL
        result = super()._update_automated_probabilities()
        self.env["crm.probability.level"]._reassign_leads(record=False)
        self.env["crm.lead.history"]._record_scoring()
        return result

    def _pls_get_naive_bayes_probabilities(self, batch_mode=False):
        # Odoo's scoring looks its first stage up again for every sales team with frequencies
        # (``_pls_get_won_lost_total_count``: a query per team, each time probabilities are
        # computed); looked up once here, the count per team reads it from the context.
        first_stage = self.env["crm.stage"].search([("team_id", "=", False)], order="sequence, id", limit=1)
        return super(CrmLead, self.with_context(crm_pls_first_stage_id=first_stage.id))\
            ._pls_get_naive_bayes_probabilities(batch_mode=batch_mode)

    def _pls_get_won_lost_total_count(self, team_results):
        if "crm_pls_first_stage_id" not in self.env.context:
            return super()._pls_get_won_lost_total_count(team_results)
        # Odoo's own computation, with the first stage found once
        stage_result = team_results.get("stage_id", {}).get(str(self.env.context["crm_pls_first_stage_id"]))
        if not stage_result:
            return 0, 0, 0
        return stage_result["won"], stage_result["lost"], stage_result["won"] + stage_result["lost"]

    def _update_revenues_from_so(self, order):
        # With detail lines, "Compute values from quotation" is the way to take the order's amounts.
        return super(CrmLead, self.filtered(lambda lead: not lead.line_ids))._update_revenues_from_so(order)

    # ------------------------------------------------------------------ actions

    def action_set_won_rainbowman(self):
        self.ensure_one()
        if self.won_reason_dialog and not self.env.context.get("crm_won_reason_given"):
            return self.action_open_won_dialog()
        return super().action_set_won_rainbowman()

    def action_open_won_dialog(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_opportunity_management.crm_lead_won_action"
        )
        action["context"] = {"dialog_size": "medium", "default_lead_ids": self.ids}
        return action

    def action_compute_from_quotations(self):
        """Rebuild the detail lines from the linked quotations, one line per product family."""
        self.ensure_one()
        orders = self.order_ids.filtered_domain(self._get_lead_quotation_and_order_domain())
        if not orders:
            raise UserError(
                _("The opportunity %(lead)s has no quotation to take values from.", lead=self.display_name)
            )
        self.write({"line_ids": [fields.Command.clear()] + [
            fields.Command.create(values) for values in self._prepare_lines_from_orders(orders)
        ]})
        return True

    # ------------------------------------------------------------------ helpers

    @api.model
    def _next_number(self):
        # The sequence is configuration: users who may create opportunities draw from it.
        return self.env["ir.sequence"].sudo().next_by_code("crm.lead.number")

    @api.model
    def _interaction_message_sql(self, alias="mail_message"):
        """Messages that count as an interaction: logged notes and e-mails, done activities."""
        return SQL(
            "(%s IN ('comment', 'email') OR %s IS NOT NULL)",
            SQL.identifier(alias, "message_type"), SQL.identifier(alias, "mail_activity_type_id"),
        )

    @api.model
    def _closing_state_sql(self, alias):
        """The closing state of the ``crm_lead`` row aliased ``alias`` as SQL, built from
        the domains that define it."""
        return SQL("(CASE %s END)", SQL(" ").join(
            SQL("WHEN %s THEN %s", domain_sql(self, alias, domain), state)
            for state, domain in CLOSING_STATE_DOMAINS.items()
        ))

    def _get_conversion_date(self):
        self.ensure_one()
        return self.date_expected_invoice or self.date_deadline or fields.Date.context_today(self)

    def _get_conversion_rates(self):
        """Rate from opportunity to company currency for each lead, one rate lookup
        per distinct (currency, company, date)."""
        rates, cache = {}, {}
        for lead in self:
            company = lead.company_id or self.env.company
            currency = lead.currency_id or company.currency_id
            key = (currency, company, lead._get_conversion_date())
            if key not in cache:
                cache[key] = (
                    1.0 if currency == company.currency_id
                    else currency._get_conversion_rate(currency, company.currency_id, company, key[2])
                )
            rates[lead] = cache[key]
        return rates

    def _prepare_lines_from_orders(self, orders):
        """Values of the detail lines summing the orders' lines per product category,
        converted to the opportunity's currency at each order's date."""
        self.ensure_one()
        company = self.company_id or self.env.company
        groups = {}
        for order in orders:
            order_date = (order.date_order or fields.Datetime.now()).date()
            delivery = order.commitment_date or order.expected_date
            for order_line in order.order_line.filtered(lambda line: not line.display_type and line.product_id):
                def convert(amount, order=order, order_date=order_date):
                    return order.currency_id._convert(amount, self.currency_id, company, order_date)

                category = order_line.product_id.categ_id
                values = groups.setdefault(category, {
                    "product_categ_id": category.id,
                    "name": category.display_name,
                    "amount_gross": 0.0,
                    "amount_discount": 0.0,
                    "date_expected_order": order_date,
                    "date_expected_delivery": delivery and delivery.date(),
                    "date_expected_invoice": delivery and delivery.date(),
                })
                gross = convert(order_line.price_unit * order_line.product_uom_qty)
                net = convert(order_line.price_subtotal)
                values["amount_gross"] += gross
                values["amount_discount"] += max(gross - net, 0.0)
                values["date_expected_order"] = min(values["date_expected_order"], order_date)
        for values in groups.values():
            values["amount_gross"] = self.currency_id.round(values["amount_gross"])
            values["amount_discount"] = self.currency_id.round(values["amount_discount"])
        return list(groups.values())
