from odoo import models
from odoo.tools import html2plaintext
from odoo.tools.mail import is_html_empty


class CrmLeadLost(models.TransientModel):
    _inherit = "crm.lead.lost"

    def action_lost_reason_apply(self):
        # The closing note of Odoo's lost dialog is also kept on the record, like the
        # description given when an opportunity is won.
        if not is_html_empty(self.lost_feedback):
            self.lead_ids.write({"close_description": html2plaintext(self.lost_feedback)})
        return super().action_lost_reason_apply()
