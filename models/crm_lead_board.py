from odoo import _, api, models
from odoo.exceptions import UserError
from odoo.osv import expression
from odoo.tools import SQL, create_index

BOARD_CARD_LIMIT = 80  # cards per column by default, as many as a kanban column loads
BOARD_OPTIONS = {"limit"}
# the first cards of each column in the kanban order: {grouping column: index name}
BOARD_CARD_INDEXES = {column: f"crm_lead_board_{column}_cards_index" for column in ("probability_level_id", "stage_id")}



def check_rpc_domain(model, domain):
    """A clear error naming what is wrong in a domain given over RPC for ``model``: an
    operator without its conditions, an unknown field or operator; then the search's own
    parse (no query), whatever else it refuses."""
    _ = model.env._
    expected = 1 if domain else 0  # an empty domain selects everything
    for term in domain:
        if expected == 0:
            expected = 1  # consecutive conditions: an implicit '&'
        expected += {"!": 0, "|": 1, "&": 1}.get(term, -1) if isinstance(term, str) else -1
    if expected:
        raise UserError(_("The domain is malformed: an operator ('|', '&' or '!') lacks its conditions."))
    for term in domain:
        if isinstance(term, str):
            continue
        path, operator = term[0], term[1]
        if path in (0, 1) and operator == "=":
            continue  # Odoo's constant conditions
        current = model
        for name in str(path).split("."):
            field = current._fields.get(name) if current is not None else None
            if field is None:
                raise UserError(_("The domain uses the unknown field %(field)s.", field=path))
            current = model.env[field.comodel_name] if field.relational else None
        if operator not in (*expression.TERM_OPERATORS, "any", "not any"):
            raise UserError(_(
                "The domain uses the unknown operator %(operator)s on %(field)s.", operator=operator, field=path,
            ))
    try:
        model._where_calc(list(domain))
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise UserError(_("The domain is not valid (%(reason)s).", reason=error)) from error


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
            Analysis = self.env["crm.invoicing.analysis"]
            return Analysis._get_board(self._board_domain(domain, Analysis)[1:], options)
        domain = self._board_domain(domain)
        options = self._board_options(options)
        self.check_access("read")
        groupby = {"progress": "probability_level_id", "stages": "stage_id"}[kind]
        totals = {
            group: (count, amount)
            for group, count, amount in self._read_group(domain, [groupby], ["__count", "expected_revenue:sum"])
        }
        columns = builders[kind](domain, totals)
        keys = [group.id or None for group in totals]
        cards = self._board_cards(domain, groupby, options["limit"], keys)
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

    def init(self):
        res = super().init()
        # the first cards of each column, read in the kanban order (priority desc, id desc)
        for column, index in BOARD_CARD_INDEXES.items():
            create_index(self.env.cr, index, self._table, [column, "priority DESC", "id DESC"],
                         where="type = 'opportunity' AND active")
        return res

    def _board_cards(self, domain, groupby, limit, keys):
        """The first ``limit`` cards of each column (``keys``: the columns' ids, ``None``
        for the opportunities without one) in the kanban order, in one query: a LATERAL
        sub-query per column reads an index in that order and stops after ``limit`` rows
        (instead of ranking every row), and the cards' names come in the same query."""
        id_sql = SQL.identifier(self._table, "id")
        if not limit:
            selected = self._search(domain).select(id_sql)
        else:
            branches = []
            if ids := [key for key in keys if key]:
                branches.append(SQL(
                    "SELECT card.id FROM unnest(%s::int[]) AS columns(column_key) CROSS JOIN LATERAL (%s) card",
                    ids, self._board_first_cards(domain, groupby, limit, "= column_key").select(id_sql),
                ))
            if None in keys:
                branches.append(SQL("(%s)", self._board_first_cards(domain, groupby, limit, "IS NULL").select(id_sql)))
            if not branches:
                return {}
            selected = SQL(" UNION ALL ").join(branches)
        default_currency = self.env.company.currency_id  # read before the cards' query, not amid its rows
        self.flush_model(["name", "number", "partner_id", "partner_name", "contact_name", "user_id", "stage_id",
                          "probability_level_id", "expected_revenue", "company_id", "priority"])
        self.env["res.partner"].flush_model(["complete_name", "name"])
        # the names as the cards' many2one fields display them (partner: its complete name;
        # stage and level: translated as Odoo reads them, flushed by execute_query)
        rows = self.env.execute_query(SQL(
            """SELECT lead.id, lead.%(groupby)s, lead.name, lead.number, COALESCE(partner.complete_name,
                      lead.partner_name, lead.contact_name), seller.name, %(stage)s, %(level)s,
                      lead.expected_revenue, company.currency_id
                 FROM (%(selected)s) card
                 JOIN crm_lead lead ON lead.id = card.id
            LEFT JOIN res_partner partner ON partner.id = lead.partner_id
            LEFT JOIN res_users users ON users.id = lead.user_id
            LEFT JOIN res_partner seller ON seller.id = users.partner_id
            LEFT JOIN crm_stage stage ON stage.id = lead.stage_id
            LEFT JOIN crm_probability_level level ON level.id = lead.probability_level_id
            LEFT JOIN res_company company ON company.id = lead.company_id
             ORDER BY lead.priority DESC, lead.id DESC""",
            groupby=SQL.identifier(groupby), stage=self.env["crm.stage"]._field_to_sql("stage", "name"),
            level=self.env["crm.probability.level"]._field_to_sql("level", "name"),
            selected=selected,
        ))
        currencies, cards = {}, {}
        for lead_id, key, name, number, partner, user, stage, level, amount, currency_id in rows:
            # the company's currency as crm's company_currency (the current company's without one)
            if currency_id not in currencies:
                currencies[currency_id] = self.env["res.currency"].browse(currency_id) or default_currency
            cards.setdefault(key or False, []).append({
                "model": self._name,
                "id": lead_id,
                "name": name,
                "number": number or "",
                "partner": partner or "",
                "user": user or "",
                "stage": stage or "",
                "level": level or "",
                "amount": currencies[currency_id].round(amount or 0.0),
            })
        return cards

    def _board_first_cards(self, domain, groupby, limit, condition):
        """The query of the first ``limit`` opportunities (kanban order) whose ``groupby``
        meets ``condition`` (SQL text: "= column_key" or "IS NULL")."""
        query = self._search(domain)
        query.add_where(SQL("%s " + condition, self._field_to_sql(self._table, groupby, query)))
        query.order = self._order_to_sql(self._order, query)
        query.limit = limit
        return query

    # ------------------------------------------------------------------ arguments

    @api.model
    def _board_domain(self, domain, model=None):
        """The opportunities a domain given over RPC selects (checked against ``model``,
        default opportunities: a clear error)."""
        if domain is None:
            domain = []
        if not isinstance(domain, (list, tuple)) or not all(
            (isinstance(term, (list, tuple)) and len(term) == 3) or term in ("&", "|", "!") for term in domain
        ):
            raise UserError(_("The domain must be a list of (field, operator, value) conditions."))
        check_rpc_domain(model if model is not None else self, domain)
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
