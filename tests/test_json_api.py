import json
from datetime import timedelta
from unittest.mock import patch

from odoo import api, fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import json_default

from ..controllers.main import API_METHODS
from .common import OpportunityCase

API = "/crm_opportunity_management/api/"


@tagged("post_install", "-at_install")
class TestJsonApi(HttpCase, OpportunityCase):
    """The JSON endpoint for integrators over real HTTP, with an API key of ``salesman``
    (own documents only): each read method answers what the method itself returns for
    that user; no key, a bad key, bad input and anything but the read methods are refused.

    Data: in ``team``, two opportunities of ``salesman`` (one at a located contact) and one
    of ``salesman_other``, expected to close in 30 to 60 days."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.located = cls.env["res.partner"].create(
            {
                "name": "API Contact",
                "partner_latitude": 45.33,
                "partner_longitude": 14.44,
            }
        )
        deadline = fields.Date.today() + timedelta(days=30)
        cls.own = cls.create_opportunity(
            name="API Own 1",
            partner_id=cls.located.id,
            date_deadline=deadline,
            lines=[cls.line(1000, 100)],
            probability_level_id=cls.levels[50].id,
        ) | cls.create_opportunity(
            name="API Own 2",
            date_deadline=deadline + timedelta(days=30),
            expected_revenue=2500,
        )
        cls.other = cls.create_opportunity(
            name="API Other",
            partner_id=cls.located.id,
            user_id=cls.salesman_other.id,
            expected_revenue=700,
        )
        cls.domain = [("team_id", "=", cls.team.id)]
        cls.key = (
            cls.env["res.users.apikeys"]
            .with_user(cls.salesman)
            ._generate(None, "integration", fields.Datetime.now() + timedelta(hours=12))
        )

    def api(self, method, body=None, key=None, raw=None):
        """``POST`` to the endpoint: ``body`` as JSON (or the ``raw`` text), with the
        salesman's key unless another ``key`` is given (``False``: none)."""
        headers = {"Content-Type": "application/json"}
        key = self.key if key is None else key
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = raw if raw is not None else json.dumps(body or {})
        return self.opener.post(self.base_url() + API + method, data=data, headers=headers, timeout=60)

    def as_json(self, value):
        return json.loads(json.dumps(value, default=json_default))

    def assertApiError(self, response, status, *fragments):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.headers["Content-Type"], "application/json; charset=utf-8")
        error = response.json()["error"]
        self.assertEqual(error["status"], status)
        for fragment in fragments:
            self.assertIn(fragment, error["message"])
        self.assertNotIn("Traceback", response.text)
        return error["message"]

    def test_reads_are_the_methods_results_for_the_key_owner(self):
        today = fields.Date.today()
        calls = [
            ("get_board", {"kind": "progress", "domain": self.domain}),
            ("get_board", {"kind": "stages", "domain": self.domain, "options": {"limit": 1}}),
            (
                "get_board",
                {
                    "kind": "invoicing",
                    "domain": self.domain,
                    "options": {"date_from": str(today), "date_to": str(today + timedelta(days=90))},
                },
            ),
            ("get_map_data", {"domain": self.domain}),
            ("get_map_data", {"domain": self.domain, "options": {"center": [45.8, 15.97], "radius_km": 150}}),
            ("get_map_settings", {}),
            ("get_forecast", {"domain": self.domain, "options": {"method": "monte_carlo", "trials": 200, "seed": 3}}),
            ("get_pipeline_flow", {"domain": self.domain}),
            ("get_pipeline_trend", {"domain": self.domain, "options": {"weeks": 3, "lead_ids": True}}),
        ]
        self.assertEqual({method for method, _body in calls}, set(API_METHODS), "every method is called")
        Lead = self.env["crm.lead"].with_user(self.salesman).with_context(**self.salesman.context_get())
        for method, body in calls:
            with self.subTest(method=method, body=body):
                response = self.api(method, body)
                self.assertEqual(response.status_code, 200, response.text)
                self.assertEqual(response.json(), self.as_json(getattr(Lead, method)(**body)))
        # the record rule of "own documents only" applies: the other salesperson's opportunity is left out
        board = self.api("get_board", {"kind": "progress", "domain": self.domain, "options": {"limit": 0}}).json()
        cards = {card["id"] for column in board["columns"] for card in column["cards"]}
        self.assertEqual(cards, set(self.own.ids))
        manager = self.env["crm.lead"].with_user(self.sales_manager).get_board("progress", self.domain, {"limit": 0})
        self.assertEqual(
            {card["id"] for column in manager["columns"] for card in column["cards"]},
            set((self.own | self.other).ids),
            "the manager, with the same domain, sees all three",
        )
        [marker] = self.api("get_map_data", {"domain": self.domain}).json()["markers"]
        self.assertEqual((marker["count"], marker["lead_ids"]), (1, self.own[0].ids))

    def test_a_key_is_required(self):
        for key in (False, "not-a-key", self.key[:-1] + ("0" if self.key[-1] != "0" else "1")):
            with self.subTest(key=key):
                response = self.api("get_map_settings", key=key)
                self.assertEqual(response.status_code, 401)
                self.assertNotIn("tile_url", response.text)
        response = self.opener.get(
            self.base_url() + API + "get_map_settings", headers={"Authorization": f"Bearer {self.key}"}
        )
        self.assertEqual(response.status_code, 405, "POST only")

    def test_rights_are_the_key_owners(self):
        """An employee without the sales rights and a portal user, each with a key of their
        own, are refused with the reason (403)."""
        expiry = fields.Datetime.now() + timedelta(hours=12)
        keys = {
            groups: self.env["res.users.apikeys"]
            .with_user(new_test_user(self.env, login, groups=groups))
            ._generate(None, "integration", expiry)
            for login, groups in (("api_employee", "base.group_user"), ("api_portal", "base.group_portal"))
        }
        for key in keys.values():
            self.assertApiError(self.api("get_board", {"kind": "progress"}, key=key), 403, "crm.lead")
        self.assertApiError(
            self.api("get_map_settings", key=keys["base.group_portal"]), 403, "Only internal users may read"
        )

    def test_bad_input_is_a_sentence_and_a_4xx(self):
        self.assertApiError(self.api("get_board", raw="{kind: progress"), 400, "not valid JSON")
        self.assertApiError(self.api("get_board", raw='["progress"]'), 400, "JSON object", "kind, domain, options")
        self.assertApiError(self.api("get_board", {"kind": "progress", "colour": "red"}), 400, "no argument colour")
        self.assertApiError(self.api("get_board", raw=""), 400, "get_board needs the argument kind")
        self.assertApiError(self.api("get_board", {"kind": "gantt"}), 400, "Unknown board 'gantt'")
        self.assertApiError(self.api("get_map_data", {"domain": [["colour", "=", "red"]]}), 400, "unknown field colour")
        self.assertApiError(
            self.api("get_map_data", {"options": {"center": [95, 15], "radius_km": 10}}),
            400,
            "latitude between -90 and 90",
        )
        self.assertApiError(self.api("get_forecast", {"options": "monthly"}), 400)
        self.assertApiError(self.api("get_board", {"kind": "progress", "domain": [["team_id", "="]]}), 400)
        # in the key owner's language, from the module's translations
        self.env["res.lang"]._activate_lang("hr_HR")
        self.env["ir.module.module"]._load_module_terms(["crm_opportunity_management"], ["hr_HR"], overwrite=True)
        self.salesman.lang = "hr_HR"
        self.assertApiError(self.api("get_board", {"kind": "gantt"}), 400, "Nepoznata ploča 'gantt'")

    def test_only_the_read_methods(self):
        """Writes are out of reach: anything but the listed read methods is unknown, and
        nothing is written."""
        lead = self.own[0]
        attempts = [
            ("write", {"vals": {"name": "Renamed over the API"}}),
            ("create", {"vals_list": [{"name": "Created over the API"}]}),
            ("unlink", {}),
            ("action_set_won", {}),
            ("search_read", {"domain": [], "fields": ["name"]}),  # read-only, but not part of the API
            ("_board_cards", {}),
        ]
        for method, body in attempts:
            with self.subTest(method=method):
                self.assertApiError(self.api(method, body), 404, f"Unknown method {method}", "get_board")
        lead.invalidate_recordset()
        self.assertEqual((lead.name, lead.active, lead.probability), ("API Own 1", True, 50))
        self.assertFalse(self.env["crm.lead"].search([("name", "=", "Created over the API")]))
        for method in API_METHODS:
            self.assertTrue(getattr(type(self.env["crm.lead"]), method)._readonly, f"{method} is @api.readonly")

    def test_the_route_reads_in_a_read_only_transaction(self):
        """Odoo opens the route a read-only transaction (in a deployment, on the replica):
        PostgreSQL itself says so from inside the method, while the same method over XML-RPC
        runs in a read/write transaction (on the primary); the route is declared so."""

        @api.model
        def get_map_settings(model):
            model.env.cr.execute("SHOW transaction_read_only")
            return {"transaction_read_only": model.env.cr.fetchone()[0], "uid": model.env.uid, "su": model.env.su}

        with patch.object(type(self.env["crm.lead"]), "get_map_settings", get_map_settings):
            response = self.api("get_map_settings")
            self.assertEqual(response.json(), {"transaction_read_only": "on", "uid": self.salesman.id, "su": False})
            login = password = self.salesman.login  # new_test_user's password
            uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, login, password, {})
            over_xmlrpc = self.xmlrpc_object.execute_kw(
                self.env.cr.dbname, uid, password, "crm.lead", "get_map_settings", []
            )
            self.assertEqual(over_xmlrpc["transaction_read_only"], "off")
        rule = next(
            rule
            for rule in self.env["ir.http"].routing_map().iter_rules()
            if rule.rule == "/crm_opportunity_management/api/<string:method>"
        )
        self.assertEqual((rule.endpoint.routing["readonly"], rule.endpoint.routing["auth"]), (True, "bearer"))
