from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import OpportunityCase


@tagged("post_install", "-at_install")
class TestCrmLeadIdle(OpportunityCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lead = cls.create_opportunity(name="Idle test")
        cls.set_create_date(cls.lead, "2026-03-01 09:00:00")
        cls.activity_type = cls.env.ref("mail.mail_activity_data_call")

    def search_ids(self, operator, value):
        return self.env["crm.lead"].search([("id", "=", self.lead.id), ("idle_days", operator, value)]).ids

    def test_idle_days_since_creation(self):
        self.assertEqual(self.lead.date_last_interaction, datetime(2026, 3, 1, 9))
        with freeze_time("2026-03-11 08:59:59"):
            self.lead.invalidate_recordset(["idle_days"])
            self.assertEqual(self.lead.idle_days, 9)
        with freeze_time("2026-03-11 09:00:00"):
            self.lead.invalidate_recordset(["idle_days"])
            self.assertEqual(self.lead.idle_days, 10)

    def test_logged_message_and_done_activity_reset_idleness(self):
        with freeze_time("2026-03-20 12:00:00"):
            self.lead.message_post(body="Called the customer", message_type="comment", subtype_xmlid="mail.mt_note")
        self.assertEqual(self.lead.date_last_interaction, datetime(2026, 3, 20, 12))
        with freeze_time("2026-04-02 08:00:00"):
            activity = self.lead.activity_schedule(activity_type_id=self.activity_type.id, user_id=self.salesman.id)
            # scheduling is no interaction; doing it is
            self.assertEqual(self.lead.date_last_interaction, datetime(2026, 3, 20, 12))
            activity.action_feedback(feedback="Done")
        self.assertEqual(self.lead.date_last_interaction, datetime(2026, 4, 2, 8))

    def test_computed_for_many_in_one_query(self):
        leads = self.lead | self.create_opportunity() | self.create_opportunity()
        leads.invalidate_recordset(["date_last_interaction", "idle_days"])
        leads.mapped("create_date")
        with self.assertQueryCount(1):
            leads.mapped("idle_days")

    def test_tracking_is_no_interaction(self):
        with freeze_time("2026-03-25 12:00:00"):
            self.lead.with_context(tracking_disable=False).write({"priority": "2"})
        self.assertEqual(self.lead.date_last_interaction, datetime(2026, 3, 1, 9))

    def test_search(self):
        lead_id = [self.lead.id]
        with freeze_time("2026-03-11 10:00:00"):  # 10 days and 1 hour: idle_days = 10
            cases = {
                (">", 9): lead_id,
                (">", 10): [],
                (">", 9.5): lead_id,
                (">=", 10): lead_id,
                (">=", 11): [],
                (">=", 9.5): lead_id,
                (">=", 10.5): [],
                ("<", 11): lead_id,
                ("<", 10): [],
                ("<", 10.5): lead_id,
                ("<=", 10): lead_id,
                ("<=", 9): [],
                ("<=", 10.5): lead_id,
                ("=", 10): lead_id,
                ("=", 9): [],
                ("=", 10.5): [],
                ("!=", 10): [],
                ("!=", 9): lead_id,
                ("!=", 10.5): lead_id,
            }
            for (operator, value), expected in cases.items():
                self.assertEqual(self.search_ids(operator, value), expected, f"idle_days {operator} {value}")

    def test_search_with_a_bad_value(self):
        for operator, value in (("in", [1, 2]), ("=", "ten"), ("=", True), ("like", 3)):
            with self.assertRaisesRegex(UserError, "Idle Days"):
                self.env["crm.lead"].search([("idle_days", operator, value)])
