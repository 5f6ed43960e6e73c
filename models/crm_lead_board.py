from odoo import _, api, models
from odoo.exceptions import UserError
from odoo.tools import SQL

BOARD_CARD_LIMIT = 80  # cards per column by default, as many as a kanban column loads
BOARD_OPTIONS = {"limit"}
CARD_FIELDS = ["name", "number", "partner_id", "partner_name", "contact_name", "user_id", "stage_id",
               "probability_level_id", "amount_net_company", "company_id"]


class CrmLead(models.Model):
    """The opportunity boards: progress (by probability level) and stages (by workflow
    stage), as screens and as ``get_board`` for XML-RPC clients."""

    _inherit = "crm.lead"

    @api.model
    @api.readonly
    def get_board(self, kind, domain=None, options=None):
        """Columns of a board, with what the screens show.

        :param kind: ``"progress"`` (columns = probability levels, all of them),
            ``"stages"`` (columns = the workflow of the opportunity type the domain names,
            else the sales team's stages and those holding opportunities) or
            ``"invoicing"`` (columns = months; opportunities, confirmed orders and posted
            invoices of ``crm.invoicing.analysis``, see its ``_board_options``)
        :param domain: extra search domain on opportunities (the caller's rights apply)
        :param options: ``{"limit": cards per column (default 80, 0 = all)}``
        :return: ``{"kind", "currency", "columns": [{"key", "label", "count", "amount",
            "cards": [{"model", "id", "name", "number", "partner", "user", "stage",
            "level", "amount"}]}]}``; amounts are net values in company currency.
        """
        builders = {"progress": self._board_progress_columns, "stages": self._board_stages_columns}
        if kind not in (*builders, "invoicing"):
            raise UserError(_(
                "Unknown board %(kind)r: use one of %(kinds)s.", kind=kind, kinds="invoicing, progress, stages",
            ))
        if kind == "invoicing":
            return self.env["crm.invoicing.analysis"]._get_board(self._board_domain(domain)[1:], options)
        domain = self._board_domain(domain)
        options = self._board_options(options)
        self.check_access("read")
        groupby = {"progress": "probability_level_id", "stages": "stage_id"}[kind]
        totals = {
            group: (count, amount)
            for group, count, amount in self._read_group(domain, [groupby], ["__count", "amount_net_company:sum"])
        }
        columns = builders[kind](domain, totals)
        cards = self._board_cards(domain, groupby, options["limit"])
        return {
            "kind": kind,
            "currency": self.env.company.currency_id.name,
            "columns": [
                {
                    **self._board_column_header(record, totals),
                    "cards": cards.get(record.id, []),
                }
                for record in columns
            ],
        }

    # ------------------------------------------------------------------ columns

    def _board_progress_columns(self, domain, totals):
        levels = self.env["crm.probability.level"].search([])
        return self._board_with_unlisted(levels, totals)

    def _board_stages_columns(self, domain, totals):
        stages = self._read_group_stage_ids(self.env["crm.stage"], domain)
        return self._board_with_unlisted(stages, totals).sorted(lambda stage: (stage.sequence, stage.id))

    def _board_with_unlisted(self, records, totals):
        """The expected columns, plus those that hold opportunities anyway (an archived
        level, a stage outside the workflow): nothing counted is left out of the board."""
        holding = self.env[records._name].concat(*(group for group in totals if group))
        columns = records | holding
        if any(not group for group in totals):
            columns |= records.browse([False])  # opportunities without a level / stage
        return columns

    def _board_column_header(self, record, totals):
        count, amount = totals.get(record, (0, 0.0))
        return {
            "key": record.id or False,
            "label": record.display_name if record else _("None"),
            "count": count,
            "amount": self.env.company.currency_id.round(amount or 0.0),
        }

    # ------------------------------------------------------------------ cards

    def _board_cards(self, domain, groupby, limit):
        """The first ``limit`` cards of each column in the kanban order, in one query
        (plus one per related model for the names)."""
        query = self._search(domain)
        group_sql = self._field_to_sql(self._table, groupby, query)
        order_sql = self._order_to_sql(self._order, query)
        ranked = query.select(
            SQL("%s AS id", SQL.identifier(self._table, "id")),
            SQL("ROW_NUMBER() OVER (PARTITION BY %s ORDER BY %s) AS rank", group_sql, order_sql),
        )
        if limit:
            self.env.cr.execute(SQL("SELECT id FROM (%s) ranked WHERE rank <= %s ORDER BY id", ranked, limit))
        else:
            self.env.cr.execute(SQL("SELECT id FROM (%s) ranked ORDER BY id", ranked))
        ids = [row[0] for row in self.env.cr.fetchall()]
        cards = {}
        for lead in self.search_fetch([("id", "in", ids)], CARD_FIELDS, order=self._order):
            cards.setdefault(lead[groupby].id or False, []).append(lead._board_card())
        return cards

    def _board_card(self):
        self.ensure_one()
        return {
            "model": self._name,
            "id": self.id,
            "name": self.name,
            "number": self.number or "",
            "partner": self.partner_id.display_name or self.partner_name or self.contact_name or "",
            "user": self.user_id.name or "",
            "stage": self.stage_id.name or "",
            "level": self.probability_level_id.name or "",
            "amount": self.company_currency.round(self.amount_net_company),
        }

    # ------------------------------------------------------------------ arguments

    @api.model
    def _board_domain(self, domain):
        """The opportunities a domain given over RPC selects (checked: a clear error)."""
        if domain is None:
            domain = []
        if not isinstance(domain, (list, tuple)) or not all(
            (isinstance(term, (list, tuple)) and len(term) == 3) or term in ("&", "|", "!") for term in domain
        ):
            raise UserError(_("The domain must be a list of (field, operator, value) conditions."))
        return [("type", "=", "opportunity"), *domain]

    @api.model
    def _rpc_options(self, options, allowed):
        """Options given over RPC: a dictionary with some of the ``allowed`` keys."""
        options = options or {}
        if not isinstance(options, dict) or set(options) - set(allowed):
            raise UserError(_(
                "The options must be a dictionary with the keys %(keys)s.", keys=", ".join(sorted(allowed)),
            ))
        return options

    @api.model
    def _board_options(self, options):
        options = self._rpc_options(options, BOARD_OPTIONS)
        limit = options.get("limit", BOARD_CARD_LIMIT)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise UserError(_("The board option limit must be a whole number of cards, 0 for all."))
        return {"limit": limit}
