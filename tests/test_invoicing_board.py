from lxml import etree

from odoo.addons.account.tests.common import AccountTestInvoicingCommon
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from ..models.crm_lead_board import BOARD_CARD_LIMIT


@tagged("post_install", "-at_install")
class TestInvoicingBoard(AccountTestInvoicingCommon):
    """get_board("invoicing"): opportunities, confirmed orders and posted invoices by month."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        company = cls.env.company
        cls.seller = new_test_user(
            cls.env,
            "opp_inv_seller",
            groups="sales_team.group_sale_salesman",
            company_id=company.id,
            company_ids=[company.id],
            tz="Europe/Zagreb",
        )
        cls.other = new_test_user(
            cls.env,
            "opp_inv_other",
            groups="sales_team.group_sale_salesman",
            company_id=company.id,
            company_ids=[company.id],
        )
        Lead = cls.env["crm.lead"]
        cls.leads = Lead.create(
            [
                {
                    "name": "Inv open",
                    "type": "opportunity",
                    "user_id": cls.seller.id,
                    "expected_revenue": 1000,
                    "date_expected_invoice": "2026-01-20",
                    "partner_id": cls.partner_a.id,
                },
                {
                    "name": "Inv other",
                    "type": "opportunity",
                    "user_id": cls.other.id,
                    "expected_revenue": 400,
                    "date_expected_invoice": "2026-02-10",
                },
                {
                    "name": "Inv outside",
                    "type": "opportunity",
                    "user_id": cls.seller.id,
                    "expected_revenue": 99,
                    "date_expected_invoice": "2025-12-31",
                },
            ]
        )
        order = cls.env["sale.order"].create(
            {
                "partner_id": cls.partner_a.id,
                "user_id": cls.seller.id,
                "opportunity_id": cls.leads[0].id,
                # 2026-03-31 23:30 UTC is 1 April in Zagreb, where the salesperson works
                "date_order": "2026-03-31 23:30:00",
                "order_line": [(0, 0, {"product_id": cls.product_a.id, "price_unit": 700, "tax_id": False})],
            }
        )
        order.action_confirm()
        order.date_order = "2026-03-31 23:30:00"
        cls.env["sale.order"].create(
            {  # a quotation: not on the board
                "partner_id": cls.partner_a.id,
                "user_id": cls.seller.id,
                "order_line": [(0, 0, {"product_id": cls.product_a.id, "price_unit": 5})],
            }
        )
        cls.invoice = cls.init_invoice(
            "out_invoice", partner=cls.partner_a, invoice_date="2026-02-28", amounts=[300], post=True
        )
        cls.invoice.invoice_user_id = cls.seller
        cls.refund = cls.init_invoice(
            "out_refund", partner=cls.partner_a, invoice_date="2026-03-01", amounts=[50], post=True
        )
        cls.refund.invoice_user_id = cls.other
        cls.init_invoice("out_invoice", partner=cls.partner_a, invoice_date="2026-02-15", amounts=[1])  # draft
        cls.options = {"date_from": "2026-01-01", "date_to": "2026-06-30"}

    def board(self, user=None, **options):
        Lead = self.env["crm.lead"].with_user(user) if user else self.env["crm.lead"]
        return Lead.get_board("invoicing", None, {**self.options, **options})

    def expected_sql(self, user_ids=None):
        """Counts and sums per (month, type), straight from the tables."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT to_char(date, 'YYYY-MM'), document_type, COUNT(*), SUM(amount) "
            "FROM crm_invoicing_analysis WHERE company_id = %s AND date BETWEEN %s AND %s "
            "AND (%s IS NULL OR user_id = ANY(%s) OR user_id IS NULL) GROUP BY 1, 2",
            [self.env.company.id, "2026-01-01", "2026-06-30", user_ids and True, user_ids or []],
        )
        return {(month, kind): (count, round(amount, 2)) for month, kind, count, amount in self.env.cr.fetchall()}

    def test_columns_counts_and_amounts(self):
        board = self.board()
        self.assertEqual(board["currency"], self.env.company.currency_id.name)
        self.assertEqual(
            [column["key"] for column in board["columns"]],
            ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"],
        )
        expected = self.expected_sql()
        for column in board["columns"]:
            counts = [value for (month, _kind), value in expected.items() if month == column["key"]]
            self.assertEqual(column["count"], sum(count for count, _amount in counts), column["key"])
            self.assertAlmostEqual(column["amount"], sum(amount for _count, amount in counts), 2)
        february = board["columns"][1]
        self.assertEqual(sorted(card["name"] for card in february["cards"]), sorted(["Inv other", self.invoice.name]))
        self.assertEqual(board["columns"][2]["amount"], -50, "a credit note counts negative")

    def test_order_in_the_salesperson_month(self):
        board = self.board(document_types=["order"])
        april = board["columns"][3]
        self.assertEqual((april["key"], april["count"], april["amount"]), ("2026-04", 1, 700))
        self.assertEqual(board["columns"][2]["count"], 0)

    def test_payment_state_on_cards(self):
        board = self.board(document_types=["invoice"])
        card = next(card for card in board["columns"][1]["cards"] if card["id"] == self.invoice.id)
        self.assertEqual((card["model"], card["payment_state"], card["amount"]), ("account.move", "not_paid", 300))

    def test_collapse(self):
        board = self.board(collapse=["opportunity", "invoice"])
        february = board["columns"][1]
        collapsed = [card for card in february["cards"] if card.get("collapsed")]
        self.assertEqual(
            sorted((card["document_type"], card["count"], card["amount"]) for card in collapsed),
            [("invoice", 1, 300), ("opportunity", 1, 400)],
        )
        self.assertEqual(february["count"], 2)

    def test_salesperson_sees_own_documents(self):
        board = self.board(user=self.seller)
        ids = {(card["model"], card["id"]) for column in board["columns"] for card in column["cards"]}
        self.assertIn(("crm.lead", self.leads[0].id), ids)
        self.assertNotIn(("crm.lead", self.leads[1].id), ids)
        self.assertNotIn(("account.move", self.refund.id), ids)
        self.assertEqual(sum(column["amount"] for column in board["columns"]), 1000 + 700 + 300)

    def test_date_filter_per_document_type(self):
        """Each type within its own dates: here opportunities of January only, invoices of
        March onwards, orders over the whole period."""
        board = self.board(date_filters={
            "opportunity": {"date_from": "2026-01-01", "date_to": "2026-01-31"},
            "invoice": {"date_from": "2026-03-01"},
        })
        cards = {column["key"]: sorted(card["name"] for card in column["cards"]) for column in board["columns"]}
        order = self.leads[0].order_ids
        self.assertEqual(cards["2026-01"], ["Inv open"])
        self.assertEqual(cards["2026-02"], [], "the February opportunity and invoice are outside their filters")
        self.assertEqual(cards["2026-03"], [self.refund.name])
        self.assertEqual(cards["2026-04"], [order.name])
        self.assertEqual(sum(column["count"] for column in board["columns"]), 3)
        self.assertEqual(board["columns"][2]["amount"], -50)

    def test_opportunity_type_of_orders_and_invoices(self):
        """Orders and invoices are filtered by the type of their opportunity, kept in step
        when the opportunity changes type."""
        order = self.leads[0].order_ids
        renewal = self.env["crm.opportunity.type"].create({"name": "Inv renewal", "code": "INVR"})
        self.invoice.opportunity_id = self.leads[0]
        self.leads[0].opportunity_type_id = renewal
        self.assertEqual((order.opportunity_type_id, self.invoice.opportunity_type_id), (renewal, renewal))
        board = self.env["crm.lead"].get_board("invoicing", [("opportunity_type_id", "=", renewal.id)], self.options)
        cards = {(card["model"], card["id"]) for column in board["columns"] for card in column["cards"]}
        self.assertEqual(cards, {("crm.lead", self.leads[0].id), ("sale.order", order.id),
                                 ("account.move", self.invoice.id)})

    def test_card_limit_keeps_the_first_documents_of_each_month(self):
        """Only the days holding a month's first cards are ranked: the first ``limit`` by
        date (then id) of each month and type, whatever the number of documents per day."""
        more = self.env["crm.lead"].create([
            {"name": f"Inv more {index}", "type": "opportunity", "user_id": self.seller.id, "expected_revenue": 1,
             "date_expected_invoice": day}
            for index, day in enumerate(["2026-01-03", "2026-01-03", "2026-01-02", "2026-01-25", "2026-02-01"])
        ])
        # the ranked days select within the board's documents only, never beside them
        elsewhere = self.env["res.company"].create({"name": "Inv elsewhere"})
        self.env["crm.lead"].create({
            "name": "Inv other company", "type": "opportunity", "company_id": elsewhere.id, "expected_revenue": 1,
            "date_expected_invoice": "2026-02-01",
        })
        board = self.board(limit=3, document_types=["opportunity"])
        january, february = board["columns"][0], board["columns"][1]
        self.assertEqual([card["id"] for card in january["cards"]], [more[2].id, more[0].id, more[1].id])
        self.assertEqual(january["count"], 5, "the header counts every document")
        self.assertEqual({card["id"] for card in february["cards"]}, {more[4].id, self.leads[1].id})
        everything = self.board(limit=0, document_types=["opportunity"])
        self.assertEqual(len(everything["columns"][0]["cards"]), 5)

    def test_currency_filter(self):
        euro_lead = self.env["crm.lead"].create({
            "name": "Inv euro", "type": "opportunity", "user_id": self.seller.id, "expected_revenue": 10,
            "date_expected_invoice": "2026-01-05", "currency_id": self.env.ref("base.EUR").id,
        })
        company_currency = self.env.company.currency_id
        in_company_currency = self.board(currency_id=company_currency.id)
        names = {card["name"] for column in in_company_currency["columns"] for card in column["cards"]}
        self.assertNotIn(euro_lead.name, names)
        self.assertIn("Inv open", names)
        in_euro = self.board(currency_id=self.env.ref("base.EUR").id)
        self.assertEqual([card["name"] for column in in_euro["columns"] for card in column["cards"]], ["Inv euro"])

    def test_bad_input(self):
        other_company = self.env["res.company"].create({"name": "Not mine"})
        for options, message in (
            ({"date_from": "2026-05-01", "date_to": "2026-01-01"}, "starts"),
            ({"document_types": ["quote"]}, "document_types"),
            ({"collapse": "invoice"}, "collapse"),
            ({"company_id": other_company.id}, "no access"),
            ({"date_from": "yesterday"}, "dates"),
            ({"colour": 1}, "Unknown"),
            ({"currency_id": "EUR"}, "currency id"),
            ({"date_filters": {"quote": {"date_from": "2026-01-01"}}}, "date_filters"),
            ({"date_filters": {"order": {"date_from": "2026-03-01", "date_to": "2026-02-01"}}}, "date_filters"),
            ({"date_filters": {"order": {"date_from": "March"}}}, "date_filters"),
            ({"date_filters": {"order": "2026-03"}}, "date_filters"),
            ({"limit": -1}, "limit"),
            ({"limit": "80"}, "limit"),
        ):
            with self.assertRaisesRegex(UserError, message):
                self.board(user=self.seller, **options)

    def test_query_count_does_not_grow(self):
        self.board()
        self.env.invalidate_all()
        # the totals by day, the cards with their names, and the rights and company checks
        with self.assertQueryCount(7):
            self.board()
        for index in range(10):
            self.init_invoice(
                "out_invoice", partner=self.partner_a, invoice_date="2026-05-10", amounts=[10 + index], post=True
            )
        self.env.invalidate_all()
        with self.assertQueryCount(7):
            self.board()

    def test_month_labels_standalone(self):
        """Column headers name the month as a heading does (the standalone form: Croatian
        "Listopad", not the genitive "listopada" of "1. listopada 2026."), capitalised."""
        for code in ("hr_HR", "ro_RO"):
            self.env["res.lang"]._activate_lang(code)
        options = {"date_from": "2026-01-01", "date_to": "2026-12-31", "document_types": ["order"]}
        expected = {
            "en_US": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December"],
            "hr_HR": ["Siječanj", "Veljača", "Ožujak", "Travanj", "Svibanj", "Lipanj", "Srpanj", "Kolovoz", "Rujan",
                      "Listopad", "Studeni", "Prosinac"],
            "ro_RO": ["Ianuarie", "Februarie", "Martie", "Aprilie", "Mai", "Iunie", "Iulie", "August",
                      "Septembrie", "Octombrie", "Noiembrie", "Decembrie"],
        }
        for lang, months in expected.items():
            board = self.env["crm.lead"].with_context(lang=lang).get_board("invoicing", [], options)
            self.assertEqual([column["label"] for column in board["columns"]], [f"{month} 2026" for month in months])
        october = self.env["crm.lead"].with_context(lang="hr_HR").get_board("invoicing", [], options)["columns"][9]
        self.assertEqual((october["key"], october["label"]), ("2026-10", "Listopad 2026"))

    def test_labels_from_the_server(self):
        """The screen shows the server's labels of document types and payment states, in
        the user's language (none copied into JavaScript)."""
        board = self.board(collapse=["opportunity"])
        february = board["columns"][1]
        invoice = next(card for card in february["cards"] if card["id"] == self.invoice.id)
        self.assertEqual((invoice["payment_state"], invoice["payment_state_label"]), ("not_paid", "Not Paid"))
        self.assertEqual(invoice["document_type_label"], "Invoice")
        collapsed = next(card for card in february["cards"] if card.get("collapsed"))
        self.assertEqual((collapsed["document_type_label"], collapsed["name"]), ("Opportunity", "Opportunity: 1"))
        order = next(card for column in board["columns"] for card in column["cards"]
                     if card["document_type"] == "order")
        self.assertEqual((order["document_type_label"], order["payment_state_label"]), ("Sales Order", ""))
        self.assertEqual(board["currency_id"], self.env.company.currency_id.id)
        self.assertEqual(board["document_types"], [
            {"key": "opportunity", "label": "Opportunity"},
            {"key": "order", "label": "Sales Order"},
            {"key": "invoice", "label": "Invoice"},
        ])
        # in Croatian, from the module's translations
        self.env["res.lang"]._activate_lang("hr_HR")
        self.env["ir.module.module"]._load_module_terms(["crm_opportunity_management"], ["hr_HR"], overwrite=True)
        croatian = self.env["crm.lead"].with_context(lang="hr_HR").get_board(
            "invoicing", [], {**self.options, "collapse": ["opportunity"]})
        self.assertEqual([kind["label"] for kind in croatian["document_types"]], ["Prilika", "Prodajni nalog", "Račun"])
        february = croatian["columns"][1]
        invoice = next(card for card in february["cards"] if card["id"] == self.invoice.id)
        self.assertEqual(invoice["document_type_label"], "Račun")
        collapsed = next(card for card in february["cards"] if card.get("collapsed"))
        self.assertEqual(collapsed["document_type_label"], "Prilika")

    def test_search_domain(self):
        """The domain of the screen's search model (facets, filters, favourites) selects the
        documents: filters of one group are OR-ed, groups AND-ed; a salesperson typed in the
        search bar is an ``ilike`` on the name."""
        type_filters = ["|", ("document_type", "=", "opportunity"), ("document_type", "=", "invoice")]
        for user_term in (("user_id", "=", self.seller.id), ("user_id", "ilike", self.seller.name)):
            board = self.env["crm.lead"].get_board("invoicing", [*type_filters, user_term], self.options)
            cards = {(card["model"], card["id"]) for column in board["columns"] for card in column["cards"]}
            self.assertEqual(cards, {("crm.lead", self.leads[0].id), ("account.move", self.invoice.id)})
            self.assertEqual(sum(column["count"] for column in board["columns"]), 2)
            self.assertEqual(sum(column["amount"] for column in board["columns"]), 1000 + 300)

    def test_default_card_limit_is_the_boards(self):
        """Without a limit, a month shows as many cards of a type as the opportunity boards'
        columns (``BOARD_CARD_LIMIT``), and counts them all."""
        self.env["crm.lead"].create([
            {"name": f"Inv many {index}", "type": "opportunity", "user_id": self.seller.id, "expected_revenue": 1,
             "date_expected_invoice": "2026-05-15"}
            for index in range(BOARD_CARD_LIMIT + 1)
        ])
        may = self.board(document_types=["opportunity"])["columns"][4]
        self.assertEqual((may["key"], may["count"], len(may["cards"])), ("2026-05", BOARD_CARD_LIMIT + 1,
                                                                          BOARD_CARD_LIMIT))

    def test_board_search_view(self):
        """The client action opens the board's search view: the analysis's search fields and
        document type filters, without the period, the company or groupings, which are the
        board's own controls (or meaningless on it)."""
        self.env.user.groups_id += self.env.ref("base.group_multi_currency")
        action = self.env["ir.actions.actions"]._for_xml_id("crm_opportunity_management.crm_invoicing_board_action")
        self.assertEqual(action["tag"], "crm_opportunity_management.invoicing_board")
        Analysis = self.env["crm.invoicing.analysis"].with_context(**safe_eval(action["context"]))
        arch = etree.fromstring(Analysis.get_views([(False, "search")])["views"]["search"]["arch"])
        fields_ = {node.get("name") for node in arch.iter("field")}
        self.assertLessEqual({"user_id", "currency_id", "opportunity_type_id", "partner_id", "name"}, fields_)
        self.assertNotIn("company_id", fields_)
        filters = {node.get("name"): node for node in arch.iter("filter")}
        self.assertEqual(set(filters), {"opportunities", "orders", "invoices"})
        self.assertEqual(
            [safe_eval(filters[name].get("domain")) for name in ("opportunities", "orders", "invoices")],
            [[("document_type", "=", kind)] for kind in ("opportunity", "order", "invoice")],
        )
        self.assertFalse(arch.xpath("//separator"), "the three type filters are one group (OR-ed)")
