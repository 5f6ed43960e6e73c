from odoo import Command, fields, http
from odoo.tests import HttpCase, TransactionCase, new_test_user


def create_free_type(env):
    """An opportunity type without workflow, first of the types: the default type of every
    opportunity a test creates (by the factories, a ``Form`` or over RPC). The shipped types
    have workflows in the demo data; tests that move their own opportunities between their
    own stages must not depend on them (those of workflows create their own types)."""
    return env["crm.opportunity.type"].create(
        {"code": "TEST-FREE", "name": "Test type (no workflow)", "sequence": -1000}
    )


class OpportunityCase(TransactionCase):
    """Base of the module's tests.

    Fixtures (created once per class):
    - ``company`` (USD, the main company) and ``company_2`` (EUR), each with its sales team;
    - ``eur``: the euro, with rates on 2026-01-01 (1 USD = 0.9 EUR) and 2026-06-01
      (1 USD = 0.8 EUR) in ``company``;
    - ``salesman`` (own documents), ``salesman_all`` (all documents), ``sales_manager``:
      users of ``company``; ``salesman_2``: a salesperson of ``company_2`` only;
    - ``partner``: a customer; ``category_hw`` / ``category_sw``: product families;
    - ``levels``: the default probability levels by percentage (0, 10, 25, 50, 75, 90, 100);
    - ``opportunity_type``: a type without workflow, the default one (``create_free_type``).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_create_nolog=True))
        cls.company = cls.env.ref("base.main_company")
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.env["res.currency.rate"].search([("currency_id", "=", cls.eur.id)]).unlink()
        cls.env["res.currency.rate"].create(
            [
                {"name": "2026-01-01", "rate": 0.9, "currency_id": cls.eur.id, "company_id": cls.company.id},
                {"name": "2026-06-01", "rate": 0.8, "currency_id": cls.eur.id, "company_id": cls.company.id},
            ]
        )
        cls.company_2 = cls.env["res.company"].create({"name": "Opportunity Company 2", "currency_id": cls.eur.id})
        cls.opportunity_type = create_free_type(cls.env)
        cls.team = cls.env["crm.team"].create({"name": "Test Team", "company_id": cls.company.id})
        own, every, manager = (
            "sales_team.group_sale_salesman",
            "sales_team.group_sale_salesman_all_leads",
            "sales_team.group_sale_manager",
        )
        cls.salesman = cls.create_user("opp_salesman", own)
        cls.salesman_other = cls.create_user("opp_salesman_other", own)
        cls.salesman_all = cls.create_user("opp_salesman_all", every)
        cls.sales_manager = cls.create_user("opp_manager", manager)
        cls.salesman_2 = cls.create_user("opp_salesman_2", every, cls.company_2)
        cls.partner = cls.env["res.partner"].create({"name": "Opportunity Customer", "email": "c@example.com"})
        cls.category_hw = cls.env["product.category"].create({"name": "Test Hardware"})
        cls.category_sw = cls.env["product.category"].create({"name": "Test Software"})
        levels = cls.env["crm.probability.level"].search([])
        cls.levels = {int(level.percentage): level for level in levels}

    @classmethod
    def create_user(cls, login, groups, company=None):
        company = company or cls.company
        return new_test_user(cls.env, login, groups=groups, company_id=company.id, company_ids=[company.id])

    @classmethod
    def create_opportunity(cls, lines=None, **values):
        """An opportunity of ``salesman`` in ``company``; ``lines`` are dicts of line values."""
        vals = {
            "name": "Test Opportunity",
            "type": "opportunity",
            "partner_id": cls.partner.id,
            "user_id": cls.salesman.id,
            "team_id": cls.team.id,
            "company_id": cls.company.id,
            "opportunity_type_id": cls.opportunity_type.id,
            **values,
        }
        if lines:
            vals["line_ids"] = [Command.create(line) for line in lines]
        return cls.env["crm.lead"].create(vals)

    @classmethod
    def line(cls, gross, discount=0.0, category=None, **values):
        return {
            "product_categ_id": (category or cls.category_hw).id,
            "amount_gross": gross,
            "amount_discount": discount,
            **values,
        }

    @classmethod
    def set_create_date(cls, records, when):
        """Backdate records: ``create_date`` is the database transaction's time, which
        freezegun does not move."""
        records.flush_recordset()
        cls.env.cr.execute(f"UPDATE {records._table} SET create_date = %s WHERE id = ANY(%s)", [when, records.ids])
        records.invalidate_recordset(["create_date"])

    @staticmethod
    def date(value):
        return fields.Date.to_date(value)


class BrowserCase(HttpCase):
    """An ``HttpCase`` whose server knows its static paths before a browser asks.

    Odoo computes them lazily, at the first static request, by parsing every manifest; a
    browser's first page sends several such requests at once, and on Python 3.11 parsing
    in two threads at once can fail with "SystemError: AST constructor recursion depth
    mismatch" (CPython gh-106905): the request answers an HTML error page to a script
    waiting for JSON, and the tour fails. Computed here, in the test's thread, before any
    request."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.static_paths = http.root.statics  # computed once, here


class XmlRpcCase(BrowserCase):
    """Real XML-RPC calls over HTTP, as ``rpc_user`` (login ``rpc_login``, groups
    ``rpc_groups``, created here): ``self.call(model, method, *args, **kwargs)`` is ``execute_kw``;
    ``opportunity_type``: the default type, without workflow (``create_free_type``)."""

    rpc_login = None
    rpc_password = "opp-rpc-password"
    rpc_groups = "sales_team.group_sale_salesman"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rpc_user = new_test_user(cls.env, cls.rpc_login, password=cls.rpc_password, groups=cls.rpc_groups)
        cls.opportunity_type = create_free_type(cls.env)

    def setUp(self):
        super().setUp()
        self.uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, self.rpc_login, self.rpc_password, {})
        self.assertTrue(self.uid, f"{self.rpc_login} logs in over XML-RPC")

    def call(self, model, method, *args, **kwargs):
        return self.xmlrpc_object.execute_kw(
            self.env.cr.dbname, self.uid, self.rpc_password, model, method, list(args), kwargs
        )
