from odoo.tests import Form, tagged

from .common import OpportunityCase


@tagged("post_install", "-at_install")
class TestCrmLeadClosing(OpportunityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reason = cls.env["crm.won.reason"].search([], limit=1)

    def test_won_button_without_dialog_marks_won(self):
        self.company.crm_won_reason_dialog = False
        lead = self.create_opportunity()
        lead.action_set_won_rainbowman()
        self.assertEqual(lead.probability, 100)
        self.assertTrue(lead.stage_id.is_won)

    def test_won_button_opens_the_dialog_when_set(self):
        self.company.crm_won_reason_dialog = True
        lead = self.create_opportunity()
        action = lead.action_set_won_rainbowman()
        self.assertEqual(action["res_model"], "crm.lead.won")
        self.assertEqual(action["context"]["default_lead_ids"], lead.ids)
        self.assertLess(lead.probability, 100, "nothing happens before the dialog is confirmed")
        wizard = Form(self.env["crm.lead.won"].with_context(**action["context"]))
        wizard.won_reason_id = self.reason
        wizard.close_description = "Best price and fast delivery"
        result = wizard.save().action_won_reason_apply()
        self.assertEqual(result["type"], "ir.actions.act_window_close")
        self.assertEqual(lead.probability, 100)
        self.assertEqual(lead.won_reason_id, self.reason)
        self.assertEqual(lead.close_description, "Best price and fast delivery")
        self.assertEqual(lead.probability_level_id.percentage, 100)

    def test_won_dialog_on_several_opportunities(self):
        leads = self.create_opportunity() | self.create_opportunity()
        wizard = self.env["crm.lead.won"].create({"lead_ids": leads.ids, "won_reason_id": self.reason.id})
        wizard.action_won_reason_apply()
        self.assertEqual(leads.mapped("probability"), [100, 100])
        self.assertEqual(leads.won_reason_id, self.reason)

    def test_lost_dialog_keeps_the_description(self):
        lead = self.create_opportunity()
        lost_reason = self.env["crm.lost.reason"].create({"name": "Too expensive"})
        self.env["crm.lead.lost"].create(
            {
                "lead_ids": lead.ids,
                "lost_reason_id": lost_reason.id,
                "lost_feedback": "<p>Competitor was cheaper</p>",
            }
        ).action_lost_reason_apply()
        self.assertFalse(lead.active)
        self.assertEqual(lead.lost_reason_id, lost_reason)
        self.assertEqual(lead.close_description, "Competitor was cheaper")

    def test_contact_quality_shown_on_the_opportunity(self):
        quality = self.env["crm.contact.quality"].search([], limit=1)
        self.partner.contact_quality_id = quality
        self.assertEqual(self.create_opportunity().contact_quality_id, quality)
