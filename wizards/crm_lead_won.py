from odoo import fields, models


class CrmLeadWon(models.TransientModel):
    """The "mark won" dialog: asks why the opportunities were won, then closes them."""

    _name = "crm.lead.won"
    _description = "Mark Opportunities Won with a Reason"

    lead_ids = fields.Many2many("crm.lead", string="Opportunities")
    won_reason_id = fields.Many2one("crm.won.reason")
    close_description = fields.Text(string="Closing Description")

    def action_won_reason_apply(self):
        self.ensure_one()
        self.lead_ids.write(
            {"won_reason_id": self.won_reason_id.id, "close_description": self.close_description}
        )
        leads = self.lead_ids.with_context(crm_won_reason_given=True)
        if len(leads) == 1:
            result = leads.action_set_won_rainbowman()
            if isinstance(result, dict) and result.get("effect"):
                return {"type": "ir.actions.act_window_close", "effect": result["effect"]}
            return {"type": "ir.actions.act_window_close"}
        leads.action_set_won()
        return {"type": "ir.actions.act_window_close"}
