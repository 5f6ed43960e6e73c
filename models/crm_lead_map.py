import re

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, formatLang

from ..engine.geo import EARTH_RADIUS_KM, MAX_RADIUS_KM, bounding_box, validate_coordinates, validate_radius

MAP_OPTIONS = ("center", "radius_km")


class CrmLead(models.Model):
    _inherit = "crm.lead"

    partner_near = fields.Char(
        string="Near (latitude, longitude, km)", compute="_compute_partner_near", search="_search_partner_near",
        help="Search only: opportunities whose contact is within the given km of a point, e.g. "
        "\"45.815, 15.982, 50\" for 50 km around Zagreb.",
    )

    def _compute_partner_near(self):
        self.partner_near = False

    def _search_partner_near(self, operator, value):
        """``partner_near = "lat, lng, km"``: the radius search of the map in any view."""
        numbers = re.split(r"[\s,;]+", value.strip()) if isinstance(value, str) else []
        if operator not in ("=", "ilike") or len(numbers) != 3:
            raise UserError(_("Search near a point as “latitude, longitude, km”, e.g. “45.815, 15.982, 50”."))
        try:
            lat, lng, radius = (float(number) for number in numbers)
        except ValueError:
            raise UserError(_(
                "Search near a point as “latitude, longitude, km”, e.g. “45.815, 15.982, 50”."
            )) from None
        circle = self._map_circle({"center": [lat, lng], "radius_km": radius})
        return [("partner_id", "in", SQL(
            "(SELECT partner.id FROM res_partner partner WHERE %s)", self._map_within_sql(circle),
        ))]

    @api.model
    @api.readonly
    def get_map_data(self, domain=None, options=None):
        """The opportunity map: one marker per located contact of the matching opportunities.

        :param domain: opportunities to show (the caller's record rules apply).
        :param options: ``center`` (``[lat, lng]``) and ``radius_km``: only contacts
            within that distance (bounding-box prefilter on the indexed coordinates, then
            the exact great-circle distance, both in SQL).
        :return: ``{"markers": [{"partner_id", "name", "lat", "lng", "count", "amount",
            "quality", "address", "lead_ids"}], "missing", "currency_id"}``; ``amount`` is the
            net value in company currency, ``missing`` the number of matching opportunities
            whose contact has no coordinates (or is not readable by the caller).
        """
        circle = self._map_circle(self._rpc_options(options, MAP_OPTIONS))
        leads = self._search(self._board_domain(domain))
        # contacts the caller may read (archived ones too: their opportunities still count)
        partners = self.env["res.partner"].with_context(active_test=False)._search([])
        readable = SQL("partner.id IN %s", partners.subselect()) if partners.where_clause else SQL("TRUE")
        located = SQL(
            "partner.id IS NOT NULL AND %s AND NOT "
            "(COALESCE(partner.partner_latitude, 0) = 0 AND COALESCE(partner.partner_longitude, 0) = 0)",
            readable,
        )
        self.flush_model(["partner_id", "expected_revenue"])
        self.env["res.partner"].flush_model()
        key_fields, text_fields = self._map_address_fields()
        Quality = self.env["crm.contact.quality"]
        Quality.check_access("read")  # its names come in the markers' query
        # the opportunities grouped by located contact (NULL: the missing ones), then the
        # columns of those contacts, in the same query
        rows = self.env.execute_query(SQL(
            """WITH markers AS (
                   SELECT CASE WHEN %(located)s THEN partner.id END AS partner_id,
                          COUNT(lead.id) AS count, SUM(lead.expected_revenue) AS amount,
                          ARRAY_AGG(lead.id ORDER BY lead.id) AS lead_ids
                     FROM crm_lead lead
                LEFT JOIN res_partner partner ON partner.id = lead.partner_id
                    WHERE lead.id IN %(leads)s AND (NOT (%(located)s) OR %(within)s)
                 GROUP BY 1)
               SELECT markers.count, markers.amount, markers.lead_ids, partner.id, partner.complete_name,
                      partner.partner_latitude, partner.partner_longitude, %(quality)s, %(address)s
                 FROM markers
            LEFT JOIN res_partner partner ON partner.id = markers.partner_id
            LEFT JOIN crm_contact_quality quality ON quality.id = partner.contact_quality_id
             ORDER BY partner.id""",
            located=located, leads=leads.subselect(), within=self._map_within_sql(circle),
            quality=Quality._field_to_sql("quality", "name"),
            address=SQL(", ").join(SQL.identifier("partner", name) for name in key_fields + text_fields),
        ))
        return {
            "markers": self._map_markers([row[3:] + row[:3] for row in rows if row[3]], key_fields, text_fields),
            "missing": sum(row[0] for row in rows if not row[3]),
            "currency_id": self.env.company.currency_id.id,
        }

    @api.model
    @api.readonly
    def get_map_settings(self):
        """Tile server of the map (an empty URL: no tiles, markers on a plain background) and
        the largest radius of a radius search (km), which the web client checks before asking;
        for internal users only (a tile URL often carries an API key)."""
        if not self.env.user._is_internal():
            raise AccessError(_("Only internal users may read the map's settings."))
        # configuration parameters are for administrators: read for the map's users
        params = self.env["ir.config_parameter"].sudo()
        return {
            # installed with OpenStreetMap's tiles (data/base_geo_provider_data.xml); emptied: none
            "tile_url": params.get_param("crm_opportunity_management.map_tile_url") or "",
            "tile_attribution": params.get_param("crm_opportunity_management.map_tile_attribution") or "",
            "max_radius_km": MAX_RADIUS_KM,
        }

    # ------------------------------------------------------------------ helpers

    @api.model
    def _map_circle(self, options):
        """``(lat, lng, radius_km)`` of the radius search, or ``None``; a clear error for bad values."""
        center, radius = options.get("center"), options.get("radius_km")
        if center is None and radius is None:
            return None
        if center is None or radius is None:
            raise UserError(_("A radius search needs both a centre ([latitude, longitude]) and a radius in km."))
        if not isinstance(center, (list, tuple)) or len(center) != 2:
            raise UserError(_("The centre of a radius search must be [latitude, longitude]."))
        try:
            lat, lng = validate_coordinates(*center)
        except ValueError:
            raise UserError(_(
                "The centre of a radius search must have a latitude between -90 and 90 and a longitude "
                "between -180 and 180 degrees."
            )) from None
        try:
            radius = validate_radius(radius)
        except ValueError:
            raise UserError(_(
                "The radius must be a number of km greater than 0 and at most %(max_km)s (half the Earth's "
                "circumference).", max_km=formatLang(self.env, MAX_RADIUS_KM, digits=1),
            )) from None
        return lat, lng, radius

    @api.model
    def _map_within_sql(self, circle):
        """Condition on ``partner`` keeping the contacts inside the circle (TRUE without one)."""
        if circle is None:
            return SQL("TRUE")
        lat, lng, radius = circle
        box = bounding_box(lat, lng, radius)
        lng_ranges = SQL(" OR ").join(
            SQL("partner.partner_longitude BETWEEN %s AND %s", low, high) for low, high in box.lng_ranges()
        )
        # haversine; LEAST() guards asin against rounding just above 1
        distance = SQL(
            """2 * %(earth)s * ASIN(LEAST(1.0, SQRT(
                   POWER(SIN(RADIANS(partner.partner_latitude - %(lat)s) / 2), 2)
                   + COS(RADIANS(%(lat)s)) * COS(RADIANS(partner.partner_latitude))
                   * POWER(SIN(RADIANS(partner.partner_longitude - %(lng)s) / 2), 2))))""",
            earth=EARTH_RADIUS_KM, lat=lat, lng=lng,
        )
        return SQL(
            "(partner.partner_latitude BETWEEN %s AND %s AND (%s) AND %s <= %s)",
            box.min_lat, box.max_lat, lng_ranges, distance, radius,
        )

    @api.model
    def _map_address_fields(self):
        """The stored fields Odoo formats addresses from (``_formatting_address_fields``), as
        ``(keys, texts)``: the texts are the contact's own lines (street, city, …), the keys
        the others (country, state, …), which choose the format and its country and state parts."""
        Partner = self.env["res.partner"]
        stored = [name for name in dict.fromkeys(Partner._formatting_address_fields())
                  if Partner._fields[name].store and Partner._fields[name].column_type]
        texts = [name for name in stored if Partner._fields[name].type == "char"]
        return [name for name in stored if name not in texts], texts

    @api.model
    def _map_markers(self, rows, key_fields, text_fields):
        """Markers from the contacts' rows ``(id, name, lat, lng, quality name, *address keys,
        *address texts, count, amount, lead_ids)``.

        Addresses are Odoo's ``_display_address(without_company=True)``: its
        ``_prepare_display_address`` runs once per distinct country and state, on one contact
        of each (read in one query), and each contact's own lines (street, city, …) fill the
        format and values it gives, as that method fills them. Calling it on each of 20,000
        contacts made ``get_map_data`` about three times slower (bench/bench_map.py)."""
        Partner = self.env["res.partner"].with_context(active_test=False)
        key_end = 5 + len(key_fields)
        representatives = {}
        for row in rows:
            representatives.setdefault(row[5:key_end], row[0])
        examples = Partner.browse(representatives.values())
        read = [*Partner._display_address_depends(), "commercial_company_name"]
        examples.fetch([name for name in dict.fromkeys(read) if name in Partner._fields])
        formats = {
            key: example._prepare_display_address(without_company=True)
            for key, example in zip(representatives, examples, strict=True)
        }
        currency = self.env.company.currency_id
        if currency.rounding == 10 ** -currency.decimal_places:
            digits = currency.decimal_places
            round_amount = lambda amount: round(amount, digits)  # noqa: E731 (what currency.round does, faster)
        else:
            round_amount = currency.round
        markers = []
        for row in rows:
            partner_id, name, lat, lng, quality = row[:5]
            texts, (count, amount, lead_ids) = row[key_end:-3], row[-3:]
            address_format, args = formats[row[5:key_end]]
            address = args.copy()  # a defaultdict(str), as Odoo's
            address.update(zip(text_fields, (text or "" for text in texts), strict=True))
            markers.append({
                "partner_id": partner_id,
                "name": name or "",
                "lat": lat,
                "lng": lng,
                "count": count,
                "amount": round_amount(amount or 0.0),
                "quality": quality or False,
                "address": "\n".join(line.strip() for line in (address_format % address).splitlines() if line.strip()),
                "lead_ids": lead_ids,
            })
        return markers
