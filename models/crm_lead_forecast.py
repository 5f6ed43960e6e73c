import contextlib
import io
import logging
import threading

import numpy
import psycopg2
from psycopg2.pool import PoolError

import odoo.sql_db
from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..engine.forecast import forecast
from ..engine.forecast_data import OptionError
from .crm_lead import CLOSING_STATE_DOMAINS, domain_sql

FORECAST_OPTIONS = {
    "date_from", "date_to", "granularity", "method", "trials", "seed", "calibrated", "commit_threshold", "backtest",
}
# the engine's outcome of each closing state as a number (``True``, ``False``; open: NaN, ``None``)
FORECAST_OUTCOMES = {"won": 1, "lost": 0}

_logger = logging.getLogger(__name__)


# PostgreSQL's binary copy: signature, flags, length of the header extension (then the extension)
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# its timestamps count microseconds from here, and the days read here count days from it;
# "-infinity" (an empty moment) and an empty day are the smallest integer of their width
POSTGRES_EPOCH = numpy.datetime64("2000-01-01")
# the kinds of value that need a field of 64 bits; the others (ids, days, states) take 32 bits,
# and travel two to a field: each field costs PostgreSQL about as much as its value
WIDE_KINDS = {"number": ">f8", "moment": ">i8"}
EMPTY_NARROW = -(2**31)


def _binary_rows(data, types):
    """The rows of a binary ``COPY`` whose columns are all of a fixed width (never NULL), of
    the numpy ``types`` given (big-endian: ``">f8"``, ``">i8"``, …), as a numpy array with
    fields ``c0``, ``c1``, … (each row: a 16-bit count of columns, then for each a 32-bit
    length and the value)."""
    if bytes(data[: len(COPY_SIGNATURE)]) != COPY_SIGNATURE:
        raise ValueError("not a binary COPY")
    extension = int.from_bytes(data[len(COPY_SIGNATURE) + 4 : len(COPY_SIGNATURE) + 8], "big")
    start = len(COPY_SIGNATURE) + 8 + extension
    fields = [("count", ">i2")]
    for number, numpy_type in enumerate(types):
        fields += [(f"length{number}", ">i4"), (f"c{number}", numpy_type)]
    layout = numpy.dtype(fields)
    count = (len(data) - start - 2) // layout.itemsize  # the copy ends with a count of -1
    rows = numpy.frombuffer(data, dtype=layout, count=count, offset=start)
    if count and not (rows["count"] == len(types)).all():
        raise ValueError("the binary COPY does not have the expected columns")
    return rows


def _narrow_sql(kind, expression):
    """A 32-bit value of ``kind`` as SQL (empty: 0 for an id, ``EMPTY_NARROW`` for the others)."""
    if kind == "key":
        return SQL("COALESCE((%s)::int4, 0)", expression)  # ids start at 1
    if kind == "day":
        return SQL("COALESCE((%s)::date - DATE '2000-01-01', %s)", expression, EMPTY_NARROW)
    return SQL("(CASE %s %s ELSE %s END)", expression, SQL(" ").join(
        SQL("WHEN %s THEN %s", state, outcome) for state, outcome in FORECAST_OUTCOMES.items()
    ), EMPTY_NARROW)


def _narrow_values(kind, values):
    """The engine's column of 32-bit ``values`` of ``kind`` (see ``BinaryCopy``)."""
    if kind == "day":
        return numpy.where(values == EMPTY_NARROW, numpy.datetime64("NaT"), POSTGRES_EPOCH + values.astype("m8[D]"))
    if kind == "state":
        return numpy.where(values == EMPTY_NARROW, numpy.nan, values.astype(numpy.float64))
    if (values != 0).all():
        return values.astype(numpy.int64)
    keys = values.astype(object)
    keys[values == 0] = None
    return keys


class BinaryCopy:
    """The rows ``SELECT <columns> <source>``, copied out of PostgreSQL in its binary format,
    every value of a fixed width, so that numpy reads the copy as it is (no text to write in
    the database, none to parse here): the fast way to read half a million rows. Values of 32
    bits travel two to a 64-bit field.

    :param columns: ``(name, kind, SQL expression)``; kinds: ``"key"`` (an id: integers, or
        objects with ``None`` when some are empty), ``"number"`` (floats, ``NaN`` when empty),
        ``"day"`` (a date: ``datetime64``, ``NaT`` when empty), ``"moment"`` (a date and time,
        the same), ``"state"`` (open / won / lost: the engine's outcome as a number, NaN / 1 /
        0, which it reads faster than ``None`` / ``True`` / ``False``)
    :param source: the ``FROM …`` part of the query, with its ``ORDER BY``
    """

    def __init__(self, columns, source):
        self.columns = columns
        self.wide = [column for column in columns if column[1] in WIDE_KINDS]
        narrow = [column for column in columns if column[1] not in WIDE_KINDS]
        self.pairs = list(zip(narrow[::2], [*narrow[1::2], None], strict=False))
        selected = [
            SQL("COALESCE((%s)::float8, 'NaN')", expression) if kind == "number"
            else SQL("COALESCE((%s)::timestamp, '-infinity')", expression)
            for _name, kind, expression in self.wide
        ] + [
            SQL("((%s)::int8 << 32) | ((%s)::int8 & 4294967295)", _narrow_sql(high[1], high[2]),
                _narrow_sql(low[1], low[2]) if low else SQL("0"))
            for high, low in self.pairs
        ]
        self.statement = SQL("COPY (SELECT %s %s) TO STDOUT WITH (FORMAT binary)", SQL(", ").join(selected), source)

    def values(self, data):
        """``{name: array}`` of the copy ``data``, in the order of the columns."""
        rows = _binary_rows(data, [WIDE_KINDS[kind] for _name, kind, _expression in self.wide]
                            + [">i8"] * len(self.pairs))
        result = {}
        for number, (name, kind, _expression) in enumerate(self.wide):
            values = rows[f"c{number}"]
            if kind == "number":
                result[name] = values.astype(numpy.float64)
            else:
                moments = POSTGRES_EPOCH + values.astype(numpy.int64).astype("m8[us]")
                moments[values == numpy.iinfo(numpy.int64).min] = numpy.datetime64("NaT")
                result[name] = moments
        for number, (high, low) in enumerate(self.pairs, start=len(self.wide)):
            packed = rows[f"c{number}"].astype(numpy.int64)
            result[high[0]] = _narrow_values(high[1], (packed >> 32).astype(numpy.int32))
            if low:
                result[low[0]] = _narrow_values(low[1], (packed & 0xFFFFFFFF).astype(numpy.uint32).view(numpy.int32))
        return {name: result[name] for name, _kind, _expression in self.columns}


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
        tables = self._forecast_tables(domain, predictive=bool(options.get("backtest")))
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
    def _forecast_tables(self, domain, predictive=False):
        """The engine's three input tables for the opportunities matching ``domain`` (the
        caller's rules apply through ``_search``; archived ones too: the lost ones), each
        read in columns by one SQL statement — no per-record reads (``predictive``: with the
        history of Odoo's predictive probability, a baseline only the backtest scores):

        - ``opportunities``: today's values; Odoo writes 100 % / 0 % on closing, so a closed
          opportunity's ``probability`` and level here are Odoo's predictive estimate, which the
          engine replaces by what its history says was stated while it was open;
        - ``history``: the workflow log (stage changes) behind the statistics;
        - ``pipeline``: the opportunity history as the engine looks at it (see
          ``_forecast_pipeline_history``), which calibration, slips, the "from new" part and
          the backtest learn from.

        Empty values are ``None`` (``won`` is a number: 1 won, 0 lost, NaN open).
        """
        query = self.with_context(active_test=False)._search(domain)
        leads = query.subselect()
        # the search's own FROM and WHERE (a join with its subquery costs as much as the read);
        # a search known to be empty has neither
        lead = query.table
        source = (
            SQL("FROM %s WHERE FALSE", SQL.identifier(lead)) if query.is_empty()
            else SQL("FROM %s WHERE %s ORDER BY %s", query.from_clause, query.where_clause or SQL("TRUE"),
                     SQL.identifier(lead, "id"))
        )
        state = self._closing_state_sql(lead)
        is_open = domain_sql(self, lead, CLOSING_STATE_DOMAINS["open"])  # cheaper than comparing the state

        def column(name):
            return SQL.identifier(lead, name)

        opportunities = BinaryCopy([
            ("id", "key", column("id")),
            ("amount", "number", SQL("COALESCE(%s, 0)", column("expected_revenue"))),
            ("probability", "number",
             SQL("CASE WHEN %s THEN %s ELSE %s END", is_open, column("probability"), column("automated_probability"))),
            ("won", "state", state),
            ("date_expected", "day", column("date_deadline")),
            ("date_created", "day", column("create_date")),
            ("date_closed", "day", SQL("CASE WHEN NOT %s THEN %s END", is_open, column("date_closed"))),
            ("level", "key", SQL("CASE WHEN %s THEN %s END", is_open, column("probability_level_id"))),
            ("stage", "key", column("stage_id")),
            ("type", "key", column("opportunity_type_id")),
            ("user", "key", column("user_id")),
            ("team", "key", column("team_id")),
        ], source)
        # the two large reads at the same time: PostgreSQL produces each on its own CPU
        with self._forecast_cursors(2) as (cursor, other_cursor):
            frame, pipeline = self._forecast_copies([
                (cursor, opportunities), (other_cursor, self._forecast_pipeline_history(leads, predictive)),
            ])
            history = self._forecast_stage_history(cursor, leads)
        return {"opportunities": frame, "history": history, "pipeline": pipeline}

    @api.model
    def _forecast_stage_history(self, cursor, leads):
        """The workflow log of ``leads`` (a subquery of ids) as the engine's stage history,
        read on ``cursor``."""
        cursor.execute(SQL(
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
        return dict(zip(columns, _columns(cursor.fetchall(), len(columns)), strict=True))

    @api.model
    def _forecast_pipeline_history(self, leads, predictive=False):
        """The opportunity history of ``leads`` (a subquery of ids) as the engine's pipeline
        history (amounts in company currency as they stood, open / won / lost; Odoo's predictive
        probability when ``predictive``: one column more to read, that only the backtest scores), restricted to
        the rows the engine looks at (``month_snapshot``, kept up to date as rows are written:
        see ``crm.lead.history._mark_month_snapshots``), in the order of the opportunities and
        of their changes: the order of the index that holds these rows and columns
        (``crm.lead.history.init``), which PostgreSQL reads alone, merged with the
        opportunities. A ``BinaryCopy``, to be read."""
        columns = [
            ("lead_id", "key", SQL("row.lead_id")),
            ("date", "moment", SQL("row.date")),
            ("amount", "number", SQL("COALESCE(row.amount_company, 0)")),
            ("probability", "number", SQL("COALESCE(row.probability, 0)")),
            ("date_expected", "day", SQL("row.date_deadline")),
            ("won", "state", SQL("row.state")),
            ("type", "key", SQL("row.opportunity_type_id")),
            ("team", "key", SQL("row.team_id")),
            ("level", "key", SQL("row.probability_level_id")),
        ]
        if predictive:
            columns.append(("automated_probability", "number", SQL("row.automated_probability")))
        return BinaryCopy(columns, SQL(
            "FROM %s row WHERE row.month_snapshot IS NOT FALSE AND row.lead_id IN %s "
            "ORDER BY row.lead_id, row.date, row.id",
            self.env["crm.lead.history"]._table_sql, leads,
        ))

    @api.model
    def _forecast_copies(self, reads):
        """The values of each ``(cursor, BinaryCopy)`` of ``reads``. When their cursors differ
        (``_forecast_cursors``), they are copied at the same time, the first on this thread
        and the others each on a thread of its own: PostgreSQL gives each cursor its own
        process, and psycopg2 lets go of Python's lock while it waits for the rows."""
        buffers = [io.BytesIO() for _read in reads]
        # written out here: a cursor's connection serves one thread at a time
        statements = [self.env.cr.mogrify(read.statement).decode() for _cursor, read in reads]
        failures = []

        def copy(cursor, statement, buffer):
            try:
                cursor.copy_expert(statement, buffer)
            except Exception as error:  # raised again on the calling thread
                failures.append(error)

        # as Odoo's own COPY (models.py): an asynchronous wait callback would break it
        callback = psycopg2.extensions.get_wait_callback()
        psycopg2.extensions.set_wait_callback(None)
        try:
            jobs = [(cursor, statement, buffer) for (cursor, _read), statement, buffer
                    in zip(reads, statements, buffers, strict=True)]
            if len({id(cursor) for cursor, _statement, _buffer in jobs}) < len(jobs):
                for job in jobs:  # a cursor they share: one after the other
                    copy(*job)
            else:
                threads = [threading.Thread(target=copy, args=job, name="forecast copy") for job in jobs[1:]]
                for thread in threads:
                    thread.start()
                copy(*jobs[0])
                for thread in threads:
                    thread.join()
        finally:
            psycopg2.extensions.set_wait_callback(callback)
        if failures:
            raise failures[0]
        return [read.values(buffer.getbuffer()) for (_cursor, read), buffer in zip(reads, buffers, strict=True)]

    @api.model
    @contextlib.contextmanager
    def _forecast_cursors(self, count):
        """``count`` cursors that read the database as one snapshot, for reads that run at
        the same time (``_forecast_copies``): cursors of their own, in transactions that
        share the snapshot the first one exports, when this transaction has written nothing
        (no other transaction sees its rows) and a connection is free; else this cursor,
        ``count`` times. Their snapshot is taken now, not when this transaction began: rows
        committed in between are read, as a new request would read them."""
        self.env.flush_all()  # COPY reads the tables as they are in the database
        cr = self.env.cr
        cursors = []
        if count > 1 and self.env.execute_query(SQL("SELECT txid_current_if_assigned() IS NULL"))[0][0]:
            try:
                connection = odoo.sql_db.db_connect(cr.dbname, readonly=cr.readonly)
                cursors.append(connection.cursor())
                cursors[0].execute(SQL("SELECT pg_export_snapshot()"))
                snapshot = cursors[0].fetchone()[0]
                for _number in range(count - 1):
                    cursors.append(connection.cursor())
                    cursors[-1].execute(SQL("SET TRANSACTION SNAPSHOT %s", snapshot))
            except (psycopg2.Error, PoolError) as error:
                _logger.info("The forecast reads one table after the other: %s", error)
                for cursor in cursors:
                    cursor.close()
                cursors = []
        try:
            yield cursors or [cr] * count
        finally:
            for cursor in cursors:
                cursor.close()

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
