from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine.forecast import forecast

FORECAST_OPTIONS = {
    "date_from", "date_to", "granularity", "method", "trials", "seed", "calibrated", "commit_threshold", "backtest",
}
LEAD_FIELDS = [
    "active", "closing_state", "probability", "automated_probability", "probability_level_id", "expected_revenue",
    "date_deadline", "date_closed", "create_date", "stage_id", "opportunity_type_id", "user_id", "team_id",
]
# the engine's outcome of each closing state: won, lost, open
FORECAST_OUTCOMES = {"won": True, "lost": False, "open": None}
HISTORY_FIELDS = ["lead_id", "stage_from_id", "stage_to_id", "date", "duration_days"]


def _none_as_false(value):
    """The engine's result for XML-RPC, which cannot send ``None``: its empty values
    (``None``) become Odoo's ``False``, in nested dicts and lists."""
    if value is None:
        return False
    if isinstance(value, dict):
        return {key: _none_as_false(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_none_as_false(item) for item in value]
    return value


class CrmLead(models.Model):
    """The sales forecast (weighted pipeline, won-revenue bands, calibration, backtest) of
    the opportunities the caller may read, as ``get_forecast`` for screens and XML-RPC.

    The numbers come from ``engine.forecast``; this side only reads the records (one
    query per table) and turns them into the engine's input tables. The engine speaks
    plain Python, whose empty value is ``None``; Odoo's is ``False`` (``""`` too in
    options): this side translates both ways, the input here, the result in
    ``get_forecast``.
    """

    _inherit = "crm.lead"

    @api.model
    @api.readonly
    def get_forecast(self, domain=None, options=None):
        """Forecast of the opportunities matching ``domain`` (the caller's rights apply).

        :param domain: extra search domain on opportunities; lost (archived) ones are
            read too, as the closed history behind slips and calibration
        :param options: ``{"date_from", "date_to"`` (dates or ``"YYYY-MM-DD"``),
            ``"granularity"`` (``"month"`` / ``"quarter"``), ``"method"`` (``"auto"``,
            ``"analytic"``, ``"monte_carlo"``), ``"trials"``, ``"seed"``, ``"calibrated"``,
            ``"commit_threshold"``, ``"backtest"`` (number of past periods)``}``
        :return: ``engine.forecast.forecast``'s dict: ``{"currency", "periods": [{"period",
            "weighted", "commit", "best_case", "won", "mean", "p10", "p50", "p90", …}],
            "calibration": {"brier", "levels": [...]}, …}``, plus ``"backtest"`` when asked;
            empty values (a group without level, salesperson, …) are ``False``
        """
        domain = self._board_domain(domain)
        options = self._forecast_options(options)
        self.check_access("read")
        opportunities, history = self._forecast_tables(domain)
        try:
            result = forecast(opportunities, history, options, today=fields.Date.context_today(self))
        except ValueError as error:
            raise UserError(_("The forecast cannot be computed: %(reason)s", reason=error)) from error
        return _none_as_false(result)

    # ------------------------------------------------------------------ input tables

    @api.model
    def _forecast_tables(self, domain):
        """The engine's opportunities and stage history as dicts of columns, empty
        values as ``None`` (``False`` stays only in ``won``, where it means lost).

        Odoo writes 100 % / 0 % on closing, which would make every closed opportunity a
        perfect prediction; its probability here is the default level of the last stage
        it was in while open (from the stage history, else its current stage when that
        is not a won stage), else Odoo's predictive-scoring estimate
        (``automated_probability``). This approximates what the salesperson stated
        when only the level changed within a stage.
        """
        # archived opportunities too: the lost ones, history behind slips and calibration
        leads = self.with_context(active_test=False).search_fetch(domain, LEAD_FIELDS, order="id")
        rows = self.env["crm.lead.stage.history"].search_fetch(
            [("lead_id", "in", leads.ids)], HISTORY_FIELDS, order="date, id"
        )
        stage_ids = {*leads.stage_id.ids, *rows.stage_from_id.ids, *rows.stage_to_id.ids}
        stages = self.env["crm.stage"].search_fetch([("id", "in", list(stage_ids))], ["is_won", "probability_level_id"])
        won_stages = set(stages.filtered("is_won").ids)
        # stage defaults read through the cached level table: no query on the levels
        level_table = self.env["crm.probability.level"]._level_table()
        percentages = {level_id: percentage for percentage, level_id in level_table}
        stage_probability = {
            stage.id: 100.0 if stage.is_won else percentages.get(stage.probability_level_id.id)
            for stage in stages
        }
        open_stage = self._forecast_last_open_stages(leads, rows, won_stages)
        status = [FORECAST_OUTCOMES[lead.closing_state] for lead in leads]
        probability, stage = [], []
        for lead, won in zip(leads, status, strict=True):
            if won is None:
                probability.append(lead.probability)
                stage.append(lead.stage_id.id or None)
                continue
            last_stage = open_stage.get(lead.id) or (lead.stage_id.id not in won_stages and lead.stage_id.id) or None
            stated = stage_probability.get(last_stage) if last_stage else None
            probability.append(lead.automated_probability if stated is None else stated)
            stage.append(last_stage)
        levels = self.env["crm.probability.level"]._find_for_probabilities(probability)
        opportunities = {
            "id": leads.ids,
            "amount": [lead.expected_revenue for lead in leads],
            "probability": probability,
            "date_expected": [lead.date_deadline or None for lead in leads],
            "date_created": [lead.create_date or None for lead in leads],
            "date_closed": [
                None if won is None else lead.date_closed or None for lead, won in zip(leads, status, strict=True)
            ],
            "won": status,
            "stage": stage,
            "level": [
                (lead.probability_level_id.id if won is None else levels[value].id) or None
                for lead, won, value in zip(leads, status, probability, strict=True)
            ],
            "type": [lead.opportunity_type_id.id or None for lead in leads],
            "user": [lead.user_id.id or None for lead in leads],
            "team": [lead.team_id.id or None for lead in leads],
        }
        history = {
            "lead_id": [row.lead_id.id for row in rows],
            "stage_from": [row.stage_from_id.id or None for row in rows],
            "stage_to": [row.stage_to_id.id or None for row in rows],
            "date": [row.date for row in rows],
            "duration_days": [row.duration_days for row in rows],
            "probability": [stage_probability.get(row.stage_to_id.id) for row in rows],
        }
        return opportunities, history

    @api.model
    def _forecast_last_open_stages(self, leads, rows, won_stages):
        """``{lead id: the last stage it was in while open}`` for closed ``leads``, from
        the history ``rows`` (ordered by date) up to their closing."""
        # by day: the change into a won stage is logged in the same write as date_closed
        closing = {lead.id: lead.date_closed.date() for lead in leads if lead.date_closed}
        stages = {}
        for row in rows:
            closed_on = closing.get(row.lead_id.id)
            if not closed_on or row.date.date() > closed_on:
                continue
            if row.stage_to_id.id in won_stages:
                stages[row.lead_id.id] = row.stage_from_id.id or stages.get(row.lead_id.id)
            else:
                stages[row.lead_id.id] = row.stage_to_id.id or stages.get(row.lead_id.id)
        return stages

    # ------------------------------------------------------------------ arguments

    @api.model
    def _forecast_options(self, options):
        """The engine's options: Odoo's empty values (``False``, ``""``) mean "default",
        which the engine says with ``None``; ``calibrated=False`` is its default too."""
        options = self._rpc_options(options, FORECAST_OPTIONS)
        return {
            **{key: None if value is False or value == "" else value for key, value in options.items()},
            "currency": self.env.company.currency_id.name,
        }
