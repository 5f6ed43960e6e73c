from datetime import date, timedelta

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import Form, tagged

from .common import OpportunityCase, XmlRpcCase
from .test_pipeline_flow import FlowCase


class HistoryCase(OpportunityCase):
    """Fixtures: stages ``qualified`` (25 % level), ``proposal`` (75 %) and a won stage of
    ``team``; ``rows(lead)`` flushes and gives the lead's history, oldest first."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Stage = cls.env["crm.stage"]
        cls.qualified = Stage.create({"name": "H Qualified", "sequence": 301, "team_id": cls.team.id,
                                      "probability_level_id": cls.levels[25].id})
        cls.proposal = Stage.create({"name": "H Proposal", "sequence": 302, "team_id": cls.team.id,
                                     "probability_level_id": cls.levels[75].id})
        cls.won_stage = Stage.create({"name": "H Won", "sequence": 303, "team_id": cls.team.id, "is_won": True})

    def rows(self, lead):
        self.env.flush_all()
        return self.env["crm.lead.history"].search([("lead_id", "=", lead.id)], order="date, id")

    def create_lead(self, **values):
        return self.create_opportunity(**{"stage_id": self.qualified.id, "expected_revenue": 1000, **values})


@tagged("post_install", "-at_install")
class TestHistoryRows(HistoryCase):
    def test_creation_row(self):
        lead = self.create_lead(date_deadline="2026-09-30")
        [row] = self.rows(lead)
        self.assertRecordValues(row, [{
            "stage_id": self.qualified.id, "probability": 25, "probability_level_id": self.levels[25].id,
            "amount_company": 1000, "amount_net": 1000, "currency_id": self.company.currency_id.id, "rate": 1,
            "date_deadline": self.date("2026-09-30"), "user_id": self.salesman.id, "team_id": self.team.id,
            "state": "open", "reconstructed": False, "company_id": self.company.id,
        }])

    def test_a_row_per_change_and_none_without_one(self):
        lead = self.create_lead()
        lead.write({"name": "Renamed", "priority": "2", "description": "not part of the pipeline"})
        self.assertEqual(len(self.rows(lead)), 1)
        lead.with_user(self.salesman_all).write({"stage_id": self.proposal.id})
        self.env.flush_all()  # a row per flush: changes written together make one row
        lead.write({"date_deadline": "2026-10-15"})
        self.env.flush_all()
        lead.write({"stage_id": self.proposal.id})  # the same stage: nothing changes
        rows = self.rows(lead)
        self.assertEqual(len(rows), 3)
        self.assertEqual((rows[1].stage_id, rows[1].probability, rows[1].changed_by_id),
                         (self.proposal, 75, self.salesman_all))
        self.assertEqual(rows[2].date_deadline, self.date("2026-10-15"))
        self.assertEqual(rows[2].probability, 75, "the values after the change, all of them")

    def test_every_tracked_value(self):
        lead = self.create_lead()
        self.rows(lead)  # the creation's row
        changes = [
            {"probability": 33}, {"expected_revenue": 2000}, {"currency_id": self.eur.id},
            {"date_expected_invoice": "2026-11-01"}, {"user_id": self.salesman_other.id},
            {"team_id": self.env["crm.team"].create({"name": "H other team"}).id},
            {"opportunity_type_id": self.env["crm.opportunity.type"].create({"code": "HT", "name": "H type"}).id},
            {"probability_level_id": self.levels[90].id},
        ]
        for vals in changes:
            lead.write(vals)
            self.env.flush_all()
        rows = self.rows(lead)
        self.assertEqual(len(rows), 1 + len(changes), rows.read())

    def test_one_insert_per_flush_whatever_the_number(self):
        """The history adds the same queries for 10 opportunities as for 100."""
        def stage_write_queries(count):
            leads = self.env["crm.lead"].create([
                {"name": f"bulk {index}", "type": "opportunity", "team_id": self.team.id,
                 "stage_id": self.qualified.id, "company_id": self.company.id} for index in range(count)
            ])
            self.env.flush_all()
            queries = self.env.cr.sql_log_count
            leads.write({"stage_id": self.proposal.id})
            self.env.flush_all()
            self.assertEqual(self.env["crm.lead.history"].search_count([("lead_id", "in", leads.ids)]), 2 * count)
            return self.env.cr.sql_log_count - queries
        stage_write_queries(10)  # caches warm
        self.assertEqual(stage_write_queries(10), stage_write_queries(100))

    def test_won_and_lost_and_reopened(self):
        won = self.create_lead()
        self.env["crm.lead.won"].create({
            "lead_ids": won.ids, "won_reason_id": self.env["crm.won.reason"].search([], limit=1).id,
            "close_description": "best offer",
        }).action_won_reason_apply()
        lost = self.create_lead()
        self.env["crm.lead.lost"].create({"lead_ids": lost.ids, "lost_reason_id": self.env["crm.lost.reason"].create(
            {"name": "H too expensive"}).id}).action_lost_reason_apply()
        self.assertEqual(self.rows(won)[-1].state, "won")
        self.assertEqual(self.rows(lost)[-1].state, "lost")
        lost.action_unarchive()
        self.assertEqual(self.rows(lost).mapped("state"), ["open", "lost", "open"])

    def test_form(self):
        lead = self.create_lead()
        with Form(lead) as form:
            form.probability_level_id = self.levels[50]
        self.assertEqual(self.rows(lead)[-1].probability, 50)

    def test_import(self):
        result = self.env["crm.lead"].load(["name", "type", "expected_revenue"], [["Imported", "opportunity", "4500"]])
        lead = self.env["crm.lead"].browse(result["ids"])
        self.assertEqual(self.rows(lead).mapped("amount_company"), [4500])

    def test_merge(self):
        first = self.create_lead(expected_revenue=100)
        second = self.create_lead(expected_revenue=200)
        merged = (first | second).merge_opportunity(auto_unlink=True)
        self.assertTrue(self.rows(merged), "the surviving opportunity keeps its history")
        self.assertFalse(self.env["crm.lead.history"].search([("lead_id", "in", ((first | second) - merged).ids)]))

    def test_compute_values_from_quotation(self):
        lead = self.create_lead()
        product = self.env["product.product"].create({"name": "H product", "list_price": 800,
                                                      "categ_id": self.category_hw.id})
        self.env["sale.order"].create({
            "partner_id": self.partner.id, "opportunity_id": lead.id,
            "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 2, "price_unit": 800})],
        })
        lead.action_compute_from_quotations()
        self.assertEqual(self.rows(lead)[-1].amount_company, 1600)

    def test_automated_action(self):
        lead = self.create_lead()
        field = self.env["ir.model.fields"]._get("crm.lead", "date_deadline")
        self.env["base.automation"].create({
            "name": "H deadline on proposal", "model_id": self.env["ir.model"]._get_id("crm.lead"),
            "trigger": "on_stage_set", "trigger_field_ids": [Command.set(
                self.env["ir.model.fields"]._get("crm.lead", "stage_id").ids)],
            "action_server_ids": [Command.create({
                "name": "H set the deadline", "model_id": self.env["ir.model"]._get_id("crm.lead"),
                "state": "object_write", "update_path": "date_deadline", "update_field_id": field.id,
                "evaluation_type": "value", "value": "2027-01-31",
            })],
        })
        lead.write({"stage_id": self.proposal.id})
        self.assertEqual(self.rows(lead)[-1].date_deadline, self.date("2027-01-31"))

    def test_scoring_cron_and_level_table(self):
        lead = self.create_lead()
        self.env.flush_all()
        # what Odoo's scoring cron does to a probability, then its end
        self.env.cr.execute("UPDATE crm_lead SET probability = 61 WHERE id = %s", [lead.id])
        self.env["crm.lead"]._update_automated_probabilities()
        self.assertEqual(self.rows(lead)[-1].probability, 61)
        # the nightly nudges: under 5 points and the same level, no row; a new level, a row
        for probability, rows in ((64, 2), (73, 3), (75, 4), (77, 4)):
            self.env.cr.execute("UPDATE crm_lead SET probability = %s WHERE id = %s", [probability, lead.id])
            self.env["crm.lead"]._update_automated_probabilities()
            self.assertEqual(len(self.rows(lead)), rows, probability)
        self.env["crm.probability.level"].create({"code": "H76", "name": "H seventy-six", "percentage": 76})
        self.assertEqual(self.rows(lead)[-1].probability_level_id.code, "H76", "a level table edit is a row")

    def test_rights(self):
        own = self.create_lead()
        other = self.create_lead(user_id=self.salesman_other.id)
        History = self.env["crm.lead.history"].with_user(self.salesman)
        self.env.flush_all()
        self.assertEqual(History.search([("lead_id", "in", (own | other).ids)]).lead_id, own)
        for method, args in (("create", [{"lead_id": own.id, "date": "2026-01-01"}]), ("unlink", [])):
            with self.assertRaises(AccessError):
                getattr(History.search([("lead_id", "=", own.id)]) if method == "unlink" else History, method)(*args)
        with self.assertRaises(AccessError):
            History.search([("lead_id", "=", own.id)]).write({"probability": 99})


@tagged("post_install", "-at_install")
class TestHistorySeeding(HistoryCase):
    def test_rebuilt_from_what_odoo_kept(self):
        """An opportunity older than the module: its tracked changes and its workflow log
        replayed backwards, marked reconstructed; then where it stands."""
        lead = self.create_lead().with_context(tracking_disable=False)
        self.env.cr.precommit.run()  # Odoo tracks no change of a record created in the transaction
        lead.write({"expected_revenue": 1500})
        self.env.cr.precommit.run()
        lead.write({"stage_id": self.proposal.id, "user_id": self.salesman_other.id})
        self.env.cr.precommit.run()
        lead.action_set_won()
        self.env.cr.precommit.run()
        self.env.flush_all()
        self.env["crm.lead.history"].search([("lead_id", "=", lead.id)]).sudo().unlink()
        self.env["crm.lead.stage.history"].search([("lead_id", "=", lead.id)]).sudo().unlink()
        self.env["crm.lead.history"]._seed()
        rows = self.rows(lead)
        self.assertTrue(all(rows.mapped("reconstructed")))
        self.assertEqual(rows.mapped("amount_company"), [1000, 1500, 1500, 1500])
        self.assertEqual([row.stage_id for row in rows], [self.qualified, self.qualified, self.proposal, lead.stage_id])
        self.assertTrue(lead.stage_id.is_won)
        self.assertEqual(rows.mapped("state"), ["open", "open", "open", "won"])
        self.assertEqual([row.probability for row in rows[:3]], [25, 25, 75], "the level each stage gives")
        self.assertEqual(rows[2].user_id, self.salesman_other)
        self.assertEqual(rows[1].user_id, self.salesman)
        lead.write({"probability": 100, "date_deadline": "2027-02-02"})
        rows = self.rows(lead)
        self.assertFalse(rows[-1].reconstructed, rows.read(["date", "reconstructed", "date_deadline", "probability"]))


@tagged("post_install", "-at_install")
class TestMonthSnapshots(FlowCase):
    """``month_snapshot``: the rows the forecast reads, kept up to date as rows are added,
    checked after every write against the rule worked out here row by row."""

    def expected_flags(self, lead):
        self.env.flush_all()
        self.env.cr.precommit.run()  # the marks are set once, when the transaction commits
        self.env.cr.execute(
            "SELECT id, date, state, month_snapshot FROM crm_lead_history WHERE lead_id = %s ORDER BY date, id",
            [lead.id],
        )
        rows = self.env.cr.fetchall()
        expected = []
        for number, (_id, moment, state, _flag) in enumerate(rows):
            before = rows[number - 1] if number else None
            after = rows[number + 1] if number + 1 < len(rows) else None
            next_month = (moment.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0,
                                                                               microsecond=0)
            expected.append(
                before is None or after is None or state != before[2] or state != after[2] or after[1] >= next_month
            )
        return [flag for *_values, flag in rows], expected

    def test_marks_follow_every_new_row(self):
        lead = self.create_on(date(2026, 1, 10), expected_revenue=1000)
        steps = [
            (date(2026, 1, 20), {"expected_revenue": 1200}),  # replaced within January: not seen
            (date(2026, 1, 28), {"expected_revenue": 1300}),  # seen on February 1st
            (date(2026, 2, 15), {"date_deadline": "2026-05-31"}),
            (date(2026, 2, 20), {"expected_revenue": 1400}),
            (date(2026, 1, 25), {"expected_revenue": 1250}),  # a replay dated between older rows
            (date(2026, 3, 5), {"active": False}),  # lost: the last open row is kept
            (date(2026, 3, 5), {"active": True}),  # reopened the same day
            (date(2026, 3, 9), {"expected_revenue": 900}),
        ]
        for day, values in steps:
            self.write_on(day, lead, values)
            stored, expected = self.expected_flags(lead)
            self.assertEqual(stored, expected, f"after the write of {day}: {values}")
        stored, _expected = self.expected_flags(lead)
        self.assertEqual(len(stored), 1 + len(steps))
        self.assertIn(False, stored, "rows replaced within their month are left out")

    def test_rows_of_the_transaction_are_read_before_they_are_marked(self):
        lead = self.create_on(date(2026, 1, 10), expected_revenue=1000)
        self.write_on(date(2026, 1, 12), lead, {"expected_revenue": 1100})
        self.env.cr.execute("SELECT month_snapshot FROM crm_lead_history WHERE lead_id = %s", [lead.id])
        self.assertEqual({flag for (flag,) in self.env.cr.fetchall()}, {True}, "each written as a last row is")
        pipeline = self.env["crm.lead"]._forecast_tables([("id", "=", lead.id)])["pipeline"]
        self.assertEqual(list(pipeline["amount"]), [1000, 1100], "read all the same")
        self.write_on(date(2026, 1, 14), lead, {"expected_revenue": 1200})
        self.assertEqual(self.expected_flags(lead), ([True, False, True], [True, False, True]),
                         "a row replaced within its month unmarked at commit")

    def test_rebuilt_rows_are_marked(self):
        """The installation's rows, written unmarked then marked in one pass (``_seed``)."""
        lead = self.create_on(date(2026, 1, 10), expected_revenue=1000).with_context(tracking_disable=False)
        self.env.cr.precommit.run()  # Odoo tracks no change of a record created in the transaction
        for revenue in (1100, 1200, 1300):
            lead.write({"expected_revenue": revenue})
            self.env.cr.precommit.run()
        lead.action_set_lost()
        self.env.flush_all()
        self.env["crm.lead.history"].search([("lead_id", "=", lead.id)]).sudo().unlink()
        self.env["crm.lead.history"]._seed()
        stored, expected = self.expected_flags(lead)
        self.assertEqual(stored, expected)
        self.assertEqual(stored, [True, False, False, True], "created, three changes of one day replaced in turn")

    def test_rows_without_marks_are_marked_at_update(self):
        """Rows written before the column existed: the module's update marks them all."""
        lead = self.create_on(date(2026, 1, 10), expected_revenue=1000)
        self.write_on(date(2026, 1, 12), lead, {"expected_revenue": 1100})
        self.write_on(date(2026, 3, 12), lead, {"expected_revenue": 1200})
        self.env.cr.execute("UPDATE crm_lead_history SET month_snapshot = NULL WHERE lead_id = %s", [lead.id])
        self.env["crm.lead.history"].init()
        stored, expected = self.expected_flags(lead)
        self.assertEqual(stored, expected)
        self.assertEqual(stored, [True, True, True])


@tagged("post_install", "-at_install")
class TestHistoryXmlRpc(XmlRpcCase):
    rpc_login = "opp_history_rpc"

    def test_rpc_write_leaves_a_row(self):
        lead_id = self.call("crm.lead", "create", {"name": "RPC history", "type": "opportunity",
                                                     "expected_revenue": 700})
        self.call("crm.lead", "write", [lead_id], {"expected_revenue": 900})
        rows = self.call("crm.lead.history", "search_read", [("lead_id", "=", lead_id)], [], order="date, id")
        self.assertEqual([row["amount_company"] for row in rows], [700, 900], [
            {key: value for key, value in row.items() if rows[0][key] != value} for row in rows])
