from odoo import api, fields, models

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

    @api.model
    def get_values(self):
        values = super().get_values()
        automation = self.env.ref(IDLE_AUTOMATION, raise_if_not_found=False)
        values["crm_idle_reminder_days"] = automation.sudo().trg_date_range if automation else 0
        return values

    def set_values(self):
        result = super().set_values()
        automation = self.env.ref(IDLE_AUTOMATION, raise_if_not_found=False)
        if automation and self.crm_idle_reminder_days > 0:
            # Settings are the administrator's; the automated action is base.automation's.
            automation.sudo().trg_date_range = self.crm_idle_reminder_days
        return result
