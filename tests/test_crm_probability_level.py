from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged

from .common import OpportunityCase


@tagged("post_install", "-at_install")
class TestCrmProbabilityLevel(OpportunityCase):
    def test_default_levels(self):
        self.assertEqual(sorted(self.levels), [0, 10, 25, 50, 75, 90, 100])

    def test_level_follows_probability(self):
        lead = self.create_opportunity(probability=30)
        self.assertEqual(lead.probability_level_id, self.levels[25])
        for probability, expected in ((0, 0), (9.99, 0), (10, 10), (74.5, 50), (90, 90), (100, 100)):
            lead.probability = probability
            self.assertEqual(lead.probability_level_id, self.levels[expected], probability)

    def test_choosing_a_level_sets_the_probability(self):
        lead = self.create_opportunity(probability=12)
        lead.write({"probability_level_id": self.levels[75].id})
        self.assertEqual(lead.probability, 75)
        self.assertEqual(lead.probability_level_id, self.levels[75])
        created = self.create_opportunity(probability_level_id=self.levels[50].id)
        self.assertEqual(created.probability, 50)

    def test_given_probability_wins_over_a_given_level(self):
        lead = self.create_opportunity()
        lead.write({"probability_level_id": self.levels[25].id, "probability": 60})
        self.assertEqual(lead.probability, 60)
        self.assertEqual(lead.probability_level_id, self.levels[50])

    def test_form_onchange(self):
        lead = self.create_opportunity(probability=5)
        with Form(lead) as form:
            form.probability_level_id = self.levels[90]
            self.assertEqual(form.probability, 90)
            form.probability = 26
            self.assertEqual(form.probability_level_id, self.levels[25])
        self.assertEqual((lead.probability, lead.probability_level_id), (26, self.levels[25]))

    def test_won_and_lost_move_the_level(self):
        lead = self.create_opportunity(probability=40)
        lead.action_set_won()
        self.assertEqual(lead.probability_level_id, self.levels[100])
        other = self.create_opportunity(probability=40)
        other.action_set_lost()
        self.assertEqual(other.probability_level_id, self.levels[0])

    def test_stage_and_pls_changes_move_the_level(self):
        """Odoo's predictive scoring recomputes the probability on a stage change: the level follows."""
        stages = self.env["crm.stage"].search([("is_won", "=", False)], order="sequence", limit=2)
        lead = self.create_opportunity(stage_id=stages[0].id, probability_level_id=self.levels[50].id)
        self.assertFalse(lead.is_automated_probability)
        lead.action_set_automated_probability()
        self.assertTrue(lead.is_automated_probability)
        # PLS is frequency-based: give it history so the stage matters.
        won_stage = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        history = self.env["crm.lead"].create(
            [
                {
                    "name": f"history {index}",
                    "type": "opportunity",
                    "team_id": self.team.id,
                    "stage_id": stages[1].id,
                    "company_id": self.company.id,
                }
                for index in range(6)
            ]
        )
        history[:5].write({"stage_id": won_stage.id})
        history[5:].action_set_lost()
        lead.write({"stage_id": stages[1].id})
        lead.flush_recordset()
        self.assertEqual(lead.probability, lead.automated_probability)
        expected = max(
            (level for level in self.levels.values() if level.percentage <= lead.probability),
            key=lambda level: level.percentage,
        )
        self.assertEqual(lead.probability_level_id, expected)

    def test_changing_the_table_rebuckets_opportunities(self):
        lead = self.create_opportunity(probability=60)
        self.assertEqual(lead.probability_level_id, self.levels[50])
        sixty = self.env["crm.probability.level"].create({"code": "L60", "name": "Shortlisted", "percentage": 60})
        self.assertEqual(lead.probability_level_id, sixty)
        sixty.percentage = 65
        self.assertEqual(lead.probability_level_id, self.levels[50])
        sixty.percentage = 55
        self.assertEqual(lead.probability_level_id, sixty)
        sixty.active = False
        self.assertEqual(lead.probability_level_id, self.levels[50])

    def expected_level(self, probability):
        """The oracle: the active level with the highest percentage not above ``probability``."""
        levels = self.env["crm.probability.level"].search([])
        below = levels.filtered(lambda level: level.percentage <= (probability or 0))
        return max(below, key=lambda level: level.percentage) if below else levels.browse()

    def test_level_table_edited_while_opportunities_move(self):
        """Probabilities written (not yet flushed) in the same transaction as changes to the
        table of levels: every opportunity ends in the level of its probability."""
        probabilities = [0, 0.5, 10, 24.99, 25, 49, 50, 55, 60, 62.5, 75.1, 89, 90, 99.9, 100]
        leads = self.env["crm.lead"].create([
            {"name": f"p{p}", "type": "opportunity", "probability": p, "company_id": self.company.id}
            for p in probabilities
        ])
        Level = self.env["crm.probability.level"]
        for lead, probability in zip(leads, reversed(probabilities), strict=True):
            lead.probability = probability  # pending: the table changes before the flush
        sixty = Level.create({"code": "L60", "name": "Shortlisted", "percentage": 60})
        leads[:5].write({"probability": 61})
        sixty.percentage = 55
        self.levels[90].active = False
        leads[5:8].write({"probability_level_id": sixty.id})
        self.levels[25].sequence = 99
        self.env.flush_all()
        leads.invalidate_recordset()
        for lead in leads:
            self.assertEqual(lead.probability_level_id, self.expected_level(lead.probability), lead.probability)

    def test_predictive_scoring_cron_refiles_levels(self):
        """Odoo's scoring cron writes probabilities in SQL: their levels follow."""
        leads = self.env["crm.lead"].create([
            {"name": f"pls{p}", "type": "opportunity", "probability": p, "company_id": self.company.id}
            for p in (12, 30, 80)
        ])
        self.env.flush_all()
        # what the cron's UPDATE does to a probability
        self.env.cr.execute("UPDATE crm_lead SET probability = 95 - probability WHERE id = ANY(%s)", [leads.ids])
        self.env["crm.lead"]._update_automated_probabilities()
        leads.invalidate_recordset()
        for lead in leads:
            self.assertEqual(lead.probability_level_id, self.expected_level(lead.probability), lead.probability)

    def test_percentage_out_of_range(self):
        Level = self.env["crm.probability.level"]
        for percentage in (-1, 100.01, 250):
            with self.assertRaisesRegex(ValidationError, "Percentage"), self.cr.savepoint():
                Level.create({"code": f"BAD{percentage}", "name": "Bad", "percentage": percentage})
        self.assertFalse(Level.search([("code", "like", "BAD")]))

    def test_duplicate_code_and_percentage(self):
        Level = self.env["crm.probability.level"]
        with self.assertRaisesRegex(ValidationError, "Code"), self.cr.savepoint():
            Level.create({"code": self.levels[50].code, "name": "Twin", "percentage": 51})
        with self.assertRaisesRegex(ValidationError, "Percentage"), self.cr.savepoint():
            Level.create({"code": "L50B", "name": "Twin", "percentage": 50})
        self.assertFalse(Level.search([("name", "=", "Twin")]))
        # an archived level may share a percentage
        self.levels[50].active = False
        Level.create({"code": "L50B", "name": "Replacement", "percentage": 50})

    def test_duplicate_type_code(self):
        Type = self.env["crm.opportunity.type"]
        existing = Type.search([], limit=1)
        with self.assertRaisesRegex(ValidationError, "Code"), self.cr.savepoint():
            Type.create({"code": existing.code, "name": "Twin type"})
        self.assertFalse(Type.search([("name", "=", "Twin type")]))


@tagged("post_install", "-at_install")
class TestLookupCaches(OpportunityCase):
    """Cached look-ups (levels, default types, automation rules of opportunities) are cleared
    when what they read changes, and only then: the automation cron writes ``last_run`` on
    each run, which must not invalidate every worker's caches."""

    def test_automation_rules(self):
        Automation = self.env["base.automation"]
        rule = Automation.search([("model_name", "=", "crm.lead")], limit=1)
        self.assertTrue(rule, "the module ships automation rules on opportunities")
        self.env.registry.cache_invalidated.clear()
        rule.write({"last_run": "2026-11-30 06:00:00"})
        self.assertNotIn("default", self.env.registry.cache_invalidated)
        triggers = (rule.trigger,)
        self.assertIn(rule.id, Automation._get_action_ids("crm.lead", triggers))
        rule.write({"active": False})
        self.assertIn("default", self.env.registry.cache_invalidated)
        self.assertNotIn(rule.id, Automation._get_action_ids("crm.lead", triggers))
        # other models keep base_automation's own look-up
        partner_rule = Automation.create({
            "name": "Partner rule", "model_id": self.env["ir.model"]._get_id("res.partner"), "trigger": "on_create",
        })
        self.assertEqual(Automation._get_actions(self.partner, ["on_create"]), partner_rule)

    def test_levels_and_types(self):
        self.env.registry.cache_invalidated.clear()
        self.levels[50].write({"name": "Proposal sent", "color": 3})
        self.env["crm.opportunity.type"].search([], limit=1).write({"description": "Only the words change"})
        self.assertNotIn("default", self.env.registry.cache_invalidated)
        self.levels[50].write({"sequence": 7})
        self.assertIn("default", self.env.registry.cache_invalidated)
