import json
from datetime import datetime

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from .common import OpportunityCase


class WorkflowCase(OpportunityCase):
    """A "Tender" type whose workflow is Announced → Preparation → Submitted → Awarded (won):

    - Announced may only go to Preparation; Preparation to Submitted or back to Announced;
    - Preparation sets the 25 % level and plans two activities (a call and a to-do);
    - Submitted requires an expected closing date and a customer.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Stage = cls.env["crm.stage"]
        cls.announced = Stage.create({"name": "Announced", "sequence": 101})
        cls.preparation = Stage.create({"name": "Preparation", "sequence": 102})
        cls.submitted = Stage.create({"name": "Submitted", "sequence": 103})
        cls.awarded = Stage.create({"name": "Awarded", "sequence": 104, "is_won": True})
        cls.elsewhere = Stage.create({"name": "Not in the workflow", "sequence": 105})
        cls.plan = cls.env["mail.activity.plan"].create(
            {
                "name": "Bid preparation",
                "res_model": "crm.lead",
                "template_ids": [
                    Command.create(
                        {
                            "activity_type_id": cls.env.ref("mail.mail_activity_data_call").id,
                            "summary": "Kick-off call",
                            "responsible_type": "on_demand",
                        }
                    ),
                    Command.create(
                        {
                            "activity_type_id": cls.env.ref("mail.mail_activity_data_todo").id,
                            "summary": "Collect documents",
                            "responsible_type": "on_demand",
                            "delay_count": 3,
                            "delay_from": "after_plan_date",
                        }
                    ),
                ],
            }
        )
        cls.announced.next_stage_ids = cls.preparation
        cls.preparation.write(
            {
                "next_stage_ids": [Command.set((cls.submitted | cls.announced).ids)],
                "probability_level_id": cls.levels[25].id,
                "activity_plan_id": cls.plan.id,
            }
        )
        cls.submitted.required_field_ids = cls.env["ir.model.fields"].search(
            [("model", "=", "crm.lead"), ("name", "in", ("date_deadline", "partner_id"))]
        )
        cls.tender = cls.env["crm.opportunity.type"].create(
            {
                "code": "TENDER-T",
                "name": "Tender (test)",
                "stage_ids": [Command.set((cls.announced | cls.preparation | cls.submitted | cls.awarded).ids)],
            }
        )

    @classmethod
    def create_tender(cls, **values):
        return cls.create_opportunity(opportunity_type_id=cls.tender.id, **values)


@tagged("post_install", "-at_install")
class TestWorkflowRules(WorkflowCase):
    def test_new_opportunity_starts_in_its_workflow(self):
        lead = self.create_tender()
        self.assertEqual(lead.stage_id, self.announced)
        self.assertEqual(lead.allowed_stage_ids, self.tender.stage_ids)

    def test_workflow_wins_over_the_sales_team_stages(self):
        other_team = self.env["crm.team"].create({"name": "Public sector (test)"})
        self.tender.stage_ids.team_id = other_team
        lead = self.create_tender()  # in self.team, whose stages are not the workflow's
        self.assertEqual(lead.stage_id, self.announced)

    def test_allowed_transition(self):
        lead = self.create_tender()
        lead.write({"stage_id": self.preparation.id})
        self.assertEqual(lead.stage_id, self.preparation)

    def test_forbidden_transition_changes_nothing(self):
        lead = self.create_tender()
        history, activities = len(lead.stage_history_ids), len(lead.activity_ids)
        with self.assertRaisesRegex(UserError, "Submitted.*from Announced to Submitted.*Preparation"):
            lead.write({"stage_id": self.submitted.id, "date_deadline": "2027-01-01"})
        lead.invalidate_recordset()
        self.assertEqual(lead.stage_id, self.announced)
        self.assertFalse(lead.date_deadline)
        self.assertEqual((len(lead.stage_history_ids), len(lead.activity_ids)), (history, activities))

    def test_forbidden_transition_from_the_form(self):
        lead = self.create_tender()
        form = Form(lead)
        form.stage_id = self.submitted
        with self.assertRaisesRegex(UserError, "Announced to Submitted"):
            form.save()
        lead.invalidate_recordset()
        self.assertEqual(lead.stage_id, self.announced)

    def test_stage_outside_the_workflow(self):
        lead = self.create_tender(stage_id=self.preparation.id)
        self.preparation.next_stage_ids = False
        with self.assertRaisesRegex(UserError, "Not in the workflow.*not a stage of the workflow of Tender"):
            lead.write({"stage_id": self.elsewhere.id})

    def test_required_fields(self):
        lead = self.create_tender(stage_id=self.preparation.id, partner_id=False)
        with self.assertRaisesRegex(UserError, "Submitted.*(Expected Closing, Customer|Customer, Expected Closing)"):
            lead.write({"stage_id": self.submitted.id})
        with self.assertRaisesRegex(UserError, "must be filled in first: Customer"):
            lead.write({"stage_id": self.submitted.id, "date_deadline": "2027-01-01"})
        lead.write({"stage_id": self.submitted.id, "date_deadline": "2027-01-01", "partner_id": self.partner.id})
        self.assertEqual(lead.stage_id, self.submitted)

    def test_creating_in_a_stage_needs_its_fields(self):
        with self.assertRaisesRegex(UserError, "Submitted"), self.cr.savepoint():
            self.create_tender(stage_id=self.submitted.id)
        self.assertFalse(self.env["crm.lead"].search([("stage_id", "=", self.submitted.id)]))

    def test_default_level_on_entry(self):
        lead = self.create_tender(probability=5)
        lead.write({"stage_id": self.preparation.id})
        self.assertEqual((lead.probability_level_id, lead.probability), (self.levels[25], 25))
        lead.write({"stage_id": self.announced.id, "probability_level_id": self.levels[75].id})
        lead.write({"stage_id": self.preparation.id, "probability": 60})
        self.assertEqual(lead.probability, 60, "a probability given with the move wins")

    def test_won_follows_the_workflow(self):
        lead = self.create_tender(stage_id=self.preparation.id)
        with self.assertRaisesRegex(UserError, "Preparation to Awarded"):
            lead.action_set_won()
        self.preparation.next_stage_ids = False
        lead.action_set_won()
        self.assertEqual((lead.stage_id, lead.probability), (self.awarded, 100))

    def test_merge_logs_but_bypasses_rules(self):
        head = self.create_tender(stage_id=self.preparation.id, name="head")
        tail = self.create_tender(name="tail")
        tail.write({"stage_id": self.preparation.id})
        tail.write({"stage_id": self.submitted.id, "date_deadline": "2027-01-01"})
        merged = (head | tail).merge_opportunity()
        self.assertEqual(merged.stage_id, self.submitted)
        self.assertEqual(merged.stage_history_ids[0].stage_to_id, self.submitted)


@tagged("post_install", "-at_install")
class TestWorkflowLog(WorkflowCase):
    def test_rows_and_durations(self):
        with freeze_time("2026-05-01 08:00:00"):
            lead = self.create_tender()
        with freeze_time("2026-05-03 20:00:00"):
            lead.with_user(self.salesman).write({"stage_id": self.preparation.id})
        with freeze_time("2026-05-10 08:00:00"):
            lead.write({"stage_id": self.announced.id})
        rows = lead.stage_history_ids.sorted("date")
        self.assertEqual([row.stage_from_id for row in rows], [self.env["crm.stage"], self.announced, self.preparation])
        self.assertEqual([row.stage_to_id for row in rows], [self.announced, self.preparation, self.announced])
        self.assertEqual(
            rows.mapped("date"), [datetime(2026, 5, 1, 8), datetime(2026, 5, 3, 20), datetime(2026, 5, 10, 8)]
        )
        self.assertEqual(rows.mapped("duration_days"), [0.0, 2.5, 6.5])
        self.assertEqual(rows[1].user_id, self.salesman)

    def test_no_row_without_a_change(self):
        lead = self.create_tender()
        lead.write({"stage_id": self.announced.id, "name": "Same stage"})
        self.assertEqual(len(lead.stage_history_ids), 1)

    def test_every_path_logs(self):
        lead = self.create_tender()
        with Form(lead) as form:  # form (statusbar)
            form.stage_id = self.preparation
        self.env["crm.lead"].browse(lead.id).write({"stage_id": self.announced.id})  # kanban drag = write
        self.preparation.next_stage_ids = False
        lead.write({"stage_id": self.preparation.id})
        lead.action_set_won()  # won button
        self.assertEqual(
            [row.stage_to_id.name for row in lead.stage_history_ids.sorted("id")],
            ["Announced", "Preparation", "Announced", "Preparation", "Awarded"],
        )

    def test_log_is_read_only_for_salespeople(self):
        lead = self.create_tender()
        row = lead.stage_history_ids.with_user(self.salesman)
        self.assertEqual(row.stage_to_id, self.announced)
        with self.assertRaises(AccessError):
            row.write({"duration_days": 99})


@tagged("post_install", "-at_install")
class TestWorkflowAutomation(WorkflowCase):
    def test_stage_activities_scheduled_on_entry(self):
        lead = self.create_tender()
        with freeze_time("2026-06-01"):
            lead.write({"stage_id": self.preparation.id})
        activities = lead.activity_ids.sorted("date_deadline")
        self.assertEqual(activities.mapped("summary"), ["Kick-off call", "Collect documents"])
        self.assertEqual(activities.user_id, self.salesman)
        self.assertEqual(activities.mapped("date_deadline"), [self.date("2026-06-01"), self.date("2026-06-04")])

    def test_shipped_rules_are_editable_records(self):
        for xmlid in (
            "automation_stage_activities",
            "automation_notify_won",
            "automation_notify_lost",
            "automation_idle_reminder",
        ):
            rule = self.env.ref(f"crm_opportunity_management.{xmlid}")
            self.assertTrue(rule.active and rule.action_server_ids, xmlid)

    def _leader_notifications(self, lead):
        return self.env["mail.message"].search(
            [
                ("model", "=", "crm.lead"),
                ("res_id", "=", lead.id),
                ("partner_ids", "in", self.sales_manager.partner_id.ids),
            ]
        )

    def test_team_leader_notified_when_won_or_lost(self):
        self.team.user_id = self.sales_manager
        won, lost, still_open = self.create_opportunity(), self.create_opportunity(), self.create_opportunity()
        won.action_set_won()
        lost.action_set_lost()
        still_open.write({"probability": 50})
        self.assertIn("won", self._leader_notifications(won).subject)
        self.assertIn("lost", self._leader_notifications(lost).subject)
        self.assertFalse(self._leader_notifications(still_open))

    def test_idle_reminder_through_its_cron(self):
        rule = self.env.ref("crm_opportunity_management.automation_idle_reminder")
        self.env["res.config.settings"].create({"crm_idle_reminder_days": 10}).execute()
        self.assertEqual(rule.trg_date_range, 10)
        idle = self.create_opportunity(name="Idle one")
        active = self.create_opportunity(name="Active one")
        self.set_create_date(idle | active, "2026-03-01 09:00:00")
        rule.last_run = "2026-03-01 09:00:00"
        with freeze_time("2026-03-09 09:00:00"):
            active.message_post(body="Called", message_type="comment", subtype_xmlid="mail.mt_note")
        with freeze_time("2026-03-12 09:00:00"):
            # what the cron "Automation Rules: check and execute" runs, without its commits
            self.env["base.automation"]._check(automatic=False)
        self.assertEqual(idle.activity_ids.summary, "Idle opportunity: follow up")
        self.assertEqual(idle.activity_ids.user_id, self.salesman)
        self.assertFalse(active.activity_ids)


@tagged("post_install", "-at_install")
class TestProgressNotifications(WorkflowCase):
    def bus_payloads(self, partner):
        self.env.cr.precommit.run()  # the bus writes its notifications when the transaction commits
        channel = json.dumps([self.env.cr.dbname, "res.partner", partner.id], separators=(",", ":"))
        messages = [json.loads(n.message) for n in self.env["bus.bus"].sudo().search([("channel", "=", channel)])]
        return [message["payload"] for message in messages if message["type"] == "crm_opportunity_management/progress"]

    def setUp(self):
        super().setUp()
        self.env["bus.bus"].sudo().search([]).unlink()

    def test_stage_level_and_won_changes_are_pushed(self):
        lead = self.create_tender()
        lead.message_subscribe(partner_ids=self.salesman_all.partner_id.ids)
        lead.with_user(self.sales_manager).write({"stage_id": self.preparation.id})
        payloads = self.bus_payloads(self.salesman.partner_id)
        self.assertEqual(len(payloads), 1)
        self.assertEqual(payloads[0]["lead_id"], lead.id)
        self.assertEqual(len(payloads[0]["changes"]), 2, "stage and level in one notification")
        self.assertEqual(len(self.bus_payloads(self.salesman_all.partner_id)), 1, "followers too")
        self.assertFalse(self.bus_payloads(self.sales_manager.partner_id), "not the author")
        self.preparation.next_stage_ids = False
        lead.with_user(self.sales_manager).action_set_won()
        self.assertEqual(self.bus_payloads(self.salesman.partner_id)[-1]["state"], "won")

    def test_followers_who_may_not_read_it_get_no_word(self):
        """A follower with "own documents only" rights cannot read someone else's
        opportunity, so its name and progress are not pushed to him either (sudo audit)."""
        lead = self.create_tender()  # salesman's
        lead.message_subscribe(partner_ids=(self.salesman_other | self.salesman_all).partner_id.ids)
        self.assertFalse(lead.with_user(self.salesman_other).has_access("read"))
        lead.with_user(self.sales_manager).write({"stage_id": self.preparation.id})
        self.assertFalse(self.bus_payloads(self.salesman_other.partner_id))
        self.assertEqual(len(self.bus_payloads(self.salesman_all.partner_id)), 1, "who may read it still hears")
        self.assertEqual(len(self.bus_payloads(self.salesman.partner_id)), 1)

    def test_other_changes_are_not_pushed(self):
        lead = self.create_tender()
        lead.write({"name": "Renamed", "priority": "2"})
        self.assertFalse(self.bus_payloads(self.salesman.partner_id))

    def test_level_change_tracked_with_its_subtype(self):
        lead = self.create_tender().with_context(tracking_disable=False)
        # Odoo tracks no change of a record created in the same transaction: end that first
        self.env.cr.precommit.run()
        lead.write({"probability_level_id": self.levels[75].id})
        lead.flush_recordset()
        self.env.cr.precommit.run()  # tracking messages are written when the transaction commits
        subtype = self.env.ref("crm_opportunity_management.mt_lead_probability_level")
        messages = self.env["mail.message"].search([("model", "=", "crm.lead"), ("res_id", "=", lead.id)])
        self.assertIn(subtype, messages.subtype_id)
