from datetime import datetime, time, timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, date_utils

from ..engine.forecast import COMMIT_THRESHOLD

FLOW_OPTIONS = {"date_from", "date_to", "close_from", "close_to"}
# the waterfall's steps, in its order, with the sign of their effect on the pipeline
FLOW_STEPS = [
    ("created", 1), ("pulled_in", 1), ("reopened", 1), ("increased", 1), ("decreased", -1),
    ("pushed_out", -1), ("won", -1), ("lost", -1),
]
TREND_OPTIONS = {"weeks", "date_to", "close_from", "close_to", "commit_threshold", "lead_ids"}
TREND_DEFAULT_WEEKS = 13
TREND_MAX_WEEKS = 260  # five years of weeks


class CrmLead(models.Model):
    """Pipeline flow: the pipeline of a closing period as it stood at two dates, and the
    steps between them; pipeline trend: the open pipeline as it stood at the end of each of
    the past weeks. Both rebuilt from the opportunity history (``crm.lead.history``)."""

    _inherit = "crm.lead"

    @api.model
    @api.readonly
    def get_pipeline_flow(self, domain=None, options=None):
        """The opportunities expected to close in ``close_from``..``close_to`` (default: the
        quarter holding ``date_to``): the pipeline at the start of ``date_from`` (default:
        the first day of that quarter) and at the end of ``date_to`` (default: today), and
        the steps from one to the other.

        :param domain: opportunities to look at (the caller's rights apply; archived ones,
            the lost, are read too)
        :return: ``{"currency", "currency_id", "date_from", "date_to", "close_from", "close_to",
            "start": {"count", "amount", "lead_ids"}, "end": {…}, "steps": [{"key", "label", "sign",
            "count", "count_delta", "amount", "lead_ids"}]}``: amounts in company currency,
            signed (what the step adds to the pipeline; ``sign``: 1 for the steps that add, -1
            for those that take away); ``start + Σ amount = end`` and
            ``start + Σ count_delta = end`` (amount changes move no opportunity in or out).
        """
        options = self._flow_options(options)
        leads = self.with_context(active_test=False)._search(self._board_domain(domain))
        self.check_access("read")
        start, end = (self._flow_moment(options[key]) for key in ("date_from", "date_to_next"))
        rows = self._flow_rows(leads, start, end)
        return self._flow_result(rows, options)

    @api.model
    @api.readonly
    def get_pipeline_trend(self, domain=None, options=None):
        """The open pipeline as it stood at the end of each of the last ``weeks`` weeks (default
        13), the last one ending on ``date_to`` (default: today), of the opportunities expected
        to close in ``close_from``..``close_to`` then (either bound may be left out; without
        both, every open opportunity counts, with an expected closing date or not).

        :param domain: opportunities to look at (the caller's rights apply; archived ones,
            the lost, are read too)
        :param options: ``weeks``, ``date_to``, ``close_from``, ``close_to``,
            ``commit_threshold`` (%, default the forecast's), ``lead_ids`` (true: each week
            also lists its opportunities)
        :return: ``{"currency", "currency_id", "date_to", "close_from", "close_to",
            "commit_threshold", "weeks": [{"week_end", "count", "pipeline", "weighted",
            "commit", "best_case"}]}``, oldest week first: at the end of ``week_end``, the
            number of open opportunities, their total (company currency), their total
            weighted by their probability, the total of those at ``commit_threshold`` or
            above, and the best case (every open amount, as the forecast's: the total).
            A probability the history does not know (rebuilt from before it was kept)
            counts as 0 %.
        """
        options = self._trend_options(options)
        leads = self.with_context(active_test=False)._search(self._board_domain(domain))
        self.check_access("read")
        week_ends = [options["date_to"] - timedelta(weeks=back) for back in range(options["weeks"] - 1, -1, -1)]
        rows = self._trend_rows(leads, week_ends, options)
        currency = self.env.company.currency_id
        weeks = []
        for week_end, count, pipeline, weighted, commit, *lead_ids in rows:
            weeks.append({
                "week_end": fields.Date.to_string(week_end), "count": count,
                "pipeline": currency.round(pipeline), "weighted": currency.round(weighted),
                "commit": currency.round(commit), "best_case": currency.round(pipeline),
            })
            if options["lead_ids"]:
                weeks[-1]["lead_ids"] = lead_ids[0] or []
        return {
            "currency": currency.name,
            "currency_id": currency.id,
            **{key: fields.Date.to_string(options[key]) for key in ("date_to", "close_from", "close_to")},
            "commit_threshold": options["commit_threshold"],
            "weeks": weeks,
        }

    # ------------------------------------------------------------------ reading the history

    def _flow_rows(self, leads, start, end):
        """``[(lead id, before, after)]``: each opportunity's last history row before
        ``start`` and before ``end`` as ``(state, expected closing, amount)`` (``None``: none
        yet), for the opportunities that have one before ``end``; one query, which PostgreSQL
        answers from one index in the opportunities' order (``crm.lead.history.init``)."""
        History = self.env["crm.lead.history"]

        def last_rows(moment):
            return SQL(
                """SELECT DISTINCT ON (history.lead_id) history.lead_id, history.state, history.date_deadline,
                          history.amount_company
                     FROM %(table)s history
                    WHERE history.lead_id IN %(leads)s AND history.date < %(moment)s
                 ORDER BY history.lead_id, history.date DESC, history.id DESC""",
                table=History._table_sql, leads=leads.subselect(), moment=moment,
            )

        rows = self.env.execute_query(SQL(
            """SELECT after.lead_id, before.state, before.date_deadline, before.amount_company,
                      after.state, after.date_deadline, after.amount_company
                 FROM (%s) after LEFT JOIN (%s) before ON before.lead_id = after.lead_id
             ORDER BY after.lead_id""",
            last_rows(end), last_rows(start),
        ))
        return [
            (lead_id, (state0, deadline0, amount0 or 0.0) if state0 else None, (state1, deadline1, amount1 or 0.0))
            for lead_id, state0, deadline0, amount0, state1, deadline1, amount1 in rows
        ]

    def _trend_rows(self, leads, week_ends, options):
        """``[(week end, count, pipeline, weighted, commit[, lead ids])]``, one per week end in order:
        the open rows of the opportunities' history in force at the end of each week (the
        start of the next day where the user works); one query.

        A history row holds from its date until the next row of its opportunity: it is in
        force at the end of the weeks whose moment is after its date and not after the next
        row's, found by ``width_bucket`` among the sorted moments. So the history is read
        once and each row joins only the weeks it counts in: seven times faster than looking
        up each opportunity's last row once per week (LATERAL / DISTINCT ON), measured on
        500,000 rows of 50,000 opportunities over 13 and 52 weeks.
        """
        History = self.env["crm.lead.history"]
        moments = [self._flow_moment(week_end + timedelta(days=1)) for week_end in week_ends]
        close_from, close_to = options["close_from"], options["close_to"]
        closing = [SQL("span.date_deadline >= %s", close_from)] if close_from else []
        closing += [SQL("span.date_deadline <= %s", close_to)] if close_to else []
        return self.env.execute_query(SQL(
            """WITH span AS (
                   -- weeks first_week .. end_week - 1 (0-based) end while the row is in force
                   SELECT history.lead_id, history.state, history.date_deadline, history.amount_company,
                          history.probability, width_bucket(history.date, %(moments)s) AS first_week,
                          COALESCE(width_bucket(LEAD(history.date) OVER (PARTITION BY history.lead_id
                                                                             ORDER BY history.date, history.id),
                                                %(moments)s), %(weeks)s) AS end_week
                     FROM %(table)s history
                    WHERE history.lead_id IN %(leads)s AND history.date < %(last)s
               )
               SELECT week.week_end, COUNT(span.lead_id), COALESCE(SUM(span.amount_company), 0),
                      COALESCE(SUM(span.amount_company * COALESCE(span.probability, 0) / 100), 0),
                      COALESCE(SUM(span.amount_company) FILTER (WHERE span.probability >= %(threshold)s), 0)
                      %(lead_ids)s
                 FROM unnest(%(week_ends)s::date[]) WITH ORDINALITY AS week(week_end, number)
            LEFT JOIN (SELECT span.*, generate_series(span.first_week, span.end_week - 1) AS week_index
                         FROM span
                        WHERE span.end_week > span.first_week AND span.state = 'open' AND %(closing)s) span
                   ON span.week_index = week.number - 1
             GROUP BY week.week_end
             ORDER BY week.week_end""",
            table=History._table_sql, leads=leads.subselect(), moments=SQL("%s::timestamp[]", moments),
            weeks=len(moments), last=moments[-1], threshold=options["commit_threshold"], week_ends=week_ends,
            closing=SQL(" AND ").join([SQL("TRUE"), *closing]),
            lead_ids=SQL(", ARRAY_AGG(span.lead_id ORDER BY span.lead_id) FILTER (WHERE span.lead_id IS NOT NULL)")
            if options["lead_ids"] else SQL(),
        ))

    # ------------------------------------------------------------------ the waterfall

    @api.model
    def _flow_result(self, rows, options):
        close_from, close_to = options["close_from"], options["close_to"]

        def in_pipeline(values):
            return bool(values) and values[0] == "open" and bool(values[1]) and close_from <= values[1] <= close_to

        def due_in_period(values):
            return bool(values[1]) and close_from <= values[1] <= close_to

        start, end = {}, {}
        steps = {key: {} for key, _sign in FLOW_STEPS}
        for lead_id, before, after in rows:
            was_in, is_in = in_pipeline(before), in_pipeline(after)
            if was_in:
                start[lead_id] = before[2]
            if is_in:
                end[lead_id] = after[2]
            closed_now = after[0] in ("won", "lost") and (not before or before[0] == "open")
            if was_in:
                if after[2] != before[2]:
                    steps["increased" if after[2] > before[2] else "decreased"][lead_id] = after[2] - before[2]
                if not is_in:
                    leaving = after[0] if after[0] in ("won", "lost") else "pushed_out"
                    steps[leaving][lead_id] = -after[2]
            elif is_in or (closed_now and due_in_period(after)):
                # entered the pipeline (then maybe closed within the same span)
                entering = "created" if not before else "reopened" if before[0] != "open" else "pulled_in"
                steps[entering][lead_id] = after[2]
                if not is_in:
                    steps[after[0]][lead_id] = -after[2]
        currency = self.env.company.currency_id

        def total(amounts):
            return {"count": len(amounts), "amount": currency.round(sum(amounts.values())), "lead_ids": sorted(amounts)}

        labels = self._flow_step_labels()
        return {
            "currency": currency.name,
            "currency_id": currency.id,
            **{key: fields.Date.to_string(options[key]) for key in ("date_from", "date_to", "close_from", "close_to")},
            "start": total(start),
            "end": total(end),
            "steps": [
                {
                    "key": key, "label": labels[key], "sign": sign, **total(steps[key]),
                    "count_delta": 0 if key in ("increased", "decreased") else sign * len(steps[key]),
                }
                for key, sign in FLOW_STEPS
            ],
        }

    @api.model
    def _flow_step_labels(self):
        return {
            "created": _("Created"), "pulled_in": _("Pulled in"), "reopened": _("Reopened"),
            "increased": _("Increased"), "decreased": _("Decreased"), "pushed_out": _("Pushed out"),
            "won": _("Won"), "lost": _("Lost"),
        }

    # ------------------------------------------------------------------ arguments

    @api.model
    def _flow_moment(self, day):
        """The start of ``day`` where the user works, in UTC (as the history's dates)."""
        zone = pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")
        return zone.localize(datetime.combine(day, time.min)).astimezone(pytz.utc).replace(tzinfo=None)

    @api.model
    def _flow_options(self, options):
        options = self._rpc_options(options, FLOW_OPTIONS)
        values = self._option_dates(options, FLOW_OPTIONS, _("The pipeline flow's dates must be dates (YYYY-MM-DD)."))
        date_to = values["date_to"] or fields.Date.context_today(self)
        quarter = date_utils.start_of(date_to, "quarter")
        date_from = values["date_from"] or quarter
        close_from = values["close_from"] or quarter
        close_to = values["close_to"] or date_utils.end_of(quarter, "quarter")
        if date_from > date_to:
            raise UserError(_("The pipeline flow starts (%(start)s) after it ends (%(end)s).",
                              start=date_from, end=date_to))
        self._check_closing_period(close_from, close_to)
        return {"date_from": date_from, "date_to": date_to, "date_to_next": date_to + timedelta(days=1),
                "close_from": close_from, "close_to": close_to}

    @api.model
    def _trend_options(self, options):
        options = self._rpc_options(options, TREND_OPTIONS)
        values = self._option_dates(options, ("date_to", "close_from", "close_to"),
                                    _("The pipeline trend's dates must be dates (YYYY-MM-DD)."))
        weeks = TREND_DEFAULT_WEEKS if options.get("weeks") is None else options["weeks"]
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= TREND_MAX_WEEKS:
            raise UserError(_("The pipeline trend's number of weeks must be a whole number from 1 to %(max)s.",
                              max=TREND_MAX_WEEKS))
        threshold = COMMIT_THRESHOLD if options.get("commit_threshold") is None else options["commit_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 100:
            raise UserError(_("The commit threshold must be a percentage from 0 to 100."))
        if not isinstance(options.get("lead_ids", False), bool):
            raise UserError(_("The pipeline trend's option lead_ids must be true or false."))
        self._check_closing_period(values["close_from"], values["close_to"])
        return {**values, "date_to": values["date_to"] or fields.Date.context_today(self), "weeks": weeks,
                "commit_threshold": float(threshold), "lead_ids": options.get("lead_ids", False)}

    @api.model
    def _option_dates(self, options, keys, message):
        """``{key: date or None}`` of the date options ``keys``; ``message`` when one is not a date."""
        try:
            return {key: fields.Date.to_date(options.get(key) or None) for key in keys}
        except (TypeError, ValueError) as error:
            raise UserError(message) from error

    @api.model
    def _check_closing_period(self, close_from, close_to):
        if close_from and close_to and close_from > close_to:
            raise UserError(_("The closing period starts (%(start)s) after it ends (%(end)s).",
                              start=close_from, end=close_to))
