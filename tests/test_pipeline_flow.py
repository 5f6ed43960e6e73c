import random
from datetime import date, datetime, timedelta

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import OpportunityCase, XmlRpcCase

CLOSE_FROM, CLOSE_TO = date(2026, 4, 1), date(2026, 6, 30)  # the closing period (Q2 2026)


class FlowCase(OpportunityCase):
    """A world replayed with a clock: ``at(day)`` is an environment whose flushes date the
    history rows on that day (noon UTC), as a writer replaying the past does."""

    def at(self, day):
        return self.env(context=dict(self.env.context, crm_history_date=datetime.combine(day, datetime.min.time())
                                     + timedelta(hours=12)))

    def write_on(self, day, lead, vals):
        env = self.at(day)
        lead.with_env(env).write(vals)
        env.flush_all()

    def create_on(self, day, **vals):
        env = self.at(day)
        lead = env["crm.lead"].create({"name": "Flow", "type": "opportunity", "team_id": self.team.id,
                                       "company_id": self.company.id, "user_id": self.salesman.id, **vals})
        env.flush_all()
        return lead

    def flow(self, domain=None, **options):
        return self.env["crm.lead"].with_context(tz="UTC").get_pipeline_flow(
            [("team_id", "=", self.team.id), *(domain or [])],
            {"close_from": str(CLOSE_FROM), "close_to": str(CLOSE_TO), **options},
        )

    def pipeline_in_sql(self, moment):
        """The pipeline of the period as it stood at ``moment``, computed independently:
        ``{lead id: amount}``."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT lead.id, history.amount_company
                 FROM crm_lead lead
                 JOIN LATERAL (SELECT * FROM crm_lead_history row WHERE row.lead_id = lead.id AND row.date < %s
                                ORDER BY row.date DESC, row.id DESC LIMIT 1) history ON TRUE
                WHERE lead.team_id = %s AND history.state = 'open'
                  AND history.date_deadline BETWEEN %s AND %s""",
            [moment, self.team.id, CLOSE_FROM, CLOSE_TO],
        )
        return dict(self.env.cr.fetchall())

    def replay_random_world(self, rng, days, probabilities=()):
        """Opportunities created and changed at random on ``days`` (amounts, expected dates,
        won, lost, reopened; with ``probabilities``, stated ones too): a world whose every
        pipeline the tests compute independently from its rows."""
        deadlines = ["2026-03-20", "2026-04-10", "2026-05-15", "2026-06-30", "2026-07-01", "2026-08-20", False]
        leads = self.env["crm.lead"]
        for day in days:
            for _event in range(rng.randint(0, 3)):
                if not leads or rng.random() < 0.3:
                    leads |= self.create_on(day, expected_revenue=rng.choice([0, 100, 2500, 10000]),
                                            date_deadline=rng.choice(deadlines),
                                            **({"probability": rng.choice(probabilities)} if probabilities else {}))
                    continue
                changes = [
                    {"expected_revenue": rng.choice([50, 300, 2500, 7000])},
                    {"date_deadline": rng.choice(deadlines)},
                    {"probability": 100},
                    {"active": False},
                    {"active": True, "probability": rng.choice([10, 50, 80])},
                    *([{"probability": rng.choice(probabilities)}] if probabilities else []),
                ]
                self.write_on(day, rng.choice(leads).with_context(active_test=False), rng.choice(changes))
        return leads

    def assertAddsUp(self, flow):
        steps = {step["key"]: step for step in flow["steps"]}
        self.assertAlmostEqual(flow["start"]["amount"] + sum(step["amount"] for step in steps.values()),
                               flow["end"]["amount"], places=2)
        self.assertEqual(flow["start"]["count"] + sum(step["count_delta"] for step in steps.values()),
                         flow["end"]["count"])
        return steps


@tagged("post_install", "-at_install")
class TestPipelineFlow(FlowCase):
    def test_every_step(self):
        start, end = date(2026, 4, 1), date(2026, 5, 31)
        before = start - timedelta(days=10)
        grows = self.create_on(before, expected_revenue=1000, date_deadline="2026-05-15")
        shrinks = self.create_on(before, expected_revenue=2000, date_deadline="2026-05-20")
        pushed = self.create_on(before, expected_revenue=3000, date_deadline="2026-06-10")
        won = self.create_on(before, expected_revenue=4000, date_deadline="2026-04-30")
        lost = self.create_on(before, expected_revenue=5000, date_deadline="2026-06-01")
        pulled = self.create_on(before, expected_revenue=6000, date_deadline="2026-09-01")
        reopened = self.create_on(before, expected_revenue=7000, date_deadline="2026-06-20")
        self.write_on(before, reopened, {"active": False})
        untouched = self.create_on(before, expected_revenue=800, date_deadline="2026-05-05")
        outside = self.create_on(before, expected_revenue=9999, date_deadline="2026-12-01")
        day = start + timedelta(days=5)
        self.write_on(day, grows, {"expected_revenue": 1500})
        self.write_on(day, shrinks, {"expected_revenue": 1200})
        self.write_on(day, pushed, {"date_deadline": "2026-08-01"})
        self.write_on(day, won, {"expected_revenue": 4500})
        self.write_on(day + timedelta(days=1), won, {"probability": 100})
        self.write_on(day, lost, {"active": False})
        self.write_on(day, pulled, {"date_deadline": "2026-06-15"})
        self.write_on(day, reopened, {"active": True})
        created = self.create_on(day, expected_revenue=600, date_deadline="2026-05-25")
        created_won = self.create_on(day, expected_revenue=700, date_deadline="2026-05-26")
        self.write_on(day + timedelta(days=2), created_won, {"probability": 100})
        self.create_on(end + timedelta(days=1), expected_revenue=100, date_deadline="2026-05-01")  # after the span
        self.write_on(day, outside, {"expected_revenue": 1})

        flow = self.flow(date_from=str(start), date_to=str(end))
        steps = self.assertAddsUp(flow)
        self.assertEqual(set(flow["start"]["lead_ids"]), {*(grows | shrinks | pushed | won | lost | untouched).ids})
        self.assertEqual(flow["start"]["amount"], 1000 + 2000 + 3000 + 4000 + 5000 + 800)
        expected = {
            "created": ({created.id, created_won.id}, 600 + 700),
            "pulled_in": ({pulled.id}, 6000),
            "reopened": ({reopened.id}, 7000),
            "increased": ({grows.id, won.id}, 500 + 500),
            "decreased": ({shrinks.id}, -800),
            "pushed_out": ({pushed.id}, -3000),
            "won": ({won.id, created_won.id}, -4500 - 700),
            "lost": ({lost.id}, -5000),
        }
        self.assertEqual({key: (set(step["lead_ids"]), step["amount"]) for key, step in steps.items()}, expected)
        self.assertEqual(flow["end"]["amount"], 1500 + 1200 + 800 + 6000 + 7000 + 600)
        for moment, side in ((datetime(2026, 4, 1), "start"), (datetime(2026, 6, 1), "end")):
            truth = self.pipeline_in_sql(moment)
            self.assertEqual(set(flow[side]["lead_ids"]), set(truth))
            self.assertAlmostEqual(flow[side]["amount"], sum(truth.values()), places=2)

    def test_random_histories_add_up(self):
        """Property: on random histories, start + steps = end (amounts and counts), and both
        ends are the point-in-time pipeline computed in SQL."""
        rng = random.Random(20261130)
        days = [date(2026, 3, 1) + timedelta(days=n) for n in range(120)]
        self.replay_random_world(rng, days)
        for _case in range(12):
            start, end = sorted(rng.sample(days, 2))
            flow = self.flow(date_from=str(start), date_to=str(end))
            self.assertAddsUp(flow)
            for moment, side in ((datetime.combine(start, datetime.min.time()), "start"),
                                 (datetime.combine(end + timedelta(days=1), datetime.min.time()), "end")):
                truth = self.pipeline_in_sql(moment)
                self.assertEqual(set(flow[side]["lead_ids"]), set(truth), (start, end, side))
                self.assertAlmostEqual(flow[side]["amount"], sum(truth.values()), places=2)

    def test_rights_and_queries(self):
        day = date(2026, 4, 10)
        own = self.create_on(day, expected_revenue=100, date_deadline="2026-05-01")
        other = self.create_on(day, expected_revenue=200, date_deadline="2026-05-01", user_id=self.salesman_other.id)
        flow = self.env["crm.lead"].with_user(self.salesman).get_pipeline_flow(
            [("team_id", "=", self.team.id)],
            {"date_from": "2026-04-01", "date_to": "2026-04-30", "close_from": str(CLOSE_FROM),
             "close_to": str(CLOSE_TO)},
        )
        self.assertEqual(flow["end"]["lead_ids"], own.ids)
        self.assertNotIn(other.id, [lead_id for step in flow["steps"] for lead_id in step["lead_ids"]])
        Lead = self.env["crm.lead"].with_user(self.salesman_all)
        Lead.get_pipeline_flow()  # caches warm
        with self.assertQueryCount(1):  # the history read in one query
            Lead.get_pipeline_flow([], {"date_from": "2026-04-01", "date_to": "2026-04-30"})

    def test_bad_options(self):
        Lead = self.env["crm.lead"]
        for options in ({"date_from": "2026-05-01", "date_to": "2026-04-01"}, {"close_from": "2026-07-01",
                        "close_to": "2026-06-01"}, {"date_to": "soon"}, {"unknown": 1}, ["date_to"]):
            with self.assertRaises(UserError):
                Lead.get_pipeline_flow([], options)
        with self.assertRaises(UserError):
            Lead.get_pipeline_flow("not a domain")


@tagged("post_install", "-at_install")
class TestPipelineFlowXmlRpc(XmlRpcCase):
    rpc_login = "opp_flow_rpc"
    rpc_groups = "sales_team.group_sale_salesman_all_leads"

    def test_over_xmlrpc(self):
        lead_id = self.call("crm.lead", "create", {"name": "RPC flow", "type": "opportunity",
                                                     "expected_revenue": 700, "date_deadline": str(date.today())})
        flow = self.call("crm.lead", "get_pipeline_flow", [], {"date_from": str(date.today())})
        self.assertEqual([step["key"] for step in flow["steps"]],
                         ["created", "pulled_in", "reopened", "increased", "decreased", "pushed_out", "won", "lost"])
        created = next(step for step in flow["steps"] if step["key"] == "created")
        self.assertIn(lead_id, created["lead_ids"])
        self.assertEqual(flow["start"]["amount"] + sum(step["amount"] for step in flow["steps"]),
                         flow["end"]["amount"])
