from lxml import etree

from odoo import _, fields, models
from odoo.tools import format_list

OPPORTUNITY_MAP_ATTRIBUTES = {
    "__validate__",  # set by ir.ui.view while it validates a view
    "string",
    "class",
    "js_class",
    "default_radius_km",
    "cluster_radius",
}


class IrUiView(models.Model):
    """The ``opportunity_map`` view type: opportunities drawn at their contact's
    coordinates (``static/src/views/opportunity_map``). Distinct from Odoo Enterprise's
    ``map`` and OCA's ``leaflet_map`` so that it can be installed beside either."""

    _inherit = "ir.ui.view"

    type = fields.Selection(
        selection_add=[("opportunity_map", "Opportunity Map")],
        ondelete={"opportunity_map": "cascade"},
    )

    def _get_view_info(self):
        return {"opportunity_map": {"icon": "fa fa-map-marker"}} | super()._get_view_info()

    def _validate_tag_opportunity_map(self, node, name_manager, node_info):
        """The map reads everything it draws from ``crm.lead.get_map_data``: its arch
        has no children, only a few display options, checked here so that a typo fails
        at install rather than silently in the browser."""
        if not node_info["validate"]:
            return
        if name_manager.model._name != "crm.lead":
            self._raise_view_error(
                _("An opportunity map view can only show opportunities (crm.lead), not %s.", name_manager.model._name),
                node,
            )
        for child in node.iterchildren(tag=etree.Element):
            self._raise_view_error(_("An opportunity map view has no child elements, got <%s>.", child.tag), child)
        remaining = set(node.attrib) - OPPORTUNITY_MAP_ATTRIBUTES
        if remaining:
            self._raise_view_error(
                _(
                    "Invalid attributes (%(invalid_attributes)s) in opportunity map view. "
                    "Attributes must be in (%(valid_attributes)s)",
                    invalid_attributes=format_list(self.env, sorted(remaining)),
                    valid_attributes=format_list(self.env, sorted(OPPORTUNITY_MAP_ATTRIBUTES - {"__validate__"})),
                ),
                node,
            )
        self._check_opportunity_map_number(node, "default_radius_km", strictly_positive=True)
        self._check_opportunity_map_number(node, "cluster_radius", strictly_positive=False)

    def _check_opportunity_map_number(self, node, attribute, strictly_positive):
        value = node.get(attribute)
        if value is None:
            return
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is None or number < 0 or (strictly_positive and number == 0):
            self._raise_view_error(
                _("The attribute %(attribute)s of an opportunity map view must be a positive number, not “%(value)s”.",
                  attribute=attribute, value=value),
                node,
            )
