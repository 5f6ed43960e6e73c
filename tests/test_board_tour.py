from odoo import Command
from odoo.tests import tagged

from .common import BrowserCase


@tagged("post_install", "-at_install")
class TestStagesBoardTour(BrowserCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Stage = cls.env["crm.stage"]
        # before every other stage: the board opens on all types, where the web client opens
        # the first ten columns only and keeps the others folded once a type is chosen (the
        # demo data's stages, there are more than ten)
        cls.announced = Stage.create({"name": "Tour Announced", "sequence": -104})
        cls.preparation = Stage.create({"name": "Tour Preparation", "sequence": -103})
        cls.submitted = Stage.create({"name": "Tour Submitted", "sequence": -102})
        cls.awarded = Stage.create({"name": "Tour Awarded", "sequence": -101, "is_won": True})
        cls.announced.next_stage_ids = cls.preparation
        cls.tender = cls.env["crm.opportunity.type"].create(
            {
                "code": "TOUR",
                "name": "Tender (tour)",
                "stage_ids": [Command.set((cls.announced | cls.preparation | cls.submitted | cls.awarded).ids)],
            }
        )
        cls.lead = cls.env["crm.lead"].create(
            {
                "name": "Tour opportunity",
                "type": "opportunity",
                "opportunity_type_id": cls.tender.id,
                "user_id": cls.env.ref("base.user_admin").id,
                "expected_revenue": 1234,
            }
        )

    def test_drag_a_card_on_the_stages_board(self):
        self.assertEqual(self.lead.stage_id, self.announced)
        self.start_tour(
            "/odoo/action-crm_opportunity_management.crm_lead_action_stages_board",
            "crm_opportunity_management_stages_board",
            login="admin",
        )
        self.assertEqual(self.lead.stage_id, self.preparation)
        self.assertEqual(
            [row.stage_to_id for row in self.lead.stage_history_ids.sorted("id")], [self.announced, self.preparation]
        )
