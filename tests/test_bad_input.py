"""Every bad input a clear error and nothing written (#13): a table of malformed inputs
across the public methods and the numbers the module owns."""

import math

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import OpportunityCase

BAD_DOMAINS = {
    "unknown field": [("no_such_field", "=", 1)],
    "unknown operator": [("name", "is about", "x")],
    "dangling or": ["|", ("name", "=", "x")],
    "dangling and": ["&", ("name", "=", "x")],
    "unknown path": [("partner_id.no_such_field", "=", 1)],
}
NON_FINITE = {"nan": math.nan, "infinity": math.inf, "minus infinity": -math.inf}


@tagged("post_install", "-at_install")
class TestBadInput(OpportunityCase):
    """Each row: a call that must fail with a ``UserError`` / ``ValidationError`` whose
    message is a sentence (no Python repr of an exception), and leave the database as it was."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lead = cls.create_opportunity(expected_revenue=1000)
        cls.line = cls.env["crm.lead.line"].create({"lead_id": cls.lead.id, "name": "Line", "amount_gross": 100})
        cls.partner = cls.env["res.partner"].create({"name": "Bad input partner"})

    def public_calls(self, Lead=None):
        Lead = Lead if Lead is not None else self.env["crm.lead"]
        return {
            "get_board progress": lambda domain: Lead.get_board("progress", domain),
            "get_board stages": lambda domain: Lead.get_board("stages", domain),
            "get_board invoicing": lambda domain: Lead.get_board("invoicing", domain),
            "get_map_data": Lead.get_map_data,
            "get_forecast": Lead.get_forecast,
            "get_pipeline_flow": Lead.get_pipeline_flow,
            "get_pipeline_trend": Lead.get_pipeline_trend,
        }

    def assertRefused(self, call, exception=UserError):
        self.env.flush_all()
        counts = self.counts()
        with self.assertRaises(exception) as caught:
            call()
            self.env.flush_all()
        message = str(caught.exception.args[0])
        self.assertTrue(message[:1].isupper() and message.rstrip().endswith("."), message)
        self.assertNotIn("Traceback", message)
        self.env.invalidate_all()
        self.assertEqual(self.counts(), counts, "nothing written")
        return message

    def counts(self):
        models = ("crm.lead", "crm.lead.line", "crm.lead.history", "res.partner", "crm.probability.level")
        return {name: self.env[name].with_context(active_test=False).search_count([]) for name in models}

    def test_domains(self):
        rows = 0
        for method, call in self.public_calls().items():
            for kind, domain in BAD_DOMAINS.items():
                with self.subTest(method=method, kind=kind):
                    message = self.assertRefused(lambda call=call, domain=domain: call(domain))
                    self.assertIn("domain", message.lower())
                    rows += 1
        self.assertEqual(rows, 35)

    def option_calls(self, Lead):
        """Options of the wrong type, unknown keys and bad values, per public method."""
        return {
            "get_board": [
                lambda: Lead.get_board("unknown"),
                lambda: Lead.get_board(7),
                lambda: Lead.get_board("progress", None, ["limit"]),
                lambda: Lead.get_board("progress", None, {"colour": "red"}),
                lambda: Lead.get_board("stages", None, {"limit": -1}),
                lambda: Lead.get_board("stages", None, {"limit": "10"}),
                lambda: Lead.get_board("invoicing", None, {"colour": "red"}),
                lambda: Lead.get_board("invoicing", None, {"date_from": "not a date"}),
                lambda: Lead.get_board("invoicing", None, {"date_from": "2026-05-01", "date_to": "2026-04-01"}),
                lambda: Lead.get_board("invoicing", None, {"document_types": ["letter"]}),
                lambda: Lead.get_board("invoicing", None, {"collapse": "invoice"}),
            ],
            "get_map_data": [
                lambda: Lead.get_map_data(None, ["center"]),
                lambda: Lead.get_map_data(None, {"colour": "red"}),
                lambda: Lead.get_map_data(None, {"center": "Zagreb", "radius_km": 10}),
                lambda: Lead.get_map_data(None, {"center": [91, 0], "radius_km": 10}),
                lambda: Lead.get_map_data(None, {"center": [0, 181], "radius_km": 10}),
                lambda: Lead.get_map_data(None, {"center": [math.nan, 0], "radius_km": 10}),
                lambda: Lead.get_map_data(None, {"center": [45, 16], "radius_km": -5}),
                lambda: Lead.get_map_data(None, {"center": [45, 16], "radius_km": math.inf}),
            ],
            "get_forecast": [
                lambda: Lead.get_forecast(None, ["method"]),
                lambda: Lead.get_forecast(None, {"colour": "red"}),
                lambda: Lead.get_forecast(None, {"method": "guess"}),
                lambda: Lead.get_forecast(None, {"granularity": "week"}),
                lambda: Lead.get_forecast(None, {"date_from": "2026-05-01", "date_to": "2026-04-01"}),
                lambda: Lead.get_forecast(None, {"date_from": "not a date"}),
                lambda: Lead.get_forecast(None, {"trials": 0}),
                lambda: Lead.get_forecast(None, {"seed": True}),
                lambda: Lead.get_forecast(None, {"backtest": 61}),
                lambda: Lead.get_forecast(None, {"commit_threshold": 101}),
                lambda: Lead.get_forecast(None, {"commit_threshold": math.nan}),
                lambda: Lead.get_forecast(None, {"method": "monte_carlo", "trials": 1_000_000,
                                                 "date_to": "2046-12-31"}),
            ],
            "get_pipeline_flow": [
                lambda: Lead.get_pipeline_flow(None, ["date_to"]),
                lambda: Lead.get_pipeline_flow(None, {"colour": "red"}),
                lambda: Lead.get_pipeline_flow(None, {"date_to": "not a date"}),
                lambda: Lead.get_pipeline_flow(None, {"date_from": "2026-05-01", "date_to": "2026-04-01"}),
                lambda: Lead.get_pipeline_flow(None, {"close_from": "2026-06-30", "close_to": "2026-04-01"}),
            ],
            "get_pipeline_trend": [
                lambda: Lead.get_pipeline_trend(None, ["weeks"]),
                lambda: Lead.get_pipeline_trend(None, {"colour": "red"}),
                lambda: Lead.get_pipeline_trend(None, {"weeks": 0}),
                lambda: Lead.get_pipeline_trend(None, {"weeks": "13"}),
            ],
        }

    def test_options(self):
        for method, calls in self.option_calls(self.env["crm.lead"]).items():
            for number, call in enumerate(calls):
                with self.subTest(method=method, row=number):
                    self.assertRefused(call)

    def test_sentences_in_the_users_language(self):
        """The same refusals for a user working in Croatian: every sentence translated."""
        self.env["res.lang"]._activate_lang("hr_HR")
        self.env["ir.module.module"]._load_module_terms(["crm_opportunity_management"], ["hr_HR"], overwrite=True)
        english, croatian = self.env["crm.lead"], self.env["crm.lead"].with_context(lang="hr_HR")
        pairs = [
            (lambda call=call, domain=domain: call(domain), lambda call=other, domain=domain: call(domain))
            for (call, other) in zip(self.public_calls(english).values(), self.public_calls(croatian).values(),
                                     strict=True)
            for domain in BAD_DOMAINS.values()
        ]
        pairs += [
            pair
            for calls, others in zip(self.option_calls(english).values(), self.option_calls(croatian).values(),
                                     strict=True)
            for pair in zip(calls, others, strict=True)
        ]
        for number, (call, other) in enumerate(pairs):
            with self.subTest(row=number):
                message = self.assertRefused(call)
                translated = self.assertRefused(other)
                self.assertNotEqual(translated, message, "said in Croatian")
        self.assertEqual(len(pairs), 35 + 40)

    def test_invoicing_options_of_the_wrong_type(self):
        Lead = self.env["crm.lead"]
        for options in (["date_from"], "2026-01-01", 3):
            with self.subTest(options=options):
                self.assertRefused(lambda options=options: Lead.get_board("invoicing", None, options))

    def test_non_finite_numbers(self):
        targets = {
            "line gross": (self.line, "amount_gross"),
            "line discount": (self.line, "amount_discount"),
            "partner latitude": (self.partner, "partner_latitude"),
            "partner longitude": (self.partner, "partner_longitude"),
            "opportunity amount": (self.lead, "expected_revenue"),
            "opportunity probability": (self.lead, "probability"),
            "level percentage": (self.levels[50], "percentage"),
        }
        for name, (record, field) in targets.items():
            for kind, value in NON_FINITE.items():
                with self.subTest(target=name, value=kind):
                    before = record[field]
                    self.assertRefused(lambda record=record, field=field, value=value: record.write({field: value}),
                                       ValidationError)
                    self.assertEqual(record[field], before)
        for kind, value in NON_FINITE.items():
            with self.subTest(create=kind):
                self.assertRefused(lambda value=value: self.env["crm.lead.line"].create(
                    {"lead_id": self.lead.id, "name": "NaN line", "amount_gross": value}), ValidationError)
