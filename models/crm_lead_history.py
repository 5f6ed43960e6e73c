from odoo import api, fields, models
from odoo.tools import SQL

from .crm_lead import CLOSING_STATES, closing_state_of

# Columns of a history row copied from the opportunity's own column of the same meaning.
LEAD_COLUMNS = {
    "company_id": "company_id",
    "stage_id": "stage_id",
    "probability": "probability",
    "automated_probability": "automated_probability",
    "probability_level_id": "probability_level_id",
    "amount_net": "amount_net",
    "currency_id": "currency_id",
    "amount_company": "expected_revenue",
    "date_deadline": "date_deadline",
    "date_expected_invoice": "date_expected_invoice",
    "user_id": "user_id",
    "team_id": "team_id",
    "opportunity_type_id": "opportunity_type_id",
}
# Fields of crm.lead whose change may give a row (``state`` follows active and probability;
# ``type``: an opportunity's history starts when a lead becomes one).
TRACKED_LEAD_FIELDS = (*LEAD_COLUMNS.values(), "active", "type")
QUEUE_KEY = "crm_opportunity_management.history_queue"
MARK_KEY = "crm_opportunity_management.history_marks"
# Columns the scoring cron moves a little every day (see ``_record``'s ``drift``); the level is
# not among them: a new level is always a row.
DRIFTING_COLUMNS = ("probability", "automated_probability")
# Probability points a scored opportunity must move by before the cron's change is a row.
CRON_DRIFT = 5
# Changes Odoo tracks in the chatter that the installation replays backwards: {field: kind of value}
SEEDED_TRACKING = {
    "stage_id": "many2one", "user_id": "many2one", "team_id": "many2one", "expected_revenue": "float",
    "active": "integer", "type": "selection", "opportunity_type_id": "many2one", "currency_id": "many2one",
    "probability_level_id": "many2one",
}


class CrmLeadHistory(models.Model):
    """The opportunity history: one row each time something that makes the pipeline
    changes on an opportunity (stage, probabilities, level, amounts, currency, expected
    dates, salesperson, team, type, open / won / lost), with the values after the change,
    who and when. The values before a change are the previous row's.

    Append-only and written by the system alone, in SQL, for all the opportunities a flush
    changed (one INSERT; see ``crm.lead._flush``), so every write path leaves its rows:
    forms, imports, RPC, automated actions, merges, the predictive scoring cron.
    """

    _name = "crm.lead.history"
    _description = "Opportunity History"
    _order = "date desc, id desc"
    _rec_name = "lead_id"
    _log_access = False  # ``date`` and ``changed_by_id`` say when and who
    # reading the history flushes the opportunities first, which writes their pending rows
    _depends = {"crm.lead": list(TRACKED_LEAD_FIELDS)}

    lead_id = fields.Many2one("crm.lead", string="Opportunity", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one("res.company", index=True, ondelete="cascade")
    date = fields.Datetime(required=True, index=True)
    changed_by_id = fields.Many2one("res.users", ondelete="set null")
    reconstructed = fields.Boolean(
        help="Rebuilt at installation from what Odoo kept (creation, tracked changes, workflow log): "
        "values Odoo did not keep are those of the opportunity at installation, its probability the "
        "level its stage gives.",
    )
    # the opportunity after the change
    stage_id = fields.Many2one("crm.stage", ondelete="set null")
    probability = fields.Float(aggregator="avg")
    automated_probability = fields.Float(aggregator="avg")
    probability_level_id = fields.Many2one("crm.probability.level", ondelete="set null")
    currency_id = fields.Many2one("res.currency", string="Opportunity Currency", ondelete="set null")
    amount_net = fields.Monetary(string="Net Value", currency_field="currency_id", aggregator="sum")
    company_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    # a float (double precision), not a Monetary (numeric): the forecast reads half a million of
    # them, and PostgreSQL's cast of a numeric to a float costs it three times the value's read
    amount_company = fields.Float(string="Net Value (Company Currency)", aggregator="sum")
    rate = fields.Float(
        digits=(16, 6), aggregator=None,
        help="Company currency per unit of the opportunity's currency in the amounts of the row.",
    )
    date_deadline = fields.Date(string="Expected Closing")
    date_expected_invoice = fields.Date(string="Expected Invoice")
    user_id = fields.Many2one("res.users", string="Salesperson", ondelete="set null")
    team_id = fields.Many2one("crm.team", string="Sales Team", ondelete="set null")
    opportunity_type_id = fields.Many2one("crm.opportunity.type", ondelete="set null")
    state = fields.Selection(CLOSING_STATES, string="Closing State")
    month_snapshot = fields.Boolean(
        string="In Monthly Snapshots", readonly=True,
        help="The row is what the forecast reads: the opportunity stood so on the first day of a month, or the "
        "row starts its history, ends it, or is next to a change of its open / won / lost state. Kept up to "
        "date as rows are added (a new row, its opportunity's last, is one until the change is saved).",
    )

    def init(self):
        # the last row of an opportunity, which every new row is compared with; and each
        # opportunity's last row before a moment, with the values the pipeline flow reads
        # (``crm.lead._flow_rows``), which PostgreSQL reads from it alone, in order, without
        # sorting the history (the index of earlier versions held none of them)
        self.env.cr.execute(SQL("DROP INDEX IF EXISTS crm_lead_history_last_index"))
        self.env.cr.execute(SQL(
            """CREATE INDEX IF NOT EXISTS crm_lead_history_last_values_index
                   ON crm_lead_history (lead_id, date DESC, id DESC) INCLUDE (state, date_deadline, amount_company)"""
        ))
        # rows written before the column existed (an update of the module), in one pass, before
        # the index below exists: marked after, they would all have entered it unmarked and two
        # thirds left it, a bloat that no rebuild in this transaction undoes
        self.env.cr.execute(SQL("SELECT 1 FROM crm_lead_history WHERE month_snapshot IS NULL LIMIT 1"))
        if self.env.cr.rowcount:
            self._mark_month_snapshots()
        # the forecast's read (``crm.lead._forecast_pipeline_history``): its rows and columns in
        # its order, a tenth of the table's size, which PostgreSQL reads without the table (the
        # index of earlier versions held a column the read no longer takes)
        self.env.cr.execute(SQL("DROP INDEX IF EXISTS crm_lead_history_forecast_index"))
        self.env.cr.execute(SQL(
            """CREATE INDEX IF NOT EXISTS crm_lead_history_forecast_read_index ON crm_lead_history (lead_id, date, id)
               INCLUDE (amount_company, probability, automated_probability, date_deadline, state,
                        opportunity_type_id, team_id, probability_level_id)
               WHERE month_snapshot IS NOT FALSE"""
        ))

    # ------------------------------------------------------------------ writing

    @api.model
    def _recording(self):
        """Whether changes are recorded: not while modules are being installed or updated
        (the install seeds the history from what Odoo kept, then records where things stand:
        ``_seed``), unless that seeding asks for it."""
        return self.env.registry.ready or self.env.context.get("crm_history_seeding")

    @api.model
    def _now(self):
        """When a change happens: the context's ``crm_history_date`` (a naive UTC datetime),
        for writers that replay a past with a moving clock such as the demo data; else now.
        The workflow log dates its rows by the same clock."""
        return self.env.context.get("crm_history_date") or fields.Datetime.now()

    @api.model
    def _queue(self, lead_ids):
        """Opportunities to look at on the next flush (created ones: their values are in
        the database before any field of theirs is dirty)."""
        if not self._recording():
            return
        # whatever no flush of opportunities took before the commit
        self._precommit_set(QUEUE_KEY, self._record_queued).update(lead_ids)

    @api.model
    def _precommit_set(self, key, callback):
        """The set of ids kept under ``key`` until the transaction commits, where
        ``callback`` takes it (registered with the set's first id)."""
        ids = self.env.cr.precommit.data.get(key)
        if ids is None:
            ids = self.env.cr.precommit.data[key] = set()
            self.env.cr.precommit.add(callback)
        return ids

    @api.model
    def _changed_lead_ids(self):
        """The opportunities whose tracked fields wait to be flushed, and the queued ones."""
        if not self._recording():
            return set()
        Lead = self.env["crm.lead"]
        ids = set(self.env.cr.precommit.data.get(QUEUE_KEY, ()))
        for name in TRACKED_LEAD_FIELDS:
            ids.update(self.env.cache.get_dirty_records(Lead, Lead._fields[name])._ids)
        return ids

    @api.model
    def _computing_lead_ids(self):
        """The opportunities with a tracked field being computed (or written): their values
        are not final yet."""
        Lead = self.env["crm.lead"]
        return {lead_id for name in TRACKED_LEAD_FIELDS for lead_id in self.env.protected(Lead._fields[name])._ids}

    @api.model
    def _record_queued(self):
        self.env["crm.lead"].flush_model()
        if ids := self.env.cr.precommit.data.get(QUEUE_KEY):
            self._record(ids)

    @api.model
    def _record_scoring(self):
        """The rows of a run of Odoo's predictive scoring cron: moves of fewer than
        ``CRON_DRIFT`` points are not rows (every open opportunity's probability moves a
        little each night: 365 rows per opportunity and year otherwise)."""
        self._record(changed_by=self.env.uid, drift=CRON_DRIFT)

    @api.model
    def _record(self, lead_ids=None, changed_by=None, date=None, drift=None):
        """Append a row for each opportunity among ``lead_ids`` (``None``: all of them)
        whose values, as flushed, differ from its last row: one INSERT for all.

        :param changed_by: user id to credit (default: who last wrote the opportunity)
        :param date: when (default: the context's ``crm_history_date``, for writers that
            replay a past, such as demo data with a moving clock; else now)
        :param drift: percentage points: probabilities that moved less than that since the
            last row (the level unchanged, nothing else changed) give no row — the scoring
            cron nudges every open opportunity's probability daily
        """
        queue = self.env.cr.precommit.data.get(QUEUE_KEY)
        if queue is not None:
            queue.difference_update(lead_ids or ())
        if (lead_ids is not None and not lead_ids) or not self._recording():
            return
        Lead = self.env["crm.lead"]
        columns = list(LEAD_COLUMNS)
        current = [SQL.identifier("lead", LEAD_COLUMNS[column]) for column in columns]
        current.append(Lead._closing_state_sql("lead"))
        last = [SQL.identifier("last", column) for column in (*columns, "state")]
        changed = SQL("ROW(%s) IS DISTINCT FROM ROW(%s)", SQL(", ").join(last), SQL(", ").join(current))
        if drift:
            steady = [column for column in (*columns, "state") if column not in DRIFTING_COLUMNS]
            changed = SQL(
                "ROW(%s) IS DISTINCT FROM ROW(%s) OR %s",
                SQL(", ").join(last[(*columns, "state").index(column)] for column in steady),
                SQL(", ").join(current[(*columns, "state").index(column)] for column in steady),
                SQL(" OR ").join(
                    SQL("ABS(COALESCE(%s, 0) - COALESCE(%s, 0)) >= %s",
                        SQL.identifier("lead", LEAD_COLUMNS[column]), SQL.identifier("last", column), drift)
                    for column in DRIFTING_COLUMNS
                ),
            )
        self.env.cr.execute(SQL(
            """
            INSERT INTO crm_lead_history (lead_id, date, changed_by_id, reconstructed, month_snapshot, rate,
                                          %(columns)s)
            SELECT lead.id, %(date)s, COALESCE(%(changed_by)s, lead.write_uid), FALSE, TRUE,
                   CASE WHEN lead.amount_net <> 0 THEN lead.expected_revenue / lead.amount_net END,
                   %(current)s
              FROM crm_lead lead
         LEFT JOIN LATERAL (SELECT * FROM crm_lead_history history WHERE history.lead_id = lead.id
                             ORDER BY history.date DESC, history.id DESC LIMIT 1) last ON TRUE
             WHERE lead.type = 'opportunity' AND %(leads)s
               AND (last.id IS NULL OR %(changed)s)
         RETURNING lead_id
            """,
            columns=SQL(", ").join(SQL.identifier(column) for column in (*columns, "state")),
            current=SQL(", ").join(current),
            changed=changed,
            date=date or self._now(),
            changed_by=changed_by,
            leads=SQL("TRUE") if lead_ids is None else SQL("lead.id = ANY(%s)", sorted(lead_ids)),
        ))
        if recorded := {lead_id for (lead_id,) in self.env.cr.fetchall()}:
            self._queue_marks(recorded)

    @api.model
    def _queue_marks(self, lead_ids):
        """Mark the rows of ``lead_ids`` (``_mark_month_snapshots``) once, when the transaction
        commits: one UPDATE for all its flushes. Until then each new row is marked, as its
        opportunity's last row is: a row too many for the forecast, never one too few. (Written
        marked, rather than unmarked then marked, a row does not enter the forecast's partial
        index twice: the entries left behind bloat it.)"""
        self._precommit_set(MARK_KEY, self._mark_queued).update(lead_ids)

    @api.model
    def _mark_queued(self):
        if lead_ids := self.env.cr.precommit.data.pop(MARK_KEY, None):
            self._mark_month_snapshots(lead_ids)

    @api.model
    def _mark_month_snapshots(self, lead_ids=None):
        """Set ``month_snapshot`` on the rows of ``lead_ids`` (``None``: the opportunities
        with an unmarked row), in one UPDATE.

        The forecast sees the pipeline on the first day of each month (its calibration,
        slips, the pipeline not yet created and the backtest: ``engine.forecast_history``),
        so a row replaced by the next one within the same month is never seen, unless it is
        an opportunity's first or last row, or its state changes right after or with it (the
        last values stated while open are kept). A new row changes what its neighbours are:
        every row of its opportunity is looked at again (a few, and the index on
        ``(lead_id, date, id)`` gives them in order).
        """
        leads = (
            SQL("SELECT lead_id FROM crm_lead_history WHERE month_snapshot IS NULL")
            if lead_ids is None else SQL("SELECT unnest(%s::int[])", sorted(lead_ids))
        )
        self.env.cr.execute(SQL(
            """
            UPDATE crm_lead_history history
               SET month_snapshot = seen.month_snapshot
              FROM (SELECT id, state_before IS NULL OR until IS NULL OR state <> state_before OR state <> state_after
                               OR until >= date_trunc('month', date) + INTERVAL '1 month' AS month_snapshot
                      FROM (SELECT row.id, row.date, row.state,
                                   LEAD(row.state) OVER newest_first AS state_before,
                                   LAG(row.state) OVER newest_first AS state_after,
                                   LAG(row.date) OVER newest_first AS until
                              FROM crm_lead_history row
                             WHERE row.lead_id IN (%(leads)s)
                            WINDOW newest_first AS (PARTITION BY row.lead_id ORDER BY row.date DESC, row.id DESC)) row
                   ) seen
             WHERE history.id = seen.id AND history.month_snapshot IS DISTINCT FROM seen.month_snapshot
            """,
            leads=leads,
        ))
        self.invalidate_model(["month_snapshot"])

    # ------------------------------------------------------------------ installation

    @api.model
    def _seed(self):
        """At installation: rebuild each opportunity's history from what Odoo kept — its
        creation, its changes tracked in the chatter and the workflow log — as rows marked
        ``reconstructed`` (values Odoo did not keep are those the opportunity has now),
        then record where every opportunity stands."""
        self = self.with_context(crm_history_seeding=True)
        self.env.flush_all()
        columns = [*LEAD_COLUMNS.values(), "active", "type", "create_date", "create_uid"]
        leads = {
            row[0]: dict(zip(columns, row[1:], strict=True))
            for row in self.env.execute_query(SQL(
                "SELECT id, %s FROM crm_lead lead WHERE NOT EXISTS "
                "(SELECT 1 FROM crm_lead_history history WHERE history.lead_id = lead.id) ORDER BY id",
                SQL(", ").join(SQL.identifier(column) for column in columns),
            ))
        }
        changes = self._seed_changes(list(leads))
        stages = {stage.id: stage for stage in self.env["crm.stage"].search([])}

        def won_stage(stage_id):
            return stage_id in stages and stages[stage_id].is_won

        rows = []
        for lead_id, now in leads.items():
            values, lead_rows = dict(now), []
            lead_changes = changes.get(lead_id, [])
            for index, (date, author, field, old, message_id) in enumerate(lead_changes):  # newest first: walk back
                if not message_id or index == 0 or lead_changes[index - 1][4] != message_id:  # a row per message
                    lead_rows.append(self._seed_row(lead_id, date, author, values, now))
                reopened = field == "active" and old and not values["active"]
                unwon = field == "stage_id" and won_stage(values["stage_id"]) and not won_stage(old)
                values[field] = old
                level = stages[old].probability_level_id if field == "stage_id" and old in stages else None
                if level or reopened or unwon:
                    # the probability is not kept: the level a stage gives on entry, else unknown
                    level = level or (stages[values["stage_id"]].probability_level_id
                                      if values["stage_id"] in stages else None)
                    values.update(probability=level.percentage if level else None, automated_probability=None,
                                  probability_level_id=level.id if level else None)
            # created before its first change (the database's creation time has microseconds, messages not)
            created = min([now["create_date"], *(change[0] for change in lead_changes)])
            lead_rows.append(self._seed_row(lead_id, created, now["create_uid"], values, now))
            rows += [row for row in reversed(lead_rows) if row]
        if rows:
            self.sudo().create(rows)
            self.flush_model()
            self._mark_month_snapshots(leads)
        self._record()

    @api.model
    def _seed_changes(self, lead_ids):
        """``{lead id: [(date, user id, field, value before, message id)]}``, newest first: the
        tracked changes of the chatter; stage changes from the workflow log where it has some."""
        changes = {}
        for lead_id, date, user_id, stage_from_id in self.env.execute_query(SQL(
            # the log's first row of an opportunity is its creation, which is replayed anyway
            """SELECT lead_id, date, user_id, stage_from_id FROM crm_lead_stage_history
                WHERE lead_id = ANY(%s) AND stage_from_id IS NOT NULL ORDER BY date DESC, id DESC""",
            lead_ids,
        )):
            changes.setdefault(lead_id, []).append((date, user_id, "stage_id", stage_from_id, None))
        logged = set(changes)
        selection = {
            label: value for value, label in self.env["crm.lead"]._fields["type"].selection
        } | {value: value for value, _label in self.env["crm.lead"]._fields["type"].selection}
        tracked = self.env.execute_query(SQL(
            """SELECT message.res_id, message.id, message.date, message.create_uid, field.name,
                      tracking.old_value_integer, tracking.old_value_float, tracking.old_value_char
                 FROM mail_tracking_value tracking
                 JOIN mail_message message ON message.id = tracking.mail_message_id
                 JOIN ir_model_fields field ON field.id = tracking.field_id
                WHERE message.model = 'crm.lead' AND message.res_id = ANY(%s) AND field.name IN %s
             ORDER BY message.date DESC, message.id DESC, tracking.id DESC""",
            lead_ids, tuple(SEEDED_TRACKING),
        ))
        for lead_id, message_id, date, author, field, integer, number, char in tracked:
            if field == "stage_id" and lead_id in logged:
                continue  # the workflow log has them
            kind = SEEDED_TRACKING[field]
            old = {
                "many2one": integer or None, "float": number or 0.0, "integer": bool(integer),
                "selection": selection.get(char, char),
            }[kind]
            changes.setdefault(lead_id, []).append((date, author, field, old, message_id))
        for lead_changes in changes.values():
            lead_changes.sort(key=lambda change: (change[0], change[4] or 0), reverse=True)
        return changes

    @api.model
    def _seed_row(self, lead_id, date, author, values, now):
        """A reconstructed row of ``values`` (``None`` while the record was a lead, not an
        opportunity); the net value follows the company amount at today's rate. Unmarked
        (``False``: out of the forecast's partial index) until ``_seed`` marks it, so that only
        the snapshot rows enter that index, once (see ``_queue_marks``)."""
        if values["type"] != "opportunity" or not date:
            return None
        row = {column: values[lead_column] for column, lead_column in LEAD_COLUMNS.items()}
        rate = now["expected_revenue"] / now["amount_net"] if now["amount_net"] else None
        if rate and values["expected_revenue"] != now["expected_revenue"]:
            row["amount_net"] = (values["expected_revenue"] or 0.0) / rate
        return {
            **row, "lead_id": lead_id, "date": date, "changed_by_id": author, "reconstructed": True, "rate": rate,
            "state": closing_state_of(values), "month_snapshot": False,
        }
