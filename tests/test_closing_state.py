import json

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL


@tagged("post_install", "-at_install")
class TestClosingState(AccountTestInvoicingCommon):
    """Open / won / lost is one rule (``crm_lead.CLOSING_STATE_DOMAINS``); the edges where the
    module's consumers used to disagree, checked on every consumer: the field, its search,
    its SQL, the live notifications, the team leader's message, the forecast, the invoicing
    analysis, the partner's open pipeline and the order confirmation that wins.

    An archived opportunity is lost (Odoo set its closing date and scores it lost), also when
    it was archived at 100 %; a lost one brought back is open again."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.team = cls.env["crm.team"].create({"name": "Closing Team", "user_id": cls.env.user.id})
        company = {"company_id": cls.env.company.id, "company_ids": cls.env.company.ids}
        cls.seller = new_test_user(cls.env, "closing_seller", groups="sales_team.group_sale_salesman", **company)
        cls.manager = new_test_user(cls.env, "closing_manager", groups="sales_team.group_sale_manager", **company)
        cls.product_a.invoice_policy = "order"

    def create_lead(self, name, **values):
        return self.env["crm.lead"].create({
            "name": name, "type": "opportunity", "partner_id": self.partner_a.id, "team_id": self.team.id,
            "user_id": self.seller.id, "expected_revenue": 1000, **values,
        })

    # ------------------------------------------------------------------ what each consumer says

    def states(self, leads):
        """The state of each lead per consumer that can tell one."""
        leads.flush_recordset()
        Lead = self.env["crm.lead"].with_context(active_test=False)
        found = {
            state: Lead.search([("id", "in", leads.ids), ("closing_state", "=", state)])
            for state in ("open", "won", "lost")
        }
        sql = dict(self.env.execute_query(SQL(
            "SELECT lead.id, %s FROM crm_lead lead WHERE lead.id = ANY(%s)",
            Lead._closing_state_sql("lead"), leads.ids,
        )))
        opportunities = Lead._forecast_tables([("id", "in", leads.ids)])["opportunities"]
        outcomes = dict(zip(opportunities["id"], opportunities["won"], strict=True))
        self.env["crm.invoicing.analysis"].invalidate_model()  # a SQL view: rows read earlier are stale
        analysis = {
            row.res_id: row.state for row in self.env["crm.invoicing.analysis"].search(
                [("document_type", "=", "opportunity"), ("res_id", "in", leads.ids)]
            )
        }
        return {
            lead.id: {
                "field": lead.closing_state,
                "search": next(state for state, found_leads in found.items() if lead in found_leads),
                "sql": sql[lead.id],
                # the engine's outcome as a number: 1 won, 0 lost, NaN open
                "forecast": {1: "won", 0: "lost"}.get(outcomes[lead.id], "open"),
                # the analysis shows the pipeline: open and won opportunities, not the lost ones
                "invoicing analysis": analysis.get(lead.id, "lost"),
            }
            for lead in leads
        }

    def assertState(self, lead, expected):
        consumers = self.states(lead)[lead.id]
        self.assertEqual(consumers, dict.fromkeys(consumers, expected), lead.name)

    def progress_states(self, lead):
        """``(state, last change)`` pushed live for ``lead`` to its salesperson (sent at commit)."""
        self.env.cr.precommit.run()
        channel = json.dumps([self.env.cr.dbname, "res.partner", self.seller.partner_id.id], separators=(",", ":"))
        messages = [json.loads(bus.message) for bus in self.env["bus.bus"].sudo().search([("channel", "=", channel)])]
        kind = "crm_opportunity_management/progress"
        payloads = [message["payload"] for message in messages if message["type"] == kind]
        return [(payload["state"], payload["changes"][-1]) for payload in payloads if payload["lead_id"] == lead.id]

    # ------------------------------------------------------------------ the edges

    def test_the_three_states(self):
        open_lead = self.create_lead("Open one", probability=40)
        won = self.create_lead("Won one")
        won.action_set_won()
        lost = self.create_lead("Lost one")
        lost.action_set_lost()
        self.assertState(open_lead, "open")
        self.assertState(won, "won")
        self.assertState(lost, "lost")

    def test_archived_at_100_is_lost_everywhere(self):
        lead = self.create_lead("Archived won")
        lead.action_set_won()
        self.env.cr.precommit.run()
        self.env["bus.bus"].sudo().search([]).unlink()
        lead.with_user(self.manager).write({"active": False})  # not toggle_active: 100 % kept
        self.assertEqual(lead.probability, 100)
        self.assertState(lead, "lost")
        self.assertEqual(self.progress_states(lead), [("lost", "lost")], "the salesperson is told it was lost")
        self.assertEqual(self.partner_a.opportunity_amount, 0.0, "not in the partner's open pipeline")
        self.env.company.crm_won_on_order_confirmation = True
        self.confirm_order(lead)
        self.assertFalse(lead.active, "confirming an order does not win a lost opportunity")

    def test_lost_then_reopened_is_open_everywhere(self):
        lead = self.create_lead("Reopened", probability=30)
        lead.action_set_lost()
        self.assertState(lead, "lost")
        self.env.cr.precommit.run()
        self.env["bus.bus"].sudo().search([]).unlink()
        lead.with_user(self.manager).action_unarchive()
        self.assertState(lead, "open")
        self.assertEqual(self.progress_states(lead), [("open", "reopened")])
        self.assertEqual(self.partner_a.opportunity_amount, 1000.0)
        self.env.company.crm_won_on_order_confirmation = True
        self.confirm_order(lead)
        self.assertState(lead, "won")

    def test_team_leader_told_the_outcome_of_the_rule(self):
        lead = self.create_lead("Told", probability=50)
        lead.action_set_won()
        lead.write({"active": False})
        lead._notify_team_leader_of_closing()
        message = self.env["mail.message"].search([("model", "=", "crm.lead"), ("res_id", "=", lead.id)], limit=1)
        self.assertIn("was lost", message.subject)

    def test_sql_and_field_agree_on_every_combination(self):
        leads = self.env["crm.lead"]
        for active in (True, False):
            for probability in (0, 0.01, 50, 99.99, 100):
                leads |= self.create_lead(f"{active} {probability}", probability=probability)
                if not active:
                    leads[-1:].write({"active": False, "probability": probability})
        states = self.states(leads)
        for lead in leads:
            expected = "lost" if not lead.active else "won" if lead.probability >= 100 else "open"
            self.assertEqual(set(states[lead.id].values()), {expected}, lead.name)

    def confirm_order(self, lead):
        order = self.env["sale.order"].create({
            "partner_id": self.partner_a.id, "opportunity_id": lead.id,
            "order_line": [(0, 0, {"product_id": self.product_a.id, "product_uom_qty": 1, "price_unit": 100})],
        })
        order.action_confirm()
        return order
