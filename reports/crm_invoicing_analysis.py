from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models, tools
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, date_utils

from ..models.crm_lead import domain_sql

DOCUMENT_TYPES = [("opportunity", "Opportunity"), ("order", "Sales Order"), ("invoice", "Invoice")]


class CrmInvoicingAnalysis(models.Model):
    """Invoicing progress: open and won opportunities (by expected invoice date),
    confirmed sales orders (by order date) and posted customer invoices (by invoice
    date), side by side in company currency.

    A SQL view; salespeople see the rows of the documents they may read (record rules
    mirroring those of opportunities, orders and invoices).
    """

    _name = "crm.invoicing.analysis"
    _description = "Invoicing Progress Analysis"
    _auto = False
    _order = "date, document_type, id"
    _rec_name = "name"
    # flushed before the view is read, so that it sees the writes of the transaction
    _depends = {
        "crm.lead": ["type", "active", "name", "date_expected_invoice", "date_deadline", "company_id", "user_id",
                     "team_id", "partner_id", "currency_id", "expected_revenue", "probability",
                     "opportunity_type_id"],
        "sale.order": ["state", "name", "date_order_local", "company_id", "user_id", "team_id", "partner_id",
                       "currency_id", "amount_untaxed", "currency_rate", "opportunity_id", "opportunity_type_id"],
        "account.move": ["state", "move_type", "name", "invoice_date", "company_id", "invoice_user_id", "team_id",
                         "partner_id", "currency_id", "amount_untaxed_signed", "payment_state", "opportunity_id",
                         "opportunity_type_id"],
    }

    document_type = fields.Selection(DOCUMENT_TYPES, readonly=True)
    res_model = fields.Char(string="Document Model", readonly=True)
    res_id = fields.Integer(string="Document ID", readonly=True)
    name = fields.Char(string="Document", readonly=True)
    date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    company_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    currency_id = fields.Many2one("res.currency", string="Document Currency", readonly=True)
    amount = fields.Monetary(
        string="Untaxed Amount", currency_field="company_currency_id", readonly=True,
        help="Untaxed amount in company currency (credit notes count negative).",
    )
    state = fields.Char(readonly=True)
    payment_state = fields.Selection(
        selection=lambda self: self.env["account.move"]._fields["payment_state"].selection, readonly=True
    )
    opportunity_id = fields.Many2one("crm.lead", readonly=True)
    opportunity_type_id = fields.Many2one("crm.opportunity.type", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("CREATE OR REPLACE VIEW %s AS (%s)", SQL.identifier(self._table), self._query()))

    def _query(self):
        Lead = self.env["crm.lead"]
        # ids: 3 * document id + 0 / 1 / 2, unique across the three kinds of documents
        return SQL("""
            SELECT lead.id * 3 AS id, 'opportunity' AS document_type, 'crm.lead' AS res_model, lead.id AS res_id,
                   lead.name AS name, COALESCE(lead.date_expected_invoice, lead.date_deadline) AS date,
                   lead.company_id, lead.user_id, lead.team_id, lead.partner_id, lead.currency_id,
                   lead.expected_revenue AS amount,
                   %(lead_state)s AS state,
                   NULL AS payment_state, lead.id AS opportunity_id, lead.opportunity_type_id
              FROM crm_lead lead
             WHERE lead.type = 'opportunity' AND lead.active
         UNION ALL
            SELECT sale.id * 3 + 1, 'order', 'sale.order', sale.id, sale.name,
                   sale.date_order_local,  -- the order's day where its salesperson works
                   sale.company_id, sale.user_id, sale.team_id, sale.partner_id, sale.currency_id,
                   sale.amount_untaxed / COALESCE(NULLIF(sale.currency_rate, 0), 1), sale.state,
                   NULL, sale.opportunity_id, sale.opportunity_type_id
              FROM sale_order sale
             WHERE %(confirmed_order)s  -- sale_crm's orders of an opportunity
         UNION ALL
            SELECT move.id * 3 + 2, 'invoice', 'account.move', move.id, move.name, move.invoice_date,
                   move.company_id, move.invoice_user_id, move.team_id, move.partner_id, move.currency_id,
                   move.amount_untaxed_signed, move.state, move.payment_state, move.opportunity_id,
                   move.opportunity_type_id
              FROM account_move move
             WHERE move.state = 'posted' AND move.move_type IN ('out_invoice', 'out_refund')
        """,
            lead_state=Lead._closing_state_sql("lead"),
            confirmed_order=domain_sql(self.env["sale.order"], "sale", Lead._get_lead_sale_order_domain()),
        )

    # ------------------------------------------------------------------ the invoicing board

    def _get_board(self, domain, options):
        """``crm.lead.get_board("invoicing", domain, options)``: one column per month.

        The screen passes its search (the search bar's facets, filters and favourites) as
        ``domain``, and what a domain cannot say (the period, the company whose currency
        the totals are in, the per-type dates, which types are collapsed) as ``options``.
        """
        options = self._board_options(options)
        company = options["company"]
        domain = [
            ("company_id", "=", company.id),
            ("date", ">=", options["date_from"]),
            ("date", "<=", options["date_to"]),
            *self._board_type_domain(options),
            *([("user_id", "=", options["user_id"])] if options["user_id"] else []),
            *([("currency_id", "=", options["currency_id"])] if options["currency_id"] else []),
            *domain,
        ]
        self.check_access("read")
        day_counts = self._board_day_counts(domain)
        totals = self._board_totals(day_counts)
        expanded = [kind for kind in options["document_types"] if kind not in options["collapse"]]
        card_days = self._board_card_days(day_counts, expanded, options["limit"])
        type_labels = self._board_document_type_labels()
        cards = self._board_cards(domain, options["limit"], card_days, type_labels)
        currency = company.currency_id
        columns = []
        for month in self._board_months(options["date_from"], options["date_to"]):
            key = month.strftime("%Y-%m")
            column_cards = []
            for kind in options["document_types"]:
                count, amount = totals.get((key, kind), (0, 0.0))
                if kind in options["collapse"]:
                    if count:
                        column_cards.append(
                            self._board_collapsed_card(kind, type_labels[kind], count, currency.round(amount))
                        )
                else:
                    column_cards += cards.get((key, kind), [])
            columns.append({
                "key": key,
                "label": self._board_month_label(month),
                "count": sum(totals.get((key, kind), (0, 0.0))[0] for kind in options["document_types"]),
                "amount": currency.round(
                    sum(totals.get((key, kind), (0, 0.0))[1] for kind in options["document_types"])
                ),
                "cards": column_cards,
            })
        return {
            "kind": "invoicing",
            "currency": currency.name,
            "currency_id": currency.id,
            # every type with its label in the user's language, for the screen's controls
            "document_types": [{"key": kind, "label": label} for kind, label in type_labels.items()],
            "columns": columns,
        }

    @api.model
    def _board_month_label(self, month):
        """The month as a column header: its standalone name (Babel's ``LLLL``: Croatian
        "Listopad 2026", not the genitive "listopada" of a full date), first letter upper
        case as a heading, in the user's language."""
        label = tools.format_date(self.env, month, date_format="LLLL yyyy")
        return label[:1].upper() + label[1:]

    @api.model
    def _board_document_type_labels(self):
        """``{document_type: label}`` in the board's order, translated."""
        return dict(self._fields["document_type"]._description_selection(self.env))

    def _board_day_counts(self, domain):
        """``[(day, document_type, count, amount)]``: summed by day in SQL (cheaper than
        truncating every row's date to its month), by month by the callers."""
        query = self._search(domain)
        return self.env.execute_query(SQL(
            "SELECT %s, %s, COUNT(*), SUM(%s) FROM %s WHERE %s GROUP BY 1, 2",
            SQL.identifier(self._table, "date"), SQL.identifier(self._table, "document_type"),
            SQL.identifier(self._table, "amount"), query.from_clause, query.where_clause,
        ))

    @api.model
    def _board_totals(self, day_counts):
        """``{("YYYY-MM", document_type): (count, amount)}``."""
        totals = {}
        for day, document_type, count, amount in day_counts:
            key = (day.strftime("%Y-%m"), document_type)
            previous_count, previous_amount = totals.get(key, (0, 0.0))
            totals[key] = (previous_count + count, previous_amount + (amount or 0.0))
        return totals

    @api.model
    def _board_card_days(self, day_counts, kinds, limit):
        """``[(document_type, first day, last day)]``: per month and type, the days that hold
        its first ``limit`` documents (the day counts tell which), so that only those rows
        are ranked, not the whole period's."""
        days = {}
        for day, document_type, count, _amount in sorted(day_counts):
            if document_type in kinds:
                days.setdefault((day.strftime("%Y-%m"), document_type), []).append((day, count))
        ranges = []
        for (_month, document_type), month_days in days.items():
            seen, last = 0, month_days[-1][0]
            for day, count in month_days:
                seen += count
                if limit and seen >= limit:
                    last = day
                    break
            ranges.append((document_type, month_days[0][0], last))
        return ranges

    def _board_cards(self, domain, limit, card_days, type_labels):
        """The documents of each (month, type), ``limit`` at most (0: all), with the names
        they show, in one query over the rows of ``card_days``; the labels of their type
        and payment state are the server's (translated), not the screen's."""
        if not card_days:
            return {}
        query = self._search(domain)
        table = SQL.identifier(self._table)
        # in parentheses: Query joins its conditions with AND, without any, and an OR left
        # bare would let other companies' (and unreadable) documents in
        query.add_where(SQL("(%s)", SQL(" OR ").join(
            SQL("(%s.document_type = %s AND %s.date BETWEEN %s AND %s)", table, kind, table, first, last)
            for kind, first, last in card_days
        )))
        ranked = query.select(
            SQL("%s.*", table),
            SQL("ROW_NUMBER() OVER (PARTITION BY date_trunc('month', %s.date), %s.document_type "
                "ORDER BY %s.date, %s.id) AS rank", table, table, table, table),
        )
        rows = self.env.execute_query(SQL(
            """SELECT card.document_type, card.res_model, card.res_id, card.name, card.date,
                      partner.complete_name, seller.name, card.state, card.payment_state, card.amount,
                      company.currency_id
                 FROM (%s) card
            LEFT JOIN res_partner partner ON partner.id = card.partner_id
            LEFT JOIN res_users users ON users.id = card.user_id
            LEFT JOIN res_partner seller ON seller.id = users.partner_id
            LEFT JOIN res_company company ON company.id = card.company_id
                WHERE %s
             ORDER BY card.date, card.document_type, card.id""",
            ranked, SQL("card.rank <= %s", limit) if limit else SQL("TRUE"),
        ))
        payment_labels = dict(self.env["account.move"]._fields["payment_state"]._description_selection(self.env))
        Currency, cards = self.env["res.currency"], {}
        for kind, model, res_id, name, day, partner, user, state, payment_state, amount, currency_id in rows:
            cards.setdefault((day.strftime("%Y-%m"), kind), []).append({
                "model": model,
                "id": res_id,
                "document_type": kind,
                "document_type_label": type_labels[kind],
                "name": name or "",
                "date": fields.Date.to_string(day),
                "partner": partner or "",
                "user": user or "",
                "stage": state or "",
                "payment_state": payment_state or "",
                "payment_state_label": payment_labels.get(payment_state, "") if payment_state else "",
                "amount": Currency.browse(currency_id).round(amount or 0.0),
            })
        return cards

    @api.model
    def _board_collapsed_card(self, document_type, label, count, amount):
        return {
            "model": False, "id": False, "document_type": document_type, "document_type_label": label,
            "collapsed": True, "count": count, "name": _("%(type)s: %(count)s", count=count, type=label),
            "partner": "", "user": "", "stage": "", "amount": amount,
        }

    @api.model
    def _board_type_domain(self, options):
        """The shown document types, each within its own date filter when it has one."""
        filters = options["date_filters"]
        if not filters:
            return [("document_type", "in", options["document_types"])]
        return expression.OR([
            [("document_type", "=", kind),
             *([("date", ">=", filters[kind][0])] if kind in filters and filters[kind][0] else []),
             *([("date", "<=", filters[kind][1])] if kind in filters and filters[kind][1] else [])]
            for kind in options["document_types"]
        ])

    @api.model
    def _board_months(self, date_from, date_to):
        month = date_from.replace(day=1)
        while month <= date_to:
            yield month
            month += relativedelta(months=1)

    @api.model
    def _board_options(self, options):
        """Check and complete the options of the invoicing board (clear errors for RPC)."""
        if options and not isinstance(options, dict):
            raise UserError(_("The invoicing board options must be a dictionary."))
        options = dict(options or {})
        allowed = {"date_from", "date_to", "company_id", "user_id", "currency_id", "document_types", "collapse",
                   "date_filters", "limit"}
        if set(options) - allowed:
            unknown = ", ".join(sorted(set(options) - allowed))
            raise UserError(_("Unknown invoicing board options: %(keys)s.", keys=unknown))
        today = fields.Date.context_today(self)
        quarter_start = date_utils.start_of(today, "quarter")
        try:
            date_from = fields.Date.to_date(options.get("date_from")) or quarter_start
            date_to = fields.Date.to_date(options.get("date_to")) or date_utils.end_of(quarter_start, "quarter")
        except (TypeError, ValueError) as error:
            raise UserError(_("The board dates must be dates (YYYY-MM-DD).")) from error
        if date_from > date_to:
            raise UserError(
                _("The board period starts (%(start)s) after it ends (%(end)s).", start=date_from, end=date_to)
            )
        if (date_to.year - date_from.year) * 12 + date_to.month - date_from.month >= 120:
            raise UserError(_("The invoicing board shows ten years at most."))
        kinds = [kind for kind, _label in DOCUMENT_TYPES]
        document_types = options.get("document_types") or kinds
        collapse = options.get("collapse") or []
        for name, value in (("document_types", document_types), ("collapse", collapse)):
            if not isinstance(value, (list, tuple)) or set(value) - set(kinds):
                raise UserError(_(
                    "The invoicing board option %(option)s must be a list among %(kinds)s.",
                    option=name, kinds=", ".join(kinds),
                ))
        company_id = options.get("company_id") or self.env.company.id
        if not isinstance(company_id, int) or isinstance(company_id, bool) or (
            company_id not in self.env.user.company_ids.ids
        ):
            raise UserError(_("You have no access to the company %(company)s.", company=company_id))
        user_id = options.get("user_id") or False
        if user_id and (isinstance(user_id, bool) or not isinstance(user_id, int)):
            raise UserError(_("The option user_id must be a user id."))
        currency_id = options.get("currency_id") or False
        if currency_id and (isinstance(currency_id, bool) or not isinstance(currency_id, int)):
            raise UserError(_("The option currency_id must be a currency id."))
        # cards per column: the opportunity boards' default and check (crm.lead), not a copy
        limit_option = {"limit": options["limit"]} if "limit" in options else {}
        limit = self.env["crm.lead"]._board_options(limit_option)["limit"]
        return {
            "date_from": date_from.replace(day=1),
            "date_to": date_utils.end_of(date_to, "month"),
            "company": self.env["res.company"].browse(company_id),
            "user_id": user_id,
            "currency_id": currency_id,
            "document_types": [kind for kind in kinds if kind in document_types],
            "date_filters": self._board_date_filters(options.get("date_filters"), kinds),
            "collapse": set(collapse),
            "limit": limit,
        }

    @api.model
    def _board_date_filters(self, date_filters, kinds):
        """``{kind: {"date_from", "date_to"}}`` (either may be missing) as ``{kind: (from, to)}``."""
        if not date_filters:
            return {}
        message = _(
            "date_filters must map document types (%(kinds)s) to {'date_from': 'YYYY-MM-DD', "
            "'date_to': 'YYYY-MM-DD'}, the start not after the end.", kinds=", ".join(kinds),
        )
        if not isinstance(date_filters, dict) or set(date_filters) - set(kinds):
            raise UserError(message)
        filters = {}
        for kind, bounds in date_filters.items():
            if not isinstance(bounds, dict) or set(bounds) - {"date_from", "date_to"}:
                raise UserError(message)
            try:
                start, end = (fields.Date.to_date(bounds.get(key) or None) for key in ("date_from", "date_to"))
            except (TypeError, ValueError) as error:
                raise UserError(message) from error
            if start and end and start > end:
                raise UserError(message)
            if start or end:
                filters[kind] = (start, end)
        return filters
