import random
from datetime import date, datetime, timedelta

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import XmlRpcCase
from .test_pipeline_flow import CLOSE_FROM, CLOSE_TO, FlowCase

COMMIT = 70.0  # the forecast's commit threshold, restated: the oracle does not import the code under test


class TrendCase(FlowCase):
    def trend(self, domain=None, **options):
        return self.env["crm.lead"].with_context(tz="UTC").get_pipeline_trend(
            [("team_id", "=", self.team.id), *(domain or [])], options,
        )

    def trend_by_loop(self, date_to, weeks, close_from=None, close_to=None, threshold=COMMIT):
        """The trend computed independently: the team's history rows read through the ORM,
        and for each week end, in a plain loop, each opportunity's last row before the next
        day (UTC) if it is open and due in the closing period."""
        self.env.flush_all()
        rows = self.env["crm.lead.history"].with_context(active_test=False).search_read(
            [("lead_id.team_id", "=", self.team.id)],
            ["lead_id", "date", "state", "date_deadline", "amount_company", "probability"], order="id",
        )
        result = []
        for back in range(weeks - 1, -1, -1):
            week_end = date_to - timedelta(days=7 * back)
            moment = datetime.combine(week_end + timedelta(days=1), datetime.min.time())
            last = {}
            for row in rows:
                lead_id = row["lead_id"][0]
                if row["date"] < moment and (lead_id not in last or row["date"] >= last[lead_id]["date"]):
                    last[lead_id] = row
            open_rows = [
                row for row in last.values()
                if row["state"] == "open"
                and (not close_from or (row["date_deadline"] and row["date_deadline"] >= close_from))
                and (not close_to or (row["date_deadline"] and row["date_deadline"] <= close_to))
            ]
            total = sum(row["amount_company"] for row in open_rows)
            committed = [row for row in open_rows if (row["probability"] or 0) >= threshold]
            result.append({
                "week_end": str(week_end),
                "count": len(open_rows),
                "pipeline": round(total, 2),
                "weighted": round(sum(row["amount_company"] * (row["probability"] or 0) / 100 for row in open_rows), 2),
                "commit": round(sum(row["amount_company"] for row in committed), 2),
                "best_case": round(total, 2),
            })
        return result

    def assertSameWeeks(self, weeks, expected, message=None):
        self.assertEqual([week["week_end"] for week in weeks], [week["week_end"] for week in expected], message)
        for week, truth in zip(weeks, expected, strict=True):
            self.assertEqual(week["count"], truth["count"], (message, week["week_end"]))
            for key in ("pipeline", "weighted", "commit", "best_case"):
                # a cent apart at most: SQL sums exact decimals, the loop binary floats, and a
                # half cent rounds either way
                self.assertAlmostEqual(week[key], truth[key], delta=0.011, msg=(message, week["week_end"], key))


@tagged("post_install", "-at_install")
class TestPipelineTrend(TrendCase):
    def test_weeks_by_hand(self):
        """Four weeks ending on Sundays, each opportunity's contribution known."""
        won = self.create_on(date(2026, 5, 1), expected_revenue=1000, probability=50, date_deadline="2026-05-20")
        self.write_on(date(2026, 5, 20), won, {"probability": 100})
        late = self.create_on(date(2026, 5, 12), expected_revenue=2000, probability=80, date_deadline="2026-06-15")
        lost = self.create_on(date(2026, 5, 1), expected_revenue=500, probability=10, date_deadline="2026-05-30")
        self.write_on(date(2026, 5, 15), lost, {"active": False})
        pulled = self.create_on(date(2026, 5, 1), expected_revenue=3000, probability=20, date_deadline="2026-09-01")
        self.write_on(date(2026, 5, 22), pulled, {"date_deadline": "2026-06-01"})
        self.write_on(date(2026, 5, 31), late, {"expected_revenue": 2500})  # on the last day: counted
        self.create_on(date(2026, 6, 1), expected_revenue=9999, date_deadline="2026-06-10")  # after the last week

        trend = self.trend(date_to="2026-05-31", weeks=4)
        self.assertEqual(trend["currency"], self.company.currency_id.name)
        self.assertEqual(trend["commit_threshold"], COMMIT)
        self.assertEqual(
            [(week["week_end"], week["count"], week["pipeline"], week["weighted"], week["commit"], week["best_case"])
             for week in trend["weeks"]],
            [
                ("2026-05-10", 3, 4500, 500 + 50 + 600, 0, 4500),
                ("2026-05-17", 3, 6000, 500 + 1600 + 600, 2000, 6000),
                ("2026-05-24", 2, 5000, 1600 + 600, 2000, 5000),
                ("2026-05-31", 2, 5500, 2000 + 600, 2500, 5500),
            ],
        )
        self.assertSameWeeks(trend["weeks"], self.trend_by_loop(date(2026, 5, 31), 4))
        self.assertNotIn("lead_ids", trend["weeks"][0])
        listed = self.trend(date_to="2026-05-31", weeks=4, lead_ids=True)
        self.assertEqual([week["lead_ids"] for week in listed["weeks"]], [
            sorted((won | lost | pulled).ids), sorted((won | late | pulled).ids), sorted((late | pulled).ids),
            sorted((late | pulled).ids),
        ])
        self.assertEqual(self.trend(date_to="2026-04-30", weeks=1, lead_ids=True)["weeks"][0]["lead_ids"], [])

        in_q2 = self.trend(date_to="2026-05-31", weeks=4, close_from=str(CLOSE_FROM), close_to=str(CLOSE_TO))
        self.assertEqual((in_q2["close_from"], in_q2["close_to"]), (str(CLOSE_FROM), str(CLOSE_TO)))
        self.assertEqual([(week["count"], week["pipeline"]) for week in in_q2["weeks"]],
                         [(2, 1500), (2, 3000), (2, 5000), (2, 5500)])
        self.assertSameWeeks(in_q2["weeks"], self.trend_by_loop(date(2026, 5, 31), 4, CLOSE_FROM, CLOSE_TO))

        committed = self.trend(date_to="2026-05-31", weeks=1, commit_threshold=20)
        self.assertEqual(committed["weeks"][0]["commit"], 5500)

    def test_week_boundaries(self):
        """A week ends at midnight where the user works: a change at that instant belongs to
        the next week."""
        lead = self.create_on(date(2026, 5, 1), expected_revenue=100, date_deadline="2026-05-20")
        for moment, amount in ((datetime(2026, 5, 17, 21, 59, 59), 150), (datetime(2026, 5, 17, 22), 175),
                               (datetime(2026, 5, 18), 200)):
            env = self.env(context=dict(self.env.context, crm_history_date=moment))
            lead.with_env(env).write({"expected_revenue": amount})
            env.flush_all()
        options = {"date_to": "2026-05-24", "weeks": 2}
        team = [("team_id", "=", self.team.id)]
        utc = self.env["crm.lead"].with_context(tz="UTC").get_pipeline_trend(team, options)
        self.assertEqual([week["pipeline"] for week in utc["weeks"]], [175, 200])
        self.assertSameWeeks(utc["weeks"], self.trend_by_loop(date(2026, 5, 24), 2))
        # in Zagreb (UTC+2 in May) the week of 17 May ends at 22:00 UTC
        zagreb = self.env["crm.lead"].with_context(tz="Europe/Zagreb").get_pipeline_trend(team, options)
        self.assertEqual([week["pipeline"] for week in zagreb["weeks"]], [150, 200])

    def test_random_histories_match_a_loop(self):
        """On random histories (amounts, probabilities, dates, won, lost, reopened), every
        week of the trend is what a plain loop over the history rows finds."""
        rng = random.Random(20261201)
        days = [date(2026, 3, 1) + timedelta(days=n) for n in range(100)]
        self.replay_random_world(rng, days, probabilities=[5, 10, 25, 30, 69.5, 70, 90, 95])
        for _case in range(8):
            date_to, weeks = rng.choice(days), rng.randint(1, 16)
            close = sorted(rng.sample(days, 2)) if rng.random() < 0.5 else (None, None)
            close_from, close_to = close if rng.random() < 0.8 else (close[0], None)
            threshold = rng.choice([COMMIT, 25])
            options = {"date_to": str(date_to), "weeks": weeks, "commit_threshold": threshold,
                       **({"close_from": str(close_from)} if close_from else {}),
                       **({"close_to": str(close_to)} if close_to else {})}
            trend = self.trend(**options)
            self.assertSameWeeks(trend["weeks"], self.trend_by_loop(date_to, weeks, close_from, close_to, threshold),
                                 options)

    def test_the_last_week_is_the_flow_end(self):
        """The trend's last week is the pipeline the flow ends on (same closing period)."""
        lead = self.create_on(date(2026, 4, 2), expected_revenue=1200, date_deadline="2026-05-01")
        self.write_on(date(2026, 4, 20), lead, {"expected_revenue": 1300})
        self.create_on(date(2026, 4, 21), expected_revenue=400, date_deadline="2026-06-01")
        flow = self.flow(date_from="2026-04-01", date_to="2026-04-30")
        trend = self.trend(date_to="2026-04-30", weeks=5, close_from=str(CLOSE_FROM), close_to=str(CLOSE_TO))
        self.assertEqual((trend["weeks"][-1]["count"], trend["weeks"][-1]["pipeline"]),
                         (flow["end"]["count"], flow["end"]["amount"]))
        # the screen colours the flow's steps by the sign the flow gives them
        self.assertEqual({step["key"]: step["sign"] for step in flow["steps"]}, {
            "created": 1, "pulled_in": 1, "reopened": 1, "increased": 1,
            "decreased": -1, "pushed_out": -1, "won": -1, "lost": -1,
        })

    def test_rights_and_queries(self):
        day = date(2026, 4, 10)
        self.create_on(day, expected_revenue=100, date_deadline="2026-05-01")
        self.create_on(day, expected_revenue=200, date_deadline="2026-05-01", user_id=self.salesman_other.id)
        lost = self.create_on(day, expected_revenue=40, date_deadline="2026-05-01")
        self.write_on(day + timedelta(days=7), lost, {"active": False})
        options = {"date_to": "2026-04-17", "weeks": 2}
        team = [("team_id", "=", self.team.id)]
        mine = self.env["crm.lead"].with_user(self.salesman).get_pipeline_trend(team, options)
        # a week before: own and (not yet lost) lost; the other salesperson's never
        self.assertEqual([(week["count"], week["pipeline"]) for week in mine["weeks"]], [(2, 140), (1, 100)])
        every = self.env["crm.lead"].with_user(self.salesman_all).get_pipeline_trend(team, options)
        self.assertEqual([week["pipeline"] for week in every["weeks"]], [340, 300])
        Lead = self.env["crm.lead"].with_user(self.salesman_all)
        Lead.get_pipeline_trend()  # caches warm
        with self.assertQueryCount(1):  # the history read in one query, whatever the number of weeks
            Lead.get_pipeline_trend([], {"weeks": 52})

    def test_bad_options(self):
        Lead = self.env["crm.lead"]
        for options in (
            {"weeks": 0}, {"weeks": 261}, {"weeks": 2.5}, {"weeks": "13"}, {"weeks": True},
            {"date_to": "soon"}, {"close_from": 20260101}, {"close_from": "2026-07-01", "close_to": "2026-06-01"},
            {"commit_threshold": 101}, {"commit_threshold": -1}, {"commit_threshold": "70"},
            {"lead_ids": 1}, {"unknown": 1}, ["weeks"],
        ):
            with self.assertRaises(UserError, msg=options):
                Lead.get_pipeline_trend([], options)
        with self.assertRaises(UserError):
            Lead.get_pipeline_trend("not a domain")
        # empty values are the defaults
        empty = {"weeks": None, "date_to": False, "close_from": "", "commit_threshold": None}
        trend = Lead.get_pipeline_trend([], empty)
        self.assertEqual(len(trend["weeks"]), 13)
        self.assertFalse(trend["close_from"])


@tagged("post_install", "-at_install")
class TestPipelineTrendXmlRpc(XmlRpcCase):
    rpc_login = "opp_trend_rpc"
    rpc_groups = "sales_team.group_sale_salesman_all_leads"

    def test_over_xmlrpc(self):
        self.call("crm.lead", "create", {"name": "RPC trend", "type": "opportunity", "expected_revenue": 700,
                                         "probability": 80, "date_deadline": str(date.today())})
        trend = self.call("crm.lead", "get_pipeline_trend", [("name", "=", "RPC trend")], {"weeks": 3})
        self.assertEqual(len(trend["weeks"]), 3)
        self.assertEqual(trend["weeks"][-1]["week_end"], str(date.today()))
        self.assertEqual(
            {key: trend["weeks"][-1][key] for key in ("count", "pipeline", "weighted", "commit", "best_case")},
            {"count": 1, "pipeline": 700, "weighted": 560, "commit": 700, "best_case": 700},
        )
        self.assertIs(trend["close_from"], False)  # no None over XML-RPC
