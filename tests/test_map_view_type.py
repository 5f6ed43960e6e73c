from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from ..hooks import uninstall_hook


@tagged("post_install", "-at_install")
class TestMapViewType(TransactionCase):
    """The ``opportunity_map`` view type: declared to the web client, its arch checked,
    in the view switcher of the opportunity actions, and taken out of every action by the
    uninstall hook (run here inside the test's transaction)."""

    def create_view(self, arch, model="crm.lead"):
        return self.env["ir.ui.view"].create(
            {"name": "test map", "model": model, "type": "opportunity_map", "arch": arch}
        )

    def test_view_info(self):
        info = self.env["ir.ui.view"].get_view_info()["opportunity_map"]
        self.assertEqual(info, {"display_name": "Opportunity Map", "icon": "fa fa-map-marker", "multi_record": True})

    def test_arch_validation(self):
        self.assertTrue(self.create_view('<opportunity_map string="Map" default_radius_km="25" cluster_radius="0"/>'))
        for arch, message in (
            ('<opportunity_map colour="red"/>', r"Invalid attributes \(colour\)"),
            ('<opportunity_map default_radius_km="0"/>', "must be a positive number"),
            ('<opportunity_map cluster_radius="wide"/>', "must be a positive number"),
            ('<opportunity_map><field name="name"/></opportunity_map>', "no child elements"),
            ("<list/>", "should be a <opportunity_map>"),
        ):
            with self.subTest(arch=arch), self.assertRaisesRegex(ValidationError, message):
                self.create_view(arch)
        with self.assertRaisesRegex(ValidationError, r"only show opportunities \(crm.lead\), not res.partner"):
            self.create_view("<opportunity_map/>", model="res.partner")

    def test_view_mode_of_opportunity_actions(self):
        for xml_id in (
            "crm.crm_lead_action_pipeline",
            "crm.crm_lead_opportunities",
            "crm_opportunity_management.crm_lead_action_progress_board",
            "crm_opportunity_management.crm_lead_action_stages_board",
        ):
            with self.subTest(action=xml_id):
                self.assertEqual(self.env.ref(xml_id).view_mode.split(",").count("opportunity_map"), 1)
        pipeline = self.env.ref("crm.crm_lead_action_pipeline")
        modes = pipeline.view_mode
        self.env["ir.actions.act_window"]._add_opportunity_map_view_mode(["crm.crm_lead_action_pipeline"])
        self.assertEqual(pipeline.view_mode, modes, "appended once, however often the data file loads")

    def test_uninstall_hook(self):
        Action = self.env["ir.actions.act_window"]
        pipeline = self.env.ref("crm.crm_lead_action_pipeline")
        map_action = self.env.ref("crm_opportunity_management.crm_lead_action_opportunity_map")
        pipeline_modes = [mode for mode in pipeline.view_mode.split(",") if mode != "opportunity_map"]
        first, only = Action.create([
            {"name": "Map first", "res_model": "crm.lead", "view_mode": "opportunity_map,list"},
            {"name": "Map only", "res_model": "crm.lead", "view_mode": "opportunity_map"},
        ])

        uninstall_hook(self.env)

        self.assertEqual(pipeline.view_mode.split(","), pipeline_modes)
        self.assertEqual(first.view_mode, "list")
        self.assertFalse(only.exists(), "an action left without any view mode is removed")
        self.assertEqual(map_action.view_mode, "list,form")
        self.assertFalse(self.env["ir.actions.act_window.view"].search([("view_mode", "=", "opportunity_map")]))
        with_map = Action.search([]).filtered(lambda action: "opportunity_map" in [mode for _id, mode in action.views])
        self.assertFalse(with_map)
