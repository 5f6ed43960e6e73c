from odoo import api, fields, models

from .base_geocoder import DEFAULT_NOMINATIM_URL, DEFAULT_TIMEOUT, PARAM
from .res_partner import DEFAULT_BATCH_SIZE

IDLE_AUTOMATION = "crm_opportunity_management.automation_idle_reminder"


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    crm_won_reason_dialog = fields.Boolean(
        related="company_id.crm_won_reason_dialog", readonly=False
    )
    crm_won_on_order_confirmation = fields.Boolean(
        related="company_id.crm_won_on_order_confirmation", readonly=False
    )
    crm_idle_reminder_days = fields.Integer(
        string="Idle Reminder After (days)",
        help="Days without a done activity or logged message after which the automated action "
        "plans a follow-up for the salesperson.",
    )

    crm_geocoder_url = fields.Char(
        string="Nominatim Server", config_parameter=PARAM % "geocoder_url", default=DEFAULT_NOMINATIM_URL,
        help="Public Nominatim, or your own server (no request limit then).",
    )
    crm_geocoder_contact = fields.Char(
        string="Contact for the Geocoding Service", config_parameter=PARAM % "geocoder_contact",
        help="E-mail sent in the user agent, as Nominatim's usage policy asks (default: the company's).",
    )
    crm_geocoder_timeout = fields.Float(
        string="Geocoding Timeout (s)", config_parameter=PARAM % "geocoder_timeout", default=DEFAULT_TIMEOUT,
    )
    crm_geocoder_batch_size = fields.Integer(
        string="Contacts per Geocoding Batch", config_parameter=PARAM % "geocoder_batch_size",
        default=DEFAULT_BATCH_SIZE,
        help="Contacts the scheduled action geocodes per run (public Nominatim: one per second).",
    )
    crm_geocoder_offline_fallback = fields.Boolean(
        string="Offline Fallback",
        help="When the provider fails or does not know an address, place the contact at its city "
        "(GeoNames gazetteer shipped with the module, no network).",
    )
    crm_map_tile_url = fields.Char(
        string="Map Tiles URL", config_parameter=PARAM % "map_tile_url",
        help="Tile server template with {z}, {x}, {y}; empty: markers on a plain background.",
    )
    crm_map_tile_attribution = fields.Char(
        string="Map Tiles Attribution", config_parameter=PARAM % "map_tile_attribution",
    )

    @api.model
    def get_values(self):
        values = super().get_values()
        values["crm_geocoder_offline_fallback"] = self.env["base.geocoder"]._crm_offline_fallback()
        automation = self.env.ref(IDLE_AUTOMATION, raise_if_not_found=False)
        values["crm_idle_reminder_days"] = automation.sudo().trg_date_range if automation else 0
        return values

    def set_values(self):
        result = super().set_values()
        # stored as text either way: the fallback is on when the parameter is missing
        self.env["ir.config_parameter"].sudo().set_param(
            PARAM % "geocoder_offline_fallback", str(bool(self.crm_geocoder_offline_fallback))
        )
        automation = self.env.ref(IDLE_AUTOMATION, raise_if_not_found=False)
        if automation and self.crm_idle_reminder_days > 0:
            # Settings are the administrator's; the automated action is base.automation's.
            automation.sudo().trg_date_range = self.crm_idle_reminder_days
        return result
