import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, config, create_index

from ..engine.geo import Address, validate_coordinates
from .base_geocoder import NOMINATIM, OFFLINE, PARAM

_logger = logging.getLogger(__name__)

ADDRESS_FIELDS = ("street", "zip", "city", "state_id", "country_id")
GEOCODE_FIELDS = ("geocode_status", "geocode_source", "geocode_date", "geocode_error")
DEFAULT_BATCH_SIZE = 50
COORDINATES_INDEX = "res_partner_crm_coordinates_index"
MAP_ACTION = "crm_opportunity_management.crm_lead_action_opportunity_map"
NEARBY_RADIUS_KM = 50


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "crm.finite.mixin"]
    _finite_fields = ("partner_latitude", "partner_longitude")

    contact_quality_id = fields.Many2one(
        "crm.contact.quality",
        index="btree_not_null",
        tracking=True,
        ondelete="set null",
        help="How valuable this contact is as a customer; shown on its opportunities and on the map.",
    )
    opportunity_amount = fields.Monetary(
        string="Open Opportunities", compute="_compute_opportunity_amount", currency_field="currency_id",
        help="Net value of the open opportunities of this contact and its contacts, in company currency.",
    )

    geocode_status = fields.Selection(
        [("ok", "Located"), ("not_found", "Not Found"), ("error", "Failed")], string="Geocoding Status",
        readonly=True, copy=False,
        help="Outcome of the last geocoding of the address (empty: never geocoded since it changed).",
    )
    geocode_source = fields.Selection(
        [("provider", "Geocoding Provider"), ("cache", "Earlier Answer (Cache)"),
         ("offline", "Offline Gazetteer (City Level)")], string="Geocoding Source", readonly=True, copy=False,
        help="Where the coordinates come from.",
    )
    geocode_date = fields.Datetime(string="Geocoded On", readonly=True, copy=False)
    geocode_error = fields.Char(string="Geocoding Message", readonly=True, copy=False)

    def init(self):
        res = super().init()
        # the bounding-box prefilter of the map's radius search
        create_index(self.env.cr, COORDINATES_INDEX, self._table,
                     ["partner_latitude", "partner_longitude"])
        return res

    @api.constrains("partner_latitude", "partner_longitude")
    def _check_coordinates(self):
        for partner in self:
            try:
                validate_coordinates(partner.partner_latitude or 0.0, partner.partner_longitude or 0.0)
            except ValueError:
                raise ValidationError(_(
                    "The coordinates of %(partner)s must have a latitude between -90 and 90 and a longitude "
                    "between -180 and 180 degrees.", partner=partner.display_name,
                )) from None

    def _compute_opportunity_amount(self):
        """One aggregate query: open opportunities of the partners (and of their contacts)."""
        amounts = dict.fromkeys(self.ids, 0.0)
        if self.ids:
            groups = self.env["crm.lead"]._read_group(
                [("partner_id", "child_of", self.ids), ("type", "=", "opportunity"), ("closing_state", "=", "open")],
                ["partner_id"], ["expected_revenue:sum"],
            )
            for partner, amount in groups:
                # credit the partner and its listed parents (a company sees its contacts')
                while partner:
                    if partner.id in amounts:
                        amounts[partner.id] += amount
                    partner = partner.parent_id
        for partner in self:
            partner.opportunity_amount = amounts.get(partner.id, 0.0)

    def write(self, vals):
        # A new address makes the last geocoding stale (base_geolocalize clears the coordinates).
        coordinates_given = {"partner_latitude", "partner_longitude"} <= set(vals)
        if any(field in vals for field in ADDRESS_FIELDS) and not coordinates_given:
            vals = {**dict.fromkeys(GEOCODE_FIELDS, False), **vals}
        return super().write(vals)

    def geo_localize(self):
        """Odoo's "Compute based on address" button: through this module's pipeline (cache,
        rate limit, offline fallback, status on the contact) when one of its providers is chosen."""
        if self.env["base.geocoder"]._get_provider().tech_name not in (NOMINATIM, OFFLINE):
            return super().geo_localize()
        # before the provider is asked (a request to a public service) and its answer cached
        self.check_access("write")
        # the same guard as base_geolocalize: no network calls from imports, installs and tests
        running_unattended = any(config[key] for key in ("test_enable", "test_file", "init", "update"))
        if not self.env.context.get("force_geo_localize") and (
            self.env.context.get("import_file") or running_unattended
        ):
            return False
        self._geocode()
        return True

    def action_geocode(self):
        """Geocode the selected contacts now; a notification sums up the outcome."""
        self.check_access("write")
        results = self._geocode()
        located = sum(result.found for result in results.values())
        offline = sum(result.found and result.source == "offline" for result in results.values())
        failed = len(results) - located
        message = _("%(located)s of %(total)s contacts located.", located=located, total=len(results))
        if offline:
            message += " " + _("%(count)s at city level only (offline gazetteer).", count=offline)
        if failed:
            message += " " + _("%(count)s not located: see their Geocoding Message.", count=failed)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Geocoding"),
                "message": message,
                "type": "warning" if failed else "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }

    def action_view_opportunity_map(self):
        """The contact's opportunities (and its contacts') on the map."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(MAP_ACTION)
        action["domain"] = [("partner_id", "child_of", self.id)]
        action["context"] = {"active_test": True}
        return action

    def action_view_nearby_opportunities(self):
        """Every opportunity whose contact is within 50 km of this contact, on the map."""
        self.ensure_one()
        if not (self.partner_latitude or self.partner_longitude):
            raise UserError(_("%s has no coordinates yet: geocode its address first.", self.display_name))
        action = self.env["ir.actions.act_window"]._for_xml_id(MAP_ACTION)
        action["display_name"] = _("Opportunities near %s", self.display_name)
        action["context"] = {
            "opportunity_map_center": [self.partner_latitude, self.partner_longitude],
            "opportunity_map_radius_km": NEARBY_RADIUS_KM,
        }
        return action

    def _geocode(self):
        """Geocode the contacts in one batch; each gets its coordinates (when found), status,
        source, date and message. One contact failing never stops the others.

        :return: ``{partner: GeocodeResult}``
        """
        partners = self.with_context(lang="en_US")  # country and state names as providers expect
        addresses = {partner: partner._geocode_address() for partner in partners}
        results = dict(zip(partners, self.env["base.geocoder"]._crm_geocode(addresses.values()), strict=True))
        now = fields.Datetime.now()
        for partner, result in results.items():
            vals = {
                "geocode_status": "ok" if result.found else result.status,
                "geocode_source": result.found and ("provider" if result.source not in ("cache", "offline")
                                                    else result.source),
                "geocode_date": now,
                "geocode_error": self.env["base.geocoder"]._crm_status_message(result),
            }
            if result.found:
                vals.update(partner_latitude=result.lat, partner_longitude=result.lng,
                            date_localization=fields.Date.context_today(partner))
            try:
                with self.env.cr.savepoint():
                    partner.write(vals)
            except Exception as error:  # a contact that cannot be written must not stop the batch
                _logger.warning("Geocoding result of partner %s not saved: %s", partner.id, error)
                results[partner] = result.__class__(result.key, "error", result.source, error=str(error))
        return {partner.with_env(self.env): result for partner, result in results.items()}

    def _geocode_address(self):
        self.ensure_one()
        return Address(
            street=self.street, zip=self.zip, city=self.city, state=self.state_id.name,
            country=self.country_id.name, country_code=self.country_id.code,
        )

    @api.model
    def _cron_geocode_opportunity_contacts(self, batch_size=None):
        """Geocode, one batch per call, the contacts of active opportunities that have no
        coordinates; an address whose provider failed is retried after an hour, one not found
        only once its address changes. Reports progress so the scheduler runs the next batch."""
        if not batch_size:
            param = self.env["ir.config_parameter"].sudo().get_param(PARAM % "geocoder_batch_size")
            batch_size = int(param) if param and param.isdigit() and int(param) > 0 else DEFAULT_BATCH_SIZE
        self.flush_model(["active", "partner_latitude", "partner_longitude", "geocode_status", "geocode_date"])
        self.env["crm.lead"].flush_model(["partner_id", "active", "type"])
        # the batch, and how many candidates there are in all (for the progress), in one query
        rows = self.env.execute_query(SQL(
            """SELECT partner.id, COUNT(*) OVER () FROM res_partner partner
                WHERE partner.active
                  AND COALESCE(partner.partner_latitude, 0) = 0 AND COALESCE(partner.partner_longitude, 0) = 0
                  AND (partner.geocode_status IS NULL OR (partner.geocode_status = 'error'
                       AND partner.geocode_date < NOW() AT TIME ZONE 'UTC' - INTERVAL '1 hour'))
                  AND EXISTS (SELECT 1 FROM crm_lead lead WHERE lead.partner_id = partner.id
                              AND lead.active AND lead.type = 'opportunity')
             ORDER BY partner.id
                LIMIT %s""",
            batch_size,
        ))
        batch = self.browse([partner_id for partner_id, _total in rows])
        batch._geocode()
        total = rows[0][1] if rows else 0
        self.env["ir.cron"]._notify_progress(done=len(batch), remaining=total - len(batch))
        return batch
