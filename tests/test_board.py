from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .test_workflow import WorkflowCase


@tagged("post_install", "-at_install")
class TestBoards(WorkflowCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Opportunities of two salespeople, in two currencies, on the tender workflow.
        cls.tender_leads = (
            cls.create_tender(name="T1", lines=[cls.line(1000)], probability_level_id=cls.levels[10].id)
            | cls.create_tender(name="T2", lines=[cls.line(500, 50)], probability_level_id=cls.levels[50].id)
            | cls.create_tender(
                name="T3",
                user_id=cls.salesman_other.id,
                currency_id=cls.eur.id,
                probability_level_id=cls.levels[50].id,
                lines=[cls.line(900, date_expected_invoice="2026-02-01")],
            )
        )
        cls.tender_leads[1].write({"stage_id": cls.preparation.id, "probability_level_id": cls.levels[50].id})
        cls.domain = [("opportunity_type_id", "=", cls.tender.id)]

    def expected(self, groupby, user=None):
        """Counts and net totals per group, computed in SQL independently of the board."""
        Lead = self.env["crm.lead"].with_user(user) if user else self.env["crm.lead"]
        ids = Lead.search([("type", "=", "opportunity"), *self.domain]).ids
        self.env.flush_all()
        self.env.cr.execute(
            f"SELECT {groupby}, COUNT(*), SUM(expected_revenue) FROM crm_lead WHERE id = ANY(%s) GROUP BY 1", [ids]
        )
        return {key: (count, round(amount, 2)) for key, count, amount in self.env.cr.fetchall()}

    def test_progress_board(self):
        board = self.env["crm.lead"].get_board("progress", self.domain)
        self.assertEqual(board["kind"], "progress")
        self.assertEqual(board["currency"], self.company.currency_id.name)
        levels = self.env["crm.probability.level"].search([])
        self.assertEqual([column["key"] for column in board["columns"]], levels.ids, "every level, even empty")
        expected = self.expected("probability_level_id")
        for column in board["columns"]:
            self.assertEqual((column["count"], column["amount"]), expected.get(column["key"], (0, 0)), column["label"])
            self.assertEqual(len(column["cards"]), column["count"])
        fifty = next(column for column in board["columns"] if column["key"] == self.levels[50].id)
        self.assertEqual((fifty["count"], fifty["amount"]), (2, 450 + 1000))
        card = next(card for card in fifty["cards"] if card["id"] == self.tender_leads[1].id)
        self.assertEqual(
            card,
            {
                "model": "crm.lead",
                "id": self.tender_leads[1].id,
                "name": "T2",
                "number": self.tender_leads[1].number,
                "partner": self.partner.display_name,
                "user": self.salesman.name,
                "stage": "Preparation",
                "level": self.levels[50].name,
                "amount": 450.0,
            },
        )

    def test_card_names_in_the_callers_language(self):
        """Stage and level names on the cards as Odoo reads them: translated, else in English."""
        self.env["res.lang"]._activate_lang("hr_HR")
        self.preparation.with_context(lang="hr_HR").name = "Priprema"
        self.levels[50].with_context(lang="hr_HR").name = "Pola-pola"
        for lang, stage, level in (("hr_HR", "Priprema", "Pola-pola"), ("en_US", "Preparation", self.levels[50].name)):
            board = self.env["crm.lead"].with_context(lang=lang).get_board("progress", self.domain)
            cards = {card["id"]: card for column in board["columns"] for card in column["cards"]}
            self.assertEqual((cards[self.tender_leads[1].id]["stage"], cards[self.tender_leads[1].id]["level"]),
                             (stage, level), lang)
            # no translation: the English name
            self.assertEqual(cards[self.tender_leads[0].id]["level"], self.levels[10].name, lang)

    def test_stages_board_shows_the_workflow(self):
        board = self.env["crm.lead"].get_board("stages", self.domain)
        self.assertEqual(
            [column["key"] for column in board["columns"]],
            self.tender.stage_ids.sorted("sequence").ids,
            "the type's stages, empty or not, and no other",
        )
        expected = self.expected("stage_id")
        for column in board["columns"]:
            self.assertEqual((column["count"], column["amount"]), expected.get(column["key"], (0, 0)), column["label"])
        awarded = board["columns"][-1]
        self.assertEqual((awarded["label"], awarded["count"], awarded["cards"]), ("Awarded", 0, []))

    def test_stages_board_matches_the_kanban_columns(self):
        groups = self.env["crm.lead"].read_group(
            [("type", "=", "opportunity"), *self.domain], ["amount_net_company:sum"], ["stage_id"]
        )
        board = self.env["crm.lead"].get_board("stages", self.domain)
        self.assertEqual(
            [(group["stage_id"][0], group["stage_id_count"], group["amount_net_company"]) for group in groups],
            [(column["key"], column["count"], column["amount"]) for column in board["columns"]],
        )

    def test_card_limit(self):
        board = self.env["crm.lead"].get_board("stages", self.domain, {"limit": 1})
        announced = board["columns"][0]
        self.assertEqual((announced["count"], len(announced["cards"])), (2, 1))

    def test_salesman_sees_own_opportunities_only(self):
        board = self.env["crm.lead"].with_user(self.salesman).get_board("progress", self.domain)
        ids = {card["id"] for column in board["columns"] for card in column["cards"]}
        self.assertEqual(ids, set(self.tender_leads[:2].ids))
        expected = self.expected("probability_level_id", user=self.salesman)
        for column in board["columns"]:
            self.assertEqual((column["count"], column["amount"]), expected.get(column["key"], (0, 0)))

    def test_portal_user_cannot_read_boards(self):
        portal = self.create_user("opp_portal", "base.group_portal")
        with self.assertRaises(AccessError):
            self.env["crm.lead"].with_user(portal).get_board("progress")

    def test_bad_input(self):
        Lead = self.env["crm.lead"]
        for kind, domain, options, message in (
            ("pipeline", None, None, "Unknown board"),
            ("progress", "not a domain", None, "domain"),
            ("progress", [("name", "=")], None, "domain"),
            ("progress", None, {"colour": "red"}, "options"),
            ("progress", None, {"limit": -1}, "limit"),
            ("progress", None, ["limit"], "options"),
        ):
            with self.assertRaisesRegex(UserError, message):
                Lead.get_board(kind, domain, options)

    def test_one_query_count_whatever_the_number_of_opportunities(self):
        Lead = self.env["crm.lead"]
        Lead.get_board("stages", self.domain)  # warm the caches (levels, stages, fields)
        self.env.invalidate_all()
        # the groups, the levels (stages: the workflow), the cards with their names, the levels' or
        # stages' names, the company and its currency
        with self.assertQueryCount(6):
            Lead.get_board("progress", self.domain)
        self.env.invalidate_all()
        with self.assertQueryCount(7):
            Lead.get_board("stages", self.domain)
        self.env.invalidate_all()
        for index in range(25):
            self.create_tender(name=f"More {index}", expected_revenue=100 * index, partner_id=self.partner.id)
        self.env.invalidate_all()
        with self.assertQueryCount(6):
            Lead.get_board("progress", self.domain)
