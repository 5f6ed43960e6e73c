from odoo import api, fields, models
from odoo.tools import SQL

from ..engine.geo import CachedGeocode

# A provider error is remembered this long: a batch retried after a serialization failure
# (or started again at once) does not ask the provider again for the same address.
ERROR_RETRY_DELAY = "1 hour"


class CrmGeocodeCache(models.Model):
    """Answers of the geocoding providers by normalised address.

    Rows are written through their own cursor and committed at once, outside the
    transaction of the batch, so that a transaction Odoo retries (serialization failure)
    or a crash after the call never makes the provider answer the same address twice.
    "Found" and "not found" answers are kept for good; provider errors only for
    ``ERROR_RETRY_DELAY``, after which the address may be asked again.
    """

    _name = "crm.geocode.cache"
    _description = "Geocoding Cache"
    _order = "id desc"
    _rec_name = "key"

    key = fields.Char(required=True, readonly=True, help="Normalised address: street|zip|city|state|country.")
    status = fields.Selection(
        [("ok", "Found"), ("not_found", "Not Found"), ("error", "Provider Error")], required=True, readonly=True,
    )
    latitude = fields.Float(digits=(10, 7), readonly=True)
    longitude = fields.Float(digits=(10, 7), readonly=True)
    provider = fields.Char(readonly=True, help="Technical name of the provider that answered.")
    error = fields.Char(readonly=True)
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)

    _sql_constraints = [("key_unique", "UNIQUE(key)", "An address is cached once.")]

    @api.model
    def _lookup(self, keys):
        """``{key: CachedGeocode}`` of the answers and ``{key: error}`` of the recent errors, one query."""
        answers, errors = {}, {}
        if not keys:
            return answers, errors
        self.env.cr.execute(SQL(
            """SELECT key, status, latitude, longitude, provider, error FROM crm_geocode_cache
                WHERE key = ANY(%s) AND (status != 'error' OR date > NOW() AT TIME ZONE 'UTC' - INTERVAL %s)""",
            list(keys), ERROR_RETRY_DELAY,
        ))
        for key, status, lat, lng, provider, error in self.env.cr.fetchall():
            if status == "error":
                errors[key] = error
            else:
                answers[key] = CachedGeocode(status, lat, lng, provider or "")
        return answers, errors

    @api.model
    def _store(self, key, status, lat=None, lng=None, provider=None, error=None):
        """Insert or replace the answer for ``key``, committed at once in a cursor of its own."""
        with self.env.registry.cursor() as cr:
            cr.execute(SQL(
                """INSERT INTO crm_geocode_cache (key, status, latitude, longitude, provider, error, date,
                                                   create_uid, create_date, write_uid, write_date)
                   VALUES (%(key)s, %(status)s, %(lat)s, %(lng)s, %(provider)s, %(error)s, %(now)s,
                           %(uid)s, %(now)s, %(uid)s, %(now)s)
                   ON CONFLICT (key) DO UPDATE SET status = EXCLUDED.status, latitude = EXCLUDED.latitude,
                       longitude = EXCLUDED.longitude, provider = EXCLUDED.provider, error = EXCLUDED.error,
                       date = EXCLUDED.date, write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date""",
                key=key, status=status, lat=lat, lng=lng, provider=provider, error=error,
                now=fields.Datetime.now(), uid=self.env.uid,
            ))


class DatabaseGeocodeCache:
    """The engine's ``GeocodeCache`` over ``crm.geocode.cache`` for one batch: answers of
    the batch's addresses are read in one query up front, new answers are stored at once."""

    def __init__(self, env, keys):
        self._model = env["crm.geocode.cache"].sudo()
        self.answers, self.recent_errors = self._model._lookup(set(keys))

    def get(self, key):
        return self.answers.get(key)

    def put(self, key, answer):
        self.answers[key] = answer
        self._model._store(key, answer.status, answer.lat, answer.lng, answer.source)

    def put_error(self, key, provider, error):
        self.recent_errors[key] = error
        self._model._store(key, "error", provider=provider, error=error)
