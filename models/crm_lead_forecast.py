import io

import numpy
import pandas
import psycopg2

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine.forecast import forecast
from ..engine.forecast_data import OptionError

FORECAST_OPTIONS = {
    "date_from", "date_to", "granularity", "method", "trials", "seed", "calibrated", "commit_threshold", "backtest",
}
# the engine's outcome of each closing state: won, lost, open
FORECAST_OUTCOMES = {"won": True, "lost": False, "open": None}


def _columns(rows, count):
    """The ``count`` columns of the SQL result ``rows``, as lists."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _index in range(count)]


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
        tables = self._forecast_tables(domain)
        try:
            result = forecast(**tables, options=options, today=fields.Date.context_today(self))
        except OptionError as error:
            raise UserError(self._forecast_option_message(error)) from error
        except ValueError as error:
            raise UserError(_("The forecast cannot be computed: %(reason)s.", reason=str(error).rstrip("."))) from error
        return _none_as_false(result)

    @api.model
    def _forecast_option_message(self, error):
        """The engine's ``OptionError`` as a sentence in the user's language."""
        option, value = error.option, error.value
        # numbers with thousands separators, as the engine says them
        params = {key: f"{item:,}" if isinstance(item, int) else item for key, item in error.params.items()}
        if error.kind == "order":
            return _("The forecast period starts (%(start)s) after it ends (%(end)s).",
                     start=params["start"], end=params["end"])
        if error.kind == "periods":
            return _("At most %(limit)s periods can be forecast at once.", limit=params["limit"])
        if error.kind == "work":
            return _(
                "The Monte Carlo would draw %(work)s opportunity-trials, more than the limit of %(limit)s: use "
                "fewer trials, a narrower scope or the analytic method.",
                work=params["work"], limit=params["limit"],
            )
        if error.kind == "date":
            expected = _("a date (YYYY-MM-DD)")
        elif error.kind == "integer":
            expected = _("a whole number from %(low)s to %(high)s", low=params["low"], high=params["high"])
        elif error.kind == "number":
            expected = _("a number from %(low)s to %(high)s", low=params["low"], high=params["high"])
        elif error.kind == "choice":
            expected = _("one of %(choices)s", choices=", ".join(params["choices"]))
        elif error.kind == "boolean":
            expected = _("true or false")
        else:
            expected = _("a valid value")
        return _("The forecast option %(option)s must be %(expected)s, not %(value)r.",
                 option=option, expected=expected, value=value)

    # ------------------------------------------------------------------ input tables

    @api.model
    def _forecast_tables(self, domain):
        """The engine's three input tables for the opportunities matching ``domain`` (the
        caller's rules apply through ``_search``; archived ones too: the lost ones), each
        read in columns by one SQL statement — no per-record reads:

        - ``opportunities``: today's values; Odoo writes 100 % / 0 % on closing, so a closed
          opportunity's ``probability`` and level here are Odoo's predictive estimate, which the
          engine replaces by what its history says was stated while it was open;
        - ``history``: the workflow log (stage changes) behind the statistics;
        - ``pipeline``: the opportunity history as the engine looks at it (see
          ``_forecast_pipeline_history``), which calibration, slips, the "from new" part and
          the backtest learn from.

        Empty values are ``None`` (``False`` stays only in ``won``, where it means lost).
        """
        leads = self.with_context(active_test=False)._search(domain).subselect()
        state = self._closing_state_sql("lead")
        frame = self._forecast_copy(SQL(
            """
            SELECT lead.id, COALESCE(lead.expected_revenue, 0),
                   CASE WHEN %(state)s = 'open' THEN lead.probability ELSE lead.automated_probability END,
                   %(state)s, lead.date_deadline - DATE '1970-01-01', lead.create_date::date - DATE '1970-01-01',
                   CASE WHEN %(state)s <> 'open' THEN lead.date_closed::date - DATE '1970-01-01' END,
                   CASE WHEN %(state)s = 'open' THEN lead.probability_level_id END,
                   lead.stage_id, lead.opportunity_type_id, lead.user_id, lead.team_id
              FROM crm_lead lead
             WHERE lead.id IN %(leads)s
             ORDER BY lead.id
            """,
            state=state, leads=leads,
        ), ("id", "amount", "probability", "state", "date_expected", "date_created", "date_closed", "level",
            "stage", "type", "user", "team"))
        frame["won"] = frame.pop("state")
        return {
            "opportunities": frame,
            "history": self._forecast_stage_history(leads),
            "pipeline": self._forecast_pipeline_history(leads),
        }

    @api.model
    def _forecast_stage_history(self, leads):
        """The workflow log of ``leads`` (a subquery of ids) as the engine's stage history."""
        rows = self.env.execute_query(SQL(
            """
            SELECT row.lead_id, row.stage_from_id, row.stage_to_id, row.date, row.duration_days,
                   CASE WHEN stage.is_won THEN 100.0 ELSE level.percentage END
              FROM %(table)s row
              LEFT JOIN crm_stage stage ON stage.id = row.stage_to_id
              LEFT JOIN crm_probability_level level ON level.id = stage.probability_level_id
             WHERE row.lead_id IN %(leads)s
             ORDER BY row.date, row.id
            """,
            table=self.env["crm.lead.stage.history"]._table_sql, leads=leads,
        ))
        columns = ("lead_id", "stage_from", "stage_to", "date", "duration_days", "probability")
        return dict(zip(columns, _columns(rows, len(columns)), strict=True))

    @api.model
    def _forecast_pipeline_history(self, leads):
        """The opportunity history of ``leads`` (a subquery of ids) as the engine's pipeline
        history (amounts in company currency as they stood, open / won / lost), restricted to
        the rows the engine looks at (``month_snapshot``, kept up to date as rows are written:
        see ``crm.lead.history._mark_month_snapshots``), in the order of the opportunities
        and of their changes."""
        return self._forecast_copy(SQL(
            """
            SELECT row.lead_id, row.date::date - DATE '1970-01-01', COALESCE(row.amount_company, 0),
                   COALESCE(row.probability, 0), row.automated_probability, row.date_deadline - DATE '1970-01-01',
                   row.state, row.opportunity_type_id, row.team_id, row.user_id, row.probability_level_id
              FROM %(table)s row
             WHERE row.month_snapshot AND row.lead_id IN %(leads)s
             ORDER BY row.lead_id, row.date, row.id
            """,
            table=self.env["crm.lead.history"]._table_sql, leads=leads,
        ), ("lead_id", "date", "amount", "probability", "automated_probability", "date_expected", "state", "type",
            "team", "user", "level"), state_column="won")

    @api.model
    def _forecast_copy(self, query, names, state_column="state"):
        """The rows of ``query`` as columns ``names``, copied out of PostgreSQL as CSV and
        parsed by pandas (Python objects only for the keys): the fast way to read a million
        rows. Columns named ``date*`` hold day numbers since 1970-01-01 and become dates;
        ``state`` (open / won / lost) becomes the engine's outcome, as ``state_column``.
        Empty values are ``None``, ``NaN`` for numbers and ``NaT`` for dates (the engine's);
        a column of keys without empty values stays integers."""
        self.env.flush_all()  # COPY reads the tables as they are in the database
        buffer = io.StringIO()
        # as Odoo's own COPY (models.py): an asynchronous wait callback would break it
        callback = psycopg2.extensions.get_wait_callback()
        psycopg2.extensions.set_wait_callback(None)
        try:
            self.env.cr.copy_expert(
                self.env.cr.mogrify(SQL("COPY (%s) TO STDOUT WITH (FORMAT csv)", query)).decode(), buffer
            )
        finally:
            psycopg2.extensions.set_wait_callback(callback)
        buffer.seek(0)
        floats = {"amount", "probability", "automated_probability"}
        frame = pandas.read_csv(
            buffer, header=None, names=list(names),
            dtype={name: "float64" if name in floats else "string" if name == "state" else "Int64" for name in names},
        )
        columns = {}
        for name in names:
            column = frame[name]
            if name == "state":
                outcomes = numpy.full(len(column), None, dtype=object)
                for state, outcome in FORECAST_OUTCOMES.items():
                    outcomes[(column == state).to_numpy(dtype=bool, na_value=False)] = outcome
                columns[state_column] = outcomes
            elif name in floats:
                columns[name] = column.to_numpy()
            elif name.startswith("date"):
                columns[name] = pandas.to_datetime(column, unit="D").to_numpy()
            elif column.notna().all():
                columns[name] = column.to_numpy(dtype="int64")
            else:
                columns[name] = column.astype(object).where(column.notna(), None).to_numpy()
        return columns

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
