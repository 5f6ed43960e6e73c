from odoo import api, fields, models

OPPORTUNITY_MAP = "opportunity_map"


class IrActionsActWindow(models.Model):
    _inherit = "ir.actions.act_window"

    @api.model
    def _add_opportunity_map_view_mode(self, xml_ids):
        """Append the map to the view modes of the given actions (a data-file call):
        appended rather than written whole so that view modes other modules added
        (Enterprise's ``map``, ``cohort``, …) are kept."""
        for xml_id in xml_ids:
            action = self.env.ref(xml_id, raise_if_not_found=False)
            if action and OPPORTUNITY_MAP not in action.view_mode.split(","):
                action.view_mode = f"{action.view_mode},{OPPORTUNITY_MAP}"

    def _remove_opportunity_map_view_mode(self):
        """Take the map out of every action's view modes (uninstall): an action left with
        an unknown view mode would not open at all in the web client."""
        actions = self.search([("view_mode", "like", OPPORTUNITY_MAP)])
        for action in actions:
            modes = [mode for mode in action.view_mode.split(",") if mode != OPPORTUNITY_MAP]
            if modes:
                action.view_mode = ",".join(modes)
            else:
                action.unlink()


class IrActionsActWindowView(models.Model):
    _inherit = "ir.actions.act_window.view"

    view_mode = fields.Selection(
        selection_add=[(OPPORTUNITY_MAP, "Opportunity Map")],
        ondelete={OPPORTUNITY_MAP: "cascade"},
    )
