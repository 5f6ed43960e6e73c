from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from .common import BrowserCase


@tagged("post_install", "-at_install")
class TestPipelineTours(BrowserCase):
    """The pipeline flow and trend screens, on opportunities of their own:
    - flow: "Tour flow open" and "Tour flow lost", created now and expected to close today
      (so in the current quarter the flow opens on), the second lost since;
    - trend: "Tour trend open", created now, and "Tour trend lost", created 20 days ago
      and lost 10 days ago (so open at the end of the week two weeks back)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        admin = cls.env.ref("base.user_admin")
        now, today = fields.Datetime.now(), fields.Date.today()

        def create(name, amount, probability, deadline, when=None):
            env = cls.env(context=dict(cls.env.context, crm_history_date=when)) if when else cls.env
            lead = env["crm.lead"].create({
                "name": name, "type": "opportunity", "user_id": admin.id, "company_id": admin.company_id.id,
                "expected_revenue": amount, "probability": probability, "date_deadline": deadline,
            })
            env.flush_all()
            return lead

        def lose(lead, when=None):
            env = cls.env(context=dict(cls.env.context, crm_history_date=when)) if when else cls.env
            lead.with_env(env).write({"active": False})
            env.flush_all()

        cls.flow_open = create("Tour flow open", 1000, 50, today)
        cls.flow_lost = create("Tour flow lost", 700, 20, today)
        lose(cls.flow_lost)
        cls.trend_open = create("Tour trend open", 1800, 80, today + timedelta(days=30))
        cls.trend_lost = create("Tour trend lost", 2500, 30, today + timedelta(days=20), now - timedelta(days=20))
        lose(cls.trend_lost, now - timedelta(days=10))

    def test_pipeline_flow(self):
        flow = self.env["crm.lead"].with_user(self.env.ref("base.user_admin")).get_pipeline_flow(
            [("name", "like", "Tour flow")])
        steps = {step["key"]: step["lead_ids"] for step in flow["steps"]}
        self.assertEqual((steps["created"], steps["lost"]), (sorted((self.flow_open | self.flow_lost).ids),
                                                             self.flow_lost.ids))
        self.start_tour(
            "/odoo/action-crm_opportunity_management.crm_lead_action_pipeline_flow",
            "crm_opportunity_management_pipeline_flow",
            login="admin",
        )

    def test_pipeline_trend(self):
        trend = self.env["crm.lead"].with_user(self.env.ref("base.user_admin")).get_pipeline_trend(
            [("name", "like", "Tour trend")], {"lead_ids": True})
        self.assertEqual([week["lead_ids"] for week in trend["weeks"][-3:]],
                         [self.trend_lost.ids, [], self.trend_open.ids])
        self.start_tour(
            "/odoo/action-crm_opportunity_management.crm_lead_action_pipeline_trend",
            "crm_opportunity_management_pipeline_trend",
            login="admin",
        )
